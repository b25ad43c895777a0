"""Evaluation runs against a fixed question file (`rag.evaluate.questions`): every question through
retrieval alone or through the whole assistant, scored by `rag.evaluate.scoring`; `rag.evaluate.report`
writes the results.
"""

from __future__ import annotations

from rag.evaluate.questions import Question
from rag.evaluate.scoring import answer_metrics, first_hit, judge, retrieval_metrics


def run_retrieval(retriever, questions: list[Question], k: int = 10, progress: bool = True) -> tuple[dict, list[dict]]:
    """Every question through retrieval; returns (metrics, per-question records)."""
    from rich.progress import track

    rows, records = [], []
    for q in track(questions, description="retrieval eval", disable=not progress, transient=True):
        timings: dict = {}
        results = [r.to_dict() for r in retriever.search(q.question, k, timings)]
        rank = first_hit(q, results)
        rows.append((q, rank))
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "type": q.type,
                "hit_rank": rank,
                "retrieve_ms": timings.get("retrieve_ms"),
                "retrieved": results,
            }
        )
    metrics = retrieval_metrics(rows)
    lat = sorted(r["retrieve_ms"] for r in records if r["retrieve_ms"] is not None)
    if lat:
        metrics["latency_ms"] = {"p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))]}
    return metrics, records


# --- the whole assistant ------------------------------------------------------------------------------
class _TextOf:
    """chunk id → text, read from the chunk store on demand."""

    def __init__(self, lookup):
        self.lookup = lookup

    def get(self, chunk_id: str, default: str = "") -> str:
        c = self.lookup.get(chunk_id)
        return c.text if c is not None else default


class _TwinsOf:
    """chunk id → ids of its twin paragraphs."""

    def __init__(self, lookup):
        self.lookup = lookup

    def get(self, chunk_id: str, default=None) -> list[str]:
        c = self.lookup.get(chunk_id)
        return c.twins if c is not None else (default or [])


def run_full(
    assistant, questions: list[Question], model: str, k: int | None = None, progress: bool = True, on_row=None
) -> tuple[dict, list[dict]]:
    """Every question through the whole pipeline; returns (metrics, per-question records).

    The model is loaded and its prompt prefix brought into memory first, as the service does before
    it reports ready, so the latencies are those of a warm service; the load is reported apart
    (`model_load_s`; a new process's figures are eval/bench_answer.py --cold)."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    t0 = time.perf_counter()
    if questions and hasattr(assistant, "warm"):
        assistant.warm(model)
    load_s = round(time.perf_counter() - t0, 3)

    chunk_text, twins = _TextOf(assistant.retriever.by_id), _TwinsOf(assistant.retriever.by_id)
    rows: list[tuple[Question, dict, dict]] = []
    records: list[dict] = []
    correct = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[tally]}"),
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task(f"eval ({model})", total=len(questions), tally="")
        for q in questions:
            ans = assistant.ask(q.question, k=k, model=model).to_dict()
            for c in ans["citations"]:
                c["twins"] = twins.get(c["id"], [])
            verdict = judge(q, ans, chunk_text)
            correct += bool(verdict["correct"])
            rows.append((q, ans, verdict))
            records.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "type": q.type,
                    "doc": q.doc,
                    "gold": q.answer,
                    "answer": ans["answer"],
                    "refused": ans["refused"],
                    "extractive": ans["extractive"],
                    "citations": ans["citations"],
                    "retrieved": ans["retrieved"],
                    "timings": ans["timings"],
                    "notes": ans["notes"],
                    "judgement": verdict,
                }
            )
            bar.update(task, advance=1, tally=f"correct {correct}/{len(rows)}")
            if on_row:
                on_row(records[-1])
    metrics = answer_metrics(rows)
    metrics["model_load_s"] = load_s
    return metrics, records
