"""Reading: turn a file, as people have it, into the report texts it holds.

Reports arrive as plain text in whatever encoding the publishing office used (UTF-8, GBK/GB18030,
UTF-16 from Windows Notepad), as dataset records (CSV rows, JSON Lines, JSON), as PDF, Word and web
pages. This module tells the format from the bytes and hands the file to the reader for it:
`rag.read.decode` for the encoding and the two repairs every text gets (line endings unified to ``\\n``,
literal ``<U+00A0>``-style tokens resolved), `rag.read.records` for the field that holds the report in
a record, `rag.read.pdf`, `rag.read.docx`, `rag.read.html`. Nothing else is changed: indents,
trailing spaces and blank lines stay, because the chunker reads the layout and citations point at
character offsets in exactly this text.

Example: ``read_source(Path("甲市_2024.csv"))`` gives one `SourceText` per row whose long text
column is filled, with the row's other columns (``title``, ``year`` …) in `SourceText.fields`.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from rag.errors import RagError
from rag.read.decode import decode, repair, unify_newlines
from rag.read.records import csv_records, json_records
from rag.read.source import SourceText

SUFFIXES = (".txt", ".md", ".csv", ".jsonl", ".json", ".pdf", ".docx", ".html", ".htm")


# --- formats ------------------------------------------------------------------------------------
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and Office files with a password


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
            head = head[len(bom) :]
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
FORMAT_SUFFIX = {
    "pdf": ".pdf",
    "docx": ".docx",
    "html": ".html",
    "csv": ".csv",
    "jsonl": ".jsonl",
    "json": ".json",
    "text": ".txt",
}
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".csv": "text/csv",
    ".jsonl": "application/jsonl",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/markdown",
}


def read_bytes(raw: bytes, name: str) -> list[SourceText]:
    """The reports in `raw`, a file's bytes (an upload has no path); the format is sniffed from the
    bytes (PDF, DOCX, HTML), else `name`'s suffix picks a text format.

    ``.csv`` and ``.jsonl``/``.json`` give one `SourceText` per record whose report field is
    filled (`record`: the n-th data row of a CSV, header not counted; the line number in a JSON
    Lines file; the position in a JSON list); PDF, Word and web pages one report each, read by
    their own reader (`rag.read.pdf`, `rag.read.docx`, `rag.read.html`); anything else is one
    plain-text report. An empty file, or a dataset with no records, gives []. Raises `RagError`
    (one line) for bytes that are not a report, malformed CSV/JSON (naming the line) and records
    with no report-like text field.
    """
    if not raw.strip():
        return []
    fmt = sniff(raw, name)
    if fmt == "pdf":
        from rag.read.pdf import read_pdf

        return read_pdf(raw, name)
    if fmt == "docx":
        from rag.read.docx import read_docx

        return read_docx(raw, name)
    if fmt == "html":
        from rag.read.html import read_html

        return read_html(raw, name)
    text, encoding = decode(raw, name)
    if not text.strip():
        return []  # a byte-order mark and nothing else
    if fmt == "csv":
        items = csv_records(unify_newlines(text), name)
    elif fmt in ("jsonl", "json"):
        items = json_records(text, name, lines=fmt == "jsonl")
    else:
        text = repair(text)
        return [SourceText(text, None, {}, encoding, "")] if text.strip() else []
    single = len(items) == 1
    kind = "csv" if fmt == "csv" else "json"
    return [
        SourceText(repair(body), n, fields, encoding, "" if single else f"r{n}", fmt=kind) for n, body, fields in items
    ]


# --- which files ----------------------------------------------------------------------------------
def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to the report files directly inside them (suffix in `SUFFIXES`, sorted by
    name; hidden files such as macOS ``._甲市.txt`` are skipped); a file named explicitly is kept
    whatever its suffix, so reading it gives the real error. A missing path is an error."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.iterdir()
                    if q.is_file() and not q.name.startswith(".") and q.suffix.lower() in SUFFIXES
                )
            )
        elif p.is_file():
            out.append(p)
        else:
            raise RagError(f"no such file or directory: {p}")
    return out
