"""Evaluation against a fixed question file (the format of eval/questions.jsonl).

Retrieval: a question is a hit at k when one of the top-k results (or a twin paragraph merged
into it) contains one of its evidence strings, both compared after normalisation and with all
whitespace and punctuation removed. Unanswerable questions have no answer to find: they are
reported separately (their evidence is nearby text) and left out of hit@k and MRR.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .clean import compact
from .errors import RagError

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
        out.append(Question(id=str(obj["id"]), question=obj["question"], answer=str(obj["answer"]),
                            doc=list(obj["doc"]), evidence=list(obj["evidence"]), type=obj["type"],
                            notes=obj.get("notes", "")))
    if not out:
        raise RagError(f"{path} holds no questions")
    return out


def result_texts(result: dict) -> list[str]:
    return [result["text"]] + [a["text"] for a in result.get("also", [])]


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
        "misses": [{"id": q.id, "question": q.question, "evidence": q.evidence, "rank": r}
                   for q, r in answerable if r is None or r > 5],
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
        records.append({"id": q.id, "question": q.question, "type": q.type, "hit_rank": rank,
                        "retrieve_ms": timings.get("retrieve_ms"), "retrieved": results})
    metrics = retrieval_metrics(rows)
    lat = sorted(r["retrieve_ms"] for r in records if r["retrieve_ms"] is not None)
    if lat:
        metrics["latency_ms"] = {"p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))]}
    return metrics, records
