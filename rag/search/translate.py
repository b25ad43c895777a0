"""English → Chinese search terms from the CC-CEDICT lexicon, so English questions reach Chinese
reports.

CC-CEDICT (`rag.search.lexicon`) covers the general vocabulary; the user's own corpus (its BM25
vocabulary, token → idf) then decides which of several dictionary translations is the word its
reports actually use. This module ranks those translations, matches a question's phrases
longest first, and gives the Latin names (pinyin, CEDICT's English) of a Chinese place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from rag.search.english import FUNCTION_WORDS, STOP_WORDS, english_words, fold
from rag.search.lexicon import REPORT_TERMS, Candidate, Lexicon

_MAX_WORDS = 5  # longest phrase tried: 4 content words and a linking word ('retail sales of consumer goods')
# Words that carry meaning only inside a phrase (per capita, State Council, unemployment rate,
# new urban jobs): a phrase may contain them, but alone they give no search term.
_LONE_SKIP = frozenset(
    {
        "per",
        "state",
        "rate",
        "new",
        "main",
        "key",
        "major",
        "people",
        "city",
        "county",
        "district",
        "province",
        "region",
        "area",
        "areas",
    }
)

_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"^(?=[0-9.]*[A-Z])[A-Z0-9]{2,}(?:\.[0-9]+)?$")  # in a question: GDP, 5G, PM2.5


# --- place names ----------------------------------------------------------------------------------
# Chinese administrative suffixes, longest first, with their English and pinyin forms.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("特别行政区", "special administrative region"),
    ("自治区", "autonomous region"),
    ("自治州", "autonomous prefecture"),
    ("自治县", "autonomous county"),
    ("自治旗", "autonomous banner"),
    ("新区", "new area"),
    ("地区", "prefecture"),
    ("林区", "forest district"),
    ("矿区", "mining district"),
    ("省", "province"),
    ("市", "city"),
    ("县", "county"),
    ("区", "district"),
    ("州", "prefecture"),
    ("旗", "banner"),
    ("盟", "league"),
    ("镇", "town"),
    ("乡", "township"),
)
_NATIONALITIES = tuple(
    sorted(
        """
蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇
柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京
塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺""".split(),
        key=len,
        reverse=True,
    )
)  # the 55 recognised minorities


def _strip_nationalities(name: str) -> str:
    """丙丁回族 → 丙丁; 戊己土家族苗族 → 戊己; a name that is only a nationality keeps it (X族 → X)."""
    while name.endswith("族"):
        for nat in _NATIONALITIES:
            if name.endswith(nat + "族"):
                rest = name[: -len(nat) - 1]
                name = rest if len(rest) >= 2 else nat
                break
        else:
            break
    return name


def split_place(place: str) -> tuple[str, str, str]:
    """(bare name, Chinese suffix, English suffix): 甲市 → (甲, 市, city); 乙丙回族自治县 →
    (乙丙, 自治县, autonomous county). The nationality of an autonomous area is dropped."""
    for zh, en in _SUFFIXES:
        if place.endswith(zh) and len(place) > len(zh):
            bare = place[: -len(zh)]
            if zh.startswith("自治"):
                bare = _strip_nationalities(bare)
            return bare, zh, en
    return place, "", ""


# --- the translator -------------------------------------------------------------------------------
class Translator(Lexicon):
    """English search terms over the lexicon: candidates ranked by what the corpus holds, a
    question's phrases matched longest first, and the Latin aliases of a Chinese place."""

    def rank(self, key: str, vocabulary: Mapping[str, float] | None = None, capitalised: bool = False) -> list[str]:
        """Chinese terms for one key, best first (see `ranked`)."""
        return [c.term for c in self.ranked(key, vocabulary, capitalised)]

    def ranked(
        self, key: str, vocabulary: Mapping[str, float] | None = None, capitalised: bool = False
    ) -> list[Candidate]:
        """Candidates for one key, best first.

        Order: terms the corpus vocabulary holds (the others are dropped when any is present),
        curated report terms, proper nouns first for a capitalised phrase, whole-definition
        matches, then a general-language score (jieba frequency, few senses, first sense, a
        little corpus frequency). A lowercase single word gets no proper noun unless it has no
        other reading and names a place; single characters are dropped (unless curated), as they
        match nearly every paragraph in BM25."""
        cands = [c for c in self.candidates(key) if len(c.term) > 1 or c.curated]
        if not capitalised:
            common = [c for c in cands if not c.proper]
            if common:
                cands = common
            elif " " not in key:
                cands = [c for c in cands if c.place]
        if not cands:
            return []
        presence = {c.term: _presence(c.term, vocabulary) for c in cands}
        if max(presence.values()) > 0:
            cands = [c for c in cands if presence[c.term] > 0]
        top_idf = (getattr(vocabulary, "top", None) or max(vocabulary.values(), default=0.0)) if vocabulary else 0.0

        def score(c: Candidate) -> tuple:
            general = (
                math.log10(1 + c.freq) - 0.35 * min(c.senses, 8) + (0.6 if c.sense == 0 else 0.0) - 0.1 * len(c.term)
            )
            if vocabulary and c.term.lower() in vocabulary:
                general += 0.15 * (top_idf - vocabulary[c.term.lower()])
            return (presence[c.term], c.curated, c.proper and capitalised, c.whole, general)

        return sorted(cands, key=score, reverse=True)

    def terms(
        self, question: str, vocabulary: Mapping[str, float] | None = None, limit: int = 12, places: bool = True
    ) -> list[str]:
        """Chinese search terms for the English content words and phrases of a question.

        Phrases of 5..1 words (a 5-word one only with a linking word such as 'of') are matched
        greedily, longest first, skipping stop words and question words; a phrase gives at
        most 3 terms, a single word 2. With `vocabulary`
        (token → idf over the indexed chunks) the corpus picks among dictionary translations,
        a phrase none of whose translations the corpus has is tried word by word instead, and
        adjacent phrases are also joined when the corpus has the joined word ('forest' 森林 +
        'coverage' 覆盖率 → 森林覆盖率). Acronyms with digits (PM2.5, 5G) are kept as written,
        as reports write them so. Terms come out longest phrase first, then in question order.
        With `places=False` a capitalised place name is still recognised (its words give no
        other terms) but left out, for callers that resolve places themselves."""
        words = english_words(question)
        if not words:
            return []
        keys = [fold(w.lower().replace("'", "")) for w in words]
        n = len(words)
        found: list[tuple[int, int, list[str]]] = []  # (first word, words, terms)
        # the curated report phrases win over any dictionary phrase that overlaps them
        # ('new high-tech enterprises': 'high-tech enterprises', not CEDICT's 'new high' 新高)
        covered: set[int] = set()
        for size in range(min(_MAX_WORDS, n), 1, -1):
            for i in range(n - size + 1):
                if covered & set(range(i, i + size)):
                    continue
                key = " ".join(keys[i : i + size])
                if key in self.index and any(c.curated for c in self.candidates(key)):
                    cands = [c for c in self.ranked(key, vocabulary, False) if c.curated]
                    if cands:
                        found.append((i, size, [c.term for c in cands][:3]))
                        covered |= set(range(i, i + size))
        i = 0
        while i < n:
            if i in covered:
                i += 1
                continue
            match = None
            for size in range(min(_MAX_WORDS, n - i), 0, -1):
                if covered & set(range(i, i + size)):
                    continue
                span = keys[i : i + size]
                if span[0] in FUNCTION_WORDS or span[-1] in FUNCTION_WORDS:
                    continue
                if all(k in STOP_WORDS or k in _LONE_SKIP for k in span):
                    continue
                if size == _MAX_WORDS and not any(k in FUNCTION_WORDS for k in span):
                    continue
                key = " ".join(span)
                if key not in self.index:
                    continue
                content = [w for w, k in zip(words[i : i + size], span) if k not in FUNCTION_WORDS]
                capitalised = all(w[:1].isupper() for w in content) and not (i == 0 and size == 1)
                cands = self.ranked(key, vocabulary, capitalised)
                if vocabulary is not None and size > 1 and not any(_presence(c.term, vocabulary) for c in cands):
                    continue  # the corpus has none of them: try shorter phrases
                if cands:
                    keep = places or not (capitalised and cands[0].place)
                    match = (size, [c.term for c in cands] if keep else [])
                    break
            if match is None:
                if keys[i] not in STOP_WORDS and (latin := _latin_term(words[i], vocabulary)):
                    found.append((i, 1, [latin]))
                i += 1
                continue
            size, ranked = match
            wide = size > 1 or _LATIN_RE.match(words[i]) is not None
            picked = ranked[: 3 if wide else 2]
            if size == 1 and _has_digit(words[i]) and _LATIN_RE.match(words[i]):
                picked = [words[i]] + picked[:2]  # PM2.5 as reports write it, then 细颗粒物
            if picked:
                found.append((i, size, picked))
            i += size
        if vocabulary is not None:
            found += _compounds(found, vocabulary)
        found.sort(key=lambda f: (-f[1], f[0]))
        out = dict.fromkeys(t for _, _, ts in found for t in ts)
        return list(out)[:limit]

    # --- places -------------------------------------------------------------------------------
    def place_aliases(self, place: str) -> set[str]:
        """Lowercase Latin names by which an English question may name a Chinese place.

        From pypinyin without tones, with and without the administrative suffix, spaced with
        the English type and joined with the pinyin one (甲市 → 'jia city', 'jiashi'; 乙丙县 →
        'yibing', 'yibing county', 'yibingxian'), plus the English names CEDICT gives for the
        place. Aliases of fewer than 4 letters are left out: they would match ordinary words."""
        from pypinyin import Style, lazy_pinyin

        from rag.chunk.clean import to_simplified

        place = to_simplified(place.strip())
        if not _CJK_RE.search(place):
            return set()
        bare, zh_suffix, en_suffix = split_place(place)
        suffix_py = "".join(lazy_pinyin(zh_suffix, style=Style.NORMAL)) if zh_suffix else ""
        out: set[str] = set()
        for syllables in _pinyin_forms(lazy_pinyin(bare, style=Style.NORMAL, errors="ignore")):
            name = "".join(syllables)
            if not name:
                continue
            out.add(name)
            if any(s[:1] in "aeo" for s in syllables[1:]):  # 甲安 → jia'an as well as jiaan
                out.add(syllables[0] + "".join("'" + s if s[:1] in "aeo" else s for s in syllables[1:]))
            if zh_suffix:
                out |= {f"{name} {en_suffix}", name + suffix_py, f"{name} {suffix_py}"}
        for head in (place, bare):
            out.update(self.names.get(head, ()))
        return {a for a in out if sum(ch.isalpha() for ch in a) >= 4}


