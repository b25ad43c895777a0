"""Query analysis: a question is read once into what it asks about and which report it means.

Every later stage uses the same reading: retrieval (steering by place and year, BM25 terms), the
refusal gate (a place the reports do not cover, a year no passage is about), the citation checks
(which passages fit the question) and follow-up rewriting in chat.

Words that only identify the report — its place, its year, 「政府工作报告」, 「报告提出」 — choose the
report; they are not content terms. Relative years (今年, 去年) are resolved against each candidate
report's own year: 「甲市去年新增就业多少」 asks the 甲市 report about the year it reviews.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from rag.chunk.clean import norm
from rag.search.parts import parallel_split, split_parts, target_and_result, year_spans
from rag.search.places import Places, short_place
from rag.search.plan import (
    asked_figure,
    asks_yes_no,
    attribute_of,
    compare_words,
    completion_test,
    indicator_of,
    measure_of,
    plan_period,
    relation_of,
    wants_actual,
    without_asked_figure,
)
from rag.search.question import (
    _ACRONYM,
    _EACH_OR_VERSUS,
    _EN_LAST,
    _EN_THIS,
    _LAST,
    _META_Q,
    _NEXT,
    _RELATIVE_WITH_YEAR,
    _SPAN_WORDS,
    _THIS,
    _YEAR_WORDS,
    MEETING_REF_RE,
    REPORT_WORDS_RE,
    REPORT_YEAR_RE,
    QueryAnalysis,
    Report,
    is_english,
)
from rag.search.text import tokenize


class Analyzer:
    """Built once per index from the documents' metadata; `analyse` is cheap per question."""

    def __init__(self, reports: Iterable[Report], translator=None, vocabulary: Mapping[str, float] | None = None):
        self.reports = list(reports)
        self._year_of = {r.doc: r.year for r in self.reports}  # a library of 10^4 reports: no scan per document
        self.translator = translator
        self.vocabulary = vocabulary or {}
        self.places = Places([r.place for r in self.reports], translator)
        self.aliases = self.places.aliases  # alias → canonical place
        self.other_names = other_names(translator)

    def find_places(self, text: str, question: str) -> set[str]:
        return self.places.find(text, question)

    def unknown_places(self, text: str) -> list[str]:
        return self.places.unknown(text)

    def place_spans(self, q: QueryAnalysis) -> list[tuple[tuple[int, int], str]]:
        return self.places.spans(q.text, q.places, q.unknown_places)

    # --- the whole reading -----------------------------------------------------------------------
    def analyse(self, question: str, scope: frozenset[str] | None = None) -> QueryAnalysis:
        """The plan of a question: what it asks, of which reports (within `scope`, the report ids
        the user's scope admits), in parts when it asks several things."""
        q = self._read(question, scope)
        if q.english:
            q.parts = [question]
        else:
            q.parts, follow_ups = self._split(q)
            q.part_plans = (
                [self._part(q, p, i in follow_ups) for i, p in enumerate(q.parts)] if len(q.parts) > 1 else []
            )
        q.wants_actual = len(q.parts) == 1 and wants_actual(q.text if not q.english else question)
        q.part_contents = [p.content for p in q.part_plans] or [q.content]
        return q

    def _read(self, question: str, scope: frozenset[str] | None, whole: QueryAnalysis | None = None) -> QueryAnalysis:
        """One question (or part) read on its own: places, years, the reports it picks, its content
        words and what it asks of its figure. A part (`whole` given) keeps the question's places and
        years when it names none of its own."""
        text = norm(question)
        english = is_english(question)
        q = QueryAnalysis(question=question, text=text, english=english, scope=scope)
        q.places = self.find_places(text, question)
        if not english:
            q.unknown_places = [p for p in self.unknown_places(text) if p not in q.places]
        rest = text
        asks_where = bool(re.search(r"哪|什么|何", text))
        if not asks_where and (m := MEETING_REF_RE.search(text)) and m.group(1):
            q.report_year = int(m.group(1))
            rest = text.replace(m.group(0), " ")
        elif m := REPORT_YEAR_RE.search(text):
            q.report_year = int(m.group(1))
            rest = REPORT_YEAR_RE.sub(lambda m: m.group(0)[len(m.group(1)) + 1 :], text)
        q.years = {int(y) for y in re.findall(r"(20\d{2})\s*年", rest)}
        if english:
            q.years |= {int(y) for y in re.findall(r"\b(20\d{2})\b", question)}
            if q.report_year is None and (
                m := re.search(r"\b(20\d{2})\b[^.?]{0,30}\breport\b|\breport\b[^.?]{0,12}\b(20\d{2})\b", question, re.I)
            ):
                q.report_year = int(m.group(1) or m.group(2))
                q.years.discard(q.report_year)
        if any(w in text for w in _THIS) or _EN_THIS.search(question):
            q.relative.add("this")
        if any(w in text for w in _LAST) or _EN_LAST.search(question):
            q.relative.add("last")
        if any(w in text for w in _NEXT):
            q.relative.add("next")
        if q.years and q.relative and _RELATIVE_WITH_YEAR.search(text):
            q.relative = set()  # 「今年（2026年）」: the year says it
        if whole is not None:
            if not q.places and not q.unknown_places:
                q.places, q.unknown_places = set(whole.places), list(whole.unknown_places)
            if not (q.years or q.relative or plan_period(text) or _SPAN_WORDS.search(text)):
                # 「2026年报告说实际增长了多少？」 names its report, not the year it asks about
                q.years, q.relative = set(whole.years), set(whole.relative)
                q.report_year = q.report_year or whole.report_year
        q.asks_meta = bool(_META_Q.search(text) or _META_Q.search(question))
        q.attribute = attribute_of(text if not english else question)
        q.measure = measure_of(text if not english else question)
        q.yes_no = asks_yes_no(text if not english else question)
        if q.relative and not q.years and q.report_year is None:
            self._series_years(q)
        if q.yes_no and not english and (a := asked_figure(text)) is not None:
            q.asked = (a[0], a[1])
            if a[0] != "eq" or re.search(r"左右|以上|以内|以下", a[1]):
                # the model is asked for the figure; how it stands to the one asked is computed
                q.ask = without_asked_figure(text)
                if a[0] != "eq" and q.attribute is None and re.search(r"了吗|了没有|已经|是否已", text):
                    q.attribute = "result"
        q.ask = q.ask or question
        q.relation = relation_of(text if not english else question)
        q.docs = self.pick_docs(q)
        if (
            q.attribute is None
            and q.years
            and q.docs
            and all((y := self.report_year_of(d)) is not None and y - 1 in q.years and y not in q.years for d in q.docs)
        ):
            q.attribute = "result"  # 「甲省2025年的X」 read in the report that reviews 2025: what was done
        # a yes/no question about a figure is looked for as the question for the figure it is
        q.content = self.content_text(q if q.ask == question else replace(q, text=norm(q.ask)))
        if english and self.translator is not None:
            q.english_terms = self.translator.terms(question, self.vocabulary, places=False)
        elif self.translator is not None:
            # 「GDP增长目标」: reports write 地区生产总值; the acronym stands for the terms it translates to
            for word in dict.fromkeys(_ACRONYM.findall(question)):
                terms = [
                    t for t in self.translator.terms(word, self.vocabulary, places=False) if t.lower() != word.lower()
                ]
                if terms:
                    q.synonyms[word.lower()] = _common_core(terms)
        if not english:
            # and the other way round (「居民消费价格」 of 「CPI微降0.1%」), and the words people use for
            # a report's terms (「经济增速」 for 地区生产总值增长)
            for phrase, others in self.other_names.items():
                if phrase in text:
                    for token in tokenize(phrase):
                        q.synonyms.setdefault(token, [])
                        q.synonyms[token] += [o for o in others if o not in q.synonyms[token]]
        return q

    def _series_years(self, q: QueryAnalysis) -> None:
        """「甲省去年…」 over a series of 甲省's reports means the year before its latest report: the
        relative year becomes that year, so a target is looked for in the report of that year and
        a result in the next one (a place with one report keeps 今年/去年 relative to it)."""
        years = [
            r.year for r in self.reports if r.place in q.places and r.year and (q.scope is None or r.doc in q.scope)
        ]
        if not q.places or len(set(years)) < 2:
            return
        latest = max(years)
        offsets = {"this": 0, "last": -1, "next": 1}
        if q.relative == {"last"} and q.attribute is None:
            q.attribute = "result"  # 「去年新增就业多少」 asks what was done
        q.years, q.relative = {latest + offsets[r] for r in q.relative}, set()

    def _split(self, q: QueryAnalysis) -> tuple[list[str], list[int]]:
        """The parts of a (Chinese) question and which of them are follow-ups (its comparison words
        and relation are set on `q`): one part per place or per year when it asks the same of
        several, the target and the result when it asks for both or whether a target was met, else
        the questions it asks one after the other (`split_parts`)."""
        places = self.place_spans(q)
        if len(places) >= 2:
            spans = [s for s, _ in places]
            if q.relation or _adjacent(q.text, spans):
                if q.relation == "target_vs_actual":  # two places: one's plan beside the other's result
                    q.relation = "compare" if _EACH_OR_VERSUS.search(q.text) is None else "each"
                q.compare = compare_words(q.text) if q.relation == "compare" else None
                return parallel_split(q.text, spans)
        years = sorted(q.years | ({q.report_year} if q.report_year else set()))
        spans = year_spans(q.text, years)
        if (
            len(spans) >= 2
            and len(re.findall(r"[？?]", q.text)) <= 1
            and (q.relation in ("compare", "change") or q.relation == "each" and _adjacent(q.text, spans))
        ):
            q.compare = compare_words(q.text) if q.relation == "compare" else None
            return parallel_split(q.text, spans)
        if pair := target_and_result(q.text):
            q.relation = "target_vs_actual"
            if q.yes_no:
                q.asked = (completion_test(q.text), q.asked[1] if q.asked else "")
            return pair, []
        parts, q.compare, follow_ups = split_parts(q.question)
        if len(parts) < 2:
            q.relation = ""
            return parts, []
        if q.compare:
            q.relation = "compare"
        elif q.relation not in ("target_vs_actual", "change", "compare", "each"):
            q.relation = ""
        return parts, follow_ups

    def _part(self, q: QueryAnalysis, text: str, follow_up: bool) -> QueryAnalysis:
        """One part's own plan: read on its own, with the question's places and years where it
        names none; a follow-up is looked for with the first part's words too (「…？其中2025年是
        多少？」 leaves out the indicator the first part names)."""
        p = self._read(text, q.scope, whole=q)
        p.follow_up = follow_up
        p.synonyms = {**q.synonyms, **p.synonyms}  # 「GDP增长目标是多少？实际增长多少？」: the second part's too
        if follow_up:
            stem = indicator_of(self.content_text(self._read(q.parts[0], q.scope, whole=q)))
            own = p.content
            p.content = f"{stem} {own}".strip()
            if stem and stem not in p.ask:
                # asked alone, 「实际增长了多少？」 says nothing of what, where or when: it is asked as
                # 「甲省2025年地区生产总值实际增长了多少？」 (「参赛人数累计多少？」 names its own what)
                rest = re.sub(r"[（(]\s*[）)]", "", _YEAR_WORDS.sub("", own)).strip(" ，,的")
                if len(re.findall(r"[\u4e00-\u9fff]", indicator_of(rest))) >= 5:
                    stem = ""
                if re.search(r"增长|增速|下降|上涨|提高", rest):
                    stem = re.sub(r"(?:增长|增速|增幅|下降|上涨|提高)$", "", stem) or stem
                place = next(
                    (a for a in sorted(self.aliases, key=len) if self.aliases[a] in p.places and a in q.text), ""
                )
                when = f"{next(iter(p.years))}年" if len(p.years) == 1 else ""
                p.ask = f"{place}{when}{stem}{rest}"
        p.parts = [text]
        return p

    def report_year_of(self, doc: str) -> int | None:
        return self._year_of.get(doc)

    def pick_docs(self, q: QueryAnalysis) -> set[str]:
        """The reports a question names by place and/or report year (empty: it names none), within
        its scope.

        A year asked without a report (「甲省2025年…」) fits the report of that year and the next one
        (which reviews it); asking for a target picks the first, asking for a result the second. A
        relative year (今年, 去年) of a place with reports of several years means its latest report."""
        reports = [r for r in self.reports if q.scope is None or r.doc in q.scope]
        cands = [r for r in reports if not q.places or r.place in q.places]
        if q.report_year is not None:
            by_year = [r for r in cands if r.year == q.report_year]
            if by_year:
                cands = by_year
        elif q.years and not q.relative and q.places:
            fit = [r for r in cands if r.year in q.years or (r.year and r.year - 1 in q.years)]
            if not fit and cands and len(q.places) == 1 and all(r.year for r in cands):
                # neither the report of that year nor the next one (which reviews it)
                q.lacking = f"{short_place(next(iter(q.places)))}{min(q.years)}年"
            if q.attribute == "target":
                fit = [r for r in fit if r.year in q.years] or fit
            else:  # a result, or a figure of a year asked with no word of a target: what was done
                fit = [r for r in fit if r.year and r.year - 1 in q.years] or fit
            cands = fit or cands
        elif (plan := plan_period(q.text)) and q.places and not q.years:
            # 「“十四五”时期…」: its targets are set in the report of its first year, its results told
            # in the report after its last
            start, end = plan
            fit = [r for r in cands if r.year == (start if q.attribute == "target" else end + 1)]
            cands = fit or cands
        elif q.relative and not q.years and q.places:
            latest: dict[str, Report] = {}
            for r in cands:
                if r.year and (r.place not in latest or r.year > (latest[r.place].year or 0)):
                    latest[r.place] = r
            cands = [r for r in cands if not r.year or latest.get(r.place) is r]
        if not q.places and q.report_year is None:
            # no place: a year asked for its result still points at the reports that review it
            if q.years and not q.relative and q.attribute in ("target", "result"):
                shift = 0 if q.attribute == "target" else 1
                return {r.doc for r in reports if r.year and r.year - shift in q.years}
            return set()
        return {r.doc for r in cands}

    def content_text(self, q: QueryAnalysis) -> str:
        """The question without its report-identifying words (place, report year, 「政府工作报告」)."""
        t = q.text if q.asks_meta else MEETING_REF_RE.sub(" ", q.text)
        if q.report_year is not None:
            t = re.sub(rf"{q.report_year}\s*年(?:的|度)?", "", t, count=1)
        for alias in sorted(self.aliases, key=len, reverse=True):
            if self.aliases[alias] in q.places:
                t = t.replace(alias, " ")
        t = REPORT_WORDS_RE.sub(" ", t)
        t = re.sub(r"^\s*(?:根据|按照|在|据)\s*", "", t)
        t = re.sub(r"\s+", " ", t).strip(" ，,、的")
        return t or q.text


