"""Ingestion: read reports, cut them into chunks, collapse duplicates, link twin reports.

The documents and chunks made here are what the chunk store (``index/chunks.sqlite``, see
`rag.search.store`) keeps: the contract between ingestion and everything downstream (embedding, BM25,
citations). `rag.search.store.write_store` writes them in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.chunk.annotate import assign_periods, link_leads, link_notes
from rag.chunk.chunker import cut_document
from rag.chunk.clean import compact, normalize, to_simplified, to_traditional
from rag.chunk.duplicates import find_duplicates
from rag.chunk.metadata import DocMeta, article_kind, article_year, derive
from rag.chunk.pieces import make_pieces
from rag.chunk.sections import Article, Section
from rag.errors import RagError
from rag.read.formats import SUFFIXES, SourceText, find_sources, read_source
from rag.settings import Settings

log = logging.getLogger(__name__)

_SALUTATION = re.compile(r"^\s*各位代表\s*[：:！!，,。]?\s*$")


@dataclass
class Chunk:
    id: str
    doc: str
    article: int
    kind: str  # body | bullet | heading | title | meta | noise
    title: str  # display title of the article, e.g. 2024年政府工作报告
    place: str
    year: int | None
    section: list[str]
    section_path: str
    paragraph: int
    part: int
    text: str
    search_text: str
    start: int
    end: int
    spans: list[list[int]]
    locations: list[dict]
    flags: list[str] = field(default_factory=list)
    garbled: list[dict] = field(default_factory=list)
    twins: list[str] = field(default_factory=list)
    breadcrumb: str = ""
    period: int | None = None  # the year the passage is about (a report's review part is the year before)
    notes: list[str] = field(default_factory=list)  # ids of the glossary notes its markers ［n］ point to
    term: str = ""  # for a glossary note: the term it explains
    follows: list[str] = field(default_factory=list)  # for a lead-in (「要把握好以下三点。」): the items it announces
    pages: list[list[int]] = field(default_factory=list)  # PDF: [offset, page] where each page of the chunk begins

    def page_at(self, offset: int) -> int | None:
        """The PDF page that holds `offset` of the extracted text (None for other formats)."""
        page = None
        for start, pg in self.pages:
            if start > offset and page is not None:
                break
            page = pg
        return page

    @property
    def searchable(self) -> bool:
        """What retrieval may return. Headings are in every chunk's breadcrumb; page furniture
        (``noise``) is not the report at all; a salutation (「各位代表！」) says nothing. Titles,
        datelines and speaker lines are indexed, but retrieval demotes them unless a question asks
        who gave the report or when (they name the place and year better than any paragraph)."""
        if self.kind in ("title", "meta"):
            return True
        return self.kind in ("body", "bullet") and len(compact(self.text)) >= 6 and not _SALUTATION.match(self.text)


@dataclass
class Document:
    id: str
    name: str
    path: str
    sha256: str
    chars: int
    meta: DocMeta
    title: str
    articles: list[dict]
    sections: list[dict]
    markers: list[dict]
    narrow: bool
    duplicates_collapsed: int = 0
    garbled_runs: int = 0
    twin_of: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    fmt: str = "text"  # the original's format: text | csv | json | pdf | docx | html


# --- reading ------------------------------------------------------------------------------------
def read_report(path: Path) -> str | None:
    """The text of a single-report file; None for an empty file; a clear error for anything that is
    not a report. (A dataset file may hold several reports: `load_file` cuts them all.)"""
    sources = read_source(path)
    return sources[0].text if sources else None


def find_reports(paths: Iterable[Path]) -> list[Path]:
    """Expand directories to the report files inside them (sorted; see `rag.read.formats.SUFFIXES`)."""
    return find_sources(paths)


def load_file(path: Path, settings: Settings) -> list[Document]:
    """Every report in one file, cut into chunks: one for a text file, one per record of a dataset
    (its other columns become labels for the metadata)."""
    return [
        build_document(
            path,
            src.text,
            settings,
            path.stem + (f"-{src.suffix_id}" if src.suffix_id else ""),
            fields=src.fields,
            source=src,
        )
        for src in read_source(path)
    ]


def chunk_pages(spans: list[list[int]], source: SourceText | None) -> list[list[int]]:
    """[offset, page] where each PDF page of a chunk (its `spans` of the extracted text) begins."""
    if source is None or not any(s.page for s in source.source_map):
        return []
    out: list[list[int]] = []
    for a, b in spans:
        for sp in source.source_map:
            if sp.end <= a or sp.start >= b or sp.page is None:
                continue
            if not out or out[-1][1] != sp.page:
                out.append([max(a, sp.start), sp.page])
    return out


# --- one document -------------------------------------------------------------------------------
def _section_ids(sec: Section) -> str:
    return ".".join(str(s.ordinal) for s in sec.path()) or "0"


def _article_display(art: Article, meta: DocMeta, kind: str, year: int | None) -> str:
    if kind.startswith("政府工作报告"):
        base = f"{year}年政府工作报告" if year else "政府工作报告"
        return base + ("（摘要）" if "摘要" in kind else "")
    title = art.title or ""
    sub = art.subtitle or ""
    if sub and not any(k in to_simplified(sub) for k in ("会议上", "月")):
        return f"{title}——{sub}" if title else sub
    return title or (f"{year}年" if year else "") + "报告"


def _depth(sec: Section) -> int:
    return len(sec.path())


def build_document(
    path: Path,
    text: str,
    settings: Settings,
    doc_id: str | None = None,
    fields: dict[str, str] | None = None,
    source: SourceText | None = None,
) -> Document:
    """Cut one report into chunks with metadata (duplicates collapsed, twins not yet linked).

    `fields` are a dataset record's other columns (title, year, …): labels, trusted least.
    `source`: what the reader gave (format, the map back to a PDF's pages)."""
    doc_id = doc_id or path.stem
    articles, paras, markers, narrow = cut_document(text)
    content = "\n".join(p.block.text for p in paras if p.kind in ("body", "bullet", "heading"))
    head = [p.block.text for p in paras if p.kind in ("title", "meta") and p.article is articles[0]] if articles else []
    header = [p.block.text for p in paras if p.kind == "noise" and p.block.title == "header"]
    labels = [*(fields or {}).values(), *header, path.stem]
    meta = derive(content, head, path.with_name(path.name + ".meta.toml"), labels)

    art_info: dict[int, dict] = {}
    for art in articles:
        body_sample = "".join(p.block.text for p in paras if p.article is art and p.kind == "body")[:4000]
        kind = article_kind(art.title, art.subtitle, body_sample, art.kind)
        sec_titles = [s.title for s in _walk(art.root)]
        year = article_year(art.title, art.subtitle, meta.year, sec_titles)
        art_info[art.index] = {
            "index": art.index,
            "title": art.title,
            "subtitle": art.subtitle,
            "kind": kind,
            "year": year,
            "display": _article_display(art, meta, kind, year),
        }
    if not meta.kind and articles:
        meta.kind = art_info[articles[0].index]["kind"]

    dups, n_collapsed = find_duplicates(paras, settings.near_duplicate_threshold)
    for p in paras:  # a collapsed group is cited under the location with the richest heading context
        group = dups["groups"].get(id(p))
        if group:
            p.section = max([p] + group, key=lambda q: _depth(q.section)).section
    pieces = make_pieces([p for p in paras if id(p) not in dups["dropped"]], settings.chunk_target_chars)
    chunks: list[Chunk] = []
    meta_counter: dict[tuple[int, str], int] = defaultdict(int)
    for pc in pieces:
        p = pc.para
        group = dups["groups"].get(id(p), [])
        section = p.section
        sec_ids = _section_ids(section)
        art = p.article
        if p.kind in ("body", "bullet"):
            cid = f"{doc_id}/a{art.index}/s{sec_ids}/p{pc.number}" + (f".{pc.part}" if pc.part else "")
        elif p.kind == "heading":
            cid = f"{doc_id}/a{art.index}/s{sec_ids}/h"
        else:
            key = (art.index, p.kind)
            meta_counter[key] += 1
            cid = f"{doc_id}/a{art.index}/{p.kind[0]}{meta_counter[key]}"
        spans = [list(s) for s in pc.spans]
        locations = [{"doc": doc_id, "start": spans[0][0], "end": spans[-1][1], "section_path": sec_ids}]
        for q in group:
            qs = q.block.lines
            locations.append(
                {"doc": doc_id, "start": qs[0].start, "end": qs[-1].end, "section_path": _section_ids(q.section)}
            )
        flags: list[str] = []
        garbled = [{"text": g.text, "repaired": g.repaired} for g in p.block.garbled if g.text in pc.text]
        if garbled:
            flags.append("garbled")
        if p.reassigned:
            flags.append("reassigned")
        if group:
            flags.append("duplicates-collapsed")
        if any(ln.hard_before for ln in p.block.lines[1:]):
            flags.append("page-cut")
        info = art_info[art.index]
        chunks.append(
            Chunk(
                id=cid,
                doc=doc_id,
                article=art.index,
                kind=p.kind,
                title=info["display"],
                place=meta.place,
                year=info["year"],
                section=[s.title for s in section.path()],
                section_path=sec_ids,
                paragraph=pc.number,
                part=pc.part,
                text=pc.text,
                search_text=normalize(pc.text).text,
                start=spans[0][0],
                end=spans[-1][1],
                spans=spans,
                locations=locations,
                flags=flags,
                garbled=garbled,
                pages=chunk_pages(spans, source),
            )
        )
    _dedupe_ids(chunks)
    assign_periods(chunks, art_info)
    link_notes(chunks)
    link_leads(chunks)
    doc = Document(
        id=doc_id,
        name=path.name,
        path=str(path),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        chars=len(text),
        meta=meta,
        title="",
        articles=list(art_info.values()),
        sections=[_section_tree(a) for a in articles],
        markers=[asdict(m) for m in markers],
        narrow=narrow,
        duplicates_collapsed=n_collapsed,
        garbled_runs=sum(len(p.block.garbled) for p in paras),
        chunks=chunks,
        fmt=source.fmt if source is not None else "text",
    )
    doc.title = f"{meta.place} · {art_info[articles[0].index]['display']}" if articles else path.stem
    finalize_breadcrumbs(doc)
    return doc


def finalize_breadcrumbs(doc: Document) -> None:
    for c in doc.chunks:
        parts = [c.place, c.title] if c.place else [c.title]
        crumb = " · ".join(x for x in parts if x)
        if c.section:
            crumb += " › " + " › ".join(c.section)
        c.breadcrumb = crumb


def _walk(sec: Section) -> Iterable[Section]:
    for c in sec.children:
        yield c
        yield from _walk(c)


def _section_tree(art: Article) -> dict:
    def node(s: Section) -> dict:
        return {
            "title": s.title,
            "path": _section_ids(s),
            "style": s.style,
            "number": s.number,
            "garbled": s.garbled,
            "children": [node(c) for c in s.children],
        }

    return {
        "article": art.index,
        "title": art.title,
        "subtitle": art.subtitle,
        "children": [node(c) for c in art.root.children],
    }


def _dedupe_ids(chunks: list[Chunk]) -> None:
    seen: dict[str, int] = {}
    for c in chunks:
        if c.id in seen:
            seen[c.id] += 1
            c.id = f"{c.id}~{seen[c.id]}"
        else:
            seen[c.id] = 0


# --- twin reports ---------------------------------------------------------------------------------
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


# --- the whole corpus -----------------------------------------------------------------------------
def ingest_paths(paths: Iterable[Path], settings: Settings, progress: bool = True) -> list[Document]:
    """Read and cut every report under `paths`; empty files are skipped with a warning."""
    from rich.progress import track

    files = find_reports(paths)
    if not files:
        raise RagError(
            "no report files ("
            + ", ".join(f"*{x}" for x in SUFFIXES)
            + ") found in "
            + ", ".join(str(p) for p in paths)
        )
    docs: list[Document] = []
    ids: set[str] = set()
    for f in track(files, description="ingest", disable=not progress, transient=True):
        got = load_file(f, settings)
        if not got:
            log.warning("skipping empty file %s", f)
            continue
        for d in got:
            if d.id in ids:
                raise RagError(f"two reports share the name {d.id}; rename one")
            ids.add(d.id)
            docs.append(d)
    link_twins(docs, settings.twin_threshold)
    return docs


# --- what the chunk store keeps of a document -----------------------------------------------------
def doc_summary(d: Document) -> dict:
    """The document without its chunks: its row in the chunk store and its line of `rag ingest --json`."""
    return {
        "id": d.id,
        "name": d.name,
        "path": d.path,
        "sha256": d.sha256,
        "chars": d.chars,
        "title": d.title,
        "meta": asdict(d.meta),
        "articles": d.articles,
        "sections": d.sections,
        "markers": d.markers,
        "narrow": d.narrow,
        "duplicates_collapsed": d.duplicates_collapsed,
        "garbled_runs": d.garbled_runs,
        "twin_of": d.twin_of,
        "chunks": len(d.chunks),
        "format": d.fmt,
    }
