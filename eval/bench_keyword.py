"""Keyword search: the product's bm25s against Milvus Lite's built-in BM25, alone and fused with dense search.

    .venv/bin/python eval/bench_keyword.py [--questions eval/questions.jsonl] [--index index]
    .venv/bin/python eval/bench_keyword.py --questions eval/corpus-questions.jsonl --index /tmp/corpus-index-kw
        [--reports eval/corpus/reports]   # first build (or update) the index from these reports
        [--flushes 1] [--scale 10000,100000] [--out eval/results/<date>-bench-keyword.txt]

Over the searchable chunks of an index (`ChunkStore.iter_chunks(searchable_only=True)`, their
`search_text`) the script builds each keyword engine and searches the keyword text of every question
as the product does (`Retriever.analyse`: the question's content plus the Chinese terms of its English
words):
- `bm25s`: the product's `BM25Index` (bm25s over `rag.search.text.tokenize`, jieba with the report vocabulary);
- `milvus-chinese`: a Milvus Lite collection whose VARCHAR field has `analyzer_params={"type": "chinese"}`
  and a BM25 `Function` into a SPARSE_FLOAT_VECTOR field (SPARSE_INVERTED_INDEX, metric BM25); when this
  Milvus Lite refuses the analyzer, the error is printed and the variant skipped;
- `milvus-jieba`: the same with the `jieba` tokenizer this Milvus Lite does have (jieba's default
  dictionary, search mode, no stop words) — the nearest to Milvus' `chinese` analyzer;
- `milvus-ours`: the same over our own tokens joined by spaces (each token's non-word characters made
  `_` so that the `standard` \\w+ tokenizer keeps it whole: this Milvus Lite has no `whitespace` one).
Build time is tokenisation + index (Milvus: create, insert, flush); `--flushes N` flushes N times
during the insert, as successive updates would (this Milvus Lite keeps BM25 statistics per segment).
`--scale` also times bm25s and `milvus-ours` over the chunks repeated under new ids up to those sizes.

Keyword alone: the engine's top 10 chunks, a hit at rank r when the r-th chunk contains an evidence
string (`rag.evaluate.scoring.first_hit`); hit@1/3/5/10 and MRR@10 over the answerable questions
(`rag.evaluate.scoring.retrieval_metrics`), with p50/p95 of the keyword query (text in, ranked ids out).
Fused: the product's `Retriever` with its BM25 ranking taken from the engine, through the same
`rag.evaluate.run.run_retrieval` as `rag eval --retrieval-only` (dense + keyword by reciprocal rank,
steering, twins merged); its latency is the whole retrieval. Questions are taken one at a time with
every engine in turn, so that load from other processes falls on all alike. The table is printed and written to
`--out`, where a section per question file is kept (a rerun replaces its own section).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.search.bm25 import BM25Index, top_n  # noqa: E402
from rag.evaluate.questions import load_questions  # noqa: E402
from rag.evaluate.scoring import first_hit, percentile, retrieval_metrics  # noqa: E402
from rag.evaluate.run import run_retrieval  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.search.store import ChunkStore, chunk_int_id  # noqa: E402
from rag.search.text import tokenize  # noqa: E402

K = 10
MILVUS = {"milvus-chinese": {"type": "chinese"}, "milvus-jieba": {"tokenizer": "jieba"},
          "milvus-ours": {"tokenizer": "standard"}}


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def ms(values: list[float]) -> tuple[float, float]:
    return round(statistics.median(values) * 1000, 2), round(percentile(values, 0.95) * 1000, 2)


def our_words(text: str) -> str:
    """Our jieba tokens as one space-separated string that a \\w+ tokenizer splits back into them."""
    return " ".join(re.sub(r"\W", "_", t) for t in tokenize(text))


class Bm25s:
    """The product's keyword search: bm25s over our tokens."""

    def __init__(self, texts: list[str], ids: list[int]):
        self.bm25, self.ids = BM25Index.build(texts), np.asarray(ids, dtype=np.int64)

    def search(self, text: str, limit: int) -> list[tuple[int, float]]:
        scores = self.bm25.scores(text)
        return [(int(self.ids[p]), float(scores[p])) for p in top_n(scores, limit) if scores[p] > 0]


class MilvusBm25:
    """A Milvus collection with a BM25 function over a text field analysed by `analyzer`."""

    def __init__(self, client, name: str, analyzer: dict, texts: list[str], ids: list[int], flushes: int):
        from pymilvus import DataType, Function, FunctionType

        self.client, self.name = client, name.replace("-", "_")
        self.prepare = our_words if analyzer.get("tokenizer") == "standard" else (lambda t: t)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=analyzer)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        index = client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": 1.5, "bm25_b": 0.75})  # bm25s' defaults
        client.create_collection(self.name, schema=schema, index_params=index)
        rows = [{"id": i, "text": self.prepare(t)} for i, t in zip(ids, texts)]
        step = -(-len(rows) // max(1, flushes))
        for s in range(0, len(rows), step):
            for b in range(s, min(s + step, len(rows)), 1000):
                client.insert(self.name, rows[b:min(b + 1000, s + step)])
            client.flush(self.name)
        client.load_collection(self.name)

    def search(self, text: str, limit: int) -> list[tuple[int, float]]:
        hits = self.client.search(self.name, data=[self.prepare(text)], anns_field="sparse", limit=limit,
                                  output_fields=[], search_params={"metric_type": "BM25"})[0]
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits]  # Milvus Lite gives -score