# Two places or years linked as the things a question asks of: 「甲市和乙县」「2025年与2026年」.
_LINKED = r"(?:和|与|及|、|同|跟|比|较|以及|对比|到|至)"


# Acronyms reports print beside or instead of their Chinese terms, and the everyday words people ask
# with for a report's term: each phrase of a question also finds these.
ACRONYMS = ("GDP", "CPI", "PPI", "PM2.5", "R&D")
EVERYDAY_WORDS = {
    "经济增速": ["生产总值"],
    "经济增长": ["生产总值"],
    "经济总量": ["生产总值"],
    "增速": ["增长"],
    "物价": ["居民消费价格"],
    "财政收入": ["一般公共预算收入"],
    "就业人数": ["就业"],
}


def with_everyday_words(synonyms: dict[str, list[str]]) -> dict[str, list[str]]:
    """A plan's synonyms with the everyday words for what each stands for (「经济增速」 for the GDP's
    生产总值, 「物价」 for 居民消费价格): 「没有提出全年经济增速具体目标」 says no to whether a GDP target
    was set. For recognising what a sentence says, not for searching (they would find too much)."""
    out = {k: list(v) for k, v in synonyms.items()}
    for key, terms in synonyms.items():
        out[key] += [
            p
            for p, others in EVERYDAY_WORDS.items()
            if p not in out[key] and any(o in t for o in others for t in terms)
        ]
    return out


