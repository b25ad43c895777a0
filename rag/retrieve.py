"""Retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank, steered by the report and
year the question names (see `rag.query`), with the same paragraph from twin reports collapsed
into one result."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from .errors import RagError
from .index import LoadedIndex, load as load_index, top_n
from .ingest import Chunk, load_store
from .query import Analyzer, QueryAnalysis, Report
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
    follows: list[dict] = field(default_factory=list)  # the items a lead-in paragraph announces

    def to_dict(self) -> dict:
        return asdict(self)


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
        self.idf = self._idf()  # also loads jieba, so that the first question is not slower
        self.max_idf = max(self.idf.values(), default=1.0)  # the weight of a term no chunk has
        self.analyzer = self._analyzer()

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

    def _analyzer(self) -> Analyzer:
        """Query analysis over this index's reports (places, years, pinyin and English names)."""
        reports = [Report(d["id"], d["meta"].get("place") or "", d["meta"].get("level") or "", d["meta"].get("year"))
                   for d in self.documents]
        try:
            from .translate import Translator

            translator = Translator.load(self.settings.index_dir)
        except ImportError:  # pragma: no cover - the translator ships with the package
            translator = None
        return Analyzer(reports, translator, self.idf)

    @property
    def place_aliases(self) -> dict[str, str]:
        """Every way a question may write an indexed place (alias → place)."""
        return self.analyzer.aliases

    def analyse(self, question: str) -> QueryAnalysis:
        return self.analyzer.analyse(question)

    def search(self, question: str, k: int | None = None, timings: dict | None = None) -> list[Result]:
        """Top-k fused results for a question (any script, or English)."""
        if not question or not question.strip():
            raise RagError("the question is empty")
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        q = self.analyse(question)
        fused, dense_score, bscores, dense_rank, bm25_rank = self._fused(q, question if q.english else q.text, q.content, k)
        order = sorted(fused, key=lambda p: -fused[p])
        if len(q.parts) > 1:
            # A question in several parts is also searched part by part, and the best passage for
            # each part is kept in the top k, so that a later part is not crowded out by the first.
            places = " ".join(sorted(q.places))
            orders = [order]
            for part, content in zip(q.parts, q.part_contents):
                pq = self.analyse(part)
                when = (pq.years, pq.relative) if pq.years or pq.relative else (q.years, q.relative)
                sub = replace(q, years=when[0], relative=when[1], docs=pq.docs or q.docs)
                f = self._fused(sub, f"{places} {content}".strip(), content, k)[0]
                orders.append(sorted(f, key=lambda p: -f[p]))
                for pos, v in f.items():
                    fused.setdefault(pos, v)
            keep = max(1, k - len(q.parts))
            order = list(dict.fromkeys([*order[:keep], *(o[0] for o in orders[1:] if o), *order]))
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
                         dense_rank=dense_rank.get(pos), bm25_rank=bm25_rank.get(pos),
                         follows=[{"id": f, "text": self.by_id[f].text} for f in c.follows if f in self.by_id])
            results.append(res)
            taken[c.id] = res
            if len(results) >= k:
                break
        if timings is not None:
            timings["retrieve_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return results

    def _fused(self, q: QueryAnalysis, embed_text: str, content: str, k: int):
        """Fused (dense + BM25, steered) scores of the candidate chunks for one query text."""
        n = len(self.chunks)
        cand = min(n, max(self.settings.candidates, k * 3))
        qvec = self.embedder.embed_query(embed_text)
        dscores, dids = self.index.store.search(qvec, cand)
        dense_rank: dict[int, int] = {}
        dense_score: dict[int, float] = {}
        for r, (s, i) in enumerate(zip(dscores, dids)):
            pos = self.pos_of_int.get(int(i))
            if pos is None:  # padding (-1), or a vector this reader's manifest does not hold
                continue
            dense_rank[pos] = r
            dense_score[pos] = float(s)
        bscores = self.index.bm25.scores(content, q.english_terms)
        border = top_n(bscores, cand)
        bm25_rank = {int(p): r for r, p in enumerate(border) if bscores[p] > 0}
        if self.settings.retrieval_mode == "dense":
            bm25_rank = {}
        elif self.settings.retrieval_mode == "bm25":
            dense_rank = {}
        rrf = reciprocal_rank_fusion([dense_rank, bm25_rank], self.settings.rrf_k)
        fused = {pos: rrf[pos] * self._steer(self.chunks[pos], q) for pos in set(dense_rank) | set(bm25_rank)}
        return fused, dense_score, bscores, dense_rank, bm25_rank

    @staticmethod
    def _steer(c: Chunk, q: QueryAnalysis) -> float:
        """Favour the report and the year the question names, without hiding other documents."""
        w = 1.0
        if c.kind in ("title", "meta") and not q.asks_meta:
            w *= 0.3
        if q.docs:
            w *= 1.0 if c.doc in q.docs else 0.25
        targets = q.targets(c.year)
        if targets and c.period is not None:
            w *= 1.25 if c.period in targets else 0.8
        return w
