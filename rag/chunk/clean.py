"""Cleaning: a normalised search text derived from the original, with a map back to it.

The original report text is never modified. Everything that retrieval and matching compare is
`normalize(original)`: NFKC, Traditional→Simplified, no spaces inside Chinese text, no markdown
markup, `PM_{2.5}` → `PM2.5`. Each normalised character remembers the index of the original
character it came from, so a match found in search text can be quoted in the document's own script.

Also here: page-continuation markers （上接第1版） and detection of GBK mojibake runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import opencc

from rag.read.chars import is_cjk

# --- page furniture ---------------------------------------------------------------------------
_NUM = r"[0-9０-９一二三四五六七八九十百]+"
MARKER_RE = re.compile(
    rf"[（(]\s*(?:[上下]\s*[接转轉续續]|[转轉续續接])\s*(?:[自至到]\s*)?第?\s*{_NUM}\s*[版页頁面]\s*[）)]"
)
# （上接第1版） continues from another page; （下转第3版） / (转至第2版) continues on one.


@dataclass(frozen=True)
class Marker:
    start: int
    end: int
    text: str
    direction: str  # "from" (上接: continued from) or "to" (下转: continues on)
    page: str


def find_markers(text: str) -> list[Marker]:
    """All page-continuation markers in `text`, wherever they sit."""
    out = []
    for m in MARKER_RE.finditer(text):
        s = m.group(0)
        direction = "from" if re.search(r"[上接自]", s) else "to"
        num = re.search(_NUM, s)
        out.append(Marker(m.start(), m.end(), s, direction, num.group(0) if num else ""))
    return out


# --- normalisation with offsets -----------------------------------------------------------------
@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2tw")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def to_traditional(text: str) -> str:
    return _s2t().convert(text)


def fold_script(text: str) -> str:
    """The script-independent form used for matching: Simplified after a round trip through
    Traditional, so that characters Simplified Chinese writes two ways (着/著) fold together and a
    Traditional copy of a text folds to exactly what its Simplified original folds to."""
    return _t2s().convert(_s2t().convert(text))


_LATEX_RE = re.compile(r"[_^]\{([^{}]{0,12})\}")
_MD_RE = re.compile(r"\*\*|__|^#{1,6}\s+|^\s*[-*+•]\s+", re.M)


@dataclass
class Normalized:
    text: str
    offsets: list[int]  # offsets[i] = index in the source string of text[i]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to a span of the source."""
        if not self.offsets:
            return (0, 0)
        start = min(max(start, 0), len(self.offsets) - 1)
        end = min(max(end, start + 1), len(self.offsets))
        return self.offsets[start], self.offsets[end - 1] + 1


def _drop(text: str, offsets: list[int], pattern: re.Pattern, keep_group: int | None = None) -> tuple[str, list[int]]:
    out_chars: list[str] = []
    out_offs: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        out_chars.append(text[pos : m.start()])
        out_offs.extend(offsets[pos : m.start()])
        if keep_group is not None:
            g0, g1 = m.span(keep_group)
            out_chars.append(text[g0:g1])
            out_offs.extend(offsets[g0:g1])
        pos = m.end()
    out_chars.append(text[pos:])
    out_offs.extend(offsets[pos:])
    return "".join(out_chars), out_offs


def _keeps_space(prev: str, nxt: str) -> bool:
    """A space survives only between two Latin letters/digits ("Belt and Road"), never in Chinese."""
    return prev.isascii() and nxt.isascii() and prev.isalnum() and nxt.isalnum() and (prev.isalpha() or nxt.isalpha())


# Characters that are not seen: format characters (zero-width space and joiners U+200B–U+200D,
# word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, the direction marks and overrides
# U+200E/F, U+202A–E, U+2066–9) and control characters other than line breaks and tabs. Inside a
# figure or a word (「5\u200b.2%」「增\u200d长」) they would keep a reader's query, the index
# and the figure check from seeing what the page shows, so the search text leaves them out.
def invisible(ch: str) -> bool:
    """Whether `ch` is a format character (Unicode Cf) or a control character other than a line
    break or tab (Cc): nothing a reader sees."""
    if "\u4e00" <= ch <= "\u9fff" or " " <= ch <= "~":  # the common case, decided without a lookup
        return False
    cat = unicodedata.category(ch)
    return cat == "Cf" or (cat == "Cc" and not ch.isspace())


def normalize(text: str) -> Normalized:
    """NFKC + script folding (Traditional→Simplified) + markup/space removal + invisible characters
    left out (`invisible`), keeping a map to source offsets."""
    chars: list[str] = []
    offs: list[int] = []
    for i, ch in enumerate(text):
        if invisible(ch):
            continue
        folded = unicodedata.normalize("NFKC", ch)
        for c in folded:
            chars.append(c)
            offs.append(i)
    s = "".join(chars)
    # Traditional -> Simplified. OpenCC converts phrases; when it keeps the length we map 1:1,
    # otherwise fall back to character-by-character conversion (rare).
    conv = fold_script(s)
    if len(conv) != len(s):
        conv = "".join(fold_script(c) if len(fold_script(c)) == 1 else c for c in s)
    s = conv
    s, offs = _drop(s, offs, _MD_RE)
    s, offs = _drop(s, offs, _LATEX_RE, keep_group=1)
    out_c: list[str] = []
    out_o: list[int] = []
    n = len(s)
    for i, c in enumerate(s):
        if c.isspace():
            prev = out_c[-1] if out_c else ""
            j = i + 1
            while j < n and s[j].isspace():
                j += 1
            nxt = s[j] if j < n else ""
            if prev and nxt and _keeps_space(prev, nxt) and prev != " ":
                out_c.append(" ")
                out_o.append(offs[i])
            continue
        out_c.append(c)
        out_o.append(offs[i])
    return Normalized("".join(out_c), out_o)


