"""The shape of a question: the parts it asks, what each part asks of its figure, and how the
answers to the parts relate (the words; `query.Analyzer` turns them into a plan per part).

A small model answers one plain question at a time far better than a question in several parts,
and a comparison of two figures is arithmetic, not language. So a question is read into parts —
「甲市和乙县今年的投资目标哪个更高？」 → one question per place; 「甲市2025年的增长目标完成了吗？」 →
the target, then the result; 「乙县2023年和2024年的粮食产量分别是多少？」 → one per year — each part
is answered (and checked) on its own, and what relates them (higher or lower, met or missed,
changed or not) is computed in code from the figures (`compose`).

Every pattern here is about how Chinese (or English) questions are worded, never about what one
report says.
"""

from __future__ import annotations

import re

# 「2024年政府工作报告」「甲市2024年的报告里」: a year that names the report, not the period asked about.

_PLAN_PERIOD = re.compile(r"十([一二三四五六七八九])五")


def plan_period(text: str) -> tuple[int, int] | None:
    """The years of the five-year plan a question names (「“十四五”时期」 → 2021–2025): the N-th plan
    runs from 2006 + 5 × (N − 11) for five years (十一五 2006–2010 … 十五五 2026–2030)."""
    m = _PLAN_PERIOD.search(text)
    if not m:
        return None
    n = 10 + "一二三四五六七八九".index(m.group(1)) + 1
    start = 2006 + 5 * (n - 11)
    return start, start + 4


# --- what a part asks of its figure ------------------------------------------------------------------
# A goal set for a year (目标, 计划, 预期 …) or what was achieved (实际, 完成了 …).
TARGET_RE = re.compile(
    r"目标|预期|计划|拟|力争|定的|定为|定了|原定|预定|任务|打算|\btargets?\b|\bgoals?\b|\bplan(?:s|ned)?\b|"
    r"\baim(?:s|ed)?\b|\bset\b",
    re.I,
)
RESULT_RE = re.compile(
    r"实际(?!使用|利用|到位|用于)|最终|最后|(?:完成|实现|达到|做到|增长|下降|上涨|提高|新增|减少)了|"
    r"\bactual(?:ly)?\b|\bachieved\b|\bresults?\b|\boutcome\b",
    re.I,
)
GROWTH_RE = re.compile(
    r"增长|增速|增幅|增加|下降|降低|降幅|上涨|涨幅|提高|提升|\bgrowth\b|\bgrow|\brise\b|\bfall\b", re.I
)
_RANK_RE = re.compile(r"排名|排位|第几|位居|位列|\brank", re.I)
_AMOUNT_RE = re.compile(
    r"总量|规模|总额|总值|总产量|多少(?:万亿元|亿元|万元|万人|人|个|家|吨|亩)|\bhow (?:many|much)\b", re.I
)


def attribute_of(text: str) -> str | None:
    """「target」 when a part asks for a goal, 「result」 when it asks what was achieved, None when
    it says neither (「甲市新增就业多少人」)."""
    target, result = bool(TARGET_RE.search(text)), bool(RESULT_RE.search(text))
    if target and not result:
        return "target"
    if result and not target:
        return "result"
    return None


def measure_of(text: str) -> str | None:
    """What kind of figure a part asks for: a growth rate, an amount or a rank."""
    if _RANK_RE.search(text):
        return "rank"
    if GROWTH_RE.search(text):
        return "growth"
    if _AMOUNT_RE.search(text):
        return "amount"
    return None


