"""Answer latency over the team's question set, per model, and the pipeline's overhead over raw
llama-cpp-python answering the identical prompt in the same process.

    .venv/bin/python eval/bench_answer.py [--models default,small] [--limit N] [--repeat R]
        [--cold N] [--no-overhead] [--no-prefix-cache] [--json] [--out FILE] [--compare EARLIER.json]

For every question: retrieval ms, prompt tokens (the question-specific part), time to the evidence
quote, time to the first answer token, generation tokens/s after the first token, and total.
Per question the median of R runs is kept; the summary gives medians and 95th percentiles, and the
total's median, p95 and max by question type and for questions in one part against questions in
several (their ratio: a comparison or a two-part question should cost at most twice a single one).
The tail: every question over 6 s with its stages (retrieval, evidence, prompt tokens, prompt
evaluation, decoding, generations — retries, routes through Chinese, parts — and translation) and
what the notes say it retried or skipped. `--compare` puts an earlier `--out` file's figures
beside this run's, by type (before → after).

Overhead: for each question the model answered in one generation, the script replays the exact
prompt the pipeline sent (`Answer.messages`) through `Llama.create_chat_completion` with the same
sampling settings. Before each timed call the model's key-value cache is brought to the same
state — the fixed system prompt cached, the question not — by a one-token call on a dummy question
with the same prefix, so neither side profits from the other's work. Overhead = Σ pipeline time /
Σ raw time over those questions (and the median per-question ratio).

Cold processes (`--cold N`, on the first N questions): each question is also asked by a new
`rag ask --json` process, as a CLI user or a restarted service meets it — imports, model and index
loading included — once with the prompt prefix's key-value state loaded from disk (the default), once
without it (`RAG_PREFIX_CACHE=false`, every process evaluates the fixed prefix itself), and once with a
resident `rag serve` of the same index running, to which each process hands its question (the
service's answer, the client's imports and the HTTP round trip: `rag.resident`). For a
cold process "first token" counts from the process start: its wall time minus the part of the
answer after the first token (so the exit time is charged to the first token, not hidden).
Reported side by side with the warm figures of the same run, and the ratio cold / warm.

Levers are measured by re-running with settings changed through the environment, e.g.
`RAG_THREADS=1`, `RAG_PROMPT_LOOKUP_TOKENS=10`, or `--no-prefix-cache` (the KV cache is cleared
before every question, so the system prompt is processed each time).

Targets on the 2-core machine, default model: evidence ≤ 0.5 s, first token ≤ 4 s, full answer
≤ 6 s, overhead ≤ 5 %.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.assistant import Assistant  # noqa: E402
from rag.evaluate.questions import load_questions  # noqa: E402
from rag.evaluate.scoring import percentile  # noqa: E402
from rag.answer.prompts import build_messages  # noqa: E402
from rag.answer.llm import SAMPLING  # noqa: E402
from rag.settings import Settings  # noqa: E402

KEYS = ("retrieve_ms", "prompt_tokens", "evidence_s", "first_token_s", "decode_tok_s", "total_s", "completion_tokens")
STAGES = ("prompt_eval_s", "generations", "translate_s")  # kept per question, for the tail
TAIL_S = 6.0
TARGETS = {"evidence_s": 0.5, "first_token_s": 4.0, "total_s": 6.0}


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def prime(llama, messages: list[dict]) -> None:
    """Leave the KV cache holding the prompt's fixed prefix but not its question."""
    dummy = [*messages[:-1], {"role": "user", "content": "资料：\n[1]（无）无。\n\n问题：无？"}]
    llama.create_chat_completion(messages=dummy, max_tokens=1, **SAMPLING)


def raw_answer(llama, messages: list[dict], settings: Settings) -> tuple[float, str, int]:
    """Seconds, text and tokens of plain llama-cpp-python on the same prompt and sampling."""
    t = time.perf_counter()
    out = llama.create_chat_completion(messages=messages, max_tokens=settings.max_answer_tokens, **SAMPLING)
    return time.perf_counter() - t, out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]


