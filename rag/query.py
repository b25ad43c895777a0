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
from dataclasses import dataclass, field, replace
from typing import Iterable

from .clean import norm
from .metadata import GENERIC, NATIONAL_ALIASES, NATIONAL_PLACE, PROVINCES, full_place

# Question words and report-identifying words: they carry no topic.
QUESTION_WORDS = set(
    "多少 哪些 什么 如何 怎么 怎样 是否 哪个 哪里 何时 几 个 家 多 少 要 将 会 能 有 吗 呢 请问 一下 "
    "今年 去年 明年 计划 目标 预计 达到 实现 完成 情况 方面 主要 具体 分别 哪 谁 由 是 年 市 县 全市 全县 "
    "全省 全区 全国 省 区 报告 政府 工作 政府工作报告 工作报告 提出 提到 说 指出 里 中 上 的 了 "
    "国务院 我国 中国 本届 该 其 有没有 没有 设定 设置 提出了 所作 作 哪位 拟 按 又 还 分别是 当年 哪几 几件 哪几件 "
    "具体有 有哪些 相比 高还是低 还是".split()
)
# 「2024年政府工作报告」「甲市2024年的报告里」: a year that names the report, not the period asked about.
REPORT_YEAR_RE = re.compile(r"(20\d{2})\s*年(?:的|度)?\s*(?:[\u4e00-\u9fff]{0,10}?)(?:政府工作报告|工作报告|报告)")
# 「2020年5月在甲市人大三次会议上所作的（报告）」: the meeting names the report, and its year is the report's.
MEETING_REF_RE = re.compile(r"(?:(20\d{2})\s*年(?:\d{1,2}\s*月)?)?\s*在[^，,。？?]{2,30}?(?:会议|大会)上(?:所作|作)?的?")
REPORT_WORDS_RE = re.compile(r"(?:的)?(?:政府工作报告|工作报告|报告)(?:中|里|上|说|提出|提到|指出|显示|表示|称)?")
_THIS = ("今年", "本年", "年内", "当年")
_LAST = ("去年", "上年", "上一年", "过去一年", "前一年")
_NEXT = ("明年",)
# Time words as a follow-up may swap them (「去年呢？」), each with the word that replaces it.
TIME_WORDS = {"今年": "今年", "本年": "今年", "去年": "去年", "上年": "去年", "明年": "明年",
              "this year": "今年", "last year": "去年"}
_EN_THIS = re.compile(r"\bthis year\b|\bcurrent year\b", re.I)
_EN_LAST = re.compile(r"\blast year\b|\bprevious year\b|\bpast year\b", re.I)
_META_Q = re.compile(r"谁|哪位|何人|什么人|什么时候|何时|哪天|哪一天|几月几日|哪次会议|什么会议|哪个会议|作报告的|"
                     r"\bwho\b|\bwhen\b|which (?:meeting|session|congress)|delivered|\bgave\b", re.I)
# A place-like word ending in an administrative suffix: 「丙市」「丁县」 (for places the corpus lacks).
_LEADING_ADMIN = re.compile(r"^([\u4e00-\u9fff]{1,4}?[省市县区旗])(?=今年|去年|明年|前年|\d{4}年|的|将|要|计划|全市|全县|共|新增)")
_LEADING_PLACE = re.compile(r"^([\u4e00-\u9fff]{2,3}?)(?:市|县|区)?(?=今年|去年|明年|前年|\d{4}年|的|将|计划|全市|全县)")


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

    def fits_year(self, period: int | None, report_year: int | None, text: str) -> bool:
        """Whether a passage (its period, its report's year, its text) is about a year the question asks
        about: by its period, by naming the year, or by saying 去年/今年 itself."""
        targets = self.targets(report_year)
        if not targets or period in targets or any(f"{t}年" in text for t in targets):
            return True
        if report_year and (report_year - 1 in targets and any(w in text for w in _LAST)
                            or report_year in targets and any(w in text for w in _THIS)):
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


def place_aliases(place: str) -> set[str]:
    """How a question may write a place: 甲市 → 甲市, 甲; 乙自治区 → 乙; 全国 → 国务院, 全国, 中国 ….
    Bare names of one character are not aliases (they would match ordinary words)."""
    if place == NATIONAL_PLACE:
        return set(NATIONAL_ALIASES)
    out = {place}
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "自治州", "自治县", "省", "市", "县", "区", "州", "旗", "盟"):
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            out.add(place[: -len(suffix)])
            break
    return out


