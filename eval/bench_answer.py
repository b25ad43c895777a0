"""Answer latency over the team's question set: time to the evidence quote, to the first answer
token and to the full answer, and prompt tokens, with the default (or small) model.

    .venv/bin/python eval/bench_answer.py [--model default|small] [--limit N] [--repeat R]

Prints medians and 95th percentiles (per question, the median of R runs). Targets on the
2-core machine with the default model: evidence ≤ 0.5 s, first token ≤ 4 s, full answer ≤ 6 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer import Assistant  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.settings import Settings  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", choices=["default", "small"])
    ap.add_argument("--limit", type=int, default=0, help="Only the first N questions (0 = all).")
    ap.add_argument("--repeat", type=int, default=1, help="Runs per question; the median is kept.")
    ap.add_argument("--questions", type=Path, default=Path(__file__).with_name("questions.jsonl"))
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = ap.parse_args()

    settings = Settings()
    t = time.perf_counter()
    assistant = Assistant(settings)
    assistant.llm(args.model)
    load_s = time.perf_counter() - t
    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    assistant.ask(questions[0].question, model=args.model)  # warm-up: caches and the system prompt's KV state
    rows = []
    for q in questions:
        runs = [assistant.ask(q.question, model=args.model).timings for _ in range(args.repeat)]
        row = {"id": q.id}
        for key in ("retrieve_ms", "evidence_s", "first_token_s", "total_s", "prompt_tokens", "completion_tokens"):
            vals = [r[key] for r in runs if r.get(key) is not None]
            if vals:
                row[key] = statistics.median(vals)
        rows.append(row)
        print(f"{q.id} " + " ".join(f"{k}={v}" for k, v in row.items() if k != "id"), file=sys.stderr)
    summary = {"model": args.model, "questions": len(rows), "load_s": round(load_s, 2)}
    for key in ("retrieve_ms", "evidence_s", "first_token_s", "total_s", "prompt_tokens", "completion_tokens"):
        vals = [r[key] for r in rows if key in r]
        if vals:
            summary[key] = {"median": round(statistics.median(vals), 3), "p95": round(pct(vals, 0.95), 3), "n": len(vals)}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    print(f"model {args.model}: {len(rows)} questions, model load {summary['load_s']} s")
    for key, target in (("evidence_s", 0.5), ("first_token_s", 4.0), ("total_s", 6.0), ("retrieve_ms", None),
                        ("prompt_tokens", None), ("completion_tokens", None)):
        if key in summary:
            s = summary[key]
            goal = f"   (target ≤ {target})" if target else ""
            print(f"  {key:18s} median {s['median']:>8}   p95 {s['p95']:>8}   n={s['n']}{goal}")


if __name__ == "__main__":
    main()