class AsBM25:
    """An engine in the place of the product's `BM25Index` inside a `Retriever` (scores by BM25 position)."""

    def __init__(self, engine, retriever, limit: int):
        self.engine, self.retriever, self.limit = engine, retriever, limit

    def scores(self, query: str, extra_tokens: list[str] | None = None) -> np.ndarray:
        out = np.zeros(self.retriever.count, dtype=np.float32)
        hits = self.engine.search(" ".join([query, *(extra_tokens or [])]), self.limit)
        if hits:
            pos = self.retriever.positions(np.asarray([i for i, _ in hits], dtype=np.int64))
            for p, (_, s) in zip(pos.tolist(), hits):
                if p >= 0:
                    out[p] = s
        return out


def one_question(q, text: str, engine, retriever, original, limit: int, text_of: dict[int, str]) -> tuple:
    """(keyword-alone hit rank, its seconds, fused hit rank, fused retrieval ms) of one question and engine."""
    t = time.perf_counter()
    hits = engine.search(text, K)
    seconds = time.perf_counter() - t
    rank = first_hit(q, [{"rank": r, "text": text_of[i]} for r, (i, _) in enumerate(hits, 1)])
    retriever.index.bm25 = original if isinstance(engine, Bm25s) else AsBM25(engine, retriever, limit)
    try:  # the CLI's retrieval-only evaluation, one question at a time
        _, (record,) = run_retrieval(retriever, [q], K, progress=False)
    finally:
        retriever.index.bm25 = original
    return rank, seconds, record["hit_rank"], record["retrieve_ms"]


def at_scale(sizes: list[int], texts: list[str], queries: list[str], client, flushes: int) -> list[str]:
    """Keyword query latency over the chunks repeated under new ids up to each size (a latency figure
    only: repeated texts give no quality figure). Milvus Lite scores BM25 in Python, so it grows with
    the posting lists; the analyzer does not matter for it."""
    lines = [f"at scale: the chunks repeated under new ids, {len(queries)} queries, top {3 * K}",
             f"{'chunks':>9} {'engine':<12} {'build s':>8} {'1st ms':>8} {'p50 ms':>8} {'p95 ms':>8}"]
    for n in sizes:
        many, ids = [texts[i % len(texts)] for i in range(n)], list(range(1, n + 1))
        for name in ("bm25s", "milvus-ours"):
            log(f"{name}: {n:,} chunks …")
            t = time.perf_counter()
            engine = Bm25s(many, ids) if name == "bm25s" else \
                MilvusBm25(client, f"scale_{n}", MILVUS[name], many, ids, flushes)
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            engine.search(queries[0], 3 * K)
            first_ms = (time.perf_counter() - t) * 1000
            lat = []
            for text in queries:
                t = time.perf_counter()
                engine.search(text, 3 * K)
                lat.append(time.perf_counter() - t)
            p50, p95 = ms(lat)
            lines.append(f"{n:>9,} {name:<12} {build_s:>8.1f} {first_ms:>8.1f} {p50:>8} {p95:>8}")
            if name != "bm25s":
                client.drop_collection(engine.name)
    return lines


def build_index(index_dir: Path, reports: Path) -> None:
    from rag.search.index import build
    from rag.ingest import ingest_paths
    from rag.search.store import write_store

    s = Settings(index_dir=index_dir, seeds_dir=reports)
    t = time.perf_counter()
    write_store(ingest_paths([reports], s, progress=False), s)
    st = build(s, progress=False)
    log(f"indexed {st.chunks} chunks in {time.perf_counter() - t:.0f} s ({st.embedded} embedded)")


