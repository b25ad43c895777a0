"""Verification: whether a reply says what was asked, checked in code.

Every answer sentence is matched to the context sentences that support it (`check`): each of its
figures must occur in the cited text (after normalisation; 180万 and "1.8 million" count as the same
value), and a sentence without figures needs its key terms there. A figure found in no retrieved
passage makes the whole answer untrustworthy; the caller then retries or falls back to an extractive
answer. A supported reply may still say its figure of something else than was asked: another
indicator, a plan instead of an outcome, several years instead of one (`reject_reason`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.context import Passage
from rag.answer.figures import (
    COUNTER_CHARS,
    YEAR_RE,
    answer_figures,
    asks_quantity,
    clean_num,
    figure_units,
    figures,
    gives_figure,
    in_asked_unit,
    same_counter,
    supported_value,
    values,
)
from rag.chunk.clean import compact, norm
from rag.chunk.quote import ContextSentence
from rag.search.plan import NEGATION_RE, asks_yes_no, indicator_of, states_plan, wants_actual
from rag.search.query import QueryAnalysis
from rag.search.text import tokenize
from rag.search.words import ANSWER_FILLER, MEASURE_WORDS

_EN_SENT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


@dataclass
class Verdict:
    ok: bool
    sentences: list[tuple[str, list[ContextSentence]]] = field(default_factory=list)
    unsupported_figures: list[str] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)


# Indicators told apart by one word: a figure said of one does not answer a question about the other
# (「一般公共预算收入增长多少」 is not answered by 「一般公共预算支出增长31.3%」).
_CONTRASTS = (
    ("收入", "支出"),
    ("出口", "进口"),
    ("城镇", "农村"),
    ("城镇", "乡村"),
    ("中央", "地方"),
    ("调查", "登记"),
)
# An average over years: 「年均增长6.3%」; not 「年均浓度」 (an indicator's own name: the year's average).
_AVERAGE = re.compile(r"年均(?:增长|增速|增幅|下降|降低|提高|递增|新增)|平均每年|每年平均|平均增长")
_SPAN = re.compile(r"[“\"]?十[一二三四五六七八九]五|五年|期间|时期|以来|累计")
_TOTAL = re.compile(r"累计|五年来|五年间|五年共")
_SPAN_OPENER = re.compile(r"\s*(?:过去五年|五年来|这五年|[“\"]?十[一二三四五六七八九]五[”\"]?(?:时期|期间|以来))")


def misattributed(question: str, answer_sentence: str, support: str, one_year: bool = False) -> bool:
    """Whether every clause of `support` that holds the answer's figures says them of something other
    than what the question asks: the contrasting indicator (收入/支出, 出口/进口, 城镇/农村, 调查/登记失业率 …), or,
    for a question about one year (`one_year`), an average or a total over several years (年均增长6.3%,
    累计新增…, a sentence that opens 「过去五年，…」)."""
    q = norm(question)
    figs = [f for f, _ in answer_figures(re.sub(r"(?:19|20)\d{2}\s*年|\[\d+\]", " ", answer_sentence))]
    clauses = [c for c in re.split(r"[，,；;。：:]", norm(support)) if any(f in clean_num(c) for f in figs)]
    if not figs or not clauses:
        return False
    for a, b in _CONTRASTS:
        for asked, other in ((a, b), (b, a)):
            if asked in q and other not in q and all(other in c and asked not in c for c in clauses):
                return True
    if not one_year or _AVERAGE.search(q) or _SPAN.search(q):
        return False
    # an average over years, a total over years (「累计」), or a sentence about a span of years
    # (「过去五年，…」「“十四五”时期，…」) is no one year's figure
    opens_span = bool(_SPAN_OPENER.match(norm(support)))
    return all(_AVERAGE.search(c) or _TOTAL.search(c) or opens_span for c in clauses)


# Words before an attribute that are not its subject: 「全年增长5%」「同比增长」「年均增长」.
_NO_SUBJECT = re.compile(
    r"全年|当年|年均|同比|环比|分别|累计|实际|预计|力争|共计|总计|共|比上年|较上年|比去年|实现|完成|达到|"
    r"[\d.%％]+|[“”\"（）()\s]"
)


def said_of(sentence: str, attr: str, terms: set[str]) -> bool:
    """Whether a clause of `sentence` that gives a figure with `attr` (「增长」「总投资」) says it of
    one of `terms`: in the clause itself or in the clauses before it back to the previous clause
    with a figure, whose subject it shares (「收入达到280.7亿元，比上年增长1.5倍」: the growth is the
    revenue's, not the output's named earlier in the sentence)."""
    clauses = [c for c in re.split(r"[，,；;。：:]", norm(sentence)) if c.strip()]
    for i, c in enumerate(clauses):
        if attr not in c or not re.search(r"\d", c):
            continue
        span, j = c, i
        # a clause that names its own subject before the attribute (「粮食产量增长5%」) is about it alone
        before = _NO_SUBJECT.sub("", c[: c.find(attr)])
        own = not re.match(r"\s*(?:比|较|与|同)", c[: c.find(attr)]) and re.search(r"[\u4e00-\u9fff]{2}", before)
        while j > 0 and not own and not any(t in span for t in terms):
            j -= 1
            span = clauses[j] + span
            if re.search(r"\d", clauses[j]):
                break
        if any(t in span for t in terms):
            return True
    return False


# What may stand between a figure and its subject without being a subject: measure verbs and hedges.
_MEASURE_WORDS = re.compile(
    r"增长|增速|增幅|下降|降低|降幅|提高|提升|上涨|涨幅|增加|减少|达到|达|为|是|实现|突破|超过|约|近|"
    r"控制在|保持在|稳定在|分别"
)


def said_of_other(terms: set[str], answer_sentence: str, support: str) -> bool:
    """Whether every clause of `support` that holds the answer's figures names a subject of its own
    and none of the asked indicator's `terms`: 「实际使用外资增长19.9%」 does not answer how much
    地区生产总值 grew, though the two share a sentence. False when there is no such clause, or no
    term to tell by."""
    if not terms:
        return False
    figs = [f for f, _ in answer_figures(re.sub(r"(?:19|20)\d{2}\s*年|\[\d+\]", " ", answer_sentence))]
    clauses = [c for c in re.split(r"[，,；;。：:]", norm(support)) if any(f in clean_num(c) for f in figs)]
    if not figs or not clauses:
        return False
    low = [c.lower() for c in clauses]
    if any(t in c for t in terms for c in low):
        return False
    # a paraphrase (「外调绿电」 for 绿色电力) shares characters if not words
    chars = {ch for t in terms for ch in t if "\u4e00" <= ch <= "\u9fff"}
    if any(len(chars & set(c)) >= 2 for c in clauses):
        return False
    for c in clauses:
        at = min((c.find(f) for f in figs if f in clean_num(c) and c.find(f) >= 0), default=len(c))
        subject = _MEASURE_WORDS.sub("", _NO_SUBJECT.sub("", c[:at]))
        # 「建成4个省级乡村e镇」: what is counted is named after the figure and its counter
        counted = re.sub(rf"^[\d.,%％]+\s*(?:万亿|亿|万|千)?\s*[{COUNTER_CHARS}]?", "", c[at:])
        if (
            len(re.findall(r"[\u4e00-\u9fff]", subject)) < 3
            and len(re.findall(r"[\u4e00-\u9fff]", _MEASURE_WORDS.sub("", counted))) < 3
        ):
            return False  # 「增长5.3%」: the subject is said before, in a clause of its own
    return True


def split_answer(answer: str) -> list[str]:
    """Answer sentences (Chinese 。！？, English sentence ends, line breaks)."""
    parts: list[str] = []
    for line in answer.splitlines():
        for chunk in re.findall(r"[^。！？!?]+[。！？!?]?", line):
            parts.extend(s for s in _EN_SENT_RE.split(chunk) if s.strip())
    return [p.strip() for p in parts if p.strip() and re.search(r"\w", p)]


def check(
    answer: str,
    passages: list[Passage],
    question: str = "",
    topic: set[str] | None = None,
    allowed: set[str] | None = None,
    on_topic: set[str] | None = None,
) -> Verdict:
    """Match every answer sentence to supporting context sentences; collect what is unsupported.

    `topic`: the question's key terms; a figure only counts as supported by a sentence that also
    names the topic (「3%左右」 of the budget revenue is not the unemployment rate). `allowed`: chunk
    ids whose place and year fit the question; a figure from another city or year is unsupported.
    `on_topic`: chunk ids whose paragraph is about the question's topic; a figure counts only there."""
    cands = [s for p in passages for s in p.sentences if allowed is None or s.chunk_id in allowed]
    q_terms = set(tokenize(norm(question)))
    q_figs = set(figures(question))
    labels = " ".join(p.label for p in passages)
    verdict = Verdict(ok=True)
    cand_figs = [set(figures(c.text)) for c in cands]
    cand_units = [figure_units(c.text) for c in cands]
    cand_vals = [values(c.text) for c in cands]
    cand_terms = [set(tokenize(norm(c.text))) for c in cands]
    yes_no = asks_yes_no(question)
    # a sentence with the label of its passage (place, year, section): 「根据“…高光时刻”，…是否…」
    cand_context = (
        [
            set(tokenize(norm(f"{p.label} {s.text}")))
            for p in passages
            for s in p.sentences
            if allowed is None or s.chunk_id in allowed
        ]
        if yes_no
        else []
    )
    key_terms = {t for t in (topic or q_terms) if len(t) > 1 and t not in ANSWER_FILLER}
    for sent in split_answer(answer):
        sent_terms = set(tokenize(norm(sent)))
        figs: list[str] = []
        support: list[ContextSentence] = []
        missing: list[str] = []
        sent_units = figure_units(sent)
        for f, mult in answer_figures(sent):
            if YEAR_RE.match(f) and (f in q_figs or f in labels) and not mult:
                continue
            figs.append(f)
            unit = {u for u in sent_units.get(f, set()) if u}
            if mult:
                # a magnitude word makes it a value: 2.33亿 is 233 million, never 2.33 billion
                target = float(f) * mult
                hits = [
                    i
                    for i, cv in enumerate(cand_vals)
                    if supported_value(target, cv)
                    and (
                        not unit
                        or f not in cand_units[i]
                        or same_counter(unit, cand_units[i][f])
                        or cand_units[i][f] == {""}
                    )
                ]
            else:
                # the figure must occur with the same counter (5.3万人 is not 5.3万个) ...
                hits = [
                    i
                    for i, cf in enumerate(cand_figs)
                    if f in cf
                    and (not unit or same_counter(unit, cand_units[i].get(f, set())) or cand_units[i].get(f) == {""})
                ]
                if not hits:  # ... or be the same value written another way (10,000 for 1万)
                    hits = [i for i, cv in enumerate(cand_vals) if float(f) >= 1000 and supported_value(float(f), cv)]
            if topic:
                hits = [i for i in hits if cand_terms[i] & topic]
            if on_topic is not None:
                hits = [i for i in hits if cands[i].chunk_id in on_topic]
            if not hits and f in q_figs:
                continue  # the user's own figure, repeated
            if not hits:
                missing.append(f + (f"×{mult:g}" if mult else ""))
                continue
            best = max(hits, key=lambda i: len(cand_terms[i] & sent_terms))
            if cands[best] not in support:
                support.append(cands[best])
        if not figs:
            # no figure: the sentence must add something, and what it adds must be in the passages
            new_terms = {t for t in sent_terms if t not in ANSWER_FILLER and t not in q_terms and len(t) > 1}
            scored = sorted(((len(new_terms & ct), i) for i, ct in enumerate(cand_terms)), reverse=True)
            if new_terms and scored and scored[0][0] >= max(1, round(0.6 * len(new_terms))):
                support.append(cands[scored[0][1]])
            elif new_terms and (by_chars := _by_characters(new_terms, cands)) is not None:
                support.append(by_chars)
            elif not new_terms and yes_no and (saying := _says_what_is_asked(sent, key_terms, cands, cand_context)):
                support.append(saying)
        if missing:
            verdict.ok = False
            verdict.unsupported_figures.extend(missing)
        if not support:
            verdict.unsupported_sentences.append(sent)
        verdict.sentences.append((sent, support))
    if not verdict.sentences:
        verdict.ok = False
    return verdict