class Analyzer:
    """Built once per index from the documents' metadata; `analyse` is cheap per question."""

    def __init__(self, reports: Iterable[Report], translator=None, vocabulary: dict[str, float] | None = None):
        self.reports = list(reports)
        self.translator = translator
        self.vocabulary = vocabulary or {}
        self.aliases: dict[str, str] = {}  # alias → canonical place
        self.latin: dict[str, str] = {}  # lowercase Latin alias → canonical place
        for place in dict.fromkeys(r.place for r in self.reports):  # each place once: many reports share one
            if not place:
                continue
            for a in place_aliases(place):
                self.aliases.setdefault(a, place)
            if translator is not None:
                for a in translator_aliases(translator, place):
                    self.latin.setdefault(a, place)
        if any(r.place == NATIONAL_PLACE for r in self.reports):
            for a in ("state council", "china", "national", "premier", "central government"):
                self.latin.setdefault(a, NATIONAL_PLACE)

    # --- places ----------------------------------------------------------------------------------
    def find_places(self, text: str, question: str) -> set[str]:
        """Corpus places named in the (normalised) question; the longest alias wins where they overlap."""
        found: set[str] = set()
        spans: list[tuple[int, int]] = []
        for alias in sorted(self.aliases, key=len, reverse=True):
            for m in re.finditer(re.escape(alias), text):
                if any(s < m.end() and m.start() < e for s, e in spans):
                    continue
                if alias in ("中国", "国家") and not re.search(r"中国(?:政府|国务院)|国家(?:政府工作报告)", text) \
                        and self._other_place(text):
                    continue  # 「中国式现代化」 in a question about a province is not the national report
                spans.append((m.start(), m.end()))
                found.add(self.aliases[alias])
        low = " " + re.sub(r"[^a-z0-9 ]+", " ", question.lower()) + " "
        for alias, place in sorted(self.latin.items(), key=lambda kv: -len(kv[0])):
            if f" {alias} " in low:
                found.add(place)
                low = low.replace(f" {alias} ", " ")
        return found

    def _known_name(self, word: str) -> bool:
        """Whether the dictionary knows `word` as a place (jieba's place tag alone also fires on
        people's names and ordinary words)."""
        names = getattr(self.translator, "names", None)
        return True if names is None else any(w in names for w in (word, word + "市", word + "县"))

    def _other_place(self, text: str) -> bool:
        return any(a in text for a, p in self.aliases.items() if p != NATIONAL_PLACE)

    def unknown_places(self, text: str) -> list[str]:
        """Place names in the question that no indexed report is about (「丙市今年…」 over reports of
        甲市 and 乙县): the reports cannot answer for them."""
        import jieba.posseg as pseg

        out: list[str] = []
        known = set(self.aliases)
        for word, flag in pseg.cut(text):
            if len(word) < 2 or word in GENERIC or word in QUESTION_WORDS or word in known:
                continue
            if any(word in k or k in word for k in known):
                continue
            if word in PROVINCES:
                if full_place(word) not in self.aliases.values() and word not in ("中国", "全国", "中华"):
                    out.append(word)
                continue
            if len(word) <= 5 and word[-1] in "省市县区州旗" and flag.startswith("n") and len(word) >= 3:
                out.append(word)  # 「丙市」「丁县」: a name with its administrative suffix
            elif flag in ("ns", "nr", "nz") and self._known_name(word):
                out.append(word)  # a bare place name the dictionary knows (not a person, not a word)
        if (m := _LEADING_ADMIN.match(text)) and m.group(1) not in GENERIC and m.group(1) not in out \
                and not any(m.group(1) in k or k in m.group(1) for k in known):
            out.append(m.group(1))
        if m := _LEADING_PLACE.match(text):
            word = m.group(1)
            flags = {f for _, f in pseg.cut(word)}
            if (word not in GENERIC and word not in PROVINCES and word not in out and word not in QUESTION_WORDS
                    and not any(word in k or k in word for k in known)
                    and not flags & {"v", "p", "c", "r", "t", "m", "f", "vn", "a"} and self._known_name(word)):
                out.append(word)
        return out

    # --- the whole reading -----------------------------------------------------------------------
    def analyse(self, question: str) -> QueryAnalysis:
        text = norm(question)
        english = is_english(question)
        q = QueryAnalysis(question=question, text=text, english=english)
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
            rest = REPORT_YEAR_RE.sub(lambda m: m.group(0)[len(m.group(1)) + 1:], text)
        q.years = {int(y) for y in re.findall(r"(20\d{2})\s*年", rest)}
        if english:
            q.years |= {int(y) for y in re.findall(r"\b(20\d{2})\b", question)}
            if q.report_year is None and (m := re.search(r"\b(20\d{2})\b[^.?]{0,30}\breport\b|\breport\b[^.?]{0,12}\b(20\d{2})\b",
                                                        question, re.I)):
                q.report_year = int(m.group(1) or m.group(2))
                q.years.discard(q.report_year)
        if any(w in text for w in _THIS) or _EN_THIS.search(question):
            q.relative.add("this")
        if any(w in text for w in _LAST) or _EN_LAST.search(question):
            q.relative.add("last")
        if any(w in text for w in _NEXT):
            q.relative.add("next")
        q.asks_meta = bool(_META_Q.search(text) or _META_Q.search(question))
        q.docs = self.pick_docs(q)
        q.content = self.content_text(q)
        if english and self.translator is not None:
            q.english_terms = self.translator.terms(question, self.vocabulary, places=False)
        q.parts, q.compare, follow_ups = ([question], None, []) if english else split_parts(question)
        if len(q.parts) == 1 and len(q.places) >= 2:
            q.parts = self.split_places(q) or q.parts
        q.wants_actual = len(q.parts) == 1 and wants_actual(q.text if not english else question)
        q.part_contents = [q.content] if len(q.parts) == 1 else [
            self.content_text(replace(q, text=norm(p), report_year=q.report_year if REPORT_YEAR_RE.search(norm(p)) else None))
            for p in q.parts]
        for i in follow_ups:
            # 「…？其中2025年是多少？」「与去年的实际值相比…」 leave out the indicator the first part
            # names: a follow-up's passages are chosen by the first part's words too (its time words aside).
            q.part_contents[i] = f"{_TIME_WORDS_RE.sub(' ', q.part_contents[0]).strip()} {q.part_contents[i]}"
        return q

    def split_places(self, q: QueryAnalysis) -> list[str]:
        """「甲市和乙县今年的X分别是多少」 → one question per place (each answered from its own report);
        [] when the question does not ask the same thing of two places it names."""
        if not re.search(r"分别|各", q.text):
            return []
        names = "|".join(re.escape(a) for a in sorted(self.aliases, key=len, reverse=True)
                         if a in q.text and self.aliases[a] in q.places)
        m = re.search(rf"({names})\s*(?:和|与|及|、|同|跟)\s*({names})", q.text) if names else None
        if not m or self.aliases[m.group(1)] == self.aliases[m.group(2)]:
            return []
        rest = re.sub(r"分别|各自|各(?=[有是为要计完新建达多])", "", q.text[m.end():], count=1)
        return [q.text[: m.start()] + m.group(i) + rest for i in (1, 2)]

    def pick_docs(self, q: QueryAnalysis) -> set[str]:
        """The reports a question names by place and/or report year (empty: it names none)."""
        cands = [r for r in self.reports if not q.places or r.place in q.places]
        if q.report_year is not None:
            by_year = [r for r in cands if r.year == q.report_year]
            if by_year:
                cands = by_year
        elif q.years and not q.relative and q.places:
            # 「甲市2023年新增就业多少」: the report that reviews 2023 or plans for it
            fit = [r for r in cands if r.year in q.years or (r.year and r.year - 1 in q.years)]
            cands = fit or cands
        if not q.places and q.report_year is None:
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


