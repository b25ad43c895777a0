"""What the integrity checks cost: the sha256 of every index file on load, and the chunk store's
full verification, measured on an index of N generated chunks (384-dim vectors, as the default
embedder's) and on the seed index.

    .venv/bin/python eval/bench_faults.py --chunks 100000

Prints one JSON object: file sizes, hashing time and rate (first read after writing, i.e. from the
page cache, and after dropping the file from the cache with posix_fadvise where the OS allows it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.files import sha256_file  # noqa: E402


def _drop_cache(path: Path) -> bool:
    """Ask the kernel to forget the file's pages (a cold read next); False where not possible."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return True
    except (AttributeError, OSError):
        return False


def _time_hash(path: Path) -> dict:
    t = time.perf_counter()
    sha256_file(path)
    warm = time.perf_counter() - t
    cold = None
    if _drop_cache(path):
        t = time.perf_counter()
        sha256_file(path)
        cold = time.perf_counter() - t
    mb = path.stat().st_size / 1e6
    return {"file": path.name, "mb": round(mb, 1), "warm_s": round(warm, 3), "warm_mb_s": round(mb / warm),
            "cold_s": round(cold, 3) if cold else None, "cold_mb_s": round(mb / cold) if cold else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    import faiss

    out: dict = {"chunks": args.chunks}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(0)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(args.dim))
        index.add_with_ids(rng.standard_normal((args.chunks, args.dim), dtype=np.float32),
                           np.arange(args.chunks, dtype=np.int64))
        faiss.write_index(index, str(d / "vectors.faiss"))
        out["vectors"] = _time_hash(d / "vectors.faiss")
    # the seed index as the tests build it: the whole load-time check
    from rag.search.index import load, read_manifest, verify_files
    from rag.settings import Settings
    from rag.search.store import ChunkStore

    s = Settings()
    if read_manifest(s) is not None:
        m = read_manifest(s)
        t = time.perf_counter()
        verify_files(s.index_dir / m["build_dir"], m["files"])
        out["seed_verify_files_ms"] = round((time.perf_counter() - t) * 1000, 2)
        t = time.perf_counter()
        load(s, verify=False)
        out["seed_load_without_check_ms"] = round((time.perf_counter() - t) * 1000, 1)
        store = ChunkStore(s.index_dir)
        t = time.perf_counter()
        store.verify()
        out["seed_store_verify_ms"] = round((time.perf_counter() - t) * 1000, 1)
        out["seed_store_mb"] = round((s.index_dir / "chunks.sqlite").stat().st_size / 1e6, 2)
        store.close()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
