"""Bytes to text: the encoding a report was saved in, told from the bytes, and the two repairs
every format gets (line endings, literal ``<U+00A0>`` tokens of export tools).

Reports arrive in whatever encoding the publishing office used (UTF-8, GBK/GB18030, UTF-16 from
Windows Notepad), and nothing says which: `decode` tries the strict readings in the order that
Chinese offices make likely before guessing, and refuses binary files with a message that names
what they are. Nothing else is changed, because citations point at offsets in this text.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

from rag.errors import RagError

log = logging.getLogger(__name__)

_BOMS = (  # UTF-32 first: the UTF-32-LE mark begins with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SIGNATURES = (  # binary formats people mistake for reports, named so the message says what to do
    (b"PK\x03\x04", "a ZIP archive but not a Word document (.docx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls)"),
    (b"{\\rtf", "an RTF file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a RAR archive"),
)
# control characters other than tab, newline, vertical tab (Word's line break), form feed and carriage return
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def too_many_controls(text: str) -> int:
    """The number of control characters when there are more than a text report has (a few stray
    ones, or one per thousand characters), else 0: one rule for every reader and for uploads."""
    controls = len(_CONTROL.findall(text))
    return controls if controls > max(2, len(text) // 1000) else 0


def binary_kind(raw: bytes) -> str | None:
    """What a binary file people mistake for a report is ("a PNG image" …), or None."""
    return next((what for sig, what in _SIGNATURES if raw.startswith(sig)), None)


def decode(raw: bytes, name: str = "") -> tuple[str, str]:
    """The text in `raw` and the encoding it was read with.

    Order: strict UTF-8 (with or without BOM), UTF-16/32 by BOM (or BOM-less UTF-16 that reads
    as Chinese or ASCII), strict GB18030 when the result reads as Chinese, UTF-8 or GB18030 with
    a few damaged bytes (read as U+FFFD, logged), else charset-normalizer's best guess. GB18030
    comes before guessing because it is what Chinese offices save in (a superset of GBK and
    GB2312) and charset-normalizer calls short GBK text cp949 (Korean) and cut-off UTF-8 or GBK
    undecodable. Raises `RagError` (one line) for binary or undecodable bytes.
    """
    label = name or "the input"
    for sig, what in _SIGNATURES:
        if raw.startswith(sig):
            raise RagError(
                f"{label} is {what}, not a report; give the report as text (.txt), Word (.docx), "
                "PDF or a web page (.html)"
            )
    text, encoding = _decode(raw, label)
    if controls := too_many_controls(text):
        raise RagError(f"{label} looks binary, not text ({controls} control characters after decoding as {encoding})")
    return text, encoding


def _decode(raw: bytes, label: str) -> tuple[str, str]:
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            damaged = _damaged(raw[len(codecs.BOM_UTF8) :], "utf-8")
            if damaged is None:
                raise RagError(
                    f"{label} starts with a UTF-8 byte-order mark but is not UTF-8 (invalid byte at offset {exc.start})"
                ) from exc
            log.warning("%s: utf-8 with %d invalid byte sequence(s), each read as U+FFFD", label, damaged[1])
            return damaged[0], "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise RagError(
                    f"{label} starts with a {encoding.upper()} byte-order mark but is not "
                    f"{encoding.upper()} (invalid data at offset {exc.start})"
                ) from exc
    if b"\x00" in raw:
        guessed = _bomless_utf16(raw)
        if guessed:
            return guessed
        raise RagError(f"{label} is not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _reads_as_chinese(text):
        return text, "gb18030"
    for encoding in ("utf-8", "gb18030"):
        damaged = _damaged(raw, encoding)
        if damaged is not None:
            text, bad = damaged
            log.warning("%s: %s with %d invalid byte sequence(s), each read as U+FFFD", label, encoding, bad)
            return text, encoding
    from charset_normalizer import from_bytes  # imported here: only files that are neither UTF nor GB need it

    best = from_bytes(raw).best()
    if best is None:
        raise RagError(
            f"{label} is not text in any known encoding (not UTF-8, UTF-16, GB18030 or another "
            f"code page charset-normalizer recognises)"
        )
    return str(best), codecs.lookup(best.encoding).name


def _damaged(raw: bytes, encoding: str) -> tuple[str, int] | None:
    """UTF-8 or GB18030 with a few bad bytes (a download cut mid-character, a corrupted byte):
    the rest is worth reading, with U+FFFD marking the damage (`clean.find_garbled` flags it).
    A wrong encoding gives invalid sequences everywhere, not under 1 % of a hundred or more."""
    text = raw.decode(encoding, errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode(encoding))  # minus U+FFFD stored as such
    good = sum(1 for c in text if ord(c) > 0x7F) - text.count("\ufffd")
    if not (0 < bad and good >= 100 and bad * 100 <= good):
        return None
    if encoding == "gb18030" and not _reads_as_chinese(text):
        return None
    return text, bad


def _bomless_utf16(raw: bytes) -> tuple[str, str] | None:
    """UTF-16 without a byte-order mark, for Chinese or ASCII text. The right byte order reads
    as CJK, CJK punctuation and ASCII; the wrong one reads Chinese as Hangul, Yi and private-use
    code points. ASCII read the wrong way round is CJK too ("a\\0" is U+6100), so when both
    orders read well the NULs decide: ASCII puts them in the high byte (odd offsets for LE)."""
    if len(raw) % 2:
        return None
    readings = []
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if sum(1 for c in text if _plausible(c)) >= 0.9 * len(text):
            readings.append((text, encoding))
    if len(readings) == 2:
        odd, even = raw[1::2].count(0), raw[0::2].count(0)
        return readings[0] if odd > even else readings[1]
    return readings[0] if readings else None


def _plausible(c: str) -> bool:
    return (
        " " <= c <= "~"
        or c in "\t\n\r\f"
        or _is_cjk(c)
        or "\u00a0" <= c <= "\u00ff"
        or "\u2000" <= c <= "\u206f"
        or "\u3000" <= c <= "\u303f"
        or "\uff00" <= c <= "\uffef"
    )


def _is_cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\uf900" <= c <= "\ufaff"


def _in_gb2312(c: str) -> bool:
    try:
        c.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _reads_as_chinese(text: str) -> bool:
    """Whether GB18030-decoded bytes are Chinese rather than another encoding read wrongly.

    Almost every double-byte encoding decodes "validly" as GB18030, but the result is then rare
    characters: real simplified-Chinese text uses the 6,763 GB2312 characters for nearly all its
    ideographs, and CJK punctuation and full-width forms for most of the rest of its non-ASCII.
    Measured on the corpus: simplified text 100 % GB2312, the same text in Traditional script
    65 %; its Big5 bytes read as GB18030 49 %, with only 48 % of the non-ASCII Chinese-like
    (Big5's common characters land on GBK's kana, Greek and Cyrillic rows).
    """
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii:
        return False  # pure ASCII is UTF-8 and never reaches here
    han = [c for c in non_ascii if _is_cjk(c)]
    if not han:
        return False
    common = {c for c in set(han) if _in_gb2312(c)}
    in_gb2312 = sum(1 for c in han if c in common)
    chinese_like = len(han) + sum(
        1
        for c in non_ascii
        if not _is_cjk(c) and ("\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or "\u2000" <= c <= "\u206f")
    )
    return in_gb2312 >= 0.6 * len(han) and chinese_like >= 0.9 * len(non_ascii)


# --- the two repairs every format gets ----------------------------------------------------------
_NEWLINE = re.compile(r"\r+\n|\r")
_ARTEFACT = re.compile(r"<U\+([0-9A-F]{4,6})>", re.IGNORECASE)


def unify_newlines(text: str) -> str:
    """CR CR LF (a CRLF file converted to CRLF again), CRLF and lone CR all become one "\\n".

    A run of CRs before LF is one line end, not blank lines: "甲市\\r\\r\\n乙县" is two lines.
    """
    return _NEWLINE.sub("\n", text)


def resolve_artefacts(text: str) -> str:
    """Literal tokens such as "<U+00A0>" (written by exporters that could not encode the
    character) become the character they name, when it is a space or format character
    (U+00A0, U+2002–U+200F, U+3000, U+FEFF …): "甲市<U+00A0>乙县" → "甲市\\u00a0乙县".
    A token naming a letter or symbol is left as written: that may be meant literally."""

    def repl(m: re.Match[str]) -> str:
        cp = int(m.group(1), 16)
        if cp > 0x10FFFF:
            return m.group(0)
        ch = chr(cp)
        return ch if unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cf") else m.group(0)

    return _ARTEFACT.sub(repl, text)


def repair(text: str) -> str:
    """Both repairs: `unify_newlines`, then `resolve_artefacts`."""
    return resolve_artefacts(unify_newlines(text))
