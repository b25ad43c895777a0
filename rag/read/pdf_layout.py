"""PDF layout: from positioned text lines of each page to the report's paragraphs, in reading order.

Library-blind (the reader hands in `Line`s): running headers, footers and page numbers are dropped,
two-column pages are read left column first, and lines the layout broke are joined back into
paragraphs, also across columns and pages. Rules are about geometry and punctuation only, so they
hold for reports never seen. Coordinates: points, origin top-left, y grows downwards.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from rag.read.chars import ends_sentence, is_cjk

BAND = 0.12  # headers/footers live in the top/bottom 12 % of the page
# 「— 3 —」「- 3 -」「第3页」「第 3 页 共 20 页」「3 / 20」「Page 3」「3」, also with full-width digits/dashes
PAGE_NUMBER_RE = re.compile(
    r"^[\s\-—–―－·•]*(?:第\s*[0-9０-９]+\s*页(?:\s*[，,/]?\s*共\s*[0-9０-９]+\s*页)?"
    r"|[0-9０-９]{1,4}(?:\s*[/／]\s*[0-9０-９]{1,4})?|page\s*[0-9]+(?:\s*of\s*[0-9]+)?"
    r"|[-—–－]\s*[ivxlcIVXLC]{1,6}\s*[-—–－])[\s\-—–―－·•]*$",
    re.I,
)
_DIGITS = re.compile(r"[0-9０-９]+")
_CLAUSE_OPEN = "，,、（(“‘《—"  # a line ending in these goes on (「各位代表：」 ends a paragraph)
_LATIN = re.compile(r"[A-Za-z0-9]")


@dataclass
class Line:
    """One visual line of a page: its text and box, with the font size and weight of most of it."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    bold: bool = False
    page: int = 0  # 1-based


@dataclass
class Paragraph:
    """A paragraph of the report: its pieces, each from one page (a paragraph may cross pages)."""

    parts: list[tuple[int, str]] = field(default_factory=list)  # (page, text)
    size: float = 0.0
    bold: bool = False

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.parts)


# --- characters ---------------------------------------------------------------------------------
def fold_compat(text: str) -> str:
    """Kangxi radicals (⽇ U+2F47), CJK radicals and compatibility ideographs (﨑) → the unified
    ideograph NFKC gives; nothing else is touched, so full-width punctuation stays full-width."""
    if not any("\u2e80" <= c <= "\u2fdf" or "\uf900" <= c <= "\ufaff" for c in text):
        return text
    out = []
    for c in text:
        if "\u2e80" <= c <= "\u2fdf" or "\uf900" <= c <= "\ufaff":
            n = unicodedata.normalize("NFKC", c)
            c = n if len(n) == 1 and is_cjk(n) else c
        out.append(c)
    return "".join(out)


def glue(left: str, right: str) -> str:
    """How two pieces of one paragraph meet: CJK on either side joins without a space, two Latin
    words with one (the layout's line break stood for the space)."""
    if not left or not right:
        return left + right
    a, b = left[-1], right[0]
    if a.isspace() or b.isspace():
        return left + right
    return left + (" " if _LATIN.match(a) and _LATIN.match(b) and not left.endswith("-") else "") + right


# --- running heads and page numbers -------------------------------------------------------------
def _shape(text: str) -> str:
    return _DIGITS.sub("#", re.sub(r"\s+", "", text))


