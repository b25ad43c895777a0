"""Reading: turn a file, as people have it, into the report texts it holds.

Reports arrive as plain text in whatever encoding the publishing office used (UTF-8, GBK/GB18030,
UTF-16 from Windows Notepad) and as dataset records (CSV rows, JSON Lines, JSON). This module
decodes the bytes, finds the field that holds the report in a record, unifies line endings to
``\\n`` and resolves literal ``<U+00A0>``-style tokens left by export tools. Nothing else is
changed: indents, trailing spaces and blank lines stay, because the chunker reads the layout and
citations point at character offsets in exactly this text.

Example: ``read_source(Path("甲市_2024.csv"))`` gives one `SourceText` per row whose long text
column is filled, with the row's other columns (``title``, ``year`` …) in `SourceText.fields`.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import json
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import RagError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".csv", ".jsonl", ".json", ".pdf", ".docx", ".html", ".htm")

# a field holds a report when its filled values average at least this many characters: titles,
# dates and URLs are shorter, and even the 摘要 of a county report is longer
MIN_REPORT_CHARS = 200


@dataclass
class SourceSpan:
    """Where a stretch of `SourceText.text` comes from in the original file (PDF, DOCX, HTML)."""

    start: int  # offsets in SourceText.text
    end: int
    page: int | None = None  # 1-based page of a PDF
    para: int | None = None  # 1-based paragraph (block) of the source: DOCX paragraph, HTML block, PDF block on its page


@dataclass
class SourceText:
    """One report as read from a file, before any cleaning or cutting.

    For a text or dataset file `text` is the file's own text, so offsets are offsets in the file.
    For PDF, DOCX and HTML it is the text extracted from the file, one paragraph per line, and
    `source_map` maps its offsets back to the page / paragraph of the original."""

    text: str  # decoded, line endings unified to "\n", export artefacts resolved; otherwise as found
    record: int | None  # 1-based record number in a CSV/JSON(L) file (see `read_bytes`); None for text
    fields: dict[str, str]  # the record's other filled scalar fields as stripped strings; {} for text
    encoding: str  # how the bytes were decoded, e.g. "utf-8", "utf-8-sig", "gb18030", "utf-16"; the format for binary files
    suffix_id: str  # "" when the file holds one report, else "r<record>": distinct document ids
    fmt: str = "text"  # text | csv | json | pdf | docx | html
    source_map: list[SourceSpan] = field(default_factory=list)  # sorted by start; [] for text files
    headings: list[tuple[int, int]] = field(default_factory=list)  # (line start offset, level 1-4) from styles/tags

    def locate(self, offset: int) -> SourceSpan | None:
        """The span of the original that holds `offset` (None for text files)."""
        i = bisect.bisect_right([s.start for s in self.source_map], offset) - 1
        return self.source_map[i] if i >= 0 else None


# --- decoding -----------------------------------------------------------------------------------
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
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and Office files with a password
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
            raise RagError(f"{label} is {what}, not a report; give the report as text (.txt), Word (.docx), "
                           "PDF or a web page (.html)")
    text, encoding = _decode(raw, label)
    if controls := too_many_controls(text):
        raise RagError(f"{label} looks binary, not text ({controls} control characters after decoding as {encoding})")
    return text, encoding


def _decode(raw: bytes, label: str) -> tuple[str, str]:
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            damaged = _damaged(raw[len(codecs.BOM_UTF8):], "utf-8")
            if damaged is None:
                raise RagError(f"{label} starts with a UTF-8 byte-order mark but is not UTF-8 "
                               f"(invalid byte at offset {exc.start})") from exc
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
                raise RagError(f"{label} starts with a {encoding.upper()} byte-order mark but is not "
                               f"{encoding.upper()} (invalid data at offset {exc.start})") from exc
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
        raise RagError(f"{label} is not text in any known encoding (not UTF-8, UTF-16, GB18030 or another "
                       f"code page charset-normalizer recognises)")
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
    return (" " <= c <= "~" or c in "\t\n\r\f" or _is_cjk(c) or "\u00a0" <= c <= "\u00ff"
            or "\u2000" <= c <= "\u206f" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")


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
    chinese_like = len(han) + sum(1 for c in non_ascii if not _is_cjk(c) and (
        "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or "\u2000" <= c <= "\u206f"))
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


def _repair(text: str) -> str:
    return resolve_artefacts(unify_newlines(text))


# --- formats ------------------------------------------------------------------------------------
def read_source(path: Path) -> list[SourceText]:
    """The reports in the file at `path` (see `read_bytes`); a clear error if it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RagError(f"cannot read {path}: {exc.strerror}") from exc
    return read_bytes(raw, path.name)


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta\s)", re.I | re.S)
_HTML_EARLY = re.compile(rb"<(?:body|head|meta\s+charset|title)[\s>/]", re.I)