# 「…，与去年的实际值相比是高还是低？」「比上年快还是慢」: the second figure and the two words to compare by.
_COMPARE_RE = re.compile(r"[，,；;]?\s*(?:与|和|同|跟|比|较)([^，,。？?；;]{1,24}?)(?:相比|比较|相较)?[，,]?\s*"
                         r"(?:是|哪个|谁)?更?(高|快|多|大|长)还是更?(低|慢|少|小|短)了?\s*[？?。]?\s*$")
# 「甲、乙两年的…分别是多少」: two parallel conjuncts before 的/时期/分别.
_PAIR_RE = re.compile(r"([^，,。？?；;和与及、\s]{1,12}?)(和|与|及|、)([^，,。？?；;和与及、\s]{1,12}?)(?=的|时期|期间|分别|各)")


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


# A question answered by yes or no: 「是否…」「有没有…」「…吗？」 "Did … ?"
_YES_NO_RE = re.compile(r"是否|有没有|有沒有|有无|有無|是不是|能否|可否|[吗嗎][？?]?\s*$|"
                        r"^\s*(?:is|are|was|were|did|does|do|has|have|had|will|can)\b", re.I)
# Words that deny what a sentence says (未来 is a time, not a denial).
NEGATION_RE = re.compile(r"没有|沒有|尚未|并未|並未|未能|未(?![来來])|不是|不再|不及|^否|[，,。]否")