def other_names(translator) -> dict[str, list[str]]:
    """Chinese phrase → the other names reports give it: each common acronym's Chinese terms
    (from the dictionary) → the acronym, and `EVERYDAY_WORDS`."""
    out: dict[str, list[str]] = {k: list(v) for k, v in EVERYDAY_WORDS.items()}
    for acronym in ACRONYMS if translator is not None else ():
        for term in translator.terms(acronym, {}, places=False):
            if term.lower() != acronym.lower() and len(term) >= 4:
                out.setdefault(term, []).append(acronym.lower())
    return out


def _common_core(terms: list[str]) -> list[str]:
    """The part every spelling of a term shares, when it is a word of its own (地区生产总值,
    国内生产总值 → 生产总值; 居民消费价格, 居民消费价格指数 → 居民消费价格): it finds each of them,
    where searching for all of them would also find 国内 and 地区 everywhere."""
    first = min(terms, key=len)
    for size in range(len(first), 2, -1):
        for start in range(len(first) - size + 1):
            core = first[start : start + size]
            if all(core in t for t in terms):
                return [core]
    return terms


def _adjacent(text: str, spans: list[tuple[int, int]]) -> bool:
    """Whether the first two mentions are next to each other, linked by a word (「甲市和乙县」)."""
    return bool(re.fullmatch(rf"\s*(?:从)?{_LINKED}\s*", text[spans[0][1] : spans[1][0]]))