def run(args) -> list[str]:
    from rag.search.retrieve import Retriever

    settings = Settings(index_dir=args.index)
    store = ChunkStore(args.index)
    try:
        chunks = list(store.iter_chunks(searchable_only=True))
    finally:
        store.close()
    ids = [chunk_int_id(c.id) for c in chunks]
    texts = [c.search_text for c in chunks]
    text_of = {i: c.text for i, c in zip(ids, chunks)}
    questions = load_questions(args.questions)
    retriever = Retriever(settings)
    analyses = [retriever.analyse(q.question) for q in questions]
    queries = [" ".join([a.content, *a.english_terms]) for a in analyses]
    limit = max(settings.candidates, 3 * K)
    answerable = sum(1 for q in questions if q.type != "unanswerable" and q.evidence)
    lines = [f"== {args.questions.name}: {len(questions)} questions ({answerable} answerable), "
             f"{len(chunks)} searchable chunks of {len({c.doc for c in chunks})} documents ({args.index}); "
             f"Milvus inserts flushed {args.flushes}× ==",
             f"{'engine':<15} {'mode':<8} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'hit@10':>6} {'MRR@10':>6} "
             f"{'p50 ms':>7} {'p95 ms':>7} {'build s':>7} {'1st ms':>7}"]
    notes: list[str] = []
    from pymilvus import MilvusClient

    tmp = Path(tempfile.mkdtemp(prefix="bench-keyword-"))
    client = MilvusClient(uri=str(tmp / "keyword.db"))  # Milvus Lite: a server thread in this process
    original = retriever.index.bm25
    engines: dict[str, tuple] = {}  # name → (engine, build s, first query ms)
    try:
        for name in ["bm25s", *MILVUS]:
            t = time.perf_counter()
            try:
                engine = Bm25s(texts, ids) if name == "bm25s" else \
                    MilvusBm25(client, name, MILVUS[name], texts, ids, args.flushes)
            except Exception as exc:  # noqa: BLE001 - an analyzer this Milvus does not have is a result
                notes.append(f"{name}: analyzer_params={MILVUS[name]} refused: {type(exc).__name__}: {exc}")
                continue
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            engine.search(queries[0], K)
            engines[name] = (engine, build_s, (time.perf_counter() - t) * 1000)
            log(f"{name}: built in {build_s:.1f} s")
        # question by question, every engine in turn: a burst of load on the machine hits them alike
        out: dict[str, list] = {name: [] for name in engines}
        for n, (q, text) in enumerate(zip(questions, queries), 1):
            for name, (engine, *_) in engines.items():
                out[name].append(one_question(q, text, engine, retriever, original, limit, text_of))
            if n % 20 == 0:
                log(f"{n}/{len(questions)} questions")
        for name in ["bm25s", *MILVUS]:
            if name not in engines:
                lines.append(f"{name:<15} {'-':<8} not available (see below)")
                continue
            _, build_s, first_ms = engines[name]
            rows = out[name]
            m = retrieval_metrics([(q, r[0]) for q, r in zip(questions, rows)])["overall"]
            p50, p95 = ms([r[1] for r in rows])
            lines.append(f"{name:<15} {'keyword':<8} " + " ".join(f"{m[f'hit@{k}']:>6.3f}" for k in (1, 3, 5, 10))
                         + f" {m['mrr@10']:>6.3f} {p50:>7} {p95:>7} {build_s:>7.1f} {first_ms:>7.1f}")
            f = retrieval_metrics([(q, r[2]) for q, r in zip(questions, rows)])["overall"]
            p50, p95 = ms([r[3] / 1000 for r in rows])
            lines.append(f"{'':<15} {'fused':<8} " + " ".join(f"{f[f'hit@{k}']:>6.3f}" for k in (1, 3, 5, 10))
                         + f" {f['mrr@10']:>6.3f} {p50:>7} {p95:>7}")
        lines += ["keyword: the engine's own top 10 (latency: the keyword query alone; 1st: the first query after "
                  "the build); fused: Retriever.search with the engine's ranking (dense + keyword by RRF, steering, "
                  "twins merged; latency: the whole retrieval). hit@k and MRR@10 over the answerable questions. "
                  f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end.", *notes]
        if args.scale:
            lines += at_scale([int(n) for n in args.scale.split(",")], texts, queries, client, args.flushes)
    finally:
        client.close()
        retriever.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return lines


def save(path: Path, lines: list[str]) -> None:
    """Write this question file's section into `path`, keeping the sections of other question files."""
    head = lines[0].split(":")[0]
    sections: list[list[str]] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("== ") or not sections:
                sections.append([])
            sections[-1].append(line)
    sections = [s for s in sections if s and s[0].split(":")[0] != head and s[0].startswith("== ")] + [lines]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(s).strip() for s in sections) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--index", type=Path, default=ROOT / "index", help="Index folder (reused as it is).")
    ap.add_argument("--reports", type=Path, help="Build (or update) --index from these reports first.")
    ap.add_argument("--flushes", type=int, default=1, help="Flushes during the Milvus inserts (segments).")
    ap.add_argument("--scale", help="Also time keyword queries over the chunks repeated to these sizes, "
                                    "e.g. 10000,100000.")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / f"{time.strftime('%Y-%m-%d')}-bench-keyword.txt")
    args = ap.parse_args()
    import jieba
    import pymilvus  # noqa: F401 - configures its loggers on import; quieted after

    jieba.setLogLevel(logging.WARNING)
    for name in ("pymilvus", "bm25s"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # a refused analyzer is reported below, once
    if args.reports:
        build_index(args.index, args.reports)
    lines = run(args)
    save(args.out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