def asks_yes_no(text: str) -> bool:
    """Whether a question is answered by yes or no."""
    return bool(_YES_NO_RE.search(text))


# The words of a question that say when: a follow-up part replaces them with its own.
_TIME_WORDS_RE = re.compile(r"(?:19|20)\d{2}\s*年(?:度|底|末)?|今年|去年|上年|明年|当年|本年|"
                            r"[“\"]?十[一二三四五六七八九]五[”\"]?(?:时期|期间|末|以来|规划)?|过去五年|五年来")


def split_parts(question: str) -> tuple[list[str], tuple[str, str] | None, list[int]]:
    """The questions one question asks, in order, the comparison it wants, if any, and which
    parts are follow-ups that leave out what the first part names (「2015年的目标又是多少？」).

    A small model answers one question at a time far better than two at once, so a question in
    several parts is put to it part by part, later parts as follow-ups in the same conversation:
    「甲市去年新增就业多少人？今年的目标又是多少？」 → two questions; 「甲市2023年和2024年的…分别是
    多少？」 → one per year; 「今年的目标是多少？与去年的实际值相比是高还是低？」 → the target, then
    「去年的实际值是多少？」, and the comparison is made in code from the two figures."""
    pieces = [p.strip() for p in re.findall(r"[^？?]+[？?]?", question) if len(p.strip(" ？?，,")) >= 2]
    parts: list[tuple[str, bool]] = []  # (part, whether it is a follow-up)
    compare = None
    for piece in pieces:
        m = _COMPARE_RE.search(piece)
        if m and compare is None:
            head = piece[: m.start()].strip(" ，,；;")
            if len(head) >= 4:
                parts.append((head + ("？" if re.search(r"多少|几|哪|什么", head) else "是多少？"), bool(parts)))
            parts.append((f"{m.group(1).strip()}是多少？", True))
            compare = (m.group(2), m.group(3))
            continue
        follow = bool(parts)
        parts.extend((p, follow) for p in _split_pair(piece))
    parts = [(p, f) for p, f in parts if len(p.strip(" ？?，,")) >= 4]
    if len(parts) < 2:
        return [question], None, []
    return [p for p, _ in parts], compare, [i for i, (_, f) in enumerate(parts) if f and i]


def _split_pair(piece: str) -> list[str]:
    """「甲和乙的X分别是多少」 → 「甲的X是多少」「乙的X是多少」, when 甲 and 乙 are parallel (same
    length and last character: two years, two plan periods); otherwise the piece as it is."""
    if "分别" not in piece:
        return [piece]
    for m in _PAIR_RE.finditer(piece):
        left, right = m.group(1), m.group(3)
        if len(left) > len(right):
            left = left[-len(right):]
        if len(left) != len(right) or left[-1] != right[-1] or left == right:
            continue
        start = m.end(1) - len(left)
        before, after = piece[:start], piece[m.end(3):]
        after = re.sub(r"分别(?:是|为|有)?", lambda x: x.group(0)[2:] or "", after, count=1)
        return [before + left + after, before + right + after]
    return [piece]


def translator_aliases(translator, place: str) -> set[str]:
    """Latin aliases of a place from the translator (pinyin, and English names it knows)."""
    try:
        return {a.lower() for a in translator.place_aliases(place)}
    except AttributeError:
        return set()