# --- how the parts relate -------------------------------------------------------------------------
# 「哪个更高」「谁的增速更快」「高还是低」「相比」: which of two figures is higher.
_VERSUS_RE = re.compile(
    r"哪个(?:更|最)?[高低快慢多少大小]|谁(?:的)?[^，,。？?；;]{0,12}?更?[高低快慢多少大小]|"
    r"[高快多大长]还是[低慢少小短]|相比|比较|对比|差距|相差|差多少|高出|多出|"
    r"比[^，,。？?；;]{1,16}?(?:更|还)[高低快慢多少大小]|比[^，,。？?；;]{1,16}?(?<!多)[高低快慢多少大小](?!少)吗|"
    r"\b(?:higher|lower|faster|slower|more|less|larger|smaller|compare[sd]?|versus|vs)\b",
    re.I,
)
_HIGH_WORDS = "高快多大长"
# 「有什么变化」「怎么调整的」「表述有什么不同」 "How did … change": the same figure in two reports.
_CHANGE_RE = re.compile(r"变化|调整|不同|区别|变了|上调|下调|改变|\bchange[ds]?\b|\bdiffer", re.I)
# 「目标完成得怎么样」「完成了吗」「实现了…目标吗」 "Did … meet its target": a target against its result.
COMPLETION_RE = re.compile(
    r"(?:完成|实现|达到|达成|做到)(?:了|得)?(?:怎么样|怎样|如何|情况|没有|吗)|完成(?:情况|度)|"
    r"(?:目标|任务)[^，,。？?]{0,8}(?:完成|实现|达到|达成)(?:了|得)?(?:吗|没有|怎么样|怎样|如何)|"
    r"(?:完成|实现|达到|达成|超过|超出|高于|低于|控制在)了?[^，,。？?]{0,16}?(?:目标|任务)(?:以内|以下)?"
    r"了?(?:吗|没有)|"
    r"\b(?:meet|met|achieve[d]?|hit|reach(?:ed)?|fulfil(?:l(?:ed)?)?)\b[^?]{0,40}\b(?:target|goal)s?\b",
    re.I,
)
# 「分别」「各」 "each": the same thing asked of several places or years, side by side.
_EACH_RE = re.compile(r"分别|各自|各(?=[是为有增达完新定要])|\beach\b|\brespectively\b|\bboth\b", re.I)


def relation_of(text: str) -> str:
    """How the answers to the parts of a question relate: 「compare」 (which is higher), 「change」
    (how a figure changed between two reports), 「target_vs_actual」 (a target against its result),
    「each」 (side by side) or "" (unrelated parts, or one part)."""
    if COMPLETION_RE.search(text) or (
        TARGET_RE.search(text) and RESULT_RE.search(text) and not _VERSUS_RE.search(text)
    ):
        return "target_vs_actual"
    if _CHANGE_RE.search(text) and not re.search(r"哪个|谁|更[高低快慢多少大小]|还是", text):
        return "change"
    if _VERSUS_RE.search(text):
        return "compare"
    if _EACH_RE.search(text):
        return "each"
    return ""


def compare_words(text: str) -> tuple[str, str]:
    """The pair of words a comparison is put in (「快」/「慢」 for 「谁更快」), 「高」/「低」 by default."""
    for hi, lo in (("快", "慢"), ("多", "少"), ("大", "小"), ("长", "短"), ("高", "低")):
        if re.search(rf"更?{hi}|更?{lo}", text) and re.search(
            rf"更{hi}|更{lo}|{hi}还是|还是{lo}|谁[^，。？?]{{0,12}}{hi}|"
            rf"[比较][^，。？?]{{1,16}}{hi}|{hi}[^，。？?]{{0,3}}吗",
            text,
        ):
            return hi, lo
    return "高", "低"


# --- a yes/no question that states a figure --------------------------------------------------------------
# 「是否超过5%」「超过1200万人了吗」「控制在5%以内了吗」「还是“6%以上”吗」: the figure asked about and how an
# answer's figure must stand to it ("gt", "ge", "le", "lt", "eq").
_FIG = r"(\d+(?:\.\d+)?\s*(?:万亿|亿|万|千)?\s*(?:%|％|个百分点|倍|[个家所座项人户亩吨件元台次年天]|万人|亿元|万元|万亿元|亿斤|万吨|公里)?\s*(?:左右|以上|以内|以下|上下)?)"
_CMP_WORDS = (
    ("gt", r"超过|超出|高于|多于|大于|快于"),
    ("ge", r"不低于|不少于|达到|达成|突破"),
    ("le", r"不超过|不高于|控制在"),
    ("lt", r"低于|少于|小于|慢于"),
)
_ASKED_FIG_RE = re.compile(
    rf"(?:是否|有没有|是不是|能否|还是|仍是|仍然是|依然是)?\s*(?:已经|已)?"
    rf"(超过|超出|高于|多于|大于|快于|不低于|不少于|达到|达成|突破|不超过|不高于|控制在|低于|少于|小于|慢于)?了?\s*"
    rf"(?:年初|原定|预定|既定|预期)?(?:的)?(?:增长|下降|增加|减少)?[“\"「]?{_FIG}[”\"」]?"
    r"(?=[^\u4e00-\u9fff\d.]|$|[吗呢了的])"
)


