"""What indicator extraction adds to ingestion: the corpus read and cut (`ingest_paths`) against the
extraction of every report's indicators from its chunks, medians of several runs.

    .venv/bin/python eval/bench_indicators.py [--runs 5] [REPORTS_DIR]

Prints seconds for ingestion and for extraction and the ratio (target: extraction ≤ 10 % of
ingestion). Embedding is not counted in ingestion here, so the real share is smaller still."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from rag.indicators.extract import extract
from rag.ingest import ingest_paths
from rag.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reports", nargs="?", default=str(Path(__file__).parent / "corpus" / "reports"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    settings = Settings()
    ingest_s, extract_s, rows = [], [], 0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        docs = ingest_paths([Path(args.reports)], settings, progress=False)
        t1 = time.perf_counter()
        rows = sum(len(extract(d.chunks, d.meta.level)) for d in docs)
        t2 = time.perf_counter()
        ingest_s.append(t1 - t0)
        extract_s.append(t2 - t1)
    ing, ext = statistics.median(ingest_s), statistics.median(extract_s)
    print(f"reports: {len(docs)}, indicator rows: {rows}, runs: {args.runs}")
    print(f"ingestion (read + clean + chunk) median: {ing:.3f} s")
    print(f"indicator extraction median:           {ext:.3f} s")
    print(f"extraction / ingestion: {ext / ing:.1%} (target ≤ 10%)")


if __name__ == "__main__":
    main()
