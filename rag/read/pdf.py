"""Reading PDF files that have a text layer (what Word, WPS and LibreOffice export).

The text is taken character by character with its box from PDFium (pypdfium2: BSD-3/Apache-2.0,
chosen by eval/bench_pdf.py: fastest of the measured libraries with the same CJK quality, and
already what pdfplumber renders with), grouped into lines, then `pdf_layout` drops running
headers, footers and page numbers, orders two-column pages and joins broken lines back into
paragraphs. The result is one paragraph per line; `source_map` gives each its page and its block
number on that page, split at page breaks.

Example: ``read_pdf(Path("甲市_2025.pdf").read_bytes(), "甲市_2025.pdf")`` → one `SourceText`.
"""

from __future__ import annotations

import logging
import re

from rag.errors import RagError
from rag.read.chars import is_cjk
from rag.read.pdf_layout import Line, body_size, columns, drop_furniture, fold_compat, heading_level, paragraphs
from rag.read.source import SourceSpan, SourceText

log = logging.getLogger(__name__)

MAX_PAGES = 2000  # a report is a few hundred pages at most; beyond that it is not one report
MAX_CHARS_PER_PAGE = 20000  # a dense A4 page holds ~2,000 CJK characters; more is hostile or a table dump
MIN_TEXT_CHARS = 20  # fewer characters over the whole file than this: no text layer
_LATIN = re.compile(r"[A-Za-z0-9]")


def read_pdf(raw: bytes, name: str) -> list[SourceText]:
    """The report in a PDF's bytes. Raises `RagError` (one line) for a file that is not a PDF, is
    truncated or damaged, is locked by a password, has no text layer, is too long, or needs more
    memory or time to read than any report does (PDFium runs in a child process: `_isolated`)."""
    label = name or "the PDF"
    head = raw[:1024]
    if b"%PDF-" not in head:
        raise RagError(f"{label} is not a PDF file (no %PDF header); check the file or its name")
    if b"%%EOF" not in raw[-2048:]:
        raise RagError(f"{label} is a truncated PDF (it does not end with %%EOF): download or export it again")
    pages, heights, widths = _isolated(raw, label)
    return [_assemble(pages, heights, widths, label)]


MAX_MEMORY = 1 << 30  # address space of the child reading one PDF (a 400-page report needs ~300 MB)
MAX_SECONDS = 300  # a 2,000-page PDF reads in well under a minute


def _isolated(raw: bytes, label: str) -> tuple[list[list[Line]], list[float], list[float]]:
    """`_extract` in a child process limited to `MAX_MEMORY` of address space and `MAX_SECONDS`.

    PDFium is C code reading whatever the file says: a content stream that inflates to 1 GB of
    text operators made it allocate 20 GB, and a malformed file can crash it. In the reading
    process that takes the command or the whole service down; in a child it is one refused file."""
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.read.pdf", label, str(MAX_MEMORY)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(raw, timeout=MAX_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RagError(
            f"{label} takes over {MAX_SECONDS} s to read, longer than any report; "
            f"it is not a normal PDF: export it again"
        ) from None
    if proc.returncode == 0:
        kind, value = pickle.loads(out)
        if kind == "error":
            raise RagError(value)
        return value
    log.debug("PDF reader exited with %s: %s", proc.returncode, err.decode("utf-8", "replace")[-2000:])
    raise RagError(
        f"{label} needs more than {MAX_MEMORY >> 20} MB of memory to read (a decompression bomb, "
        f"or a file that crashes the PDF engine); it is not a normal PDF: export it again"
    )


def _child(label: str, limit: int) -> None:
    """The child's side of `_isolated`: the PDF's bytes on stdin, ("ok", pages) or ("error", message) pickled on stdout."""
    import pickle
    import resource
    import sys

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    raw = sys.stdin.buffer.read()
    try:
        result: tuple = ("ok", _extract(raw, label))
    except RagError as exc:
        result = ("error", str(exc))
    sys.stdout.buffer.write(pickle.dumps(result))


def _extract(raw: bytes, label: str) -> tuple[list[list[Line]], list[float], list[float]]:
    """Every page's lines, heights and widths, read with PDFium."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise RagError(
                f"{label} is encrypted (locked with a password): save an unlocked copy and add that"
            ) from None
        raise RagError(f"{label} is damaged and cannot be opened as a PDF ({_why(exc)}): export it again") from None
    try:
        n = len(doc)
        if n == 0:
            raise RagError(f"{label} has no pages")
        if n > MAX_PAGES:
            raise RagError(f"{label} has {n} pages; at most {MAX_PAGES} are read: split it into its reports")
        pages, heights, widths = [], [], []
        for i in range(n):
            page = doc[i]
            try:
                w, h = page.get_size()
                pages.append(_page_lines(page, i + 1, h, label))
                widths.append(w)
                heights.append(h)
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise RagError(f"{label} is damaged ({_why(exc)}): export it again") from None
    finally:
        doc.close()
    return pages, heights, widths


def _why(exc: Exception) -> str:
    m = re.search(r"PDFium: ([^)]*)", str(exc))
    return m.group(1).strip().lower() if m else "unreadable"


def _page_lines(page, number: int, height: float, label: str) -> list[Line]:
    """The page's characters (with their boxes, font size and weight) grouped into lines."""
    import pypdfium2.raw as pr

    tp = page.get_textpage()
    try:
        count = pr.FPDFText_CountChars(tp)
        if count > MAX_CHARS_PER_PAGE:
            raise RagError(f"{label}: page {number} has {count} characters, more than a report page can hold")
        import ctypes

        left, r, b, t, ox, oy = (ctypes.c_double() for _ in range(6))
        chars: list[tuple[str, float, float, float, float, float, bool, bool]] = []
        space = False  # the file has a space character before the next one
        for i in range(count):
            code = pr.FPDFText_GetUnicode(tp, i)
            if code in (0, 2, 10, 13, 0xFFFE, 0xFFFF):  # none, PDFium's soft hyphen marker, line ends
                continue
            ch = chr(code)
            if ch.isspace():
                space = space or not pr.FPDFText_IsGenerated(tp, i)
                continue
            if not pr.FPDFText_GetCharBox(tp, i, left, r, b, t):
                continue
            size = pr.FPDFText_GetFontSize(tp, i)
            bold = pr.FPDFText_GetFontWeight(tp, i) >= 600
            if pr.FPDFText_GetCharOrigin(tp, i, ox, oy):
                base = height - oy.value  # the baseline: shared by a line's CJK, Latin and punctuation
            else:
                base = height - b.value
            em = max(size, 1.0)
            chars.append((ch, left.value, base - 0.8 * em, r.value, base + 0.2 * em, size, bold, space))
            space = False
        return _group(chars, number)
    finally:
        tp.close()


