"""Annotations that relate the chunks of one report to years and to each other: the year each
passage is about, glossary notes and the markers that point to them, lead-ins and the items they
announce. They run after cutting, on the chunk list of one document."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.chunk.clean import to_simplified
from rag.read.numbering import NOTE_MARK_RE, cn_to_int

if TYPE_CHECKING:
    from rag.chunk.document import Chunk

_YEAR_IN_TITLE = re.compile(r"(20\d{2})\s*年")
_YEAR_OPENER = re.compile(r"^\s*(20\d{2})\s*年\s*[，,、是]")
_PAST_OPENERS = ("一年来", "过去一年", "去年", "一年來", "過去一年")
_REVIEW_WORDS = ("回顾", "回顧", "过去", "過去", "总结", "總結", "工作情况", "去年")
_PLAN_WORDS = (
    "今年",
    "总体要求",
    "總體要求",
    "重点任务",
    "重點任務",
    "主要任务",
    "工作安排",
    "工作任务",
    "预期目标",
    "主要目标",
    "工作建议",
    "工作的建议",
    "重点工作",
    "工作部署",
    "目标任务",
)


def _opens_plan(heading: str, year: int | None) -> bool:
    """A heading that opens the part about the report's own year: 「二、2024年工作总体要求」
    「三、今年政府工作任务」「二、对今年政府工作的建议」 (and not 「一、2023年工作回顾」)."""
    h = to_simplified(heading)
    if any(w in h for w in _REVIEW_WORDS):
        return False
    years = [int(y) for y in _YEAR_IN_TITLE.findall(h)]
    if years:
        return year is not None and years[-1] == year
    return any(w in h for w in _PLAN_WORDS)


# A paragraph that opens a review of several years (「五年来，…」「这五年，…」「“十四五”时期，…」) or of one
# year (「这一年，…」「过去一年，…」): reports at the start of a plan period review both, one after the other.
_SPAN_OPENER = re.compile(
    r"^\s*(?:各位代表[！!，,]\s*)?(?:五年来|这五年|过去五年|近五年|五年间|"
    r"[“\"]?十[一二三四五六七八九]五[”\"]?(?:时期|期间|以来))"
)
_YEAR_OPENER_WORDS = re.compile(
    r"^\s*(?:各位代表[！!，,]\s*)?(?:这一年|一年来|过去一年|刚刚过去的|去年|(?:19|20)\d{2}\s*年[，,是])"
)
# A heading about a plan period and no one year (「二、“十五五”时期主要目标任务」).
_SPAN_HEADING = re.compile(r"[“\"]?十[一二三四五六七八九]五[”\"]?|五年")
_ONE_YEAR_HEADING = re.compile(r"(?:19|20)\d{2}\s*年|一年|去年|今年")


def assign_periods(chunks: list[Chunk], art_info: dict[int, dict]) -> None:
    """Which year each passage talks about. A section that names a year is about that year; in a
    work report everything before the part on the report's own year reviews the year before.

    A passage about several years — a section on a plan period with no year of its own, or the
    paragraphs after 「五年来，…」 up to the next 「这一年，…」 in a review of both — is about no one
    year: its period is None and it is flagged "span", so that a five-year total is not taken for
    last year's result."""
    plan_start: dict[int, int] = {}
    for c in chunks:
        year = art_info[c.article]["year"]
        if c.kind == "heading" and c.section and c.article not in plan_start and _opens_plan(c.section[-1], year):
            plan_start[c.article] = c.start
    _assign_years(chunks, art_info, plan_start)
    span, where = False, None
    for c in chunks:
        if (c.article, c.section_path) != where:
            # a section on a plan period and no one year starts about the span (「一、“十三五”时期回顾」)
            heading = to_simplified(" ".join(c.section)) if c.section else ""
            span = bool(_SPAN_HEADING.search(heading)) and not _ONE_YEAR_HEADING.search(heading)
            where = (c.article, c.section_path)
        if c.kind not in ("body", "bullet"):
            continue
        if _SPAN_OPENER.match(c.text):
            span = True
        elif _YEAR_OPENER_WORDS.match(c.text):
            span = False
        if span:
            c.period = None
            if "span" not in c.flags:
                c.flags.append("span")


