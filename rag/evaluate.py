"""Evaluation against a fixed question file (the format of eval/questions.jsonl).

Retrieval: a question is a hit at k when one of the top-k results (or a twin paragraph merged
into it) contains one of its evidence strings, both compared after normalisation and with all
whitespace and punctuation removed. Unanswerable questions have no answer to find: they are
reported separately (their evidence is nearby text) and left out of hit@k and MRR.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rag.chunk.clean import compact
from rag.errors import RagError

REQUIRED = ("id", "question", "answer", "doc", "evidence", "type")
KS = (1, 3, 5, 10)


@dataclass
class Question:
    id: str
    question: str
    answer: str
    doc: list[str]
    evidence: list[str]
    type: str
    notes: str = ""


def load_questions(path: Path) -> list[Question]:
    """Parse a question file; every malformed line is reported with its number."""
    if not path.exists():
        raise RagError(f"question file not found: {path}")
    out: list[Question] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        missing = [f for f in REQUIRED if f not in obj]
        if missing:
            raise RagError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        out.append(
            Question(
                id=str(obj["id"]),
                question=obj["question"],
                answer=str(obj["answer"]),
                doc=list(obj["doc"]),
                evidence=list(obj["evidence"]),
                type=obj["type"],
                notes=obj.get("notes", ""),
            )
        )
    if not out:
        raise RagError(f"{path} holds no questions")
    return out


def result_texts(result: dict) -> list[str]:
    """A result's text, the same paragraph in twin reports, and the items a lead-in announces."""
    return (
        [result["text"]] + [a["text"] for a in result.get("also", [])] + [f["text"] for f in result.get("follows", [])]
    )


def first_hit(q: Question, results: list[dict]) -> int | None:
    """1-based rank of the first result containing an evidence string, or None."""
    keys = [compact(e) for e in q.evidence if compact(e)]
    if not keys:
        return None
    for r in results:
        texts = [compact(t) for t in result_texts(r)]
        if any(k in t for k in keys for t in texts):
            return r["rank"]
    return None


def retrieval_metrics(rows: list[tuple[Question, int | None]]) -> dict:
    """hit@k and MRR@10 overall, by type and by document."""

    def summarise(items: list[tuple[Question, int | None]]) -> dict:
        n = len(items)
        if not n:
            return {"n": 0}
        m = {"n": n}
        for k in KS:
            m[f"hit@{k}"] = round(sum(1 for _, r in items if r is not None and r <= k) / n, 4)
        m["mrr@10"] = round(sum(1.0 / r for _, r in items if r is not None and r <= 10) / n, 4)
        return m

    answerable = [(q, r) for q, r in rows if q.type != "unanswerable" and q.evidence]
    by_type: dict[str, list] = defaultdict(list)
    by_doc: dict[str, list] = defaultdict(list)
    for q, r in answerable:
        by_type[q.type].append((q, r))
        for d in q.doc:
            by_doc[d].append((q, r))
    unans = [(q, r) for q, r in rows if q.type == "unanswerable" and q.evidence]
    return {
        "overall": summarise(answerable),
        "by_type": {t: summarise(v) for t, v in sorted(by_type.items())},
        "by_doc": {d: summarise(v) for d, v in sorted(by_doc.items())},
        "unanswerable_nearby": summarise(unans),
        "misses": [
            {"id": q.id, "question": q.question, "evidence": q.evidence, "rank": r}
            for q, r in answerable
            if r is None or r > 5
        ],
    }


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
_YEAR_FIG = re.compile(r"^(19|20)\d{2}$")
_NEG = re.compile(r"不|没有|沒有|未|否|无|無|\bno\b|\bnot\b|n't", re.I)
_REFUSAL_CAUSES = (
    "retrieval miss",
    "wrong figure",
    "unsupported citation",
    "false refusal",
    "missed refusal",
    "missing item",
    "wrong polarity",
    "not concise",
)


