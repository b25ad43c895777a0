"""What an uploaded report may be: its format sniffed from its bytes, its text read, and a clear
`InvalidReport` for anything the library would refuse (checked before a file is written)."""

from __future__ import annotations

import re

from rag.errors import InvalidReport, RagError
from rag.read.decode import binary_kind, too_many_controls
from rag.read.formats import read_bytes, sniff


def validate_upload(data: bytes, max_bytes: int, name: str = "") -> tuple[str, str]:
    """The format of an uploaded report (sniffed from its bytes: pdf, docx, html, or a text format
    by the name's suffix) and the text it holds, or `InvalidReport` saying what is wrong with it."""
    if len(data) > max_bytes:
        raise InvalidReport(f"the report is {len(data)} bytes; at most {max_bytes} are accepted")
    if not data.strip():
        raise InvalidReport("the report is empty")
    fmt = sniff(data, name)
    if fmt not in ("pdf", "docx", "html") and binary_kind(data) is None:
        return fmt, validate_report(data, max_bytes)
    try:
        sources = read_bytes(data, display_name(name))
    except RagError as exc:
        raise InvalidReport(str(exc).splitlines()[0]) from exc
    text = "\n".join(s.text for s in sources)
    if not text.strip():
        raise InvalidReport("the report has no text")
    return fmt, text


def validate_report(data: bytes, max_bytes: int) -> str:
    """The text of an uploaded text report, or `InvalidReport` saying what is wrong with it."""
    if len(data) > max_bytes:
        raise InvalidReport(f"the report is {len(data)} bytes; at most {max_bytes} are accepted")
    if not data.strip():
        raise InvalidReport("the report is empty")
    if b"\x00" in data:
        raise InvalidReport("the report is not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidReport(f"the report is not UTF-8 text (invalid byte at offset {exc.start})") from exc
    if controls := too_many_controls(text):  # the readers' rule: a report the CLI reads is not refused here
        raise InvalidReport(f"the report looks binary ({controls} control characters)")
    if not re.search(r"[\u4e00-\u9fff]|[A-Za-z]{3}", text):
        raise InvalidReport("the report has no Chinese or English text")
    return text


def display_name(name: str | None) -> str:
    """A client's file name reduced to something safe to show (it is never used as a path)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    return base[:120] or "upload.txt"
