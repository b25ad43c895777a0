"""Scoring one question: whether retrieval found its evidence (hit@k, MRR) and whether the
assistant's answer is right (figures, items, polarity, refusal, concision, supported citations),
with the metrics over a whole run and the percentiles the reports and benchmarks share.

Retrieval: a question is a hit at k when one of the top-k results (or a twin paragraph merged
into it) contains one of its evidence strings, both compared after normalisation and with all
whitespace and punctuation removed. Unanswerable questions have no answer to find: they are
reported separately (their evidence is nearby text) and left out of hit@k and MRR.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from rag.chunk.clean import compact
from rag.evaluate.questions import Question

KS = (1, 3, 5, 10)  # the cut-offs of hit@k


class TextById(Protocol):
    """chunk id → its text: a dict, or the chunk store read on demand (`rag.evaluate.run`)."""

    def get(self, chunk_id: str, default: str, /) -> str: ...


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
        m: dict[str, float] = {"n": n}
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


def judge(q: Question, ans: dict, chunk_text: TextById) -> dict:
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


def percentile(xs: Sequence[float | None], p: float) -> float | None:
    """The nearest-rank `p` quantile of the values that are not None (None when there are none);
    the evaluation reports and the benchmark scripts share it so their p95s mean the same."""
    values = sorted(x for x in xs if x is not None)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else None


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
        m: dict[str, float] = {"n": len(items), "answerable": len(ans_q), "unanswerable": len(unans)}
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