def cold_run(question: str, model: str, prefix_cache: bool, forward: bool = False) -> dict:
    """One question in a new `rag ask --json` process: wall time, first token from the process start.
    `forward`: the process may hand the question to a running `rag serve` (else it answers itself)."""
    env = {**os.environ, "RAG_PREFIX_CACHE": "true" if prefix_cache else "false",
           "RAG_FORWARD_TO_SERVER": "true" if forward else "false"}
    cmd = [str(Path(sys.executable).with_name("rag")), "ask", "--json", "--model", model, question]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"`rag ask` failed: {out.stderr.strip()[-500:]}")
    timings = json.loads(out.stdout.strip().splitlines()[-1]).get("timings", {})
    row = {"wall_s": round(wall, 3), "startup_s": round(wall - timings.get("total_s", 0.0), 3)}
    if timings.get("first_token_s") is not None:
        row["first_token_s"] = round(wall - (timings["total_s"] - timings["first_token_s"]), 3)
    return row


@contextmanager
def resident_server(settings: Settings):
    """A `rag serve` of this index on a free loopback port, ready and announced (`rag.resident`)."""
    from rag import resident

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "RAG_PREFIX_CACHE": "true"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("rag")), "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while resident.find(settings.model_copy(update={"prefix_cache": True})) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("`rag serve` did not become ready")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(60)


def bench_cold(model: str, questions: list, args, settings: Settings) -> dict:
    """Cold-process figures — answering in the process with and without the prefix's state on disk,
    and handing the question to a resident `rag serve` — question by question."""
    cold_run(questions[0].question, model, True)  # the prefix file exists from here on
    out: dict = {}
    for label, cached, forward in (("cold", True, False), ("cold_no_prefix_file", False, False),
                                   ("cold_via_server", True, True)):
        rows = []
        with resident_server(settings) if forward else nullcontext():
            if forward:
                cold_run(questions[0].question, model, True, forward)  # the server's first question
            for q in questions[: args.cold]:
                rows.append({"id": q.id, **cold_run(q.question, model, cached, forward)})
                log(f"{model} {label} {rows[-1]}")
        summary = {}
        for key in ("startup_s", "first_token_s", "wall_s"):
            vals = [r[key] for r in rows if key in r]
            if vals:
                summary[key] = {"median": round(statistics.median(vals), 3),
                                "p95": round(percentile(vals, 0.95), 3), "n": len(vals)}
        out[label] = {**summary, "rows": rows}
    return out


def bench_model(assistant: Assistant, model: str, questions: list, args, settings: Settings) -> dict:
    t = time.perf_counter()
    llm = assistant.llm(model)
    load_s = time.perf_counter() - t
    assistant.ask(questions[0].question, model=model)  # warm-up: caches and the system prompt's KV state
    rows, pipe_s, raw_s, ratios = [], [], [], []
    for q in questions:
        runs, pipes, raws = [], [], []
        for _ in range(args.repeat):
            if args.no_prefix_cache:
                llm.llm.reset()
            else:  # the steady state of a service: this prompt's fixed prefix is cached
                prime(llm.llm, build_messages(q.question, []))
            t = time.perf_counter()
            ans = assistant.ask(q.question, model=model)
            runs.append((time.perf_counter() - t, ans))
            if not args.no_overhead and ans.messages and ans.timings.get("generations") == 1:
                prime(llm.llm, ans.messages)
                sec, _, _ = raw_answer(llm.llm, ans.messages, settings)
                pipes.append(runs[-1][0])
                raws.append(sec)
        plan = assistant.retriever.analyse(q.question)
        row = {"id": q.id, "type": q.type, "parts": len(plan.part_plans) or 1, "refused": runs[-1][1].refused,
               "model_called": bool(runs[-1][1].messages)}
        for key in (*KEYS, *STAGES):
            vals = [a.timings[key] for _, a in runs if a.timings.get(key) is not None]
            if vals:
                row[key] = statistics.median(vals)
        last = runs[-1][1]
        row["budget_spent"] = bool(last.timings.get("budget_spent"))
        row["notes"] = [n for n in last.notes if any(w in n for w in ("retried", "not retried", "Chinese",
                                                                      "skipped", "asked again"))]
        if pipes:
            p, r = statistics.median(pipes), statistics.median(raws)
            pipe_s.append(p)
            raw_s.append(r)
            ratios.append(p / r)
            row["raw_s"] = round(r, 3)
        rows.append(row)
        log(f"{model} {q.id} " + " ".join(f"{k}={v}" for k, v in row.items() if k not in ("id",)))
    summary: dict = {"model": model, "questions": len(rows), "load_s": round(load_s, 2),
                     "model_called": sum(r["model_called"] for r in rows)}
    for key in (*KEYS, "raw_s"):
        vals = [r[key] for r in rows if key in r and (key not in ("first_token_s", "decode_tok_s") or r["model_called"])]
        if vals:
            summary[key] = {"median": round(statistics.median(vals), 3), "p95": round(percentile(vals, 0.95), 3), "n": len(vals)}
    if ratios:
        summary["overhead"] = {"questions": len(ratios), "pipeline_s": round(sum(pipe_s), 2), "raw_s": round(sum(raw_s), 2),
                               "ratio_of_sums": round(sum(pipe_s) / sum(raw_s), 4),
                               "median_ratio": round(statistics.median(ratios), 4)}
    summary["by_type"] = _spread(rows, lambda r: r["type"])
    summary["by_parts"] = _spread(rows, lambda r: "one part" if r["parts"] == 1 else "several parts")
    one, several = (summary["by_parts"].get(k, {}).get("median") for k in ("one part", "several parts"))
    if one and several:
        summary["by_parts"]["ratio_of_medians"] = round(several / one, 2)  # target: ≤ 2
    summary["tail"] = [r for r in rows if r.get("total_s", 0) > TAIL_S]
    summary["rows"] = rows
    return summary


