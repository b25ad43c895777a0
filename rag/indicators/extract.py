"""Headline indicators read from one report's chunks, each a target (the goal for the report's own
year) or a result (what the year before achieved), with its value as written and a citation.

Rule-based and checked like answers: a row exists only where a sentence names the indicator and
gives its figure (or, for a target, the words it is set in); the figure is taken as written,
qualifiers kept. Which year a figure is about comes from the passage (`Chunk.period`, set at
ingestion): a review of last year gives results, the part on the report's own year targets. A
paragraph about several years (「五年来，…」), an average over years, a five-year plan's target and a
sub-region's figure are never the year's result or target.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from rag.chunk.clean import to_simplified
from rag.chunk.quote import ContextSentence, citation_for, offset_map
from rag.indicators.catalog import CATALOG, EXTRACTOR_VERSION, Indicator

if TYPE_CHECKING:
    from rag.chunk.document import Chunk

__all__ = ["EXTRACTOR_VERSION", "IndicatorRow", "extract"]


@dataclass
class IndicatorRow:
    doc: str
    place: str
    year: int | None  # the report's year
    indicator: str
    kind: str  # "target" | "result"
    period: int | None  # the year the figure is about
    value: str  # as written: 「5.5%左右」「1100万人以上」「与经济增长同步」
    citation: dict = field(default_factory=dict)
    level: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


_QUAL_BEFORE = r"(?:约|近|超过|突破|不低于|不少于|不超过|高于|低于)?"
_QUAL_AFTER = r"(?:左右|以上|以内|以下|上下|之间)?"
_NUM = r"\d+(?:\.\d+)?"
_RATE = (
    rf"(?P<pre>{_QUAL_BEFORE})(?P<num>{_NUM}\s*[%％]?(?:\s*[—–\-~～至到]\s*{_NUM})?\s*[%％]|{_NUM}\s*个百分点)"
    rf"(?P<post>{_QUAL_AFTER})"
)
# what may stand between an indicator's name and its figure: measure verbs, hedges, 比上年
_GAP = re.compile(
    r"(?:按可比口径|同口径|比上年|同比)?[^\d，,；;。：:（(）)占比重为]{0,3}(?:增长|增速|增幅|上涨|涨幅|下降|降低|回落|降到|降至|下降到|控制在|保持在|"
    r"稳定在|达到|达|为|是|实现|完成|提高到|提高|增加到|增至|突破|超过|保持|在|同比|比上年|实际)?"
    r"[^\d，,；;。：:（(）)占比重]{0,4}?"
)
_DECLINE = re.compile(r"下降|降低|回落|微降|降到|降至|减少")
_SPAN_WORDS = re.compile(
    r"年均(?:增长|增速|增幅|下降|降低|提高|递增|新增)|累计|五年|[“\"]?十[一二三四五六七八九]五|平均每年|以来"
)
# an amount the figure asked for comes after (「生产总值5503亿元、增长5.4%」「突破9万亿元、增长9.8%」)
_AMOUNT_FIRST = re.compile(
    r"(?:比上年|同比)?(?:超过|达到|达|突破|实现|完成|为|提高到|增加到|增至)?\d+(?:\.\d+)?\s*(?:万亿|亿|万|千)?"
    r"(?:元|美元|人|吨|斤|公斤)?[、，,]\s*"
)
_PLAN_ONLY = re.compile(r"拟|预期目标|力争|预计安排|计划安排|目标")
# a place of its own before the indicator (「深圳市地区生产总值」「乙县GDP」): a sub-region's figure
_SUB_PLACE = re.compile(r"(?![全我本该])[\u4e00-\u9fff](?:市|县|区|州|盟|旗)(?:的)?$|新区(?:的)?$|园区(?:的)?$")
_SENTENCE = re.compile(r"[^。！？!?；;\n]*[。！？!?；;]?")
_CLAUSE_END = re.compile(r"[，,；;。！？!?]")


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _amount_re(ind: Indicator) -> str:
    units = "|".join(map(re.escape, sorted(ind.units, key=len, reverse=True)))
    return rf"{_NUM}\s*(?:万亿|亿|万|千)?\s*(?:{units})"


def _value_after(ind: Indicator, text: str, pos: int, end: int) -> tuple[str, int, int] | None:
    """The figure (or target words) the indicator named just before `pos` is given: (value as
    written, its start, its end), or None."""
    clause_end = next((c.start() for c in _CLAUSE_END.finditer(text, pos, end)), end)
    tail = text[pos:end]
    words = next((w for w in sorted(ind.words, key=len, reverse=True) if w in text[pos:clause_end]), None)
    if words:  # 「单位国内生产总值能耗和主要污染物排放量继续下降」: the words of a target, in its clause
        at = text.index(words, pos, clause_end)
        return words, at, at + len(words)
    if ind.measure in ("rate", "level"):
        skip = _AMOUNT_FIRST.match(tail) if ind.measure == "rate" else None
        start = skip.end() if skip else 0
        gap = _GAP.match(tail, start)
        g = gap.end() if gap else start
        m = re.compile(_RATE).match(tail, g)
        if m is None and ind.measure == "level" and ind.units:
            m = re.compile(
                rf"(?P<pre>{_QUAL_BEFORE})(?P<num>{_NUM}\s*(?:{'|'.join(map(re.escape, ind.units))}))"
                rf"(?P<post>{_QUAL_AFTER})"
            ).match(tail, g)
        if m is None:
            return None
        # a decline stays one (「CPI微降0.1%」, 「PM2.5浓度下降5%」); a level it fell to is the level
        decline = _DECLINE.search(tail[start:g]) if ind.id in ("cpi", "air_quality") and "%" in m.group(0) else None
        value = (decline.group(0) if decline else "") + m.group(0).strip()
        return value, pos + (start + decline.start() if decline else m.start()), pos + m.end()
    # an amount: the first figure with one of its units, in this clause or the next (「增长7.5%，达到326.4亿元」)
    m = re.compile(rf"(?P<pre>{_QUAL_BEFORE})(?P<num>{_amount_re(ind)})(?P<post>{_QUAL_AFTER})").search(tail)
    if m is None or m.start() > 24 or re.search(r"[；;。]", tail[: m.start()]) or _SPAN_WORDS.search(tail[: m.start()]):
        return None
    if tail[: m.start()].rstrip().endswith("从"):
        return _from_to(ind, text, pos, end)  # 「从82.7万亿元增加到121万亿元」: where it ended
    if re.search(r"\d", tail[: m.start()]) and not re.search(r"\d\s*[%％]", tail[: m.start()]):
        return None  # another figure first: not this indicator's amount
    if re.search(r"[占比]|人均", tail[: m.start()]):
        return None
    return m.group(0).strip(), pos + m.start(), pos + m.end()


def _from_to(ind: Indicator, text: str, pos: int, end: int) -> tuple[str, int, int] | None:
    """「国内生产总值从82.7万亿元增加到121万亿元」「生产总值达到3353.3亿元」: the level a span of years
    ends at (the level of its last year)."""
    amount = _amount_re(ind)
    m = re.compile(
        rf"^[^，,；;。\d]{{0,4}}?(?:从{amount})?(?:增加|提高|增长|提升|扩大|跃升)?(?:到|至)"
        rf"(?P<v>{amount})|^[^，,；;。\d]{{0,4}}?达到(?P<w>{amount})"
    ).match(text[pos:end])
    if m is None:
        return None
    g = "v" if m.group("v") else "w"
    return m.group(g), pos + m.start(g), pos + m.end(g)


def _citation(chunk: Chunk, s: int, e: int) -> dict:
    omap = offset_map(chunk.spans, chunk.text)
    quote = chunk.text[s:e].strip()
    lead = len(chunk.text[s:e]) - len(chunk.text[s:e].lstrip())
    s += lead
    sentence = ContextSentence(1, chunk.id, quote, omap[s], omap[max(s, s + len(quote) - 1)] + 1, 0.0)
    return citation_for(sentence, 1, {chunk.id: chunk}).to_dict()


def _quote_span(text: str, s: int, e: int, name_start: int, value_end: int) -> tuple[int, int]:
    """The sentence when short, else the clauses from the indicator's name to its figure."""
    if e - s <= 80:
        return s, e
    a = max((m.end() for m in _CLAUSE_END.finditer(text, s, name_start)), default=s)
    b = next((m.end() for m in _CLAUSE_END.finditer(text, value_end, e)), e)
    return a, b


