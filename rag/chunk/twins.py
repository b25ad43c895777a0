"""Twin reports: the same report in two editions (Traditional and Simplified, or two sources)
found by their shared text, their chunks linked paragraph by paragraph, and a garbled heading
given its twin's clean title."""

from __future__ import annotations

from collections import defaultdict

from rag.chunk.clean import compact, normalize, to_traditional
from rag.chunk.document import Chunk, Document, finalize_breadcrumbs


def _grams(s: str, n: int = 4) -> set[str]:
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def link_twins(docs: list[Document], threshold: float) -> None:
    """Detect documents that are the same report (e.g. Traditional and Simplified editions) and
    link their chunks paragraph by paragraph; a garbled heading takes its twin's clean title."""
    # each chunk's 4-grams are computed once: pairs of documents are compared many times
    keyed = {d.id: [(c, k, _grams(k)) for c in d.chunks if c.searchable for k in [compact(c.text)]] for d in docs}
    fingerprints = {d.id: set().union(*[g for _, _, g in keyed[d.id]]) if keyed[d.id] else set() for d in docs}
    for d in docs:
        d.twin_of = []
        for c in d.chunks:
            c.twins = []
    for i, a in enumerate(docs):
        for b in docs[i + 1 :]:
            fa, fb = fingerprints[a.id], fingerprints[b.id]
            if not fa or not fb or min(len(fa), len(fb)) < threshold * max(len(fa), len(fb)):
                continue  # the same report in two editions has about the same text (and this is cheap)
            overlap = len(fa & fb) / min(len(fa), len(fb))
            if overlap < threshold:
                continue
            matched = _align(keyed[a.id], keyed[b.id])
            small = min(len(keyed[a.id]), len(keyed[b.id])) or 1
            if len(matched) / small < threshold:
                continue
            a.twin_of.append(b.id)
            b.twin_of.append(a.id)
            for ca, cb in matched:
                ca.twins.append(cb.id)
                cb.twins.append(ca.id)
            _fix_garbled_titles(a, b)
            _fix_garbled_titles(b, a)


def _align(xs: list[tuple[Chunk, str, set[str]]], ys: list[tuple[Chunk, str, set[str]]]) -> list[tuple[Chunk, Chunk]]:
    """Pair each chunk of one document with the chunk of the other that shares most 4-grams."""
    index: dict[str, list[int]] = defaultdict(list)
    ygrams = [g for _, _, g in ys]
    for j, g in enumerate(ygrams):
        for x in g:
            index[x].append(j)
    pairs = []
    for cx, kx, gx in xs:
        votes: dict[int, int] = defaultdict(int)
        for x in gx:
            for j in index.get(x, ()):
                votes[j] += 1
        if not votes:
            continue
        j, v = max(votes.items(), key=lambda kv: kv[1])
        lx, ly = len(kx), len(ys[j][1])
        if v / min(len(gx), len(ygrams[j])) >= 0.5 and min(lx, ly) / max(lx, ly, 1) >= 0.5:
            pairs.append((cx, ys[j][0]))
    return pairs


def _fix_garbled_titles(doc: Document, twin: Document) -> None:
    """Give each damaged section title the clean title of the matching section in the twin."""
    by_id = {c.id: c for c in twin.chunks}
    garbled_titles = {c.section[-1] for c in doc.chunks if c.kind == "heading" and "garbled" in c.flags and c.section}
    garbled_titles |= {
        c.section[-1]
        for c in doc.chunks
        if "garbled" in c.flags and c.section and c.garbled and c.text.find(c.garbled[0]["text"]) == 0
    }
    trad = doc.meta.script == "traditional"
    fixed: dict[str, str] = {}
    for c in doc.chunks:
        if not c.searchable or not c.twins or not c.section:
            continue
        other = by_id.get(c.twins[0])
        if other is None or len(other.section) != len(c.section):
            continue
        for mine, theirs in zip(c.section, other.section):
            if mine == theirs or mine not in garbled_titles:
                continue
            prefix = normalize(mine[:3]).text
            if prefix and normalize(theirs).text.startswith(prefix):
                fixed[mine] = to_traditional(theirs) if trad else theirs
    if not fixed:
        return
    for c in doc.chunks:
        if any(s in fixed for s in c.section):
            c.flags = sorted(set(c.flags) | {"title-from-twin"})

    def walk(nodes: list[dict]) -> None:
        for n in nodes:
            if n["title"] in fixed:
                n["clean_title"] = fixed[n["title"]]
            walk(n["children"])

    for tree in doc.sections:
        walk(tree["children"])
    for c in doc.chunks:
        c.section = [fixed.get(s, s) for s in c.section]
    finalize_breadcrumbs(doc)