def _by_characters(terms: set[str], cands: list[ContextSentence]) -> ContextSentence | None:
    """The sentence holding most of the character pairs of what an answer adds, when word
    splitting differs between answer and passage (「张雨浦作的」 splits as 张雨浦作, the passage's
    「主席 张雨浦」 as 张雨浦): at least 60 % of the pairs, two at the least."""
    pairs = {
        t[i : i + 2] for t in terms for i in range(len(t) - 1) if re.fullmatch(r"[\u4e00-\u9fff]{2}", t[i : i + 2])
    }
    if len(pairs) < 2 or not cands:
        return None
    found, i = max((sum(p in compact(c.text) for p in pairs), i) for i, c in enumerate(cands))
    return cands[i] if found >= max(2, round(0.6 * len(pairs))) else None


def _says_what_is_asked(
    sent: str, key_terms: set[str], cands: list[ContextSentence], cand_terms: list[set[str]]
) -> ContextSentence | None:
    """For a yes/no question answered by 「是」 or by restating the question (「甲市的债务继续下降」):
    the passage sentence that says what the question asks (most of its key terms, in the sentence
    or in its passage's label), unless that
    sentence denies it while the answer does not (「没有提出…目标」 does not support a yes)."""
    if not key_terms or not cands:
        return None
    overlap, i = max((len(key_terms & ct), i) for i, ct in enumerate(cand_terms))
    if overlap < max(2, round(0.6 * len(key_terms))):
        return None
    if NEGATION_RE.search(norm(cands[i].text)) and not NEGATION_RE.search(norm(sent)):
        return None
    return cands[i]