def norm(text: str) -> str:
    """Just the normalised string (for queries and comparisons)."""
    return normalize(text).text


def compact(text: str) -> str:
    """Normalised text without any whitespace or punctuation: the form used to test containment."""
    return "".join(c for c in norm(text) if c.isalnum())


# --- mojibake ---------------------------------------------------------------------------------
# UTF-8/GBK confusion leaves characters that never occur in running Chinese prose (bopomofo, box
# drawing, pinyin letters, private-use and replacement characters) and a stray '?', '_' or Latin
# letter glued between rare Chinese characters.
# Around such a trigger the run extends over characters that are rare in jieba's dictionary.
_HARD = re.compile(r"[\u00e0-\u00fc\u3100-\u312f\u2500-\u257f\u01cd-\u01dc\u0100-\u017f\ue000-\uf8ff\ufffd]")
_GLUED = re.compile(r"(?<=[\u4e00-\u9fff；;。])[?_A-Za-z](?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\?(?=[A-Za-z])")
# Punctuation that cannot begin a line (a closing mark or a stop): before mojibake at a line start it
# is part of the damage, not text.
_NO_LINE_START = set("。．，、；：？！）」』”")
RARE_FREQ = 500


@lru_cache(maxsize=1)
def char_frequency() -> dict[str, int]:
    """How often each character occurs in jieba's dictionary words (a cheap prior on plausibility)."""
    import jieba  # local import: only ingestion needs it

    path = Path(jieba.__file__).with_name("dict.txt")
    freq: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2:
                continue
            f = int(parts[1])
            for c in set(parts[0]):
                freq[c] = freq.get(c, 0) + f
    return freq


def _rare(ch: str) -> bool:
    if _HARD.match(ch):
        return True
    if not is_cjk(ch):
        return False
    return char_frequency().get(to_simplified(ch), 0) < RARE_FREQ


@dataclass(frozen=True)
class GarbledRun:
    start: int
    end: int
    text: str
    repaired: str  # best-effort re-decoding of the run, "" when it did not look better


def repair(run: str) -> str:
    """Re-decode a run that is GBK bytes read one byte out of step: drop one byte, decode again."""
    raw = run.encode("gbk", errors="replace")
    cand = raw[1:].decode("gbk", errors="replace")
    if cand.count("\ufffd") > max(1, len(cand) // 5):
        return ""
    cand = cand.replace("\ufffd", "")
    return cand if sum(map(_suspicious, cand)) < sum(map(_suspicious, run)) else ""


_PLAIN_PUNCT = set("，。、；：？！“”‘’（）()《》—…·%.,:;!?- ")


def _suspicious(ch: str) -> bool:
    """Rare in running text: a rare character, or a symbol that is neither Chinese nor plain punctuation."""
    return _rare(ch) or not (is_cjk(ch) or ch.isdigit() or ch in _PLAIN_PUNCT)


def _unpaired_brackets(text: str) -> list[int]:
    """【 or 】 inside running Chinese text without its partner nearby: a decoding error, not a label."""
    out = []
    for m in re.finditer(r"(?<=[\u4e00-\u9fff])[【】](?=[\u4e00-\u9fff])", text):
        i = m.start()
        partner = "】" not in text[i + 1 : i + 40] if text[i] == "【" else "【" not in text[max(0, i - 40) : i]
        if partner:
            out.append(i)
    return out


def _triggers(text: str) -> list[int]:
    pos = [m.start() for m in _HARD.finditer(text)] + _unpaired_brackets(text)
    for m in _GLUED.finditer(text):
        i = m.start()
        window = text[max(0, i - 3) : i] + text[i + 1 : i + 4]
        if text[i] in "?_" or any(_rare(c) for c in window):
            pos.append(i)
    return sorted(set(pos))


def find_garbled(text: str) -> list[GarbledRun]:
    """Runs of mojibake in `text`: each trigger widened over the implausible characters around it."""
    stops = "\n，,。；：:！!、“”"
    runs: list[tuple[int, int]] = []
    for t in _triggers(text):
        s, e = t, t + 1
        gap = 0
        while s > 0 and text[s - 1] not in stops and t - s < 8:
            if _rare(text[s - 1]) or not (is_cjk(text[s - 1]) or text[s - 1].isdigit()):
                s -= 1
                gap = 0
            elif gap == 0 and s > 1 and _rare(text[s - 2]):
                s -= 1
                gap = 1
            else:
                break
        gap = 0
        while e < len(text) and text[e] not in stops and e - t < 9:
            if _rare(text[e]) or not (is_cjk(text[e]) or text[e].isdigit() or text[e].isspace()):
                e += 1
                gap = 0
            elif gap == 0 and e + 1 < len(text) and _rare(text[e + 1]):
                e += 1
                gap = 1
            else:
                break
        if s == 1 and text[0] in _NO_LINE_START or s > 1 and text[s - 2] == "\n" and text[s - 1] in _NO_LINE_START:
            s -= 1
        if runs and s <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], e))
        else:
            runs.append((s, e))
    return [GarbledRun(s, e, text[s:e], repair(text[s:e])) for s, e in runs]