def _candidates(chunk: Chunk) -> Iterable[tuple[tuple[int, int], IndicatorRow]]:
    """(rank, row) for every indicator figure of one passage; the lower the rank, the better."""
    year = chunk.year
    if year is None or chunk.kind not in ("body", "bullet"):
        return
    span = "span" in (chunk.flags or [])
    if span:
        kind, period = "result", year - 1
    elif chunk.period == year:
        kind, period = "target", year
    elif chunk.period == year - 1:
        kind, period = "result", year - 1
    else:
        return
    text = to_simplified(chunk.text)
    lead = ""  # a lead-in (「今年主要预期目标是：」) holds for the items after it, up to the end of its sentence
    for s, e in _sentences(text):
        sent = text[s:e]
        colon = re.search(r"[：:]", sent[:60])
        if colon:
            lead = sent[: colon.end()]
        if kind == "target" and _SPAN_WORDS.search(lead or sent[:12]):
            lead = "" if sent.endswith("。") else lead
            continue  # 「“十五五”时期主要目标是：…」: a plan period's targets
        for ind in CATALOG:
            for m in ind.name.finditer(text, s, e):
                clause_start = max((c.end() for c in _CLAUSE_END.finditer(text, s, m.start())), default=s)
                before = text[clause_start : m.start()]
                if (
                    _SUB_PLACE.search(before.rstrip("的"))
                    or re.search(r"人均|占|本级|(?:城镇|农村|乡村|城乡|牧区)[^，,；;。]{0,4}$", before)
                    or re.search(r"[对向][^，,；;。]{1,14}$", before)
                ):
                    continue  # a sub-region's, a per-person or a share figure; trade with some countries
                clause = text[clause_start : next((c.start() for c in _CLAUSE_END.finditer(text, m.end(), e)), e)]
                # in a paragraph about several years, a clause that names the last one is that year's
                one_year = not span or f"{year - 1}年" in text[s : m.start()]
                if not one_year and ind.measure != "amount":
                    continue
                got = _value_after(ind, text, m.end(), e) if one_year else _from_to(ind, text, m.end(), e)
                if got is None:
                    continue
                value, vs, ve = got
                clause = text[clause_start : next((c.start() for c in _CLAUSE_END.finditer(text, ve, e)), e)]
                if one_year and _SPAN_WORDS.search(clause):
                    continue  # an average or a total over years
                if kind == "result" and _PLAN_ONLY.search(lead + clause) and not re.search(r"完成|实现|实际", clause):
                    continue  # a plan told in a review (「今年预期目标…」 quoted back)
                if kind == "target" and re.search(rf"{year - 1}年|去年|上年", text[clause_start : m.start()]):
                    continue  # last year's figure recalled in the plan
                if kind == "target" and _SPAN_WORDS.search(sent):
                    continue  # a sentence about several years is no one year's target
                if kind == "result" and not re.search(r"\d", value) and value != "持平":
                    continue  # a result is a figure (「总体平稳」 is a description)
                qs, qe = _quote_span(text, s, e, m.start(), ve)
                if kind == "target":
                    rank = 0 if re.search(r"主要预期目标|预期目标|主要目标", lead + sent) else 1
                else:
                    rank = 0 if not span else 1 if one_year else 2
                # of two ways to tell air quality, the PM2.5 concentration first
                sub = 1 if ind.id == "air_quality" and "天" in m.group(0) + value else 0
                yield (
                    (rank, sub),
                    IndicatorRow(chunk.doc, chunk.place, year, ind.id, kind, period, value, _citation(chunk, qs, qe)),
                )
        if sent.endswith("。"):
            lead = ""


def extract(chunks: Iterable[Chunk], level: str = "") -> list[IndicatorRow]:
    """Every headline indicator one report states, at most one row per indicator and kind: the
    best-placed statement (a target in the 主要预期目标 list before one in the work plan, a result in
    the review of last year before a level reached at the end of a five-year review), the first
    in the report among equals."""
    best: dict[tuple[str, str], tuple[tuple, IndicatorRow]] = {}
    for order, chunk in enumerate(chunks):
        for rank, row in _candidates(chunk):
            row.level = level
            key = (row.indicator, row.kind)
            if key not in best or (*rank, order) < best[key][0]:
                best[key] = ((*rank, order), row)
    ids = [i.id for i in CATALOG]
    return sorted((r for _, r in best.values()), key=lambda r: (r.kind != "target", ids.index(r.indicator)))