def looks_like_html(raw: bytes) -> bool:
    """Whether `raw` is a web page: it starts (after a BOM, blanks and comments) with a doctype or
    an <html>/<head>/<body> tag, or has a <head>/<body>/<title> tag in its first 2 KB before any
    line of plain text. A report that quotes a tag further down is still text."""
    head = raw[:2048]
    for bom, enc in ((codecs.BOM_UTF8, None), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            head = head[len(bom):]
            if enc:
                head = head.decode(enc, errors="ignore").encode("utf-8")
            break
    if _HTML_START.match(head):
        return True
    first = head.lstrip()[:1]
    return first == b"<" and bool(_HTML_EARLY.search(head))


def sniff(raw: bytes, name: str = "") -> str:
    """The format of a file, from its bytes (an extension can lie): pdf | docx | html, or the
    text formats by `name`'s suffix: csv | json | jsonl | text. A ZIP that is not a Word document,
    and other binary files, are left to `decode`, which names them in its error."""
    head = raw[:1024]
    if b"%PDF-" in head:
        return "pdf"
    suffix = Path(name).suffix.lower()
    if raw.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                if "word/document.xml" in zf.namelist():
                    return "docx"
        except (zipfile.BadZipFile, OSError, ValueError):
            return "docx" if suffix == ".docx" else "zip"  # a damaged .docx: its reader says so
        return "zip"
    if raw.startswith(_OLE) and suffix == ".docx":
        return "docx"  # a password-protected .docx is an OLE container: its reader says so
    if looks_like_html(raw):
        return "html"
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "json"}.get(suffix, "text")


# The suffix a stored copy of a file of each format gets (uploads are saved under generated names).
FORMAT_SUFFIX = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "csv": ".csv", "jsonl": ".jsonl",
                 "json": ".json", "text": ".txt"}
MEDIA_TYPES = {".pdf": "application/pdf",
               ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               ".html": "text/html", ".htm": "text/html", ".csv": "text/csv", ".jsonl": "application/jsonl",
               ".json": "application/json", ".txt": "text/plain", ".md": "text/markdown"}


def read_bytes(raw: bytes, name: str) -> list[SourceText]:
    """The reports in `raw`, a file's bytes (an upload has no path); the format is sniffed from the
    bytes (PDF, DOCX, HTML), else `name`'s suffix picks a text format.

    ``.csv`` and ``.jsonl``/``.json`` give one `SourceText` per record whose report field is
    filled (`record`: the n-th data row of a CSV, header not counted; the line number in a JSON
    Lines file; the position in a JSON list); PDF, Word and web pages one report each, read by
    their own reader (`rag.read_pdf`, `rag.read_docx`, `rag.read_html`); anything else is one
    plain-text report. An empty file, or a dataset with no records, gives []. Raises `RagError`
    (one line) for bytes that are not a report, malformed CSV/JSON (naming the line) and records
    with no report-like text field.
    """
    if not raw.strip():
        return []
    fmt = sniff(raw, name)
    if fmt == "pdf":
        from .read_pdf import read_pdf

        return read_pdf(raw, name)
    if fmt == "docx":
        from .read_docx import read_docx

        return read_docx(raw, name)
    if fmt == "html":
        from .read_html import read_html

        return read_html(raw, name)
    text, encoding = decode(raw, name)
    if not text.strip():
        return []  # a byte-order mark and nothing else
    if fmt == "csv":
        items = _csv_records(unify_newlines(text), name)
    elif fmt in ("jsonl", "json"):
        items = _json_records(text, name, lines=fmt == "jsonl")
    else:
        text = _repair(text)
        return [SourceText(text, None, {}, encoding, "")] if text.strip() else []
    single = len(items) == 1
    kind = "csv" if fmt == "csv" else "json"
    return [SourceText(_repair(body), n, fields, encoding, "" if single else f"r{n}", fmt=kind)
            for n, body, fields in items]


Record = tuple[int, str, dict[str, str]]  # (record number, report text, other fields)


def _pick_field(rows: list[dict[str, str]], name: str, what: str) -> str:
    """The field whose values are longest in total; its filled values must average
    `MIN_REPORT_CHARS` or more, else the file has no report in it."""
    totals: dict[str, int] = {}
    filled: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            n = len(value.strip())
            totals[key] = totals.get(key, 0) + n
            filled[key] = filled.get(key, 0) + (n > 0)
    if not totals or max(totals.values()) == 0:
        raise RagError(f"{name}: no {what} holds text, so there is no report in it")
    best = max(totals, key=lambda k: totals[k])  # first of equals: dicts keep column order
    average = totals[best] // filled[best]
    if average < MIN_REPORT_CHARS:
        raise RagError(f"{name}: no {what} holds report text (the longest, {best!r}, averages {average} "
                       f"characters; a report needs at least {MIN_REPORT_CHARS})")
    return best


def _clean_field(value: str) -> str:
    return _repair(value).strip()