def asked_figure(text: str) -> tuple[str, str, tuple[int, int]] | None:
    """(how, figure, span) of the figure a yes/no question states, when it states one that is not a
    year: 「广东2026年的增长目标是否超过5%」 → ("gt", "5%", …); "eq" when no comparison word."""
    for m in _ASKED_FIG_RE.finditer(text):
        fig = m.group(2).strip()
        end = text[m.end() : m.end() + 1]
        if re.fullmatch(r"(?:19|20)\d{2}\s*年", fig) or (re.fullmatch(r"(?:19|20)\d{2}", fig) and end == "年"):
            continue  # a year names when, not what
        word = m.group(1) or ""
        how = next((k for k, pattern in _CMP_WORDS if word and re.fullmatch(pattern, word)), "eq")
        if how == "le" and not re.search(r"以内|以下", fig + text[m.end() : m.end() + 3]) and word == "控制在":
            how = "le"
        return how, fig, m.span()
    return None


def without_asked_figure(text: str) -> str:
    """The yes/no question put as a question for the figure itself: 「广东2026年的增长目标是否超过5%？」
    → 「广东2026年的增长目标是多少？」 (the comparison with the stated figure is made in code)."""
    a = asked_figure(text)
    if a is None:
        return text
    s, e = a[2]
    rest = text[e:]
    rest = re.sub(
        r"^\s*(?:以内|以下|以上)?\s*(?:的)?\s*(?:目标|任务|规划目标)?\s*(?:了吗|了没有|没有|吗|呢)?", "", rest
    )
    head = text[:s].rstrip(" ，,")
    return clean_part(head + rest)


# --- turning a question into parts -------------------------------------------------------------------------
# Words that relate parts (or ask yes/no) and mean nothing inside one part: 「哪个更高」「分别」「吗」.
RELATION_WORDS = re.compile(
    r"(?:是|有|发生了|做了)?(?:怎么|如何|怎样)?(?:调整|变化|改变)的?(?:情况)?|有(?:什么|何|哪些)(?:变化|不同|区别|调整)|"
    r"(?:的)?表述|哪个(?:更|最)?[高低快慢多少大小]|谁(?:的)?(?=[\u4e00-\u9fff])|更?[高快多大长]还是更?[低慢少小短]|"
    r"(?:相比|比较|对比)(?:较?[高低快慢多少大小])?|分别|各自|各(?=[是为有增达完新定要])|"
    r"(?:更|还)[高低快慢多少大小](?:了)?|是否|是不是|有没有|[吗呢](?=[？?]?\s*$)"
)
_ASKS = re.compile(r"多少|几|什么|哪|如何|怎样|怎么样")


_ATTRIBUTE_WORDS = re.compile(
    r"(?:的)?(?:预期|年度|年初|原定|既定|控制)?(?:目标|任务|计划)|定的|原定|实际(?!使用|利用|到位|用于)|"
    r"完成了?|拟|力争|预计|^[给对为在]"
)
_QUESTION_TAIL = re.compile(r"(?:是|为|有|达到|达|增长了?|下降了?|提高了?)?(?:多少|几|什么|哪|如何|怎样|怎么).*$")