def _spread(rows: list[dict], key) -> dict:
    """Total seconds per group of questions: median, p95 and max."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r.get("total_s") is not None:
            groups.setdefault(key(r), []).append(r["total_s"])
    return {g: {"n": len(v), "median": round(statistics.median(v), 3), "p95": round(percentile(v, 0.95), 3),
                "max": round(max(v), 3)} for g, v in sorted(groups.items())}


def _compare(before: dict, after: dict, path: Path) -> None:
    """Total seconds by type and by parts, before (an earlier --out file) → after (this run)."""
    print(f"  before ({path}) → after, total_s median / p95 / max:")
    for group in ("by_type", "by_parts"):
        for name, a in after.get(group, {}).items():
            b = before.get(group, {}).get(name)
            if isinstance(a, dict) and isinstance(b, dict):
                print(f"    {name:18s} {b['median']:>6} → {a['median']:<6}  {b['p95']:>6} → {a['p95']:<6}  "
                      f"{b['max']:>6} → {a['max']:<6}  n={a['n']}")
    for key in ("total_s", "first_token_s"):
        if key in before and key in after:
            print(f"    all {key:14s} median {before[key]['median']} → {after[key]['median']}, "
                  f"p95 {before[key]['p95']} → {after[key]['p95']}")
    mx_b = max((r.get("total_s", 0) for r in before.get("rows", [])), default=0)
    mx_a = max((r.get("total_s", 0) for r in after.get("rows", [])), default=0)
    print(f"    slowest question {mx_b} → {mx_a} s; over {TAIL_S:g} s: "
          f"{sum(r.get('total_s', 0) > TAIL_S for r in before.get('rows', []))} → {len(after.get('tail', []))}")


def _no_rows(v):
    return {k: x for k, x in v.items() if k != "rows"} if isinstance(v, dict) else v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="default", help="Comma-separated: default, small.")
    ap.add_argument("--limit", type=int, default=0, help="Only the first N questions (0 = all).")
    ap.add_argument("--repeat", type=int, default=1, help="Runs per question; the median is kept.")
    ap.add_argument("--questions", type=Path, default=Path(__file__).with_name("questions.jsonl"))
    ap.add_argument("--no-overhead", action="store_true", help="Skip the raw llama-cpp-python comparison.")
    ap.add_argument("--cold", type=int, default=0,
                    help="Also ask the first N questions in new `rag ask` processes (with and without the prefix file).")
    ap.add_argument("--no-prefix-cache", action="store_true",
                    help="Clear the KV cache before every question and keep no prefix file "
                         "(measures the system-prompt reuse).")
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON on stdout.")
    ap.add_argument("--out", type=Path, help="Also write the figures (with per-question rows) as JSON here.")
    ap.add_argument("--compare", type=Path, help="An earlier --out file: its figures beside these, by type.")
    args = ap.parse_args()

    if args.no_prefix_cache:
        os.environ["RAG_PREFIX_CACHE"] = "false"
    settings = Settings()
    assistant = Assistant(settings)
    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    conf = {"threads": settings.threads, "prompt_lookup_tokens": settings.prompt_lookup_tokens,
            "prefix_cache": not args.no_prefix_cache, "repeat": args.repeat}
    results = [bench_model(assistant, m.strip(), questions, args, settings) for m in args.models.split(",")]
    if args.cold:
        del assistant  # one model process at a time: the cold processes run alone
        import gc

        gc.collect()
        for r in results:
            r.update(bench_cold(r["model"], questions, args, settings))
    if args.out:
        args.out.write_text(json.dumps({"settings": conf, "models": results}, ensure_ascii=False, indent=1),
                            encoding="utf-8")
    if args.json:
        print(json.dumps({"settings": conf, "models": [{k: _no_rows(v) for k, v in r.items() if k != "rows"}
                                                       for r in results]}, ensure_ascii=False))
        return
    print(f"settings: {conf}")
    for s in results:
        print(f"model {s['model']}: {s['questions']} questions ({s['model_called']} reached the model), "
              f"model load {s['load_s']} s")
        for key in (*KEYS, "raw_s"):
            if key in s:
                v = s[key]
                goal = f"   (target ≤ {TARGETS[key]})" if key in TARGETS else ""
                print(f"  {key:18s} median {v['median']:>8}   p95 {v['p95']:>8}   n={v['n']}{goal}")
        for group in ("by_type", "by_parts"):
            print(f"  total_s {group.replace('_', ' ')}:")
            for name, v in s.get(group, {}).items():
                if isinstance(v, dict):
                    print(f"    {name:18s} median {v['median']:>8}   p95 {v['p95']:>8}   max {v['max']:>8}   n={v['n']}")
            if group == "by_parts" and "ratio_of_medians" in s.get(group, {}):
                print(f"    several parts / one part, medians: ×{s[group]['ratio_of_medians']}   (target ≤ ×2)")
        if s.get("tail") is not None:
            print(f"  the tail: {len(s['tail'])} questions over {TAIL_S:g} s")
            for r in sorted(s["tail"], key=lambda r: -r["total_s"]):
                decode = (f"{r['completion_tokens']} tok at {r['decode_tok_s']} tok/s"
                          if r.get("decode_tok_s") else f"{r.get('completion_tokens', 0)} tok")
                print(f"    {r['id']:<6} {r['type']:<12} total {r['total_s']:>6}  retrieve {r.get('retrieve_ms')} ms  "
                      f"evidence {r.get('evidence_s')} s  prompt {r.get('prompt_tokens')} tok in "
                      f"{r.get('prompt_eval_s')} s  first token {r.get('first_token_s')} s  decode {decode}  "
                      f"generations {r.get('generations')}  translate {r.get('translate_s', '-')} s"
                      f"{'  budget spent' if r.get('budget_spent') else ''}")
                for n in r.get("notes", []):
                    print(f"           {n[:150]}")
        if args.compare:
            earlier = {m["model"]: m for m in json.loads(args.compare.read_text(encoding="utf-8"))["models"]}
            if s["model"] in earlier:
                _compare(earlier[s["model"]], s, args.compare)
        for label in ("cold", "cold_no_prefix_file", "cold_via_server"):
            if label in s:
                c = s[label]
                how = " handing the question to a resident `rag serve`" if label == "cold_via_server" else ""
                print(f"  {label} (new `rag ask` processes{how}, {c['wall_s']['n']} questions; "
                      f"cold/warm against the warm medians of the same questions):")
                for key in ("startup_s", "first_token_s", "wall_s"):
                    if key in c:
                        ids = {r["id"] for r in c["rows"] if key in r}
                        same = [r[wk] for r in s["rows"] if r["id"] in ids
                                and (wk := "total_s" if key == "wall_s" else key) in r]
                        warm = statistics.median(same) if same else None
                        ratio = f"   cold/warm ×{c[key]['median'] / warm:.2f}" if warm and key != "startup_s" else ""
                        print(f"    {key:16s} median {c[key]['median']:>8}   p95 {c[key]['p95']:>8}{ratio}")
        if "overhead" in s:
            o = s["overhead"]
            print(f"  overhead vs raw llama-cpp-python on the identical prompt: ×{o['ratio_of_sums']} "
                  f"(Σ {o['pipeline_s']} s vs {o['raw_s']} s over {o['questions']} questions; "
                  f"median per question ×{o['median_ratio']})   (target ≤ ×1.05)")


if __name__ == "__main__":
    main()