def gold_figures(answer: str) -> list[str]:
    """Figures a correct answer must contain (years written as 「2024年」 excepted)."""
    from rag.answer.figures import figures

    text = re.sub(r"(19|20)\d{2}\s*年", "", answer)
    return [f for f in figures(text) if not _YEAR_FIG.match(f)]


def _alternatives(gold: str) -> list[str]:
    """A gold answer may give the figure twice: 'about 1.8 million kW (180万千瓦)'. Either form counts."""
    inner = re.findall(r"[（(]([^（）()]*)[）)]", gold)
    outer = re.sub(r"[（(][^（）()]*[）)]", " ", gold)
    return [gold] + ([outer] if inner else []) + (["；".join(inner)] if inner else [])


def figures_correct(gold: str, answer: str) -> bool:
    """Every gold figure appears in the answer, as written or as the same value (180万 = 1.8 million)."""
    from rag.answer.figures import answer_figures, figures, supported_value

    ans_figs = set(figures(answer))
    ans_vals: set[float] = set()
    for f, mult in answer_figures(answer):
        ans_vals.add(float(f) * (mult or 1.0))
    for alt in _alternatives(gold):
        need = gold_figures(alt)
        if not need:
            continue
        gold_vals = [
            float(f) * (m or 1.0)
            for f, m in answer_figures(re.sub(r"(19|20)\d{2}\s*年", "", alt))
            if not _YEAR_FIG.match(f)
        ]
        if all(f in ans_figs for f in need) or (gold_vals and all(supported_value(v, ans_vals) for v in gold_vals)):
            return True
    return False


def items_correct(gold: str, answer: str) -> bool:
    """Every item of an entity/list answer appears (compared without spaces or punctuation)."""
    ans = compact(answer)
    items = [compact(x) for x in re.split(r"[、，,；;和及/]|\band\b", re.sub(r"[（(][^）)]*[）)]", "", gold))]
    items = [x for x in items if len(x) >= 2]
    return bool(items) and all(x in ans for x in items)


def polarity(text: str) -> bool:
    first = re.split(r"[。！？.!?]", text.strip(), maxsplit=1)[0]
    return not _NEG.search(first)


def is_concise(answer: str, gold: str) -> bool:
    """Short, and not a pasted passage: an extractive fallback or a long copy does not count."""
    core = re.sub(r"\[\d+\]", "", answer)
    return len(compact(core)) <= max(60, 3 * len(compact(gold))) and "「" not in core


def judge(q: Question, ans: dict, chunk_text: dict[str, str]) -> dict:
    """Correctness, citation precision/recall and the failure cause for one question."""
    keys = [compact(e) for e in q.evidence if compact(e)]
    retrieved_hit = first_hit(q, ans["retrieved"]) is not None
    out: dict = {"retrieval_hit": retrieved_hit, "refused": ans["refused"]}
    cites = ans["citations"]

    def good(c: dict) -> bool:
        texts = [compact(c["text"])] + [compact(chunk_text.get(t, "")) for t in c.get("twins", [])]
        return any(k in t for k in keys for t in texts)

    if q.type == "unanswerable":
        out["correct"] = ans["refused"]
        out["cause"] = None if ans["refused"] else "missed refusal"
        return out
    out["citations_good"] = sum(1 for c in cites if good(c))
    out["citations_total"] = len(cites)
    out["citation_recall"] = out["citations_good"] > 0
    if ans["refused"]:
        out["correct"] = False
        out["cause"] = "false refusal" if retrieved_hit else "retrieval miss"
        return out
    text = ans["answer"]
    if q.type in ("entity", "list"):
        ok = items_correct(q.answer, text) or (bool(gold_figures(q.answer)) and figures_correct(q.answer, text))
        cause = "missing item"
    elif q.type == "yes_no":
        ok = polarity(text) == polarity(q.answer)
        cause = "wrong polarity"
    else:
        need = gold_figures(q.answer)
        ok = figures_correct(q.answer, text) if need else items_correct(q.answer, text)
        cause = "wrong figure"
    out["correct"] = ok
    out["concise"] = is_concise(text, q.answer)
    if not ok:
        out["cause"] = cause if retrieved_hit else "retrieval miss"
    elif cites and out["citations_good"] == 0:
        out["cause"] = "unsupported citation"
    else:
        out["cause"] = None
    return out


