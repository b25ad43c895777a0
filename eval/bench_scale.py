"""The whole product at scale: 10^6 chunks in the SQLite chunk store with faiss, with Milvus Lite, and
with a Milvus standalone server.

    .venv/bin/python eval/bench_scale.py [--chunks 1000000] [--stores faiss,milvus,milvus-server] [--repeat 3]
        [--work /tmp/scale] [--reuse /tmp/scale/faiss] [--every 3] [--out eval/results/<date>-bench-scale.json]

Chunks are synthesised from the real reports (eval/corpus/reports and seeds/): synthetic reports of
invented places, each made of paragraphs drawn from one real report with every figure redrawn, so
texts, sections and lengths look like reports and no two synthetic chunks are the same text.
Embedding 10^6 chunks on two cores would take days, so their vectors come from a generator with the
statistics of the real chunk embeddings (`bench_retrieval.VectorModel`), put into the product's
embedding cache: everything else — writing the chunk store, `rag.search.index.build` (vector store, BM25,
publication), opening the index, answering a question's retrieval — is the product's own code.

For each store it reports: build time (chunk store write + index build) and disk size; in a new
process, the service's start time (opening the `Retriever`) and resident memory after the questions;
retrieval p50/p95 of the whole path (`Retriever.search`: embed the question, dense + keyword search,
fusion, steering, chunk fetch from SQLite), over the real questions of both question sets; and
recall@10 of the dense search against an exact scan of the same vectors; and, to say where the time
goes, the question's embedding and the vector store's search alone (p50/p95).

Stores: `faiss` (HNSW from 130,000 vectors on), `milvus` (Milvus Lite, HNSW, inside the service
process) and `milvus-server` (a Milvus 2.3 standalone server started for the run by
`rag.deploy.milvus_server.MilvusLocal`, its data in <work>/milvus-server-data, HNSW; the `milvus`
package of the test extra). For the server the service's own RSS is reported, and the server's
beside it (now and its peak). A build left by `--keep` is served again: the server restarts on its
data folder, and the service is started once the server has loaded the collection again (the time
that takes is reported apart: a replica starts against a server that is up).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from rag.evaluate.questions import load_questions  # noqa: E402
from rag.evaluate.scoring import percentile  # noqa: E402
from rag.settings import Settings, VectorSettings  # noqa: E402

# invented places: ordinal characters, never real names
_STEMS = "甲乙丙丁戊己庚辛壬癸"
_SUFFIX = {"province": "省", "prefecture": "市", "county": "县", "district": "区", "national": "市"}
_DIGITS = re.compile(r"\d+")


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def templates(settings: Settings):
    """The real reports, cut by the product (each with its searchable chunks)."""
    from rag.ingest import ingest_paths

    docs = ingest_paths([ROOT / "eval" / "corpus" / "reports", ROOT / "seeds"], settings, progress=False)
    return [d for d in docs if sum(c.searchable for c in d.chunks) >= 20]


def synthesise(real, n_chunks: int, seed: int):
    """Synthetic reports totalling `n_chunks` searchable chunks (figures redrawn, places invented)."""
    from rag.chunk.document import finalize_breadcrumbs

    rng = random.Random(seed)
    out, total, j = [], 0, 0
    while total < n_chunks:
        src = real[j % len(real)]
        body = [c for c in src.chunks if c.searchable and c.kind in ("body", "bullet")]
        take = min(len(body), rng.randint(40, 110), n_chunks - total)
        level = src.meta.level or "prefecture"
        place = rng.choice(_STEMS) + rng.choice(_STEMS) + _SUFFIX.get(level, "市")
        year = rng.randint(2015, 2026)
        doc_id = f"syn{j:06d}"
        d = copy.copy(src)
        d.id, d.name, d.path, d.sha256, d.twin_of = doc_id, f"{doc_id}.txt", "", f"{j:064x}", []
        d.meta = copy.copy(src.meta)
        d.meta.place, d.meta.year, d.meta.reviews = place, year, year - 1
        d.chunks = []
        for n, c in enumerate(sorted(rng.sample(body, take), key=lambda c: c.start)):
            text = _DIGITS.sub(lambda m: str(rng.randint(10 ** (len(m.group(0)) - 1) if len(m.group(0)) > 1 else 0,
                                                          10 ** len(m.group(0)) - 1)), c.text)
            new = copy.copy(c)
            new.id, new.doc, new.place, new.year = f"{doc_id}/p{n}", doc_id, place, year
            new.period = year if c.period == src.meta.year else (year - 1 if c.period else None)
            new.text = text
            new.search_text = _DIGITS.sub(lambda m, it=iter(_DIGITS.findall(text)): next(it, m.group(0)), c.search_text)
            new.twins, new.follows, new.notes, new.locations = [], [], [], []
            new.flags, new.garbled = [], []
            d.chunks.append(new)
        finalize_breadcrumbs(d)
        out.append(d)
        total += take
        j += 1
    return out


def vector_settings(store: str, milvus_uri: str = "", ef: int = 0) -> VectorSettings:
    """The vector settings of a store of the benchmark (`milvus-server`: Milvus at `milvus_uri`); `ef`:
    the HNSW search breadth of a Milvus store (0: the product's default)."""
    extra = {"milvus_ef_search": ef} if ef else {}
    if store == "milvus-server":
        return VectorSettings(store="milvus", milvus_uri=milvus_uri, milvus_index_type="hnsw", **extra)
    return VectorSettings(store=store, milvus_index_type="hnsw", **extra)


def build_store(work: Path, store: str, docs, vmodel, seed: int, shared: Path | None, milvus_uri: str = "") -> dict:
    """Chunk store + embedding cache filled with generated vectors + the product's index build."""
    from rag.search.embed import EmbeddingCache, embed_text, get_embedder
    from rag.search.index import build
    from rag.search.store import write_store

    settings = Settings(index_dir=work, vectors=vector_settings(store, milvus_uri))
    work.mkdir(parents=True, exist_ok=True)
    row: dict = {"store": store}
    embedder = get_embedder(settings)
    if shared is None:
        t = time.perf_counter()
        write_store(docs, settings)
        row["chunk_store_write_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        cache = EmbeddingCache(work / "cache", embedder.model_id, embedder.dim)
        texts = [embed_text(c) for d in docs for c in d.chunks if c.searchable]
        vecs = vmodel.sample(len(texts))
        cache.vectors = {cache.key(t): v for t, v in zip(texts, vecs)}
        cache.save()
        del cache, texts, vecs
        log(f"[{store}] generated vectors in the embedding cache in {time.perf_counter() - t:.0f} s")
    else:  # the same chunk store and cached vectors as the first store's (or --reuse's) build
        row["chunks_from"] = str(shared)
        for name in ("chunks.sqlite", "cache"):
            src = shared / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    t = time.perf_counter()
    stats = build(settings, progress=False, embedder=embedder)
    row["index_build_s"] = round(time.perf_counter() - t, 1)
    if settings.vectors.store == "milvus" and not settings.vectors.milvus_uri:  # Milvus Lite: one process at a time
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(work / "milvus.db"))
    row["index_type"] = stats.index_type
    row["chunks"] = stats.chunks
    sizes = {"chunk_store": (work / "chunks.sqlite").stat().st_size,
             "index": sum(du(p) for p in work.glob("build-*")),
             "embedding_cache": du(work / "cache")}
    if (work / "milvus.db").exists():
        p = work / "milvus.db"
        sizes["milvus"] = du(p) if p.is_dir() else p.stat().st_size
    row["disk_mib"] = {k: round(v / 2**20, 1) for k, v in sizes.items()}
    log(f"[{store}] built: {row}")
    return row


def probe(args) -> None:
    """In a new process: open the service's retriever, run the questions, report times and memory."""
    t0 = time.perf_counter()
    from rag.search.retrieve import Retriever

    efs = [int(e) for e in (args.ef or "0").split(",")]
    settings = Settings(index_dir=Path(args.probe), vectors=vector_settings(args.store, args.milvus_uri or "", efs[0]))
    r = Retriever(settings)
    start_s = time.perf_counter() - t0
    questions = json.loads(Path(args.questions_file).read_text(encoding="utf-8"))
    times, by_pass = [], []
    for _ in range(args.repeat):  # by pass: a first pass may read the chunks' pages from disk
        this = []
        for q in questions:
            t = time.perf_counter()
            r.search(q, 5)
            this.append(time.perf_counter() - t)
        by_pass.append(round(statistics.median(this) * 1000, 1))
        times += this
    # where the time goes: the question's embedding, and the vector store's search alone (the
    # candidates a question takes, unfiltered)
    embed_t, qvecs = [], []
    for q in questions:
        t = time.perf_counter()
        qvecs.append(r.embedder.embed_query(q))
        embed_t.append(time.perf_counter() - t)

    def store_alone() -> tuple[list[float], list[list[int]]]:
        """The vector store's search times over the questions, and its top 10 of each."""
        spent = []
        for _ in range(args.repeat):
            for v in qvecs:
                t = time.perf_counter()
                r.index.store.search(v, settings.candidates)
                spent.append(time.perf_counter() - t)
        return spent, [r.index.store.search(v, 10)[1].tolist() for v in qvecs]

    dense_t, dense_top = store_alone()
    sweep = {}  # --ef a,b,c: the vector store's search alone at the other breadths
    for ef in efs[1:]:
        r.index.store.settings = settings.model_copy(
            update={"vectors": settings.vectors.model_copy(update={"milvus_ef_search": ef})})
        times_ef, top_ef = store_alone()
        sweep[ef] = {"vector_search_p50_ms": round(statistics.median(times_ef) * 1000, 1),
                     "vector_search_p95_ms": round(percentile(times_ef, 0.95) * 1000, 1), "dense_top": top_ef}
    status = Path("/proc/self/status").read_text()
    kib = {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) for k in ("VmRSS", "VmHWM")}
    print(json.dumps({"start_s": round(start_s, 2), "rss_mib": round(kib["VmRSS"] / 1024),
                      "peak_rss_mib": round(kib["VmHWM"] / 1024),
                      "p50_ms": round(statistics.median(times) * 1000, 1),
                      "p95_ms": round(percentile(times, 0.95) * 1000, 1), "queries": len(times),
                      "p50_ms_by_pass": by_pass,
                      "embed_p50_ms": round(statistics.median(embed_t) * 1000, 1),
                      "vector_search_p50_ms": round(statistics.median(dense_t) * 1000, 1),
                      "vector_search_p95_ms": round(percentile(dense_t, 0.95) * 1000, 1),
                      "dense_top": dense_top, "ef_sweep": sweep}))