def _assign_years(chunks: list[Chunk], art_info: dict[int, dict], plan_start: dict[int, int]) -> None:
    for c in chunks:
        year = art_info[c.article]["year"]
        explicit = [int(m.group(1)) for s in c.section for m in [_YEAR_IN_TITLE.search(s)] if m]
        opener = _YEAR_OPENER.match(c.text)
        if explicit:
            c.period = explicit[-1]
        elif opener and year and int(opener.group(1)) in (year - 1, year):
            c.period = int(opener.group(1))  # 「2025年，我们…」: a paragraph that opens with its year
        elif year and (
            c.text.startswith(_PAST_OPENERS)
            or (
                c.article in plan_start
                and c.start < plan_start[c.article]
                and art_info[c.article]["kind"].startswith("政府工作报告")
            )
        ):
            c.period = year - 1
        else:
            c.period = year


_NOTE_TERM = re.compile(r"^\^?[［\[【](\d{1,3})[］\]】]\s*([^：:。\n]{1,40})[：:]")


def link_notes(chunks: list[Chunk]) -> None:
    """Glossary notes (「［3］甲乙工程：…」 after 注释 or 名词解释, or at the end) and the markers that
    point to them: each marked chunk lists its notes, and each note knows its term, so that a
    question about a term defined only in the notes finds the note and its use."""
    notes: dict[tuple[int, str], Chunk] = {}
    for c in chunks:
        if c.kind in ("body", "bullet") and (m := _NOTE_TERM.match(c.text)):
            c.term = m.group(2).strip()
            c.period = None  # a definition is about no year
            notes[(c.article, m.group(1))] = c
    if not notes:
        return
    for c in chunks:
        if c.kind not in ("body", "bullet") or c.term:
            continue
        ids = [notes[(c.article, n)].id for n in NOTE_MARK_RE.findall(c.text) if (c.article, n) in notes]
        c.notes = list(dict.fromkeys(ids))


_LEAD = re.compile(r"(?:以下|如下|下列)[^。，]{0,8}[。：:]$|[：:]$")
_ORDINAL = re.compile(
    r"^(?:第[一二三四五六七八九十]{1,2}[，、,：:]|[一二三四五六七八九十]{1,2}是|[（(][一二三四五六七八九十]{1,2}[）)]|\d{1,2}[.、．])"
)
_LEAD_COUNT = re.compile(r"(?:以下|如下|下列)?([两二三四五六七八九十]{1,2})(?:点|条|项|个方面|方面|个)")


def link_leads(chunks: list[Chunk]) -> None:
    """A short paragraph that announces what follows (「做好今年工作，要把握好以下三点。」「主要是：」)
    is useless alone: it lists the paragraphs it announces (as many as it says, else up to four,
    never past its section), so that retrieval and the answer see the items with their lead."""
    body = [c for c in chunks if c.kind in ("body", "bullet")]
    for i, c in enumerate(body):
        t = c.text.strip()
        if len(t) > 80 or not _LEAD.search(t):
            continue
        m = _LEAD_COUNT.search(t)
        want = cn_to_int(m.group(1).replace("两", "二")) if m else 4
        after = []
        for d in body[i + 1 : i + 1 + 4 * want]:
            if d.article != c.article or d.section_path != c.section_path:
                break
            after.append(d)
        # items that open with an ordinal (第一，… 第二，…) may run over several paragraphs: take their openings
        ordinal = [d for d in after if _ORDINAL.match(d.text) and not d.part > 1]
        items = [d.id for d in (ordinal if len(ordinal) >= 2 else after)[:want]]
        c.follows = items