def _csv_records(text: str, name: str) -> list[Record]:
    """Rows of a CSV in any dialect; the header is the first row unless that row already holds
    the long text (a file without a header), in which case columns are named column1, column2 …"""
    first_line = text.split("\n", 1)[0][:4096]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    # the default limit (128 Ki characters) is smaller than a long report; only ever raised here
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=True)
    rows: list[tuple[int, list[str]]] = []  # (first line of the row, cells)
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RagError(f"{name}: malformed CSV at line {reader.line_num} ({exc})") from exc
    if not rows:
        return []
    width = max(len(cells) for _, cells in rows)
    # which column is long, judged on the rows after the first (the first may be the header)
    body = rows[1:] or rows
    col = max(range(width), key=lambda i: sum(len(c[i].strip()) for _, c in body if i < len(c)))
    header_cells = rows[0][1]
    has_header = not (col < len(header_cells) and len(header_cells[col].strip()) >= MIN_REPORT_CHARS)
    if has_header:
        names = _column_names(header_cells)
        data = rows[1:]
        if not data:
            return []  # a header and no records: nothing to read
    else:
        names = [f"column{i + 1}" for i in range(width)]
        data = rows
    table: list[dict[str, str]] = []
    for line, cells in data:
        if len(cells) != len(names):
            raise RagError(f"{name}: malformed CSV at line {line}: the row has {len(cells)} fields, "
                           f"the {'header has' if has_header else 'first row has'} {len(names)}")
        table.append(dict(zip(names, cells)))
    key = _pick_field(table, name, "column")
    out: list[Record] = []
    for n, row in enumerate(table, 1):
        if row[key].strip():
            others = {k: _clean_field(v) for k, v in row.items() if k != key and v.strip()}
            out.append((n, row[key], others))
    return out


def _column_names(cells: list[str]) -> list[str]:
    names: list[str] = []
    for i, cell in enumerate(cells):
        base = cell.strip().lstrip("\ufeff") or f"column{i + 1}"
        n, cand = 1, base
        while cand in names:
            n += 1
            cand = f"{base}_{n}"
        names.append(cand)
    return names


def _json_records(text: str, name: str, lines: bool) -> list[Record]:
    """Objects from JSON Lines (one per line) or JSON (an object, or a list of objects). A file
    named for one form but written in the other is read in the form it is written in."""
    unit = "line" if lines else "item"
    if lines:
        try:
            objs = _json_lines(text, name)
        except RagError as exc:
            objs, unit = _json_document(text, name, fallback=exc), "item"
    else:
        try:
            objs = _json_document(text, name)
        except RagError as exc:
            try:
                objs, unit = _json_lines(text, name), "line"
            except RagError:
                raise exc from None
            if len(objs) < 2:
                raise exc from None
    table: list[tuple[int, dict]] = []
    for n, obj in objs:
        if not isinstance(obj, dict):
            raise RagError(f"{name}: {unit} {n} is a JSON {_json_type(obj)}, not an object with a report field")
        table.append((n, obj))
    if not table:
        return []
    strings = [{k: v for k, v in obj.items() if isinstance(v, str)} for _, obj in table]
    key = _pick_field(strings, name, "string field")
    out: list[Record] = []
    for (n, obj), texts in zip(table, strings):
        body = texts.get(key, "")
        if body.strip():
            others = {str(k): _scalar(v) for k, v in obj.items()
                      if k != key and v is not None and not isinstance(v, (dict, list))}
            out.append((n, body, {k: v for k, v in others.items() if v}))
    return out


def _scalar(value: object) -> str:
    return _clean_field(value) if isinstance(value, str) else json.dumps(value)


def _json_type(obj: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(obj), "null")


def _json_lines(text: str, name: str) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for n, line in enumerate(unify_newlines(text).split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line, strict=False)))  # strict=False: raw tabs inside strings
        except json.JSONDecodeError as exc:
            raise RagError(f"{name}: line {n} is not valid JSON ({exc.msg} at column {exc.colno})") from exc
    return out


def _json_document(text: str, name: str, fallback: RagError | None = None) -> list[tuple[int, object]]:
    try:
        doc = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        if fallback is not None:
            raise fallback from None
        raise RagError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    if isinstance(doc, dict):
        # {"data": [{…}, {…}]}: an object whose only content is a list of records
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        long_strings = [v for v in doc.values() if isinstance(v, str) and len(v.strip()) >= MIN_REPORT_CHARS]
        if len(lists) == 1 and not long_strings:
            doc = lists[0]
        else:
            return [(1, doc)]
    if isinstance(doc, list):
        return list(enumerate(doc, 1))
    raise RagError(f"{name} holds a JSON {_json_type(doc)}, not an object or a list of objects")


# --- which files ----------------------------------------------------------------------------------
def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to the report files directly inside them (suffix in `SUFFIXES`, sorted by
    name; hidden files such as macOS ``._甲市.txt`` are skipped); a file named explicitly is kept
    whatever its suffix, so reading it gives the real error. A missing path is an error."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir()
                              if q.is_file() and not q.name.startswith(".") and q.suffix.lower() in SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise RagError(f"no such file or directory: {p}")
    return out
