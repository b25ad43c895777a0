"""Answers to questions in several parts: the replies to each part joined into one answer, the
parts the reports do not answer named, and the comparison a question asks for made in code.

Query analysis splits 「甲市今年的目标是多少？与去年的实际值相比是高还是低？」 into two questions;
the model answers them one by one, and this module puts the replies back together."""
from __future__ import annotations

import re

from .cite import answer_figures
from .prompts import REFUSAL_ZH, is_refusal
from .query import QueryAnalysis, is_english


def join_replies(replies: list[str]) -> str:
    """One answer text from the replies to each part: the answered parts, one sentence each (a
    part the model could not answer is reported by `part_remarks`); a refusal when none was answered."""
    answered = [r for r in replies if not is_refusal(r)]
    if not answered:
        return replies[0] if replies else ""
    out = []
    for r in answered:
        body = re.sub(r"\s*(\[\d+\]\s*)+$", "", r.strip())
        marks = "".join(re.findall(r"\[\d+\]", r.strip()[len(body):]))
        body = body.rstrip("。.；;，, ")
        out.append(body + ("." if is_english(body) else "。") + marks)
    return "\n".join(out) if len(out) > 1 else out[0]


def first_value(text: str) -> tuple[float, bool] | None:
    """The first figure of a reply (years and citation markers aside) and whether it is a percentage."""
    text = re.sub(r"\[\d+\]|(?:19|20)\d{2}\s*年|“[^”]*”", " ", text)
    for f, mult in answer_figures(text):
        try:
            value = float(f.replace(",", "")) * (mult or 1.0)
        except ValueError:
            continue
        rest = text[text.find(f) + len(f):][:6]
        return value, "%" in rest or "％" in rest or "百分点" in rest
    return None


def part_remarks(q: QueryAnalysis, replies: list[str]) -> str:
    """What follows the verified parts: which parts the reports do not answer, and the comparison
    the question asked for, made in code from the two figures (a small model gets 高/低 wrong)."""
    if len(replies) < 2:
        return ""
    out = ""
    missing = [str(i) for i, r in enumerate(replies, 1) if is_refusal(r)]
    if missing:
        out += f"（第{'、'.join(missing)}问：{REFUSAL_ZH}。）"
    if q.compare and not missing:
        a, b = first_value(replies[0]), first_value(replies[1])
        if a is not None and b is not None and a[1] == b[1]:
            hi, lo = q.compare
            word = f"{hi}于" if a[0] > b[0] else f"{lo}于" if a[0] < b[0] else "等于"
            out += f"前者{word}后者。"
    return out
