"""Retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank, steered by the report and
year the question names (see `rag.search.query`), with the same paragraph from twin reports collapsed
into one result."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rag.chunk.document import Chunk
from rag.errors import RagError, Unavailable
from rag.scope import Scope, resolve
from rag.search.bm25 import top_n, top_weight
from rag.search.index import LoadedIndex
from rag.search.index import load as load_index
from rag.search.query import Analyzer, QueryAnalysis, Report
from rag.search.store import ChunkLookup, ChunkStore
from rag.search.stores import AnyChunkStore

if TYPE_CHECKING:
    from rag.search.store_pg import PgChunkStore
from rag.search.text import tokenize
from rag.search.vectors import VectorFilter
from rag.settings import Settings


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
    parts: list[int] = field(default_factory=list)  # the parts of the question it was found for (0-based)

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


def _open_shared(settings: Settings, embedder_id: str, attempts: int = 5) -> tuple[PgChunkStore, LoadedIndex]:
    """A shared library's store and its published index, read at one generation (another
    replica may publish meanwhile: then read again)."""
    from rag.search import shared_index
    from rag.search.store_pg import PgChunkStore

    store = PgChunkStore(settings.store.url)
    for attempt in range(attempts):
        try:
            index = shared_index.load(settings, store, embedder_id)
        except Unavailable:
            if attempt == attempts - 1 or "changed while" not in str(sys.exc_info()[1]):
                store.close()
                raise
            time.sleep(0.2)
            continue
        if index.manifest.get("store_generation") == store.generation or attempt == attempts - 1:
            return store, index
        index.store.close()
        time.sleep(0.2)
    raise AssertionError("unreachable")


class Retriever:
    """Opens the published index and the chunk store once; answers many queries.

    Only the index is held in memory (vectors, BM25, the position → id array); chunks are read
    from the SQLite store for the candidates of each question."""

    def __init__(self, settings: Settings, embedder=None):
        from rag.search.embed import get_embedder

        self.settings = settings
        # jieba's dictionary loads (~0.7 s) while the embedder and the index open (a Milvus server
        # may still be loading its segments): the first question then need not wait for it
        warm = threading.Thread(target=tokenize, args=("预热",), name="jieba-warm-up", daemon=True)
        warm.start()
        self.embedder = embedder or get_embedder(settings)
        self.store: AnyChunkStore
        if settings.store.url:
            self.store, self.index = _open_shared(settings, self.embedder.model_id)
        else:
            self.index = load_index(settings, self.embedder.model_id)
            self.store = ChunkStore(settings.index_dir)
        if self.index.manifest.get("store_generation") != self.store.generation:
            self.store.close()
            raise Unavailable("the chunk store changed since the index was built; run `rag index`")
        self._documents: list[dict] | None = None
        self.by_id = ChunkLookup(self.store)
        ids = self.index.ids
        self._order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._order]
        self.idf = self.index.bm25.idf()
        self.max_idf = top_weight(self.idf)  # the weight of a term no chunk has
        warm.join()
        self.analyzer = self._analyzer()
        self._positions_of: dict[tuple, np.ndarray] = {}
        self._dense_pool: ThreadPoolExecutor | None = None

    @property
    def documents(self) -> list[dict]:
        """Every document's summary, read from the store when first asked for (the API's document
        list); answering needs only the place, level and year columns."""
        if self._documents is None:
            self._documents = self.store.documents()
        return self._documents

    @property
    def count(self) -> int:
        """Indexed chunks."""
        return len(self.index.ids)

    def positions(self, iids: np.ndarray) -> np.ndarray:
        """BM25 positions of chunk int ids (-1 for an id this index does not hold)."""
        iids = np.asarray(iids, dtype=np.int64)
        at = np.searchsorted(self._sorted_ids, iids)
        at = np.minimum(at, len(self._sorted_ids) - 1)
        found = self._sorted_ids[at] == iids
        return np.where(found, self._order[at], -1)

    def chunks_at(self, positions) -> dict[int, Chunk]:
        """The chunks at these BM25 positions (one store query), also kept in the lookup."""
        positions = [int(p) for p in positions]
        got = self.store.by_int_ids(int(self.index.ids[p]) for p in positions)
        out = {}
        for p in positions:
            c = got.get(int(self.index.ids[p]))
            if c is not None:  # a chunk removed by a change that is being published: skipped
                out[p] = c
                self.by_id.put(c)
        return out

    def _analyzer(self) -> Analyzer:
        """Query analysis over this index's reports (places, years, pinyin and English names)."""
        reports = [Report(i, place or "", level or "", year) for i, place, level, year in self.store.reports()]
        try:
            from rag.search.translate import Translator

            translator = Translator.load(self.settings.lexicon_dir, self.settings.lexicon.report_terms)
        except ImportError:  # pragma: no cover - the translator ships with the package
            translator = None
        return Analyzer(reports, translator, self.idf)

    def close(self) -> None:
        if self._dense_pool is not None:
            self._dense_pool.shutdown(wait=False)
        self.store.close()

    def _dense(self, qvec: np.ndarray, cand: int, where: VectorFilter | None) -> Future:
        """The vector store's search. A remote store's is started in a worker thread and the
        keyword scoring runs meanwhile (a Milvus server's search is a round trip of 10–20 ms at 10^6
        vectors, the keyword scoring and its top candidates ~8 ms); a store in this process is
        searched here (faiss on two cores only slows the keyword scoring down beside it)."""
        if not self.index.store.remote:
            done: Future = Future()
            done.set_result(self.index.store.search(qvec, cand, where))
            return done
        if self._dense_pool is None:
            self._dense_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dense-search")
        return self._dense_pool.submit(self.index.store.search, qvec, cand, where)

    @property
    def place_aliases(self) -> dict[str, str]:
        """Every way a question may write an indexed place (alias → place)."""
        return self.analyzer.aliases

    def unknown_places(self, text: str) -> list[str]:
        """Place names in `text` that no indexed report covers (「那丙市呢？」 asks about 丙市)."""
        return self.analyzer.unknown_places(text)

    def scope_docs(self, scope: Scope | None) -> frozenset[str] | None:
        """The report ids a scope admits (None: no scope); a `RagError` naming what the library
        does not hold."""
        return resolve(scope, self.analyzer.reports, self.analyzer.aliases)

    def analyse(self, question: str, scope: Scope | frozenset[str] | None = None) -> QueryAnalysis:
        """The question's plan (see `rag.search.query`), within a scope."""
        docs = self.scope_docs(scope) if isinstance(scope, Scope) else scope
        return self.analyzer.analyse(question, docs)

    def warm(self) -> None:
        """One search, so that the first question does not pay for warming up (the tokenizer's and
        tagger's dictionaries, the embedder's first run: about 1–2 s on 2 cores)."""
        self.search("今年的主要预期目标是什么？", 1)

    def search(
        self,
        question: str | QueryAnalysis,
        k: int | None = None,
        timings: dict | None = None,
        scope: Scope | None = None,
    ) -> list[Result]:
        """Top-k fused results for a question (any script, or English) or for its plan, within a
        scope (only the chunks of the reports it admits are searched).

        A question in several parts is also searched part by part, each part only in the reports
        its plan picks (a comparison of two places searches each place's reports for its part),
        and each part keeps its own top k (the results are the parts' top k in turn, then the whole
        question's), so that no part is crowded out by another."""
        t0 = time.perf_counter()
        if isinstance(question, QueryAnalysis):
            q = question
        else:
            if not question or not question.strip():
                raise RagError("the question is empty")
            q = self.analyse(question, scope)
        k = k or self.settings.top_k
        fused, dense_score, bscores, dense_rank, bm25_rank, chunks = self._fused(
            q, q.search_text, q.content, k, q.scope
        )
        order = sorted(fused, key=lambda p: -fused[p])
        found_for: dict[int, list[int]] = {}
        if q.part_plans:
            orders: list[list[int]] = []
            for i, part in enumerate(q.part_plans):
                if part.missing:
                    orders.append([])
                    continue
                docs = (
                    frozenset(part.docs) & q.scope
                    if q.scope is not None and part.docs
                    else (frozenset(part.docs) if part.docs else q.scope)
                )
                places = " ".join(sorted(part.places))
                text = f"{places} {part.content}".strip() if part.follow_up else part.question
                f, ds, bs, dr, br, more = self._fused(part, text, part.content, k, docs)
                chunks.update(more)
                for pos, v in f.items():
                    fused.setdefault(pos, v)
                    dense_score.setdefault(pos, ds.get(pos, 0.0))
                    dense_rank.setdefault(pos, dr[pos]) if pos in dr else None
                    bm25_rank.setdefault(pos, br[pos]) if pos in br else None
                    bscores[pos] = max(float(bscores[pos]), float(bs[pos]))
                ranked = sorted(f, key=lambda p: -f[p])
                orders.append(ranked)
                for pos in ranked[:k]:
                    found_for.setdefault(pos, []).append(i)
            merged: list[int] = []
            for r in range(k):  # round robin: each part's best, then each part's second …
                merged += [o[r] for o in orders if len(o) > r]
            order = list(dict.fromkeys([*merged, *order]))
            k = k * len(q.part_plans)  # each part keeps its own k
        results: list[Result] = []
        taken: dict[str, Result] = {}
        for pos in order:
            c = chunks[pos]  # every fused position's chunk was read by `_fused`
            twin_hit = next((taken[t] for t in c.twins if t in taken), None)
            if twin_hit is not None:
                twin_hit.also.append({"id": c.id, "doc": c.doc, "start": c.start, "end": c.end, "text": c.text})
                twin_hit.parts = sorted(set(twin_hit.parts) | set(found_for.get(pos, [])))
                taken[c.id] = twin_hit
                continue
            res = Result(
                rank=len(results) + 1,
                id=c.id,
                doc=c.doc,
                title=c.title,
                place=c.place,
                year=c.year,
                period=c.period,
                section=c.section,
                breadcrumb=c.breadcrumb,
                paragraph=c.paragraph,
                text=c.text,
                start=c.start,
                end=c.end,
                score=round(fused[pos], 6),
                dense=round(dense_score.get(pos, 0.0), 4),
                bm25=round(float(bscores[pos]), 4),
                dense_rank=dense_rank.get(pos),
                bm25_rank=bm25_rank.get(pos),
                follows=[{"id": f, "text": fc.text} for f in c.follows if (fc := self.by_id.get(f))],
                parts=found_for.get(pos, []),
            )
            results.append(res)
            taken[c.id] = res
            if len(results) >= k:
                break
        if timings is not None:
            timings["retrieve_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return results

    def _doc_positions(self, docs: frozenset[str]) -> np.ndarray:
        """BM25 positions of the searchable chunks of these documents (cached per set)."""
        key = (self.store.generation, docs)
        got = self._positions_of.get(key)
        if got is None:
            pos = self.positions(np.asarray(self.store.int_ids_of(sorted(docs)), dtype=np.int64))
            got = pos[pos >= 0]
            if len(self._positions_of) > 64:
                self._positions_of.clear()
            self._positions_of[key] = got
        return got

    def _fused(self, q: QueryAnalysis, embed_text: str, content: str, k: int, docs: frozenset[str] | None = None):
        """Fused (dense + BM25, steered) scores of the candidate chunks for one query text; only
        chunks of `docs` when given (a scope, or the reports one part of a question is about)."""
        n = self.count
        cand = min(n, max(self.settings.candidates, k * 3))
        qvec = self.embedder.embed_query(embed_text)
        where = VectorFilter(docs=tuple(sorted(docs))) if docs is not None else None
        dense = self._dense(qvec, cand, where)
        bscores = self.index.bm25.scores(content, q.search_terms)
        if docs is not None:
            keep = self._doc_positions(docs)
            masked = np.zeros_like(bscores)
            masked[keep] = bscores[keep]
            bscores = masked
        border = top_n(bscores, cand)
        bm25_rank = {int(p): r for r, p in enumerate(border) if bscores[p] > 0}
        dscores, dids = dense.result()
        dense_rank: dict[int, int] = {}
        dense_score: dict[int, float] = {}
        for r, (s, pos) in enumerate(zip(dscores, self.positions(dids).tolist())):
            if pos < 0:  # padding, or a vector this reader's manifest does not hold
                continue
            dense_rank[pos] = r
            dense_score[pos] = float(s)
        if self.settings.retrieval_mode == "dense":
            bm25_rank = {}
        elif self.settings.retrieval_mode == "bm25":
            dense_rank = {}
        rrf = reciprocal_rank_fusion([dense_rank, bm25_rank], self.settings.rrf_k)
        chunks = self.chunks_at(set(dense_rank) | set(bm25_rank))
        if docs is not None:  # a vector store that cannot filter returns others too
            chunks = {p: c for p, c in chunks.items() if c.doc in docs}
        fused = {pos: rrf[pos] * self._steer(c, q) for pos, c in chunks.items()}
        return fused, dense_score, bscores, dense_rank, bm25_rank, chunks

    def _steer(self, c: Chunk, q: QueryAnalysis) -> float:
        """Favour the report and the year the question names, without hiding other documents
        (`Settings.steer`)."""
        weights = self.settings.steer
        w = 1.0
        if c.kind in ("title", "meta") and not q.asks_meta:
            w *= weights.meta
        if q.docs and c.doc not in q.docs:
            w *= weights.other_report
        targets = q.targets(c.year)
        if targets and c.period is not None:
            w *= weights.asked_year if c.period in targets else weights.other_year
        return w
