"""The web page's times against their targets: the evidence on screen within 500 ms of Enter (median),
and what the page adds to the server's own time (the network, parsing, painting) at most 100 ms.

    .venv/bin/python eval/bench_web.py [--repeat 3] [--json]

Each run is the browser test that measures them (tests/test_web.py, the mock model, ten seed
questions in headless Chromium: Debian's chromium and chromium-driver, `make browser`); the test
holds the page's work (one request per question, the evidence before the answer) and writes the
times to tests/artifacts/web-evidence-latency.json, which this script collects. When the small
model's browser test has run (`pytest -m llm tests/test_web.py`), its first answer's times
(tests/artifacts/web-timings.json) are printed too, against their target: the page adds at most
0.3 s to the server's time to the evidence and to the first token. Other jobs on the machine slow
the server and the browser alike: the load average is printed; quote figures from a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
TEST = "tests/test_web.py::test_the_evidence_is_on_screen_before_the_answer_with_one_request_per_question"
TARGETS = {"median_browser_ms": 500, "median_page_overhead_ms": 100}
LLM_TARGET_S = 0.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="Runs of the browser test.")
    ap.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    runs = []
    for _ in range(args.repeat):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"the browser test failed or was skipped:\n{proc.stdout[-2000:]}")
        runs.append(json.loads((ARTIFACTS / "web-evidence-latency.json").read_text(encoding="utf-8")))
    result: dict = {"load_avg_1m": round(load, 2), "runs": len(runs)}
    for key, target in TARGETS.items():
        result[key] = round(statistics.median(r[key] for r in runs))
        result[key + "_target"] = target
    llm = ARTIFACTS / "web-timings.json"
    if llm.exists():
        t = json.loads(llm.read_text(encoding="utf-8"))
        result["llm_page_adds_to_evidence_s"] = round(t["browser_evidence_s"] - t["server_evidence_s"], 3)
        if t.get("server_first_token_s") is not None:
            result["llm_page_adds_to_first_token_s"] = round(t["browser_first_token_s"] - t["server_first_token_s"], 3)
    if args.json:
        print(json.dumps(result))
        return
    print(f"load average {load:.2f} at start; medians over {len(runs)} runs of {TEST.split('::')[1]}")
    for key, target in TARGETS.items():
        verdict = "ok" if result[key] <= target else "over"
        print(f"{key:28s} {result[key]:>6d} ms   target <= {target} ms   {verdict}")
    for key in ("llm_page_adds_to_evidence_s", "llm_page_adds_to_first_token_s"):
        if key in result:
            verdict = "ok" if result[key] <= LLM_TARGET_S else "over"
            print(f"{key:28s} {result[key]:>6.3f} s    target <= {LLM_TARGET_S} s   {verdict} (last llm browser run)")


if __name__ == "__main__":
    main()
