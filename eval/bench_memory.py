"""Memory: peak resident set of a one-shot `rag ask` and of the HTTP service after 100 questions.

    .venv/bin/python eval/bench_memory.py [--questions-served 100] [--model default|small]
        [--repeat 3] [--json]

`rag ask` runs as a child process; its peak RSS comes from the kernel's accounting of that child
(`wait4`), median of `--repeat` runs. The service is started with `rag serve` on a free port, asked
the team's questions one after another through `POST /v1/ask` (cycling through the question set),
and its VmRSS / VmHWM are read from /proc every ten questions, so growth is visible as well as
the peak. The model file is memory-mapped: its pages count in RSS while they are resident. Target
on the 2-core machine: service RSS ≤ 3 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.evaluate.questions import load_questions  # noqa: E402

RAG = str(Path(sys.executable).with_name("rag"))


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1])
    return out


def ask_peak(question: str, model: str) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one `rag ask` process."""
    t = time.perf_counter()
    p = subprocess.Popen([RAG, "ask", question, "--model", model, "--json"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rag ask failed with exit code {os.waitstatus_to_exitcode(status)}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_ask(n: int, model: str, questions: list[str]) -> dict:
    import httpx

    port = free_port()
    env = dict(os.environ, RAG_LLM__CHOICE=model)
    proc = subprocess.Popen([RAG, "serve", "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        t = time.perf_counter()
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                if proc.poll() is not None:
                    raise SystemExit("`rag serve` exited before it was ready")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t > 300:
                    raise SystemExit("`rag serve` was not ready after 300 s")
                time.sleep(0.5)
            start = proc_status(proc.pid)
            log(f"service ready in {time.perf_counter() - t:.1f} s, RSS {start['VmRSS'] / 1024:.0f} MiB")
            samples = []
            statuses: dict[int, int] = {}
            t = time.perf_counter()
            for i in range(n):
                r = client.post("/v1/ask", json={"question": questions[i % len(questions)]})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if (i + 1) % 10 == 0:
                    s = proc_status(proc.pid)
                    samples.append({"questions": i + 1, "rss_mib": round(s["VmRSS"] / 1024), "peak_mib": round(s["VmHWM"] / 1024)})
                    log(f"  {i + 1:>4} questions  RSS {samples[-1]['rss_mib']} MiB  peak {samples[-1]['peak_mib']} MiB")
            end = proc_status(proc.pid)
            return {"questions": n, "seconds": round(time.perf_counter() - t, 1), "status_counts": statuses,
                    "rss_ready_mib": round(start["VmRSS"] / 1024), "rss_end_mib": round(end["VmRSS"] / 1024),
                    "peak_mib": round(end["VmHWM"] / 1024), "samples": samples}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions-served", type=int, default=100)
    ap.add_argument("--model", default="default", choices=["default", "small"])
    ap.add_argument("--repeat", type=int, default=3, help="`rag ask` runs (the median peak is reported).")
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON on stdout.")
    ap.add_argument("--out", type=Path, help="Also write the figures as JSON to this file.")
    args = ap.parse_args()

    questions = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]
    runs = [ask_peak(questions[0], args.model) for _ in range(args.repeat)]
    for peak, wall in runs:
        log(f"rag ask: peak RSS {peak:.0f} MiB, {wall:.1f} s")
    cli = {"runs": args.repeat, "peak_mib_median": round(statistics.median(p for p, _ in runs)),
           "peak_mib_max": round(max(p for p, _ in runs)), "wall_s_median": round(statistics.median(w for _, w in runs), 1)}
    service = serve_and_ask(args.questions_served, args.model, questions)
    result = {"model": args.model, "rag_ask": cli, "service": service, "target_mib": 3072}
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"model {args.model}")
    print(f"  rag ask (one question, new process)  peak RSS median {cli['peak_mib_median']} MiB, "
          f"max {cli['peak_mib_max']} MiB over {args.repeat} runs; wall {cli['wall_s_median']} s")
    print(f"  service after {service['questions']} questions  RSS {service['rss_end_mib']} MiB "
          f"(ready: {service['rss_ready_mib']} MiB), peak {service['peak_mib']} MiB   (target ≤ 3072 MiB); "
          f"HTTP statuses {service['status_counts']}")


if __name__ == "__main__":
    main()