def asks_one_year(q: QueryAnalysis) -> bool:
    """Whether a (Chinese) question asks about a single year (「2020年」「去年」), not a span of years."""
    return not q.english and (len(q.years) == 1 or not q.years and len(q.relative) == 1)


def spelled_out(plan: QueryAnalysis) -> set[str]:
    """The tokens of the terms a question's acronyms stand for (a passage naming 地区生产总值 is on
    the topic of a question about GDP)."""
    return {t for terms in plan.synonyms.values() for term in terms for t in tokenize(term) if len(t) > 1}


def retry_can_mend(verdict: Verdict, passages: list[Passage], allowed: set[str]) -> bool:
    """A stricter prompt mends a figure the model made up or took from a passage that does not fit;
    it cannot mend passages none of which fits the question (the answer is not there)."""
    return bool(verdict.unsupported_figures) and any(p.chunk_id in allowed for p in passages)


def reject_reason(plan: QueryAnalysis, ask: str, reply: str, verdict: Verdict, single: bool) -> str | None:
    """Why a verified reply does not answer what was asked, or None when it does: a figure when the
    question asks how much, an outcome when it asks for one, the indicator asked (not its contrast),
    one year's figure (not a several years' average). `single`: the question is asked in one part
    (its plan says whether it wants an outcome); else `ask` is one part of it."""
    outcome = (plan.wants_actual if single else wants_actual(ask)) or plan.attribute == "result"
    terms = indicator_terms(plan)
    if asks_quantity(ask) and not gives_figure(reply):
        return "the passages give no figure for what the question asks how much of"
    if not plan.english and not plan.yes_no and not in_asked_unit(ask, reply):
        return "the passages give no figure in the unit the question asks for"
    if outcome and any(sup and all(states_plan(c.lead + c.text) for c in sup) for _, sup in verdict.sentences):
        return "the passages give a planned figure; the question asks for an outcome"
    if not plan.yes_no and any(
        sup
        and all(
            misattributed(ask, sent, c.text, asks_one_year(plan)) or said_of_other(terms, sent, c.text) for c in sup
        )
        for sent, sup in verdict.sentences
    ):
        # (a yes/no question is exempt: 「有没有设定调查失业率目标？」 of 「登记失业率4.5%以内」 is settled no)
        return "the passages give the figure for another indicator or for a span of years"
    return None


def indicator_terms(plan: QueryAnalysis) -> set[str]:
    """The words that name what a question asks about (「城镇新增就业」 → 城镇, 新增, 就业), with the
    terms its acronyms and everyday words stand for; measure words (增长, 目标) tell nothing apart."""
    if plan.english:  # its words are English; their translations are too uncertain to tell by
        return set()
    stem = indicator_of(plan.content)
    words = {t for t in tokenize(stem) if len(t) > 1 and t not in MEASURE_WORDS}
    for w in list(words):
        words.update(x.lower() for x in plan.synonyms.get(w, ()))
    return words


def denies(reply: str) -> bool:
    """Whether a reply to a yes/no question says no."""
    return bool(re.match(r"\s*(?:否|不是|不|没有|沒有|未|并未|尚未)", reply))
