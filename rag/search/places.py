"""The places of a question: those of the library it names (by any alias, in pinyin or English),
and the place names it uses that no indexed report covers (「丙市今年…」 over reports of 甲市 and 乙县),
so that the reports are not made to answer for them.

Bare names of one character are never aliases (they would match ordinary words), and a word
jieba tags as a place name counts as one only when the dictionary knows it as a place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.chunk.metadata import GENERIC, NATIONAL_ALIASES, NATIONAL_PLACE, PROVINCES, full_place
from rag.search.words import QUESTION_WORDS

# A place-like word ending in an administrative suffix: 「丙市」「丁县」 (for places the corpus lacks).
_LEADING_ADMIN = re.compile(
    r"^([\u4e00-\u9fff]{1,4}?[省市县区旗])(?=今年|去年|明年|前年|\d{4}年|的|将|要|计划|全市|全县|共|新增)"
)
_LEADING_PLACE = re.compile(
    r"^([\u4e00-\u9fff]{2,3}?)(?:市|县|区)?(?=今年|去年|明年|前年|\d{4}年|的|将|计划|全市|全县)"
)


def place_aliases(place: str) -> set[str]:
    """How a question may write a place: 甲市 → 甲市, 甲; 乙自治区 → 乙; 全国 → 国务院, 全国, 中国 ….
    Bare names of one character are not aliases (they would match ordinary words)."""
    if place == NATIONAL_PLACE:
        return set(NATIONAL_ALIASES)
    out = {place}
    for suffix in (
        "壮族自治区",
        "回族自治区",
        "维吾尔自治区",
        "自治区",
        "自治州",
        "自治县",
        "省",
        "市",
        "县",
        "区",
        "州",
        "旗",
        "盟",
    ):
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            out.add(place[: -len(suffix)])
            break
    return out


class Places:
    """The places of a library and how questions write them: their aliases (「甲市」「甲」), their
    Latin names (pinyin, English), and the place names a question uses that no report covers."""

    def __init__(self, places: Iterable[str], translator=None):
        self.translator = translator
        self.aliases: dict[str, str] = {}  # alias → canonical place
        self.latin: dict[str, str] = {}  # lowercase Latin alias → canonical place
        places = [p for p in dict.fromkeys(places) if p]  # each place once: many reports share one
        for place in places:
            for a in place_aliases(place):
                self.aliases.setdefault(a, place)
            if translator is not None:
                for a in translator_aliases(translator, place):
                    self.latin.setdefault(a, place)
        if NATIONAL_PLACE in places:
            for a in ("state council", "china", "national", "premier", "central government"):
                self.latin.setdefault(a, NATIONAL_PLACE)

    def latin_names(self, question: str) -> dict[str, str]:
        """The Latin names of the library's places an English question uses, each with the place
        (「Jia City」 → 甲市): for the translation of the question."""
        low = " " + re.sub(r"[^a-z0-9 ]+", " ", question.lower()) + " "
        out: dict[str, str] = {}
        for alias, place in sorted(self.latin.items(), key=lambda kv: -len(kv[0])):
            if f" {alias} " in low:
                out[alias] = place
                low = low.replace(f" {alias} ", " ")
        return out

    def find(self, text: str, question: str) -> set[str]:
        """Corpus places named in the (normalised) question; the longest alias wins where they overlap."""
        found: set[str] = set()
        spans: list[tuple[int, int]] = []
        for alias in self._longest_first():
            if alias not in text:  # a library of 10^4 places: a regex per alias would be compiled per question
                continue
            for m in re.finditer(re.escape(alias), text):
                if any(s < m.end() and m.start() < e for s, e in spans):
                    continue
                if (
                    alias in ("中国", "国家")
                    and not re.search(r"中国(?:政府|国务院)|国家(?:政府工作报告)", text)
                    and self._other_place(text)
                ):
                    continue  # 「中国式现代化」 in a question about a province is not the national report
                spans.append((m.start(), m.end()))
                found.add(self.aliases[alias])
        low = " " + re.sub(r"[^a-z0-9 ]+", " ", question.lower()) + " "
        for alias, place in sorted(self.latin.items(), key=lambda kv: -len(kv[0])):
            if f" {alias} " in low:
                found.add(place)
                low = low.replace(f" {alias} ", " ")
        return found

    def _longest_first(self) -> list[str]:
        """The Chinese aliases, longest first (sorted once, again only if the aliases change)."""
        cached = getattr(self, "_sorted_aliases", None)
        if cached is None or len(cached) != len(self.aliases):
            cached = self._sorted_aliases = sorted(self.aliases, key=len, reverse=True)
        return cached

    def _known_name(self, word: str) -> bool:
        """Whether the dictionary knows `word` as a place (jieba's place tag alone also fires on
        people's names and ordinary words)."""
        names = getattr(self.translator, "names", None)
        return True if names is None else any(w in names for w in (word, word + "市", word + "县"))

    def _other_place(self, text: str) -> bool:
        return any(a in text for a, p in self.aliases.items() if p != NATIONAL_PLACE)

    def unknown(self, text: str) -> list[str]:
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
        # 「甲市和丁县…」: a name with an administrative suffix set beside a known place is a place too
        names = "|".join(re.escape(a) for a in sorted(known, key=len, reverse=True))
        for m in (
            re.finditer(rf"(?:{names})\s*(?:和|与|及|、|同|跟|比)\s*([\u4e00-\u9fff]{{1,4}}?[省市县区州旗盟])", text)
            if names
            else ()
        ):
            word = m.group(1)
            if word not in known and word not in out and word not in GENERIC and not any(word in k for k in known):
                out.append(word)
        if (
            (admin := _LEADING_ADMIN.match(text))
            and admin.group(1) not in GENERIC
            and admin.group(1) not in out
            and not any(admin.group(1) in k or k in admin.group(1) for k in known)
        ):
            out.append(admin.group(1))
        if lead := _LEADING_PLACE.match(text):
            word = lead.group(1)
            flags = {f for _, f in pseg.cut(word)}
            if (
                word not in GENERIC
                and word not in PROVINCES
                and word not in out
                and word not in QUESTION_WORDS
                and not any(word in k or k in word for k in known)
                and not flags & {"v", "p", "c", "r", "t", "m", "f", "vn", "a"}
                and self._known_name(word)
            ):
                out.append(word)
        return out

    def spans(self, text: str, places: set[str], unknown: list[str]) -> list[tuple[tuple[int, int], str]]:
        """Where the question names each distinct place (known or not), in order: 「北京和海南」 →
        two spans. A place named twice counts once (at its first mention)."""
        out: list[tuple[tuple[int, int], str]] = []
        seen: set[str] = set()
        taken: list[tuple[int, int]] = []
        names = [(a, self.aliases[a]) for a in sorted(self.aliases, key=len, reverse=True) if self.aliases[a] in places]
        names += [(u, u) for u in unknown]
        for alias, place in sorted(names, key=lambda x: -len(x[0])):
            for m in re.finditer(re.escape(alias), text):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                taken.append(m.span())
                if place not in seen:
                    seen.add(place)
                    out.append((m.span(), place))
                break
        return sorted(out)


def translator_aliases(translator, place: str) -> set[str]:
    """Latin aliases of a place from the translator (pinyin, and English names it knows)."""
    try:
        return {a.lower() for a in translator.place_aliases(place)}
    except AttributeError:
        return set()


def short_place(place: str) -> str:
    """「广东省」 → 「广东」, 「宁夏回族自治区」 → 「宁夏」: the name people use in a sentence."""
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place