def _median(xs: list[float]) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    return round(xs[len(xs) // 2], 3) if xs else None


def percentile(xs: list[float | None], p: float) -> float | None:
    """The nearest-rank `p` quantile of the values that are not None (None when there are none);
    the evaluation reports and the benchmark scripts share it so their p95s mean the same."""
    xs = sorted(x for x in xs if x is not None)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else None


def _p95(xs: list[float]) -> float | None:
    v = percentile(xs, 0.95)
    return round(v, 3) if v is not None else None


def answer_metrics(rows: list[tuple[Question, dict, dict]]) -> dict:
    """Answer, citation, refusal and latency metrics overall, by type and by document."""

    def summarise(items: list[tuple[Question, dict, dict]]) -> dict:
        if not items:
            return {"n": 0}
        ans_q = [(q, a, j) for q, a, j in items if q.type != "unanswerable"]
        unans = [(q, a, j) for q, a, j in items if q.type == "unanswerable"]
        answered = [(q, a, j) for q, a, j in ans_q if not a["refused"]]
        cites_total = sum(j.get("citations_total", 0) for _, _, j in answered)
        m = {"n": len(items), "answerable": len(ans_q), "unanswerable": len(unans)}
        if ans_q:
            m["answer_accuracy"] = round(sum(1 for _, _, j in ans_q if j["correct"]) / len(ans_q), 4)
            m["false_refusal_rate"] = round(sum(1 for _, a, _ in ans_q if a["refused"]) / len(ans_q), 4)
            m["citation_recall"] = round(sum(1 for _, _, j in ans_q if j.get("citation_recall")) / len(ans_q), 4)
            m["retrieval_hit@k"] = round(sum(1 for _, _, j in ans_q if j["retrieval_hit"]) / len(ans_q), 4)
        if answered:
            m["concise"] = round(sum(1 for _, _, j in answered if j.get("concise")) / len(answered), 4)
            m["extractive"] = round(sum(1 for _, a, _ in answered if a.get("extractive")) / len(answered), 4)
        if cites_total:
            m["citation_precision"] = round(sum(j.get("citations_good", 0) for _, _, j in answered) / cites_total, 4)
        if unans:
            m["refusal_accuracy"] = round(sum(1 for _, a, _ in unans if a["refused"]) / len(unans), 4)
        return m

    by_type: dict[str, list] = defaultdict(list)
    by_doc: dict[str, list] = defaultdict(list)
    for row in rows:
        by_type[row[0].type].append(row)
        for d in row[0].doc:
            by_doc[d].append(row)
    t = [a["timings"] for _, a, _ in rows]
    latency = {
        key: {"median": _median([x.get(key) for x in t]), "p95": _p95([x.get(key) for x in t])}
        for key in ("retrieve_ms", "evidence_s", "first_token_s", "total_s", "prompt_tokens")
    }
    causes: dict[str, int] = defaultdict(int)
    for _, _, j in rows:
        if j.get("cause"):
            causes[j["cause"]] += 1
    return {
        "overall": summarise(rows),
        "by_type": {k: summarise(v) for k, v in sorted(by_type.items())},
        "by_doc": {k: summarise(v) for k, v in sorted(by_doc.items())},
        "latency": latency,
        "failure_causes": dict(sorted(causes.items(), key=lambda kv: -kv[1])),
    }


class _TextOf:
    """chunk id → text, read from the chunk store on demand."""

    def __init__(self, lookup):
        self.lookup = lookup

    def get(self, chunk_id: str, default: str = "") -> str:
        c = self.lookup.get(chunk_id)
        return c.text if c is not None else default


class _TwinsOf(_TextOf):
    """chunk id → ids of its twin paragraphs."""

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
