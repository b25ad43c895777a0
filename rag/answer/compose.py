"""Answers composed in code from verified parts: the replies to each part joined, the parts the
reports do not answer named, and what relates the parts — higher or lower and by how much, a
target met or missed, a figure changed between two reports, yes or no against a stated figure —
computed from the cited figures. A small model gets 高/低 and 是/否 wrong; arithmetic does not.

「目标5%左右[1]；实际增长3.9%[2]。实际低于目标1.1个百分点。」
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.prompts import REFUSAL_ZH, is_refusal
from rag.search.places import short_place
from rag.search.query import QueryAnalysis, is_english

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_MAG = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3}
# A figure as reports write it: 「4.5%—5%」「5%左右」「8万人以上」「149.4万人」「76.28亿斤」「3.1个百分点」.
_FIGURE_RE = re.compile(
    rf"(?P<low>{_NUM})\s*(?P<lowmag>万亿|亿|万|千)?\s*(?P<lowpct>%|％)?\s*(?:[-—–~～至到]\s*)?"
    rf"(?:(?<=[-—–~～至到])(?P<high>{_NUM})\s*(?P<highmag>万亿|亿|万|千)?)?\s*"
    r"(?P<unit>%|％|个百分点|百分点|倍|微克/立方米|[个家所座项人户亩吨件辆元台次场名条块套间栋处天年]|公里|千瓦时?|立方米|"
    r"斤|公斤|平方米|标准箱|人次)?"
    r"\s*(?P<qual>左右|以上|以内|以下|上下|内)?"
)
_YEAR_RE = re.compile(r"(?:19|20)\d{2}\s*年(?:度)?|\[\d+\]")


@dataclass
class Figure:
    """One figure of an answer: its value (a range's ends), the unit it is in and its qualifier."""

    low: float
    high: float
    unit: str  # "%" | "百分点" | a counter or unit (人, 亿元 → 元) | ""
    qualifier: str  # 左右 | 以上 | 以内 | 以下 | ""
    text: str  # as written

    @property
    def value(self) -> float:
        return self.low

    def comparable(self, other: Figure) -> bool:
        return self.unit == other.unit


def figures_of(text: str) -> list[Figure]:
    """The figures of a reply in order (years and citation markers aside)."""
    text = _YEAR_RE.sub(" ", text.replace("％", "%"))
    out = []
    for m in _FIGURE_RE.finditer(text):
        try:
            low = float(m.group("low").replace(",", "")) * _MAG.get(m.group("lowmag") or "", 1.0)
            high_s = m.group("high")
            mag = m.group("highmag") or m.group("lowmag") or ""
            high = float(high_s.replace(",", "")) * _MAG.get(mag, 1.0) if high_s else low
            if high_s and not m.group("lowmag") and m.group("highmag"):
                low *= _MAG[m.group("highmag")]
        except ValueError:
            continue
        unit = m.group("unit") or ("%" if m.group("lowpct") else "")
        unit = {"个百分点": "百分点", "％": "%"}.get(unit, unit)
        out.append(
            Figure(
                low, high, unit, {"内": "以内"}.get(m.group("qual") or "", m.group("qual") or ""), m.group(0).strip()
            )
        )
    return out


def main_figure(text: str, measure: str | None = None) -> Figure | None:
    """The figure a reply answers with: the first rate for a growth question, the first amount
    for an amount question, else the first figure."""
    figs = figures_of(text)
    if not figs:
        return None
    if measure == "growth":
        return next((f for f in figs if f.unit in ("%", "百分点")), figs[0])
    if measure == "amount":
        return next((f for f in figs if f.unit not in ("%", "百分点")), figs[0])
    return figs[0]


def _amount(x: float, unit: str) -> str:
    """A difference written as reports write figures: 1.1个百分点, 3.5万人, 120亿元."""
    if unit in ("%", "百分点"):
        return f"{_trim(x)}个百分点"
    for word, mag in (("万亿", 1e12), ("亿", 1e8), ("万", 1e4)):
        if abs(x) >= mag:
            return f"{_trim(x / mag)}{word}{unit}"
    return f"{_trim(x)}{unit}"


def _trim(x: float) -> str:
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


# --- the relation of two figures ---------------------------------------------------------------------------
def compare_sentence(a: Figure, b: Figure, la: str, lb: str, words: tuple[str, str] = ("高", "低")) -> str:
    """「宁夏（5.3%）高于广东（3.9%），高1.4个百分点。」 (two places, two years …)."""
    hi, lo = words
    if a.low == b.low and a.high == b.high:
        return f"{la}与{lb}相同（均为{a.text}）。"
    first, second = (a, b) if a.high > b.high or (a.high == b.high and a.low > b.low) else (b, a)
    lf, ls = (la, lb) if first is a else (lb, la)
    diff = _amount(
        first.high - second.high if first.low == first.high and second.low == second.high else first.low - second.low,
        a.unit,
    )
    return f"{lf}（{first.text}）{hi}于{ls}（{second.text}），相差{diff}。"


def change_sentence(old: Figure, new: Figure, lo: str, ln: str) -> str:
    """「由2025年的17万人以上调整为2026年的17万人左右：数值不变，表述由“以上”改为“左右”。」"""
    if (old.low, old.high) == (new.low, new.high):
        if old.qualifier != new.qualifier:
            return (
                f"{lo}为{old.text}，{ln}为{new.text}：数值不变，表述由“{old.qualifier or '无'}”改为"
                f"“{new.qualifier or '无'}”。"
            )
        return f"{lo}与{ln}相同，均为{new.text}。"
    up = new.high > old.high or (new.high == old.high and new.low > old.low)
    moved = "上调" if up else "下调"
    if new.low != new.high or old.low != old.high:  # a range against a figure: no one difference
        return f"{lo}为{old.text}，{ln}为{new.text}，有所{moved}。"
    return f"{lo}为{old.text}，{ln}为{new.text}，{moved}{_amount(abs(new.low - old.low), old.unit)}。"


def target_verdict(target: Figure, result: Figure, how: str = "") -> tuple[str, bool | None]:
    """The sentence that puts a result against its target, and whether the target was met (None
    when a target 「左右」 leaves it open and the question did not ask).

    `how` is what a yes/no question asked: "gt" (exceeded), "lt", "le" (kept within), "met"."""
    q = target.qualifier
    if how == "gt":
        met = result.low > target.high
    elif how == "lt":
        met = result.high < target.low
    elif how == "le" or q in ("以内", "以下"):
        met = result.high <= target.high
    elif q == "以上" or how == "met":
        met = result.low >= target.low
    else:
        met = None
    diff = result.low - target.low if target.low == target.high else result.low - target.high
    if abs(diff) < 1e-9:
        rel = "与目标持平"
    else:
        rel = f"{'高于' if diff > 0 else '低于'}目标{_amount(abs(diff), target.unit)}"
    done = ""
    if met is not None and (how or q in ("以上", "以内", "以下")):
        done = "，完成目标" if met else "，未完成目标"
        if q in ("以内", "以下") or how == "le":
            done = "，在目标以内" if met else "，超出目标"
    return f"实际（{result.text}）{rel}（目标{target.text}）{done}。", met


def asked_verdict(how: str, asked: Figure, stated: Figure) -> bool | None:
    """Whether a figure the reports state satisfies what a yes/no question asks of it: 「是否超过
    5%」 against 「4.5%—5%」 is no. None when the two are not comparable."""
    if not asked.comparable(stated):
        return None
    if how == "gt":
        return stated.high > asked.high
    if how == "ge":
        return stated.low >= asked.low
    if how == "le":
        return stated.high <= asked.high
    if how == "lt":
        return stated.high < asked.low
    same = (stated.low, stated.high) == (asked.low, asked.high)
    return same and (not asked.qualifier or asked.qualifier == stated.qualifier)


# A figure a question states with its counter: 「延长20年」「三年」「5个」 (Chinese numerals up to 九十九).
_STATED_RE = re.compile(r"(\d+(?:\.\d+)?|[一二两三四五六七八九十]{1,3})\s*(年|个|项|家|所|座|条|件|批|次|倍|万|亿)")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _number(word: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        return float(word)
    if "十" in word:
        tens, _, ones = word.partition("十")
        return float(_CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0))
    return float(_CN_DIGITS[word]) if word in _CN_DIGITS else None


# Directions a yes/no question may ask of a figure, each with the words that say the opposite.
_OPPOSITES = (
    ("上涨", "下降|下跌|微降|回落|降低"),
    ("增长", "下降|减少|回落|下滑"),
    ("提高", "下降|降低|回落"),
    ("增加", "减少|下降"),
    ("扩大", "缩小|收窄"),
    ("上升", "下降|回落"),
    ("下降", "上涨|增长|上升|提高|增加"),
    ("减少", "增加|增长"),
)


# Indicators told apart by one word: asked of one, a sentence about the other says no (「有没有设定
# 调查失业率目标」 of a list that sets 登记失业率).
_CONTRASTED = (
    ("调查", "登记"),
    ("登记", "调查"),
    ("城镇", "农村"),
    ("农村", "城镇"),
    ("收入", "支出"),
    ("支出", "收入"),
    ("出口", "进口"),
    ("进口", "出口"),
)


def _opposite(question: str, text: str) -> str | None:
    """「…是上涨的吗」 of 「居民消费价格微降0.1%」 → 「微降0.1%」: the direction the sentence states
    instead of the one the question asks (None when it states the one asked, or neither)."""
    for asked, opposite in _OPPOSITES:
        if asked in question and asked not in text and (m := re.search(rf"(?:{opposite})[\d.%％]*", text)):
            return m.group(0)
    for asked, other in _CONTRASTED:
        if (
            asked in question
            and other not in question
            and asked not in text
            and (m := re.search(rf"[\u4e00-\u9fff]{{0,4}}{other}[\u4e00-\u9fff]{{0,5}}", text))
        ):
            return m.group(0)
    return None


def contradiction(question: str, quotes: list[str]) -> str | None:
    """The figure a cited sentence states in place of the one a yes/no question states: asked
    「是否延长20年」 of 「再延长30年」 → 「30年」. None when the sentence states the asked figure, or
    states none with that counter (then it neither confirms nor denies it)."""
    text = "".join(quotes)
    if (said := _opposite(question, text)) is not None:
        return said
    for m in _STATED_RE.finditer(question):
        if m.group(2) == "年" and re.fullmatch(r"(?:19|20)\d{2}", m.group(1)):
            continue  # a year says when, not how much
        asked = _number(m.group(1))
        stated = [
            (s.group(0), _number(s.group(1)))
            for s in _STATED_RE.finditer(text)
            if s.group(2) == m.group(2) and not (s.group(2) == "年" and re.fullmatch(r"(?:19|20)\d{2}", s.group(1)))
        ]
        if asked is None or not stated or any(v == asked for _, v in stated):
            continue
        # the sentence must share the words around the asked figure (「延长」「到期后」), else it is about something else
        around = re.findall(r"[\u4e00-\u9fff]{2}", question[max(0, m.start() - 4) : m.start()])
        if around and not any(w in text for w in around):
            continue
        return stated[0][0]
    return None


# --- joining the parts ------------------------------------------------------------------------------------
def join_replies(replies: list[str]) -> str:
    """One answer text from the replies to each part: the answered parts, one sentence each (a
    part the model could not answer is reported by `part_remarks`); a refusal when none was answered."""
    answered = [r for r in replies if not is_refusal(r)]
    if not answered:
        return replies[0] if replies else ""
    out = []
    for r in answered:
        body = re.sub(r"\s*(\[\d+\]\s*)+$", "", r.strip())
        marks = "".join(re.findall(r"\[\d+\]", r.strip()[len(body) :]))
        body = body.rstrip("。.；;，, ")
        out.append(body + ("." if is_english(body) else "。") + marks)
    return "\n".join(out) if len(out) > 1 else out[0]


def first_value(text: str) -> tuple[float, bool] | None:
    """The first figure of a reply (years and citation markers aside) and whether it is a rate."""
    text = re.sub(r"“[^”]*”", " ", text)
    f = main_figure(text)
    return None if f is None else (f.low, f.unit in ("%", "百分点"))


def part_label(q: QueryAnalysis, part: QueryAnalysis, i: int) -> str:
    """What tells one part from the others in a composed sentence: its place, its year, or
    「目标」/「实际」; 「第2问」 when nothing does."""
    others = [p for j, p in enumerate(q.part_plans) if j != i]
    if part.places and any(p.places != part.places for p in others):
        place = next(iter(part.places))
        return short_place(place)
    if part.unknown_places and not part.places:
        return part.unknown_places[0]
    years = part.years | ({part.report_year} if part.report_year and not part.years else set())
    if years and any(
        (p.years | ({p.report_year} if p.report_year and not p.years else set())) != years for p in others
    ):
        return f"{min(years)}年"
    if q.relation == "target_vs_actual" and part.attribute:
        return "目标" if part.attribute == "target" else "实际"
    return f"第{i + 1}问"


def relate(q: QueryAnalysis, replies: list[str]) -> tuple[str, str]:
    """What goes before and after the verified parts: 「是。」/「否。」 first when a yes/no question is
    settled by the figures; after them, which parts the reports do not answer and the relation the
    question asks for, computed from the parts' figures."""
    if len(replies) < 2:
        return "", ""
    units = q.part_plans
    tail = ""
    missing = [i for i, r in enumerate(replies) if is_refusal(r)]
    if missing:
        names = []
        for i in missing:
            unit = units[i] if i < len(units) else None
            if unit is not None and unit.missing:
                names.append(f"{unit.unknown_places[0]}：资料中没有{unit.unknown_places[0]}的报告")
            elif unit is not None and unit.lacking:
                names.append(f"{part_label(q, unit, i)}：资料中没有{unit.lacking}的报告")
            else:
                names.append(f"{part_label(q, unit, i) if unit is not None else f'第{i + 1}问'}：{REFUSAL_ZH}")
        tail += "（" + "；".join(names) + "。）"
    if missing or len(replies) != 2:
        return "", tail
    measures = [u.measure for u in units] if len(units) == 2 else [None, None]
    a, b = main_figure(replies[0], measures[0]), main_figure(replies[1], measures[1])
    if a is None or b is None or not a.comparable(b):
        return "", tail
    la, lb = (part_label(q, units[0], 0), part_label(q, units[1], 1)) if len(units) == 2 else ("前者", "后者")
    if q.relation == "target_vs_actual" and len(units) == 2 and _same_period(units):
        t, r = (a, b) if units[0].attribute != "result" else (b, a)
        sentence, met = target_verdict(t, r, q.asked[0] if q.asked else "")
        lead = ("是。" if met else "否。") if q.yes_no and met is not None else ""
        return lead, tail + sentence
    if q.relation == "change":
        return "", tail + change_sentence(a, b, la, lb)
    if q.relation == "compare" or q.compare:
        sentence = compare_sentence(a, b, la, lb, q.compare or ("高", "低"))
        lead = ("是。" if a.high > b.high else "否。") if q.yes_no else ""  # 「2026年比2025年多吗」
        return lead, tail + sentence
    return "", tail


def part_remarks(q: QueryAnalysis, replies: list[str]) -> str:
    """`relate`'s lead and tail as one text (for callers that append it)."""
    lead, tail = relate(q, replies)
    return lead + tail


def _same_period(units: list[QueryAnalysis]) -> bool:
    """Whether two parts ask about the same year (a target and its own result, not last year's)."""
    a, b = (set(u.years) | set(u.targets(None)) for u in units)
    return not a or not b or bool(a & b)
