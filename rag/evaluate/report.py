"""The results of an evaluation run written out (JSON, and a markdown report listing every failure)
and compared question by question with a previous run."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(path_json: Path, metrics: dict, records: list[dict], model: str, command: str) -> Path:
    """The results JSON and a markdown report beside it listing every failure."""
    path_json.parent.mkdir(parents=True, exist_ok=True)
    path_json.write_text(
        json.dumps(
            {"model": model, "command": command, "metrics": metrics, "questions": records}, ensure_ascii=False, indent=1
        ),
        encoding="utf-8",
    )
    md = path_json.with_suffix(".md")
    o = metrics["overall"]
    lines = [f"# Evaluation: model `{model}`", "", f"Command: `{command}`", "", "| metric | value |", "| --- | --- |"]
    for key, value in o.items():
        lines.append(f"| {key} | {value} |")
    lines += ["", "| latency | median | p95 |", "| --- | --- | --- |"]
    for key, v in metrics["latency"].items():
        lines.append(f"| {key} | {v['median']} | {v['p95']} |")
    if "model_load_s" in metrics:
        lines += [
            "",
            f"Model load and prompt prefix before the first question: {metrics['model_load_s']} s "
            "(not in the latencies above).",
        ]
    lines += [
        "",
        "## By type",
        "",
        "| type | n | answer acc. | citation prec. | citation recall | refusal acc. | false refusals |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t, v in metrics["by_type"].items():
        lines.append(
            f"| {t} | {v['n']} | {v.get('answer_accuracy', '')} | {v.get('citation_precision', '')} | "
            f"{v.get('citation_recall', '')} | {v.get('refusal_accuracy', '')} | {v.get('false_refusal_rate', '')} |"
        )
    lines += ["", "## By document", "", "| document | n | answer acc. | refusal acc. |", "| --- | --- | --- | --- |"]
    for d, v in metrics["by_doc"].items():
        lines.append(f"| {d} | {v['n']} | {v.get('answer_accuracy', '')} | {v.get('refusal_accuracy', '')} |")
    lines += ["", "## Failure causes", ""] + [f"- {c}: {n}" for c, n in metrics["failure_causes"].items()]
    lines += ["", "## Failures", ""]
    for r in records:
        cause = r["judgement"].get("cause")
        if not cause:
            continue
        lines += [
            f"### {r['id']} ({r['type']}): {cause}",
            "",
            f"- question: {r['question']}",
            f"- gold: {r['gold']}",
            f"- answer: {r['answer']}",
            f"- citations: {', '.join(c['id'] for c in r['citations']) or 'none'}",
            "",
        ]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


def compare(previous: dict, current_records: list[dict]) -> dict:
    """Question by question: what became correct and what regressed since a previous results file."""
    before = {r["id"]: bool(r["judgement"]["correct"]) for r in previous.get("questions", [])}
    improved, regressed = [], []
    for r in current_records:
        if r["id"] not in before:
            continue
        now = bool(r["judgement"]["correct"])
        if now and not before[r["id"]]:
            improved.append(r["id"])
        elif before[r["id"]] and not now:
            regressed.append(r["id"])
    return {
        "improved": improved,
        "regressed": regressed,
        "before_correct": sum(before.values()),
        "now_correct": sum(bool(r["judgement"]["correct"]) for r in current_records),
    }
