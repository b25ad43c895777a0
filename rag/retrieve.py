"""Retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank, steered by the place and
year a question names, with the same paragraph from twin reports collapsed into one result."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .clean import norm
from .errors import RagError
from .index import LoadedIndex, load as load_index, top_n
from .ingest import Chunk, load_store
from .settings import Settings


@dataclass
class Result:
    rank: int
    id: str
    doc: str
    title: str
    place: str
    year: int | None
    period: int | None
    section: list[str]
    breadcrumb: str
    paragraph: int
    text: str
    start: int
    end: int
    score: float
    dense: float
    bm25: float
    dense_rank: int | None
    bm25_rank: int | None
    also: list[dict] = field(default_factory=list)  # the same paragraph in twin reports

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def _glossary() -> list[tuple[str, str]]:
    path = Path(__file__).with_name("data") / "en_zh.tsv"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, _, zh = line.partition("\t")
        pairs.append((en.strip().lower(), zh.strip()))
    return sorted(pairs, key=lambda p: -len(p[0]))


def english_terms(query: str) -> list[str]:
    """Chinese report terms for the English words of a question (longest phrases first)."""
    q = " " + re.sub(r"[^a-z0-9.\- ]+", " ", query.lower()) + " "
    out = []
    for en, zh in _glossary():
        if zh and f" {en} " in q:
            out.append(zh)
            q = q.replace(f" {en} ", " ")
    return out


_YEAR_RE = re.compile(r"(20\d{2})\s*年?")


@dataclass
class QueryInfo:
    text: str  # normalised (Simplified) question
    places: set[str]
    year: int | None
    relative: str  # "", "this", "last"
    extra_terms: list[str]


def reciprocal_rank_fusion(rankings: list[dict[int, int]], k: int) -> dict[int, float]:
    """Σ 1/(k + rank + 1) over the rankings (item → 0-based rank) an item appears in: fusion by
    rank needs no calibration between dense similarities and BM25 scores."""
    out: dict[int, float] = {}
    for ranking in rankings:
        for item, rank in ranking.items():
            out[item] = out.get(item, 0.0) + 1.0 / (k + rank + 1)
    return out


class Retriever:
    """Loads the chunk store and the published index once; answers many queries."""

    def __init__(self, settings: Settings, embedder=None):
        from .embed import get_embedder

        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.index: LoadedIndex = load_index(settings, self.embedder.model_id)
        self.documents, chunks = load_store(settings)
        by_id = {c.id: c for c in chunks}
        missing = [i for i in self.index.ids if i not in by_id]
        if missing:
            raise RagError("the index does not match the chunk store; run `rag index`")
        self.chunks: list[Chunk] = [by_id[i] for i in self.index.ids]
        self.by_id = by_id
        from .index import chunk_int_id

        self.pos_of_int = {chunk_int_id(c.id): k for k, c in enumerate(self.chunks)}
        self.place_aliases = self._aliases()
        self.idf = self._idf()  # also loads jieba, so that the first question is not slower

    def _idf(self) -> dict[str, float]:
        """Inverse document frequency of every token over the indexed chunks."""
        import math
        from collections import Counter

        from .index import tokenize

        df: Counter[str] = Counter()
        for c in self.chunks:
            df.update(set(tokenize(c.search_text)))
        n = len(self.chunks) or 1
        return {t: math.log((n + 1) / (f + 0.5)) for t, f in df.items()}

    def _aliases(self) -> dict[str, str]:
        """Place names as a question may write them: 忻州市 → 忻州市, 忻州; English names via the glossary."""
        out: dict[str, str] = {}
        for d in self.documents:
            place = d["meta"].get("place") or ""
            if not place:
                continue
            out[place] = place
            if len(place) >= 3 and place[-1] in "市县区州" and place[-1] != "县":
                out[place[:-1]] = place
        return out

    def analyse(self, question: str) -> QueryInfo:
        text = norm(question)
        extra = english_terms(question) if re.search(r"[A-Za-z]{3,}", question) else []
        probe = text + " " + " ".join(extra)
        places = {full for alias, full in self.place_aliases.items() if alias in probe}
        year = None
        relative = ""
        if m := _YEAR_RE.search(text):
            year = int(m.group(1))
        if any(w in text for w in ("去年", "上年", "过去一年", "last year", "2023年工作")) or "last year" in question.lower():
            relative = "last"
        elif any(w in text for w in ("今年", "this year", "本年", "年内")) or "this year" in question.lower():
            relative = "this"
        return QueryInfo(text, places, year, relative, extra)

    def search(self, question: str, k: int | None = None, timings: dict | None = None) -> list[Result]:
        """Top-k fused results for a question (any script, or English)."""
        if not question or not question.strip():
            raise RagError("the question is empty")
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        q = self.analyse(question)
        n = len(self.chunks)
        cand = min(n, max(self.settings.candidates, k * 3))
        qvec = self.embedder.embed_query(q.text if not q.extra_terms else question)
        dscores, dids = self.index.store.search(qvec, cand)
        dense_rank: dict[int, int] = {}
        dense_score: dict[int, float] = {}
        for r, (s, i) in enumerate(zip(dscores, dids)):
            if i < 0:
                continue
            pos = self.pos_of_int[int(i)]
            dense_rank[pos] = r
            dense_score[pos] = float(s)
        bscores = self.index.bm25.scores(q.text, q.extra_terms)
        border = top_n(bscores, cand)
        bm25_rank = {int(p): r for r, p in enumerate(border) if bscores[p] > 0}
        if self.settings.retrieval_mode == "dense":
            bm25_rank = {}
        elif self.settings.retrieval_mode == "bm25":
            dense_rank = {}
        rrf = reciprocal_rank_fusion([dense_rank, bm25_rank], self.settings.rrf_k)
        fused = {pos: rrf[pos] * self._steer(self.chunks[pos], q) for pos in set(dense_rank) | set(bm25_rank)}
        order = sorted(fused, key=lambda p: -fused[p])
        results: list[Result] = []
        taken: dict[str, Result] = {}
        for pos in order:
            c = self.chunks[pos]
            twin_hit = next((taken[t] for t in c.twins if t in taken), None)
            if twin_hit is not None:
                twin_hit.also.append({"id": c.id, "doc": c.doc, "start": c.start, "end": c.end, "text": c.text})
                taken[c.id] = twin_hit
                continue
            res = Result(rank=len(results) + 1, id=c.id, doc=c.doc, title=c.title, place=c.place, year=c.year,
                         period=c.period, section=c.section, breadcrumb=c.breadcrumb, paragraph=c.paragraph,
                         text=c.text, start=c.start, end=c.end, score=round(fused[pos], 6),
                         dense=round(dense_score.get(pos, 0.0), 4), bm25=round(float(bscores[pos]), 4),
                         dense_rank=dense_rank.get(pos), bm25_rank=bm25_rank.get(pos))
            results.append(res)
            taken[c.id] = res
            if len(results) >= k:
                break
        if timings is not None:
            timings["retrieve_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return results

    @staticmethod
    def _steer(c: Chunk, q: QueryInfo) -> float:
        """Favour the place and year the question names, without hiding other documents."""
        w = 1.0
        if q.places:
            w *= 1.6 if c.place in q.places else 0.6
        target = q.year
        if target is None and q.relative and c.year:
            target = c.year if q.relative == "this" else c.year - 1
        if target is not None and c.period is not None:
            w *= 1.25 if c.period == target else 0.85
        return w
