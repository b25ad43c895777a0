"""`rag eval`: a question file through retrieval alone or the whole pipeline, with the metrics
table, a results file and a comparison with an earlier run. Kept apart from `rag.cli.main` because
it is the command for whoever measures the system, not for whoever asks it; it is registered
on the same `rag` application there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from rag.console import err, fail, out
from rag.errors import RagError
from rag.settings import get_settings


def eval_cmd(
    questions: Path = typer.Option(None, "--questions", help="Question file (default: eval/questions.jsonl)."),
    retrieval_only: bool = typer.Option(False, "--retrieval-only", help="Evaluate retrieval only (no LLM)."),
    model: str = typer.Option("default", "--model", help="default or small (full evaluation)."),
    limit: int = typer.Option(0, "--limit", help="Only the first N questions (0 = all)."),
    out_path: Path | None = typer.Option(
        None,
        "--out",
        help="Results file (default: eval/results/<date>-<model>.json; "
        "with --retrieval-only: JSON lines, one per question).",
    ),
    compare_to: Path | None = typer.Option(None, "--compare", help="A previous results JSON to compare with."),
    k: int = typer.Option(None, "-k", help="Passages per question."),
    min_hit5: float | None = typer.Option(None, "--min-hit5", help="Retrieval-only: exit 1 below this hit@5."),
    min_accuracy: float | None = typer.Option(None, "--min-accuracy", help="Exit 1 below this answer accuracy."),
    indicators: Path | None = typer.Option(
        None,
        "--indicators",
        help="Score the indicator table against this gold table (JSON lines) instead; no model runs.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Metrics as JSON on stdout."),
) -> None:
    """Run a question file through the pipeline: retrieval, answers, citations, refusals, latency."""
    from rag.evaluate.questions import load_questions
    from rag.evaluate.report import compare, write_report
    from rag.evaluate.run import run_full, run_retrieval

    if indicators is not None:
        _eval_indicators(indicators, out_path, json_out)
        return
    try:
        s = get_settings()
        qs = load_questions(questions or (s.root / "eval" / "questions.jsonl"))
        if limit:
            qs = qs[:limit]
        if retrieval_only:
            from rag.search.retrieve import Retriever

            metrics, records = run_retrieval(Retriever(s), qs, k or 10, progress=not json_out)
        else:
            if model not in ("default", "small"):
                raise RagError(f"unknown model '{model}'; choose default or small")
            previous = json.loads(compare_to.read_text(encoding="utf-8")) if compare_to else None
            tty = sys.stderr.isatty()

            def tally(rec: dict) -> None:  # the progress bar's running tally, as log lines when not on a terminal
                if not tty:
                    j = rec["judgement"]
                    err.print(
                        f"{rec['id']} {'ok ' if j['correct'] else 'FAIL'} {j.get('cause') or ''} "
                        f"{rec['timings'].get('total_s')} s",
                        highlight=False,
                    )

            from rag.answer.assistant import Assistant

            metrics, records = run_full(Assistant(s), qs, model, k, progress=not json_out and tty, on_row=tally)
    except (RagError, OSError, ValueError) as exc:
        fail(exc)
    if retrieval_only:
        if out_path:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        if json_out:
            print(json.dumps(metrics, ensure_ascii=False))
        else:
            _print_retrieval(metrics)
        if min_hit5 is not None and metrics["overall"].get("hit@5", 0) < min_hit5:
            err.print(f"[bold red]hit@5 {metrics['overall'].get('hit@5')} is below the gate {min_hit5}[/]")
            raise typer.Exit(1)
        return
    import datetime

    out_path = out_path or (s.root / "eval" / "results" / f"{datetime.date.today().isoformat()}-{model}.json")
    command = (
        "rag eval --model "
        + model
        + (f" --limit {limit}" if limit else "")
        + (f" --questions {questions}" if questions else "")
    )
    md = write_report(out_path, metrics, records, model, command)
    if json_out:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        _print_full(metrics)
        err.print(f"results: {out_path}\nreport:  {md}")
    if previous is not None:
        diff = compare(previous, records)
        out.print(
            f"compared with {compare_to}: correct {diff['before_correct']} → {diff['now_correct']}; "
            f"improved {len(diff['improved'])}: {', '.join(diff['improved']) or '-'}; "
            f"regressed {len(diff['regressed'])}: {', '.join(diff['regressed']) or '-'}",
            highlight=False,
        )
    if min_accuracy is not None and metrics["overall"].get("answer_accuracy", 0) < min_accuracy:
        err.print(f"[bold red]answer accuracy {metrics['overall'].get('answer_accuracy')} is below {min_accuracy}[/]")
        raise typer.Exit(1)


def _print_full(m: dict) -> None:
    cols = [
        "n",
        "answer_accuracy",
        "concise",
        "citation_precision",
        "citation_recall",
        "refusal_accuracy",
        "false_refusal_rate",
        "retrieval_hit@k",
    ]
    table = Table("slice", *[c.replace("_", " ") for c in cols])
    table.add_row("[bold]overall[/]", *[str(m["overall"].get(c, "")) for c in cols])
    for name, group in (("type", m["by_type"]), ("doc", m["by_doc"])):
        for key, v in group.items():
            table.add_row(f"{name}: {key}", *[str(v.get(c, "")) for c in cols])
    out.print(table)
    lat = m["latency"]
    out.print(
        "latency: " + ", ".join(f"{k} median {v['median']} / p95 {v['p95']}" for k, v in lat.items()), highlight=False
    )
    if m["failure_causes"]:
        out.print("failure causes: " + ", ".join(f"{c} {n}" for c, n in m["failure_causes"].items()), highlight=False)


def _print_retrieval(m: dict) -> None:
    cols = ["n", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10"]
    table = Table("slice", *cols)
    table.add_row("[bold]overall[/]", *[str(m["overall"].get(c, "")) for c in cols])
    for name, group in (("type", m["by_type"]), ("doc", m["by_doc"])):
        for key, v in group.items():
            table.add_row(f"{name}: {key}", *[str(v.get(c, "")) for c in cols])
    table.add_row("unanswerable (nearby text)", *[str(m["unanswerable_nearby"].get(c, "")) for c in cols])
    out.print(table)
    if "latency_ms" in m:
        out.print(f"retrieval latency p50 {m['latency_ms']['p50']} ms, p95 {m['latency_ms']['p95']} ms")
    if m["misses"]:
        out.print(f"[bold]misses (not in top 5):[/] {len(m['misses'])}")
        for miss in m["misses"]:
            out.print(f"  {miss['id']} rank={miss['rank']} {miss['question']}", markup=False, highlight=False)


def _eval_indicators(gold_path: Path, out_path: Path | None, json_out: bool) -> None:
    """`rag eval --indicators GOLD.jsonl`: the library's indicator table scored against a gold table
    (precision, recall, invented rows, by indicator and kind, target-vs-actual pairs)."""
    from rag.indicators.score import load_gold, score
    from rag.indicators.table import library_rows
    from rag.search.stores import open_chunk_store

    try:
        s = get_settings()
        gold = load_gold(gold_path)
        store = open_chunk_store(s)
        reports = store.reports()
        missing = sorted({g["doc"] for g in gold} - {r[0] for r in reports})
        if missing:
            raise RagError(f"the gold table names reports the index does not hold: {', '.join(missing[:5])}")
        result = score(library_rows(store), gold, {r[0]: r[1] for r in reports}, {r[0]: r[3] for r in reports})
    except (RagError, OSError) as exc:
        fail(exc)
    if out_path:
        from rag.files import atomic_write_text

        atomic_write_text(out_path, json.dumps(result, ensure_ascii=False, indent=1))
    if json_out:
        print(json.dumps({k: v for k, v in result.items() if k != "failures"}, ensure_ascii=False))
        return
    cols = ["rows", "gold", "correct", "precision", "recall", "invented"]
    table = Table("slice", *cols)
    table.add_row("[bold]overall[/]", *[str(result["overall"].get(c, "")) for c in cols])
    for key, v in result["by_indicator_kind"].items():
        table.add_row(key, *[str(v.get(c, "")) for c in cols])
    out.print(table)
    pairs = result["pairs"]
    out.print(
        f"target-vs-actual pairs: {pairs['found']} of {pairs['gold']} found; "
        f"invented rows {result['overall']['invented_share']:.1%} of rows",
        highlight=False,
    )
    for f in result["failures"]:
        out.print(
            f"  {f['outcome']}: {f['doc']} {f['indicator']}/{f['kind']} got {f.get('value')!r}, gold {f.get('gold')!r}",
            markup=False,
            highlight=False,
        )