def indicator_of(content: str) -> str:
    """What a question asks about, without when, of what kind or how: 「2014年城镇新增就业多少人」 →
    「城镇新增就业」, 「去年城镇新增就业的任务是多少」 → 「城镇新增就业」 (a follow-up part that leaves it
    out — 「实际完成了多少？」 — is asked and looked for with it)."""
    t = TIME_WORDS_RE.sub("", content)
    t = re.sub(r"[（(][^）)]*[）)]|年均|平均每年|每年", "", t)
    t = _ATTRIBUTE_WORDS.sub("", t)
    pieces = [p for p in re.split(r"[？?，,。；;]", t) if p.strip()]
    asking = [p for p in pieces if _ASKS.search(p)]  # the clause that asks, not 「甲省报告里，」 before it
    t = asking[0] if asking else max(pieces, key=len, default="")
    # the question word goes, what it asks of stays (「为多少名劳模发放了消费券」 → 劳模发放了消费券)
    head, _, tail = _QUESTION_TAIL.sub(lambda m: "\0" + m.group(0), t).partition("\0")
    tail = re.sub(
        r"^(?:是|为|有|达到|达|增长了?|下降了?|提高了?)?(?:多少|几)\s*[个项家座所条人户亩吨件元台次名位套场批处万亿千]*|"
        r"^(?:什么|哪些?|如何|怎样|怎么样?)",
        "",
        tail,
    )
    tail = re.sub(r"(?:是多少|是什么|有哪些|怎么样|如何)$", "", tail)
    return (head.strip(" 的是为") + (tail if re.search(r"[\u4e00-\u9fff]{2}", tail) else "")).strip()


def clean_part(text: str) -> str:
    """A part as a plain question: the words that relate parts removed, and 「是多少？」 added
    when nothing asks any more (「北京和海南谁的增速更快？」 → 「北京的增速是多少？」)."""
    t = RELATION_WORDS.sub("", text)
    t = re.sub(r"[，,、；;\s]*[？?。]+\s*$", "", t).strip(" ，,、；;的")
    t = re.sub(r"\s*[？?]\s*", "，", t)
    t = re.sub(r"(?:是|为)$", "", t)
    if not _ASKS.search(t):
        t += "是多少"
    return t + "？"


def completion_test(text: str) -> str:
    """How a yes/no question about a target wants the result to stand to it: 「超过了…目标吗」 →
    "gt", 「控制在…目标以内了吗」 → "le", 「完成/实现/达到…目标了吗」 → "met"."""
    if re.search(r"超过|超出|高于", text):
        return "gt"
    if re.search(r"低于|少于", text):
        return "lt"
    if re.search(r"控制在|以内|以下|不超过", text):
        return "le"
    return "met"


def asks_yes_no(text: str) -> bool:
    """Whether a question is answered by yes or no."""
    return bool(_YES_NO_RE.search(text))


# A question answered by yes or no: 「是否…」「有没有…」「…吗？」 "Did … ?"
_YES_NO_RE = re.compile(
    r"是否|有没有|有沒有|有无|有無|是不是|能否|可否|[吗嗎][？?]?\s*$|"
    r"^\s*(?:is|are|was|were|did|does|do|has|have|had|will|can)\b",
    re.I,
)
# Words that deny what a sentence says (未来 is a time, not a denial).
NEGATION_RE = re.compile(r"没有|沒有|尚未|并未|並未|未能|未(?![来來])|不是|不再|不及|^否|[，,。]否")

_ACTUAL_RE = re.compile(r"实际(?!使用|利用|到位|用于)|\bactual(?:ly)?\b", re.I)
_PLANNED_RE = re.compile(r"目标|计划|预期|拟|力争|\btarget|\bplan|\bgoal|\baim", re.I)
# A sentence that states a plan: 「今年赤字率拟按3%安排」「预期目标是增长5%左右」.
PLAN_SENTENCE_RE = re.compile(r"拟|预期目标|力争|预计安排|计划安排")
# 「比上年年初预算增加…」 is said of plans too, so 比上年 is no sign of an outcome.
_DONE_RE = re.compile(r"完成|实现|实际|达到")


def wants_actual(text: str) -> bool:
    """Whether a question asks for an outcome (「去年赤字率实际是多少」) and not also for a plan."""
    return bool(_ACTUAL_RE.search(text)) and not _PLANNED_RE.search(text)


def states_plan(sentence: str) -> bool:
    """Whether a sentence gives a planned figure rather than an outcome."""
    return bool(PLAN_SENTENCE_RE.search(sentence)) and not _DONE_RE.search(sentence)


# The words of a question that say when: a follow-up part replaces them with its own.


TIME_WORDS_RE = re.compile(
    r"(?:19|20)\d{2}\s*年(?:度|底|末)?|今年|去年|上年|明年|当年|本年|"
    r"[“\"]?十[一二三四五六七八九]五[”\"]?(?:时期|期间|末|以来|规划)?|过去五年|五年来"
)