def _compounds(
    found: list[tuple[int, int, list[str]]], vocabulary: Mapping[str, float]
) -> list[tuple[int, int, list[str]]]:
    """Joined terms of two adjacent phrases that the corpus has as one token."""
    out = []
    by_start = sorted(found)
    for (s1, n1, t1), (s2, n2, t2) in zip(by_start, by_start[1:]):
        if s1 + n1 == s2:
            joined = [a + b for a in t1[:2] for b in t2[:2] if _CJK_RE.match(a) and _CJK_RE.match(b)]
            good = [j for j in joined if j in vocabulary]
            if good:
                out.append((s1, n1 + n2, good[:2]))
    return out


def _latin_term(word: str, vocabulary: Mapping[str, float] | None) -> str | None:
    """An acronym CEDICT does not know (5G, PM10) is searched as written: kept if it has a
    digit (reports write such names in Latin letters) or if the corpus vocabulary holds it."""
    if not _LATIN_RE.match(word):
        return None
    if vocabulary is not None:
        return word if _presence(word, vocabulary) else None
    return word if _has_digit(word) else None


# --- helpers --------------------------------------------------------------------------------------
def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _pinyin_forms(syllables: list[str]) -> list[list[str]]:
    """Syllables as written in English: 'lv' also as 'lu' (ü without its dots)."""
    forms = [syllables]
    if any("v" in s for s in syllables):
        forms.append([s.replace("v", "u") for s in syllables])
    return forms


def _presence(term: str, vocabulary: Mapping[str, float] | None) -> int:
    """2 if the corpus has the term as a token, 1 if it splits into corpus tokens of ≥2
    characters (one single character allowed), 0 otherwise."""
    if vocabulary is None:
        return 0
    t = term.lower()
    if t in vocabulary:
        return 2
    if not _CJK_RE.match(t) or len(t) < 3:
        return 0
    # dynamic programming over split points
    n = len(t)
    best: list[int | None] = [None] * (n + 1)  # fewest single characters used to cover t[:i]
    best[0] = 0
    for i in range(1, n + 1):
        for j in range(max(0, i - 8), i):
            before = best[j]
            if before is None:
                continue
            piece = t[j:i]
            if piece in vocabulary:
                cost = before + (1 if len(piece) == 1 else 0)
                now = best[i]
                if now is None or cost < now:
                    best[i] = cost
    last = best[n]
    return 1 if last is not None and last <= 1 else 0


@lru_cache(maxsize=4)
def get_translator(cache_dir: Path | None = None, report_terms: Path = REPORT_TERMS) -> Translator:
    """The process-wide translator (built or loaded once per cache folder and curated terms)."""
    return Translator.load(cache_dir, report_terms)


def terms(
    question: str,
    vocabulary: Mapping[str, float] | None = None,
    limit: int = 12,
    places: bool = True,
    cache_dir: Path | None = None,
) -> list[str]:
    """Chinese search terms for an English question; see `Translator.terms`."""
    return get_translator(cache_dir).terms(question, vocabulary, limit, places)


def place_aliases(place: str, cache_dir: Path | None = None) -> set[str]:
    """Lowercase Latin aliases of a Chinese place name; see `Translator.place_aliases`."""
    return get_translator(cache_dir).place_aliases(place)
