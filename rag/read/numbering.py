"""How reports number things: Chinese numerals, the numbering that opens a heading (一、 （一） 1.)
and note markers (［3］).

Kept apart from the chunking stages because readers (Word numbering), metadata (dates, periods) and
annotation (note links) read the same numbers.
"""

from __future__ import annotations

import re

CN_DIGITS = "零一二三四五六七八九十"
_CN_NUM = r"[一二三四五六七八九十]{1,3}"
CN_ENUM_RE = re.compile(rf"^({_CN_NUM})、")
PAREN_ENUM_RE = re.compile(rf"^[（(]({_CN_NUM})[）)]")
ARABIC_ENUM_RE = re.compile(r"^(\d{1,2})[.．、](?!\d)")
# Note markers in the text (［3］, [3], ^[3]).
NOTE_MARK_RE = re.compile(r"\^?[［\[【](\d{1,3})[］\]】]")


def cn_to_int(s: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for report numbering)."""
    if not s:
        return 0
    if s == "十":
        return 10
    if "十" in s:
        a, _, b = s.partition("十")
        return (CN_DIGITS.index(a) if a else 1) * 10 + (CN_DIGITS.index(b) if b else 0)
    return CN_DIGITS.index(s[0])


def int_to_cn(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (the inverse of `cn_to_int` up to 99)."""
    if n <= 10:
        return CN_DIGITS[n] if n < 10 else "十"
    tens, ones = divmod(n, 10)
    return (CN_DIGITS[tens] if tens > 1 else "") + "十" + (CN_DIGITS[ones] if ones else "")


def enum_prefix(s: str) -> tuple[str, int | None, int]:
    """Numbering at the start of `s`: (style, number, length of the prefix); style is cn (一、),
    paren (（一）) or arabic (1.), or "" with (None, 0) when `s` does not open with a number."""
    if m := CN_ENUM_RE.match(s):
        return "cn", cn_to_int(m.group(1)), m.end()
    if m := PAREN_ENUM_RE.match(s):
        return "paren", cn_to_int(m.group(1)), m.end()
    if m := ARABIC_ENUM_RE.match(s):
        return "arabic", int(m.group(1)), m.end()
    return "", None, 0
