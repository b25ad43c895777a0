"""What a question asks, as read once: its years (explicit, relative, the report's own), the places
and reports it names, its content terms and its plan, held in a `QueryAnalysis` (built by
`rag.search.query.Analyzer`), with the patterns that find them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.chunk.clean import norm

REPORT_YEAR_RE = re.compile(r"(20\d{2})\s*年(?:的|度)?\s*(?:[\u4e00-\u9fff]{0,10}?)(?:政府工作报告|工作报告|报告)")
# 「2020年5月在甲市人大三次会议上所作的（报告）」: the meeting names the report, and its year is the report's.
MEETING_REF_RE = re.compile(
    r"(?:(20\d{2})\s*年(?:\d{1,2}\s*月)?)?\s*在[^，,。？?]{2,30}?(?:会议|大会)上(?:所作|作)?的?"
)
REPORT_WORDS_RE = re.compile(r"(?:的)?(?:政府工作报告|工作报告|报告)(?:中|里|上|说|提出|提到|指出|显示|表示|称)?")
_THIS = ("今年", "本年", "年内", "当年")
_EACH_OR_VERSUS = re.compile(r"分别|各自|各(?=[是为有])")
_SPAN_WORDS = re.compile(r"过去五年|五年来|这五年|近五年|五年间|五年累计")  # a part about several years
_YEAR_WORDS = re.compile(r"(?:19|20)\d{2}\s*年(?:度|底|末)?|今年|去年|上年|明年|本年")  # one year's words
_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z][A-Z0-9]*(?:\.\d+)?(?![A-Za-z])")  # GDP, CPI, PM2.5 in a Chinese question
_RELATIVE_WITH_YEAR = re.compile(
    r"(?:今年|去年|明年|本年|当年)\s*[（(]?\s*20\d{2}\s*年|20\d{2}\s*年\s*[（(]\s*(?:今年|去年|明年)"
)
_LAST = ("去年", "上年", "上一年", "过去一年", "前一年")
_NEXT = ("明年",)
# Time words as a follow-up may swap them (「去年呢？」), each with the word that replaces it.
TIME_WORDS = {
    "今年": "今年",
    "本年": "今年",
    "去年": "去年",
    "上年": "去年",
    "明年": "明年",
    "this year": "今年",
    "last year": "去年",
}
_EN_THIS = re.compile(r"\bthis year\b|\bcurrent year\b", re.I)
_EN_LAST = re.compile(r"\blast year\b|\bprevious year\b|\bpast year\b", re.I)
_META_Q = re.compile(
    r"谁|哪位|何人|什么人|什么时候|何时|哪天|哪一天|几月几日|哪次会议|什么会议|哪个会议|作报告的|"
    r"\bwho\b|\bwhen\b|which (?:meeting|session|congress)|delivered|\bgave\b",
    re.I,
)


@dataclass
class Report:
    """What analysis needs to know of one indexed document."""

    doc: str
    place: str
    level: str
    year: int | None


@dataclass
class QueryAnalysis:
    question: str  # as asked
    text: str  # normalised (NFKC, Simplified)
    english: bool
    places: set[str] = field(default_factory=set)  # corpus places the question names (canonical form)
    unknown_places: list[str] = field(default_factory=list)  # place names the corpus has no report for
    years: set[int] = field(default_factory=set)  # explicit years asked about (not the report's year)
    report_year: int | None = None  # the year of the report the question names (「2024年政府工作报告」)
    relative: set[str] = field(default_factory=set)  # "this" | "last" | "next"
    docs: set[str] = field(default_factory=set)  # reports the question picks (empty: any)
    content: str = ""  # the question without the words that only identify the report
    english_terms: list[str] = field(default_factory=list)  # Chinese terms for its English words
    asks_meta: bool = False  # asks who gave the report, when or at which meeting
    parts: list[str] = field(default_factory=list)  # the questions it asks, in order (see `split_parts`)
    part_contents: list[str] = field(default_factory=list)  # each part without its report words
    compare: tuple[str, str] | None = None  # ("高", "低") when it asks which of two figures is higher
    wants_actual: bool = False  # asks for an outcome (实际…), so a planned figure does not answer it
    # --- the plan (see `rag.search.plan`) ---
    attribute: str | None = None  # "target" (a goal set for the year) | "result" (what was achieved) | None
    measure: str | None = None  # "growth" | "amount" | "rank" | None: what kind of figure it asks for
    yes_no: bool = False  # answered by yes or no
    asked: tuple[str, str] | None = None  # a yes/no question's own figure and how to compare: ("gt", "5%")
    relation: str = ""  # how the parts' answers relate: compare | change | target_vs_actual | each | ""
    ask: str = ""  # what the model is asked (a yes/no question about a figure asks for the figure)
    part_plans: list[QueryAnalysis] = field(default_factory=list)  # each part's own reading (several parts)
    follow_up: bool = False  # a part that leaves out what the first part names (「今年的目标又是多少？」)
    scope: frozenset[str] | None = None  # the reports the user's scope admits (None: every report)
    lacking: str = ""  # the report the library lacks for the place and year asked (「广东2023年」)
    synonyms: dict[str, list[str]] = field(
        default_factory=dict
    )  # a Chinese question's acronym → its terms (gdp → 地区生产总值 …)

    @property
    def search_terms(self) -> list[str]:
        """Chinese terms searched besides the question's own words: an English question's
        translations, a Chinese question's acronyms spelled out."""
        return [*self.english_terms, *(t for terms in self.synonyms.values() for t in terms)]

    @property
    def search_text(self) -> str:
        """What is embedded to search for it: the question, or the question for the figure a yes/no
        question states (「…是否超过5%」 → 「…是多少」)."""
        return self.question if self.english else norm(self.ask or self.question)

    @property
    def missing(self) -> bool:
        """A part about a place no report (in scope) covers: it is said to be missing, not asked."""
        return bool(self.unknown_places) and not self.places

    def fits_year(self, period: int | None, report_year: int | None, text: str) -> bool:
        """Whether a passage (its period, its report's year, its text) is about a year the question asks
        about: by its period, by naming the year, or by saying 去年/今年 itself."""
        targets = self.targets(report_year)
        if not targets or period in targets or any(f"{t}年" in text for t in targets):
            return True
        if report_year and (
            report_year - 1 in targets
            and any(w in text for w in _LAST)
            or report_year in targets
            and any(w in text for w in _THIS)
        ):
            return True
        return False

    def targets(self, report_year: int | None) -> set[int]:
        """The years a passage of a report given in `report_year` must be about to fit the question."""
        out = set(self.years)
        if report_year:
            if "this" in self.relative:
                out.add(report_year)
            if "last" in self.relative:
                out.add(report_year - 1)
            if "next" in self.relative:
                out.add(report_year + 1)
        return out


def is_english(text: str) -> bool:
    """A question written in English (a Chinese name or two inside it allowed)."""
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return latin > 2 * cjk and latin >= 6
