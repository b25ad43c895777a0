"""Figures: the numbers of a text with their magnitude words and counters, and what a question
asks a figure of (how much, in which unit). The one home of the number patterns that verification,
the gate, composition and evaluation share."""

from __future__ import annotations

import re

from rag.chunk.clean import norm

_NUM = r"\d+(?:[.,]\d+)*"
_ZH_FIG = re.compile(rf"({_NUM})\s*(万亿|亿|万|千)?")
_EN_FIG = re.compile(rf"({_NUM})\s*(thousand|million|billion|trillion|bn\b)?", re.I)
YEAR_RE = re.compile(r"^(19|20)\d{2}$")
_MULT = {
    "万": 1e4,
    "亿": 1e8,
    "万亿": 1e12,
    "千": 1e3,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
}


def clean_num(s: str) -> str:
    return s.replace(",", "")


COUNTER_CHARS = "个家所座项人户亩吨件辆元台次场名条块棵株套间栋处公里米斤千瓦时"
_FIG_UNIT = re.compile(rf"({_NUM})\s*(?:万亿|亿|万|千|百)?\s*([{COUNTER_CHARS}%％倍]|[:：∶](?=\s*\d))?")


def figure_units(text: str) -> dict[str, set[str]]:
    """Each figure with the counters written after it: 5.3万个 → {"5.3": {"个"}}; a term of a ratio
    (「2：1」「4.0∶37.7」) counts 「比」, so it supports no 2% of an answer."""
    out: dict[str, set[str]] = {}
    for m in _FIG_UNIT.finditer(norm(text)):
        unit = m.group(2) or ""
        out.setdefault(clean_num(m.group(1)), set()).add("比" if unit in (":", "：", "∶") else unit)
    return out


# Counters that count the same things: people by 人, 名 or 位; 个 and 名 are said of the same people
# (「446个劳模」「446名劳模」). 人 and 个 are not: 5.3万人 is not 5.3万个.
_SAME_COUNTERS = ({"人", "名", "位"}, {"个", "名", "位"})


def same_counter(a: set[str], b: set[str]) -> bool:
    """Whether a figure's counters in an answer (`a`) and in a passage (`b`) can count the same things."""
    return bool(a & b) or any(x in g and y in g for g in _SAME_COUNTERS for x in a for y in b)


_ANY_FIG = re.compile(rf"({_NUM})\s*(万亿|亿|万|千|thousand|million|billion|trillion|bn)?", re.I)


def answer_figures(sentence: str) -> list[tuple[str, float]]:
    """(figure, magnitude multiplier or 0) for each number of an answer sentence, in any language."""
    out = []
    for m in _ANY_FIG.finditer(sentence.replace("，", ",") if re.search(r"\d，\d{3}", sentence) else sentence):
        word = (m.group(2) or "").lower()
        out.append((clean_num(m.group(1)), _MULT.get(word, 0.0) if word else 0.0))
    return out


def figures(text: str) -> list[str]:
    """Digits-only figures of a text (thousands separators dropped)."""
    return [clean_num(m) for m in re.findall(_NUM, norm(text))]


def values(text: str, english: bool = False) -> set[float]:
    """Numeric values with their magnitude words applied: 180万 → 1.8e6, "1.8 million" → 1.8e6."""
    out: set[float] = set()
    pattern = _EN_FIG if english else _ZH_FIG
    for m in pattern.finditer(norm(text) if not english else text):
        try:
            v = float(clean_num(m.group(1)))
        except ValueError:
            continue
        mult = _MULT.get((m.group(2) or "").lower(), 1.0)
        out.add(v * mult)
        out.add(v)
    return out


def supported_value(v: float, pool: set[float]) -> bool:
    return any(abs(v - p) <= max(1e-9, 0.005 * abs(p)) for p in pool)


# A question that asks for a quantity: a quoted answer must then hold a figure.
_QUANTITY = re.compile(r"多少|几[个项家座所条万亿%]|多大|多高|多长|多快|比例|比重|增速|增幅|降幅")
# The unit a question asks its figure in (「多少亿元」「多少万人」): a quoted answer must use it.
ASKED_UNIT = re.compile(
    r"多少\s*(万亿元|亿元|万元|亿|万人|万户|万亩|人次|人|个|家|亩|公里|千米|吨|千瓦|倍|所|座|项|户|件|天)"
)
_QUANTITY_EN = re.compile(
    r"\bhow (?:many|much|fast|long|large|big|high)\b|\bwhat (?:share|percentage|rate|target)\b", re.I
)
# A figure in a reply: digits, a counted Chinese numeral (「三个」「两成」「翻一番」), a spelled-out English one.
_FIGURE = re.compile(
    r"\d|[零〇一二两三四五六七八九十百千万]+(?:个|项|家|座|所|条|件|万|亿|倍|成|番|人|户|亩|公里|吨|%|％)|百分之|"
    r"一半|持平|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
    r"half|double|doubled|tripled)\b",
    re.I,
)
# What a reply can repeat of the question without giving a figure: a year, a plan's name (「十四五」).
_NOT_FIGURE = re.compile(r"(?:19|20)\d{2}\s*年?|十[一二三四五六七八九]五|\[\d+\]")


def gives_figure(reply: str) -> bool:
    """Whether a reply states a quantity: 「超额完成国家任务」 answers no 「目标是多少」."""
    return bool(_FIGURE.search(_NOT_FIGURE.sub(" ", reply)))


_COUNTERS = {"个", "家", "所", "座", "项", "件", "户"}


def in_asked_unit(question: str, reply: str) -> bool:
    """Whether a reply gives a figure in the unit a question asks for (「多少亿元」 is not answered by
    「增长46.8%」); True when the question names no unit."""
    m = ASKED_UNIT.search(norm(question))
    if not m or m.group(1) in _COUNTERS:  # counters vary with the wording (5个, 5家, 5所): no test
        return True
    unit = m.group(1).lstrip("万亿千") or m.group(1)  # 「多少万人」 is answered in 人 at any magnitude
    return bool(re.search(rf"\d\s*(?:万亿|亿|万|千)?\s*{re.escape(unit)}", norm(reply)))


def asks_quantity(question: str) -> bool:
    return bool(_QUANTITY.search(question) or _QUANTITY_EN.search(question))