def server_loaded(uri: str, work: Path) -> float:
    """Seconds until a restarted server has loaded the build's collection again (3.5–31 s at 10^6
    vectors on 2 cores, from run to run): a service opening the index meanwhile waits that long."""
    from pymilvus import MilvusClient

    collection = json.loads((work / "manifest.json").read_text())["collection"]
    t = time.perf_counter()
    client = MilvusClient(uri=uri, timeout=600)
    client.load_collection(collection, timeout=600)
    client.close()
    return round(time.perf_counter() - t, 1)


def exact_top(work: Path, qvecs: np.ndarray, k: int = 10) -> list[list[int]]:
    """The exact top-k ids of the published vectors (a full inner-product scan)."""
    from rag.search.embed import EmbeddingCache, embed_text
    from rag.search.index import read_manifest
    from rag.search.store import ChunkStore, chunk_int_id

    settings = Settings(index_dir=work)
    manifest = read_manifest(settings)
    store = ChunkStore(work)
    ids, keys = [], []
    for c in store.iter_chunks(searchable_only=True):
        ids.append(chunk_int_id(c.id))
        keys.append(EmbeddingCache.key(embed_text(c)))
    store.close()
    cache = EmbeddingCache(work / "cache", manifest["embedder_id"], manifest["dim"])
    x = np.stack([cache.vectors[k] for k in keys]).astype(np.float32)
    del cache
    ids_a = np.asarray(ids)
    out = []
    for s in range(0, len(qvecs), 32):
        sims = qvecs[s:s + 32] @ x.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        for row, t in zip(sims, top):
            out.append(ids_a[t[np.argsort(-row[t])]].tolist())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--stores", default="faiss,milvus",
                    help="Comma-separated: faiss, milvus (Milvus Lite), milvus-server (a Milvus standalone server).")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/scale"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--every", type=int, default=1,
                    help="Use every n-th question only (a store that takes seconds a search).")
    ap.add_argument("--keep", action="store_true", help="Reuse the work folders' builds when present.")
    ap.add_argument("--reuse", type=Path, help="Build from this earlier build's chunk store and embedding cache "
                    "(e.g. /tmp/scale/faiss) instead of synthesising: the 10^6 corpus takes ~20 min to make "
                    "and several GiB to hold.")
    ap.add_argument("--ef", default="0",
                    help="HNSW search breadth of a Milvus store (RAG_VECTORS__MILVUS_EF_SEARCH; 0: the default). "
                    "Several, comma-separated: the whole path runs at the first, the vector search alone at each.")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--probe", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--questions-file", help=argparse.SUPPRESS)
    ap.add_argument("--milvus-uri", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        probe(args)
        return

    from bench_retrieval import VectorModel

    from rag.search.embed import get_embedder
    from rag.search.index import load
    from rag.search.store import chunk_int_id, load_store

    settings = Settings()
    embedder = get_embedder(settings)
    idx = load(settings, embedder.model_id)
    import faiss

    real_vecs = faiss.downcast_index(idx.store.index.index).reconstruct_n(0, idx.store.count())
    _, real_chunks = load_store(settings)
    doc_of = {chunk_int_id(c.id): c.doc for c in real_chunks}
    vmodel = VectorModel(real_vecs, [doc_of[int(i)] for i in idx.ids], "mixture", args.seed)
    questions = [q.question for f in ("questions.jsonl", "corpus-questions.jsonl")
                 for q in load_questions(ROOT / "eval" / f)][::args.every]
    qfile = args.work / "questions.json"
    args.work.mkdir(parents=True, exist_ok=True)
    qfile.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    qvecs = np.stack([embedder.embed_query(q) for q in questions]).astype(np.float32)

    docs = None
    rows, first = [], args.reuse
    if first is not None and not (first / "chunks.sqlite").exists():
        raise SystemExit(f"--reuse: {first} has no chunks.sqlite")
    server = None
    try:
        for store in args.stores.split(","):
            work = args.work / store
            keep = args.keep and (work / "manifest.json").exists()
            milvus_uri = ""
            if store == "milvus-server":
                from rag.deploy.milvus_server import MilvusLocal

                data = args.work / "milvus-server-data"
                if not keep:
                    shutil.rmtree(data, ignore_errors=True)
                server = MilvusLocal(data).start()
                milvus_uri = server.uri
                log(f"[{store}] Milvus {server.version} standalone at {server.uri} (pid {server.pid}), "
                    f"started in {server.start_s:.1f} s")
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
                if first is None and docs is None:
                    t = time.perf_counter()
                    docs = synthesise(templates(settings), args.chunks, args.seed)
                    log(f"synthesised {sum(len(d.chunks) for d in docs):,} chunks in {len(docs):,} reports "
                        f"in {time.perf_counter() - t:.0f} s")
                row = build_store(work, store, docs, vmodel, args.seed, first, milvus_uri)
            else:
                row = {"store": store, "reused_build": True}
                if server is not None:  # the server reloads its segments after a restart: not the service's start
                    row["milvus_server_load_s"] = server_loaded(milvus_uri, work)
                    log(f"[{store}] the server loaded the collection in {row['milvus_server_load_s']} s")
            first = first or work
            docs = None  # the next stores copy this build's chunk store and cache: the corpus can go
            if server is not None:
                row["milvus_server_start_s"] = round(server.start_s or 0, 1)
                row.setdefault("disk_mib", {})["milvus_server"] = round(du(server.data_dir / "data") / 2**20, 1)
            env = {**os.environ, "RAG_THREADS": str(os.cpu_count() or 1)}
            out = subprocess.run([sys.executable, __file__, "--probe", str(work), "--store", store, "--repeat",
                                  str(args.repeat), "--questions-file", str(qfile), "--milvus-uri", milvus_uri,
                                  "--ef", args.ef if store != "faiss" else "0"],
                                 capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                raise SystemExit(f"the {store} probe failed: {out.stderr[-2000:]}")
            served = json.loads(out.stdout.strip().splitlines()[-1])
            if server is not None:  # the server's memory beside the service's own
                served["milvus_server_rss_mib"] = round(server.rss_bytes() / 2**20)
                served["milvus_server_peak_rss_mib"] = round(server.peak_rss_bytes() / 2**20)
                server.stop()
                server = None
            truth = exact_top(work, qvecs)
            def recall(got: list[list[int]]) -> float:
                return round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth)])), 4)

            served["recall@10"] = recall(served.pop("dense_top"))
            for swept in served.get("ef_sweep", {}).values():
                swept["recall@10"] = recall(swept.pop("dense_top"))
            if not served.get("ef_sweep"):
                served.pop("ef_sweep", None)
            row.update(served)
            log(f"[{store}] served: {served}")
            rows.append(row)
    finally:
        if server is not None:
            server.stop()
    result = {"chunks": args.chunks, "questions": len(questions), "repeat": args.repeat,
              "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "stores": rows}
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{args.chunks:,} chunks, {len(questions)} real questions × {args.repeat}")
    print(f"{'store':<14} {'build s':>8} {'disk MiB':>9} {'start s':>8} {'RSS MiB':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'recall@10':>9} {'vector p50/p95 ms':>17} {'server RSS/peak MiB':>19}")
    for r in rows:
        build_s = r.get("chunk_store_write_s", 0) + r.get("index_build_s", 0)
        disk = sum((r.get("disk_mib") or {}).values())
        vec = f"{r['vector_search_p50_ms']}/{r['vector_search_p95_ms']}"
        srv = f"{r['milvus_server_rss_mib']}/{r['milvus_server_peak_rss_mib']}" if "milvus_server_rss_mib" in r else "-"
        print(f"{r['store']:<14} {build_s:>8.0f} {disk:>9.0f} {r['start_s']:>8} {r['rss_mib']:>8} {r['p50_ms']:>7} "
              f"{r['p95_ms']:>7} {r['recall@10']:>9} {vec:>17} {srv:>19}")
        for ef, swept in (r.get("ef_sweep") or {}).items():
            print(f"{'  at ef ' + str(ef):<14} {'':>8} {'':>9} {'':>8} {'':>8} {'':>7} {'':>7} "
                  f"{swept['recall@10']:>9} {str(swept['vector_search_p50_ms']) + '/' + str(swept['vector_search_p95_ms']):>17}")


if __name__ == "__main__":
    main()
