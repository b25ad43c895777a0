"""Character classes and sentence ends: which characters are CJK or wide, and whether a line ends a
sentence. The readers use them to join lines into paragraphs, the cleaner and the chunker to cut;
they sit in the reading stage, the lowest, so every later stage may import them."""

from __future__ import annotations

import unicodedata


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF


def is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") or ch in "“”‘’…—"


def display_width(s: str) -> int:
    return sum(2 if is_wide(c) else 1 for c in s)


SENTENCE_END = "。！？!?"
CLAUSE_END = SENTENCE_END + "；;"
CLOSERS = "”’」』）)》\"'"


def ends_sentence(s: str, extra: str = "") -> bool:
    """Whether `s` ends with sentence-final punctuation (closing quotes/brackets skipped)."""
    s = s.rstrip()
    while s and s[-1] in CLOSERS:
        s = s[:-1]
    return bool(s) and s[-1] in SENTENCE_END + extra
