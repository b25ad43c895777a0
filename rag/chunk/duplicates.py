"""Duplicate paragraphs inside one report: identical, near-identical (character-bigram Jaccard at or
above the threshold) or contained in a longer one.

A body repeated in one file would otherwise be indexed and retrieved once per copy. Ingestion
keeps the longest member of each group as the chunk and every member's place in its
``locations``, so a citation can point at any of them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from rag.chunk.clean import compact
from rag.chunk.sections import Para


def _bigram_set(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


ALL_PAIRS_UP_TO = 2000  # body paragraphs (a provincial report has ~300): up to this, every pair is compared
MAX_CANDIDATES = 32  # beyond it, each paragraph is compared with at most this many (the nearest before it)


def _pairs(keys: list[str], grams: list[set[str]], threshold: float) -> Iterable[tuple[int, int]]:
    """The pairs (i < j) of paragraphs of 10 characters or more worth comparing.

    Every pair for a report of up to `ALL_PAIRS_UP_TO` paragraphs. Comparing every pair is
    quadratic: 4,000 paragraphs took 29 s and a 2 MB upload of short paragraphs would have held
    ingestion for hours. Beyond that, identical paragraphs are grouped by their text and the rest
    compared only with paragraphs sharing one of their rarest bigrams (prefix filtering: two sets
    with Jaccard ≥ t share one of the |A| − ⌈t·|A|⌉ + 1 rarest elements of each), at most
    `MAX_CANDIDATES` each; a short paragraph contained in a longer one may then go undetected."""
    idx = [i for i in range(len(keys)) if len(keys[i]) >= 10]
    if len(idx) <= ALL_PAIRS_UP_TO:
        yield from ((i, j) for n, i in enumerate(idx) for j in idx[n + 1 :])
        return
    first: dict[str, int] = {}
    distinct: list[int] = []
    for i in idx:
        if keys[i] in first:
            yield first[keys[i]], i
        else:
            first[keys[i]] = i
            distinct.append(i)
    df: Counter[str] = Counter(g for i in distinct for g in grams[i])
    postings: dict[str, list[int]] = defaultdict(list)
    for i in distinct:
        ranked = sorted(grams[i], key=lambda g: (df[g], g))
        prefix = ranked[: len(ranked) - math.ceil(threshold * len(ranked)) + 1]
        seen: set[int] = set()
        for g in prefix:
            for j in reversed(postings[g]):
                if len(seen) >= MAX_CANDIDATES:
                    break
                seen.add(j)
            postings[g].append(i)
        yield from ((j, i) for j in sorted(seen))


def find_duplicates(paras: list[Para], threshold: float) -> tuple[dict, int]:
    """Identical, near-identical (bigram Jaccard ≥ threshold) or contained paragraphs.

    Returns {"groups": {id(canonical): [duplicates]}, "dropped": {id(dup)}}; the canonical is
    the longest member (text is never lost: a contained paragraph's text is inside it).
    """
    body = [p for p in paras if p.kind == "body"]
    keys = [compact(p.block.text) for p in body]
    grams = [_bigram_set(k) for k in keys]
    parent = list(range(len(body)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _pairs(keys, grams, threshold):
        a, b = keys[i], keys[j]
        same = a == b
        if not same:
            short, long_ = (a, b) if len(a) <= len(b) else (b, a)
            same = len(short) >= 20 and short in long_
        if not same:
            inter = len(grams[i] & grams[j])
            union = len(grams[i] | grams[j]) or 1
            same = inter / union >= threshold
        if same:
            parent[find(j)] = find(i)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(body)):
        members[find(i)].append(i)
    groups: dict[int, list[Para]] = {}
    dropped: set[int] = set()
    collapsed = 0
    for idxs in members.values():
        if len(idxs) < 2:
            continue
        canon = max(idxs, key=lambda k: (len(keys[k]), -k))
        others = [body[k] for k in idxs if k != canon]
        groups[id(body[canon])] = others
        dropped.update(id(p) for p in others)
        collapsed += len(others)
    return {"groups": groups, "dropped": dropped}, collapsed