def _group(chars: list[tuple], page: int) -> list[Line]:
    """Characters → lines by geometry, not by drawing order (exporters draw a line's Latin and
    CJK runs, or a page's columns, separately). A row is the characters on one baseline; a row
    splits where the gap between neighbours exceeds two ems (a column gutter)."""
    lines: list[Line] = []
    rows: list[list[tuple]] = []
    base = 0.0
    for c in sorted(chars, key=lambda c: (c[4], c[1])):
        if rows and abs(c[4] - base) <= 0.3 * max(c[5], 1.0):
            rows[-1].append(c)
            continue
        rows.append([c])
        base = c[4]
    for row in rows:
        row.sort(key=lambda c: c[1])
        seg = [row[0]]
        for c in row[1:]:
            if c[1] - seg[-1][3] > 2 * max(seg[-1][5], c[5], 1):
                lines.append(_line(seg, page))
                seg = []
            seg.append(c)
        lines.append(_line(seg, page))
    lines = [ln for ln in lines if ln.text.strip()]
    lines.sort(key=lambda ln: (ln.top, ln.x0))
    return lines


def _line(chars: list[tuple], page: int) -> Line:
    """Text of a run of characters: a space where the file has one between Latin letters or
    digits, or where two Latin characters stand a third of an em apart; none next to a CJK
    character (Word's CJK/Latin autospace is a gap, not a character)."""
    real = chars
    out: list[str] = []
    prev = None
    for c in chars:
        if prev is not None:
            a, b = prev[0], c[0]
            latin = _LATIN.match(a) and _LATIN.match(b)
            gap = c[1] - prev[3]
            if not (is_cjk(a) or is_cjk(b) or _wide(a) or _wide(b)) and (c[7] or (latin and gap > 0.3 * max(c[5], 1))):
                out.append(" ")
        out.append(c[0])
        prev = c
    sizes = sorted(c[5] for c in real)
    bold = sum(1 for c in real if c[6]) * 2 > len(real)
    return Line(
        fold_compat("".join(out)),
        min(c[1] for c in real),
        min(c[2] for c in real),
        max(c[3] for c in real),
        max(c[4] for c in real),
        sizes[len(sizes) // 2],
        bold,
        page,
    )


def _wide(c: str) -> bool:
    return "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or "\u2000" <= c <= "\u206f"


def _assemble(pages: list[list[Line]], heights: list[float], widths: list[float], label: str) -> SourceText:
    total = sum(len(ln.text) for lines in pages for ln in lines)
    if total < MIN_TEXT_CHARS:
        raise RagError(f"{label} has no text layer (a scanned PDF?): run OCR first (e.g. ocrmypdf) and add the result")
    empty = [i + 1 for i, lines in enumerate(pages) if not lines]
    if empty:
        log.warning("%s: %d page(s) without text (scanned or blank): %s", label, len(empty), _ranges(empty))
    body = body_size(pages)
    pages = drop_furniture(pages, heights)
    flows = [(i + 1, columns(lines, widths[i])) for i, lines in enumerate(pages) if lines]
    pars = [p for p in paragraphs(flows, body) if p.text.strip()]
    sizes = [p.size for p in pars]
    text_parts: list[str] = []
    spans: list[SourceSpan] = []
    headings: list[tuple[int, int]] = []
    per_page: dict[int, int] = {}
    pos = 0
    for par in pars:
        if text_parts:
            text_parts.append("\n")
            pos += 1
        level = heading_level(par, body, sizes)
        if level:
            headings.append((pos, level))
        for page, piece in par.parts:
            per_page[page] = per_page.get(page, 0) + 1
            spans.append(SourceSpan(pos, pos + len(piece), page=page, para=per_page[page]))
            text_parts.append(piece)
            pos += len(piece)
    text = "".join(text_parts)
    if not text.strip():
        raise RagError(f"{label} has no text layer (a scanned PDF?): run OCR first (e.g. ocrmypdf) and add the result")
    return SourceText(text, None, {}, "pdf", "", fmt="pdf", source_map=spans, headings=headings)


def _ranges(nums: list[int]) -> str:
    out: list[str] = []
    start: int | None = nums[0]
    for a, b in zip(nums, nums[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}–{a}")
            start = b
    return ", ".join(out)


if __name__ == "__main__":
    import sys as _sys

    _child(_sys.argv[1], int(_sys.argv[2]))