def drop_furniture(pages: list[list[Line]], heights: list[float]) -> list[list[Line]]:
    """Remove page numbers and running headers/footers: lines in the top or bottom band of a page
    that look like a page number, or whose text (digits ignored, so 「甲市报告 第3页」 counts as
    the same) recurs in the same band on at least half of the pages (two at least)."""

    def band(p: int, ln: Line) -> str | None:
        h = heights[p]
        if ln.bottom <= h * BAND:
            return "top"
        if ln.top >= h * (1 - BAND):
            return "bottom"
        return None

    counts: Counter[tuple[str, str]] = Counter()
    for p, lines in enumerate(pages):
        seen = {(b, _shape(ln.text)) for ln in lines if (b := band(p, ln))}
        counts.update(seen)
    need = max(2, (len(pages) + 1) // 2)
    out: list[list[Line]] = []
    for p, lines in enumerate(pages):
        kept = []
        for ln in lines:
            b = band(p, ln)
            if b and (PAGE_NUMBER_RE.match(ln.text) or (len(pages) > 1 and counts[(b, _shape(ln.text))] >= need)):
                continue
            kept.append(ln)
        out.append(kept)
    return out


# --- columns ------------------------------------------------------------------------------------
def columns(lines: list[Line], width: float) -> list[list[Line]]:
    """The page's lines in reading order, as one list per column: when the middle of the page has
    an x range no line crosses and many lines lie on each side of it, the page has two columns;
    lines spanning both (a title) that come before the columns are read first, after them last."""
    if len(lines) < 6:
        return [lines]
    mid_lo, mid_hi = width * 0.3, width * 0.7
    best = None
    for x in range(int(mid_lo), int(mid_hi), 4):
        left = sum(1 for ln in lines if ln.x1 <= x)
        right = sum(1 for ln in lines if ln.x0 >= x)
        cross = len(lines) - left - right
        if left >= 3 and right >= 3 and cross <= 0.2 * len(lines):
            score = min(left, right) - 3 * cross
            if best is None or score > best[0]:
                best = (score, x)
    if best is None:
        return [lines]
    x = best[1]
    left_col = [ln for ln in lines if ln.x1 <= x]
    right_col = [ln for ln in lines if ln.x0 >= x]
    cols_top = min(ln.top for ln in left_col + right_col)
    span = [ln for ln in lines if ln.x0 < x < ln.x1]
    head = [ln for ln in span if ln.bottom <= cols_top + 1]
    tail = [ln for ln in span if ln.bottom > cols_top + 1]
    key = lambda ln: (ln.top, ln.x0)  # noqa: E731
    return [
        c
        for c in (sorted(head, key=key), sorted(left_col, key=key), sorted(right_col, key=key), sorted(tail, key=key))
        if c
    ]


# --- paragraphs ---------------------------------------------------------------------------------
@dataclass
class _Column:
    lines: list[Line]
    left: float
    right: float
    leading: float  # usual distance between the tops of two lines of one paragraph


def _measure(lines: list[Line], body: float) -> _Column:
    # the column's edge is the leftmost line: on a page of short paragraphs nearly every line is
    # indented and a single wrapped line shows the margin (a one-character stray is not a line)
    left = min((round(ln.x0) for ln in lines if len(ln.text.strip()) >= 2), default=round(min(ln.x0 for ln in lines)))
    right = max(ln.x1 for ln in lines)
    steps = [b.top - a.top for a, b in zip(lines, lines[1:]) if 0 < b.top - a.top < 4 * body]
    leading = statistics.median(steps) if steps else body * 1.5
    return _Column(lines, left, right, leading)


_LEAD_TOKEN = re.compile(r"[A-Za-z0-9０-９.,%‰/&\-]+[%‰、，。；：）”]*")  # no line break inside it


def _full(prev: Line, nxt: Line, right: float, em: float) -> bool:
    """Whether `prev` runs to the column's edge: within two ems of it, or short only because the
    next line opens with a number or Latin word that did not fit (「资金」 / 「79.9亿元」)."""
    room = right - prev.x1
    if room < 2.0 * em or prev.text.rstrip().endswith(tuple(_CLAUSE_OPEN)):
        return True
    m = _LEAD_TOKEN.match(nxt.text.lstrip())
    return m is not None and not ends_sentence(prev.text, "：:；;") and room < (0.6 * len(m.group()) + 1.5) * em


def _breaks(prev: Line, nxt: Line, col: _Column, body: float, same_column: bool) -> bool:
    """Whether `nxt` opens a new paragraph after `prev`."""
    em = max(body, 1.0)
    if abs(prev.size - nxt.size) > 0.15 * em or prev.bold != nxt.bold:
        return True  # a heading, or the body after one
    if nxt.x0 - col.left >= 0.8 * em:
        return True  # first-line indent (or a centred line)
    if not _full(prev, nxt, col.right, em):
        return True  # the line stops short of the column's edge: the paragraph ended there
    if same_column and nxt.top - prev.top > col.leading * 1.45:
        return True  # a gap between the lines
    if prev.x0 - col.left >= 0.8 * em and ends_sentence(prev.text) and prev.x1 < col.right - em:
        return True
    return False


def paragraphs(flows: list[tuple[int, list[list[Line]]]], body: float) -> list[Paragraph]:
    """Join lines into paragraphs over the whole document. `flows`: per page (1-based), its
    columns in reading order. A paragraph that does not end a sentence at the foot of a column or
    page goes on at the head of the next when that line is not indented."""
    out: list[Paragraph] = []
    cur: Paragraph | None = None
    last: Line | None = None
    last_col: _Column | None = None
    for page, cols in flows:
        for lines in cols:
            col = _measure(lines, body)
            for i, ln in enumerate(lines):
                text = ln.text.strip()
                if not text:
                    continue
                if cur is not None and last is not None:
                    if i == 0:  # a new column or page: continue only an unfinished, full-width line
                        assert last_col is not None
                        go_on = (
                            not ends_sentence(last.text)
                            and _full(last, ln, last_col.right, body)
                            and ln.x0 - col.left < 0.8 * body
                            and abs(last.size - ln.size) <= 0.15 * body
                        )
                        brk = not go_on
                    else:
                        brk = _breaks(last, ln, col, body, True)
                    if not brk:
                        if cur.parts[-1][0] == page:
                            cur.parts[-1] = (page, glue(cur.parts[-1][1], text))
                        else:
                            joined = glue(cur.parts[-1][1], text)
                            cur.parts.append((page, joined[len(cur.parts[-1][1]) :]))
                        last = ln
                        continue
                cur = Paragraph([(page, text)], ln.size, ln.bold)
                out.append(cur)
                last = ln
            last_col = col
    return out


def body_size(pages: list[list[Line]]) -> float:
    """The font size most of the text is set in (weighted by characters)."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            sizes[round(ln.size * 2) / 2] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 12.0


def heading_level(par: Paragraph, body: float, sizes: list[float]) -> int | None:
    """A short paragraph set larger than the body (or bold at body size and short) is a heading
    hint; level 1 for the largest size in the document, then by size."""
    text = par.text
    if len(text) > 40 or ends_sentence(text, "，,；;：:") or not text.strip():
        return None
    if par.size >= body * 1.15:
        bigger = sorted({round(s) for s in sizes if s >= body * 1.15}, reverse=True)
        return min(4, bigger.index(round(par.size)) + 1) if round(par.size) in bigger else 1
    if par.bold and len(text) <= 30:
        return min(4, len({round(s) for s in sizes if s >= body * 1.15}) + 1)
    return None
