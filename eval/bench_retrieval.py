"""Retrieval at scale: exact (flat) vs HNSW vector search and BM25 at 10^4, 10^5 and 10^6 chunks.

    .venv/bin/python eval/bench_retrieval.py [--sizes 10000,100000,1000000] [--repeat 3]
        [--data mixture|gaussian] [--ef 32,64,128,256,512] [--json]

Only five reports exist, so the large corpora are synthetic, built to look like ours:
- vectors: `mixture` (default) draws "reports" around centres sampled from a Gaussian with the
  mean and covariance of the real chunk embeddings, and each report's chunks around its centre
  with the real within-report spread (measured on the seeds); `gaussian` drops that structure
  (one Gaussian; measured, it gives about the same recall as `mixture`). Queries are the real embedded questions
  of eval/questions.jsonl, so their distribution is that of the product.
- BM25 documents: token sequences drawn from the seeds' jieba token frequencies plus a long tail
  of new words (the vocabulary grows with the corpus as real text does); queries are the real
  questions through the product's tokenizer.

For every size the script times, per query (one at a time, as the service runs them), the exact
index and HNSW at several efSearch values with recall@10 against the exact result; BM25 scoring
plus top-candidate selection; and the whole fused query path (embed the question, vector search,
BM25, top candidates, reciprocal-rank fusion). Memory is the serialized index size and the growth
of the process's resident set. Latencies are medians (p50) and 95th percentiles over all
questions × `--repeat`. It ends with the index-type choice these figures imply.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.search.bm25 import BM25Index, top_n  # noqa: E402
from rag.evaluate.questions import load_questions  # noqa: E402
from rag.evaluate.scoring import percentile  # noqa: E402
from rag.search.index import load  # noqa: E402
from rag.search.retrieve import reciprocal_rank_fusion  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.search.store import chunk_int_id, load_store  # noqa: E402
from rag.search.text import tokenize  # noqa: E402
from rag.search.vectors import FaissStore  # noqa: E402


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lat(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values) * 1000, 2), "p95_ms": round(percentile(values, 0.95) * 1000, 2)}


# --- synthetic corpora ------------------------------------------------------------------------------
class VectorModel:
    """A generator of chunk vectors with the statistics of the real embeddings."""

    def __init__(self, real: np.ndarray, docs: list[str], kind: str, seed: int):
        self.rng = np.random.default_rng(seed)
        self.kind = kind
        self.mu = real.mean(0)
        cov = np.cov((real - self.mu).T) + 1e-5 * np.eye(real.shape[1])
        self.chol = np.linalg.cholesky(cov).astype(np.float32)
        # share of the variance inside a report (chunks of one report around its own mean)
        members = [real[[i for i, d in enumerate(docs) if d == doc]] for doc in set(docs)]
        within = sum(((m - m.mean(0)) ** 2).sum() for m in members)
        total = ((real - self.mu) ** 2).sum()
        self.within = float(within / total)
        self.chunks_per_doc = max(2, len(docs) // max(1, len(set(docs))))

    def sample(self, n: int, batch: int = 100_000) -> np.ndarray:
        out = np.empty((n, self.chol.shape[0]), dtype=np.float32)
        d = self.chol.shape[0]
        for s in range(0, n, batch):
            m = min(batch, n - s)
            z = self.rng.standard_normal((m, d), dtype=np.float32) @ self.chol.T
            if self.kind == "mixture":
                n_docs = max(1, m // self.chunks_per_doc)
                centres = self.rng.standard_normal((n_docs, d), dtype=np.float32) @ self.chol.T
                owner = self.rng.integers(0, n_docs, m)
                x = self.mu + np.sqrt(1 - self.within) * centres[owner] + np.sqrt(self.within) * z
            else:
                x = self.mu + z
            out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


class TokenModel:
    """Synthetic BM25 documents: real token frequencies plus a Zipfian tail of unseen words."""

    def __init__(self, texts: list[str], seed: int):
        from collections import Counter

        self.rng = np.random.default_rng(seed)
        counts = Counter(t for text in texts for t in tokenize(text))
        self.vocab = [t for t, _ in counts.most_common()]
        freq = np.array([counts[t] for t in self.vocab], dtype=np.float64)
        self.p_real = freq / freq.sum()
        self.lengths = np.array([len(tokenize(t)) for t in texts])

    def corpus(self, n: int) -> tuple[list[np.ndarray], dict[str, int]]:
        """`n` documents as token-id arrays, and the vocabulary (token → id)."""
        vocab = {t: i for i, t in enumerate(self.vocab)}
        tail = max(1000, int(30 * n ** 0.6))  # Heaps' law: the vocabulary grows sub-linearly
        for j in range(tail):
            vocab[f"词{j}"] = len(self.vocab) + j
        lengths = self.rng.choice(self.lengths, n)
        real = self.rng.choice(len(self.vocab), int(lengths.sum()), p=self.p_real)
        new = len(self.vocab) + (self.rng.zipf(1.3, len(real)) - 1) % tail
        ids = np.where(self.rng.random(len(real)) < 0.8, real, new)  # a fifth of tokens are rarer words
        docs = np.split(ids, np.cumsum(lengths)[:-1])
        return [np.unique(d) if len(d) else np.array([0]) for d in docs], vocab


def build_bm25(docs: list[np.ndarray], vocab: dict[str, int]) -> BM25Index:
    import bm25s

    r = bm25s.BM25()
    r.index(([d.tolist() for d in docs], vocab), show_progress=False)
    return BM25Index(r)


# --- one size -------------------------------------------------------------------------------------------
def time_each(fn, queries: list, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t)
    return out


def index_bytes(store: FaissStore) -> int:
    import faiss

    return int(faiss.serialize_index(store.index).nbytes)


def run_size(n: int, args, vmodel: VectorModel, tmodel: TokenModel, qvecs: np.ndarray, qtexts: list[str],
             embedder, settings: Settings) -> dict:
    k, cand = 10, settings.candidates
    row: dict = {"n": n}
    t = time.perf_counter()
    x = vmodel.sample(n)
    ids = np.arange(n, dtype=np.int64)
    log(f"[{n:,}] vectors generated in {time.perf_counter() - t:.1f} s")

    rss0 = rss_mib()
    flat = FaissStore(x.shape[1], "flat")
    t = time.perf_counter()
    flat.add(ids.tolist(), x)
    row["flat"] = {"build_s": round(time.perf_counter() - t, 2), "index_mib": round(index_bytes(flat) / 2**20, 1),
                   "rss_growth_mib": round(rss_mib() - rss0, 1)}
    _, truth = flat.search_many(qvecs, k)
    row["flat"].update(lat(time_each(lambda q: flat.search(q, cand), list(qvecs), args.repeat)))
    log(f"[{n:,}] flat {row['flat']}")

    rss0 = rss_mib()
    hnsw = FaissStore(x.shape[1], "hnsw", m=settings.vectors.hnsw_m, ef_construction=settings.vectors.hnsw_ef_construction)
    t = time.perf_counter()
    hnsw.add(ids.tolist(), x)
    row["hnsw"] = {"build_s": round(time.perf_counter() - t, 2), "index_mib": round(index_bytes(hnsw) / 2**20, 1),
                   "rss_growth_mib": round(rss_mib() - rss0, 1), "ef": {}}
    del x
    gc.collect()
    for ef in args.ef:
        hnsw.set_ef_search(ef)
        _, got = hnsw.search_many(qvecs, k)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth)]))
        row["hnsw"]["ef"][ef] = {"recall@10": round(recall, 4),
                                 **lat(time_each(lambda q: hnsw.search(q, cand), list(qvecs),
                                                 args.repeat))}
        log(f"[{n:,}] hnsw ef={ef} {row['hnsw']['ef'][ef]}")
    hnsw.set_ef_search(settings.vectors.hnsw_ef_search)
    row["hnsw"]["ef_used"] = settings.vectors.hnsw_ef_search

    t = time.perf_counter()
    docs, vocab = tmodel.corpus(n)
    rss0 = rss_mib()
    bm25 = build_bm25(docs, vocab)
    del docs
    gc.collect()
    row["bm25"] = {"build_s": round(time.perf_counter() - t, 2), "rss_growth_mib": round(rss_mib() - rss0, 1)}
    row["bm25"].update(lat(time_each(lambda q: top_n(bm25.scores(q), cand), qtexts, args.repeat)))
    # the candidate selection before: a full sort of every document's score
    row["bm25_full_sort"] = lat(time_each(lambda q: np.argsort(-bm25.scores(q))[:cand], qtexts, args.repeat))
    log(f"[{n:,}] bm25 {row['bm25']}, with a full sort {row['bm25_full_sort']}")

    for name, store in (("flat", flat), ("hnsw", hnsw)):
        def fused(q: str, store=store) -> None:
            qv = embedder.embed_query(q)
            _, dids = store.search(qv, cand)
            bs = bm25.scores(q)
            dense = {int(i): r for r, i in enumerate(dids) if i >= 0}
            sparse = {int(i): r for r, i in enumerate(top_n(bs, cand)) if bs[i] > 0}
            ranks = reciprocal_rank_fusion([dense, sparse], settings.rrf_k)
            sorted(ranks, key=lambda i: -ranks[i])[: settings.top_k]

        row[f"fused_{name}"] = lat(time_each(fused, qtexts, args.repeat))
        log(f"[{n:,}] fused with {name} {row[f'fused_{name}']}")
    del flat, hnsw, bm25
    gc.collect()
    return row


def recommend(rows: list[dict], budget_ms: float, target_recall: float) -> dict:
    """Where exact search stops fitting its budget, and the smallest efSearch meeting the recall."""
    # the largest corpus gives the slope: small ones fit in the CPU caches and scan faster per vector
    big = max(rows, key=lambda r: r["n"])
    per_vec = big["flat"]["p50_ms"] / big["n"]
    threshold = int(round(budget_ms / per_vec, -4))
    efs = sorted({ef for r in rows for ef in r["hnsw"]["ef"]})
    ef_ok = next((ef for ef in efs if all(r["hnsw"]["ef"][ef]["recall@10"] >= target_recall for r in rows)), None)
    return {"flat_ms_per_million": round(per_vec * 1e6, 1), "flat_budget_ms": budget_ms,
            "hnsw_threshold": threshold, "target_recall@10": target_recall, "ef_search": ef_ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3, help="Passes over the questions per measurement.")
    ap.add_argument("--data", default="mixture", choices=["mixture", "gaussian"])
    ap.add_argument("--ef", default="16,32,64,128,256", help="HNSW efSearch values to measure.")
    ap.add_argument("--budget-ms", type=float, default=20.0,
                    help="Vector-search time per query above which HNSW replaces exact search.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="Print all figures as JSON on stdout.")
    ap.add_argument("--out", type=Path, help="Also write the figures as JSON to this file.")
    args = ap.parse_args()
    args.ef = [int(e) for e in args.ef.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]

    settings = Settings()
    from rag.search.embed import get_embedder

    embedder = get_embedder(settings)
    idx = load(settings, embedder.model_id)
    import faiss

    real = faiss.downcast_index(idx.store.index.index).reconstruct_n(0, len(idx.store))
    _, chunks = load_store(settings)
    by_id = {chunk_int_id(c.id): c for c in chunks}
    ids = [int(i) for i in idx.ids]
    docs = [by_id[i].doc for i in ids]
    questions = load_questions(Path(__file__).with_name("questions.jsonl"))
    qtexts = [q.question for q in questions]
    t = time.perf_counter()
    qvecs = np.stack([embedder.embed_query(q) for q in qtexts]).astype(np.float32)
    embed_q = (time.perf_counter() - t) / len(qtexts)
    vmodel = VectorModel(real, docs, args.data, args.seed)
    tmodel = TokenModel([by_id[i].search_text for i in ids], args.seed)
    log(f"real chunks {len(real)}, within-report variance share {vmodel.within:.2f}, "
        f"{vmodel.chunks_per_doc} chunks per synthetic report; {len(qtexts)} questions, "
        f"embedding one takes {embed_q * 1000:.1f} ms; faiss threads {faiss.omp_get_max_threads()}")

    rows = [run_size(n, args, vmodel, tmodel, qvecs, qtexts, embedder, settings) for n in sizes]
    rec = recommend(rows, args.budget_ms, 0.95)
    result = {"data": args.data, "questions": len(qtexts), "repeat": args.repeat, "dim": int(real.shape[1]),
              "query_embed_ms": round(embed_q * 1000, 1), "sizes": rows, "recommendation": rec,
              "settings": {"hnsw_m": settings.vectors.hnsw_m, "hnsw_ef_construction": settings.vectors.hnsw_ef_construction,
                           "hnsw_ef_search": settings.vectors.hnsw_ef_search, "hnsw_threshold": settings.vectors.hnsw_threshold,
                           "candidates": settings.candidates}}
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print_table(result, settings, args)


def print_table(result: dict, settings: Settings, args) -> None:
    rows, rec = result["sizes"], result["recommendation"]
    print(f"data {args.data}, dim {result['dim']}, {result['questions']} real questions × {args.repeat}, "
          f"k=10 for recall, {settings.candidates} candidates per query; query embedding {result['query_embed_ms']} ms")
    print(f"{'vectors':>10} {'index':>8} {'build s':>8} {'MiB':>7} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}")
    for r in rows:
        f = r["flat"]
        print(f"{r['n']:>10,} {'flat':>8} {f['build_s']:>8} {f['index_mib']:>7} {f['p50_ms']:>7} {f['p95_ms']:>7} {1.0:>9}")
        h = r["hnsw"]
        for ef, e in h["ef"].items():
            print(f"{'':>10} {'hnsw' + str(ef):>8} {h['build_s']:>8} {h['index_mib']:>7} {e['p50_ms']:>7} "
                  f"{e['p95_ms']:>7} {e['recall@10']:>9}")
        b = r["bm25"]
        print(f"{'':>10} {'bm25':>8} {b['build_s']:>8} {b['rss_growth_mib']:>7} {b['p50_ms']:>7} {b['p95_ms']:>7}")
        if "bm25_full_sort" in r:
            b = r["bm25_full_sort"]
            print(f"{'':>10} {'bm25sort':>8} {'':>8} {'':>7} {b['p50_ms']:>7} {b['p95_ms']:>7}")
        for name in ("flat", "hnsw"):
            x = r[f"fused_{name}"]
            print(f"{'':>10} {'fused+' + name:>8} {'':>8} {'':>7} {x['p50_ms']:>7} {x['p95_ms']:>7}")
    print(f"exact search costs {rec['flat_ms_per_million']} ms per 10^6 vectors; with a {args.budget_ms:.0f} ms budget "
          f"HNSW pays from ~{rec['hnsw_threshold']:,} vectors (RAG_VECTORS__HNSW_THRESHOLD, now {settings.vectors.hnsw_threshold:,}); "
          f"smallest efSearch with recall@10 ≥ 0.95 at every size: {rec['ef_search']} "
          f"(RAG_VECTORS__HNSW_EF_SEARCH, now {settings.vectors.hnsw_ef_search})")


if __name__ == "__main__":
    main()
