"""Lines and layout: a report's text as content lines with their offsets, and whether it is set
in narrow newspaper columns (which changes how lines join into paragraphs).

Page-continuation markers are cut out and become hard breaks; text is never joined across them.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from rag.chunk.clean import Marker
from rag.read.chars import display_width


@dataclass
class Line:
    start: int
    end: int
    text: str
    blank_before: bool = False
    hard_before: bool = False  # a page marker or the file start sits between this and the previous line


def split_lines(text: str, markers: list[Marker]) -> list[Line]:
    """Content lines with offsets; markers are cut out and leave a hard break behind them."""
    masked = list(text)
    for m in markers:
        for i in range(m.start, m.end):
            masked[i] = "\x00"
    lines: list[Line] = []
    blank = False
    hard = True
    pos = 0
    for raw in "".join(masked).split("\n"):
        seg_start = pos
        pos += len(raw) + 1
        pieces = re.split(r"(\x00+)", raw)
        off = seg_start
        for piece in pieces:
            if piece.startswith("\x00"):
                hard = True
                off += len(piece)
                continue
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                s = off + lead
                lines.append(Line(s, s + len(stripped), stripped, blank, hard))
                blank = False
                hard = False
            off += len(piece)
        if not raw.replace("\x00", "").strip():
            blank = True
    return lines


def detect_narrow(lines: list[Line]) -> tuple[bool, int]:
    """Narrow newspaper columns: most lines have about the same small display width."""
    widths = [display_width(ln.text) for ln in lines if not ln.text.startswith("#")]
    if len(widths) < 12:
        return False, 0
    med = int(statistics.median(widths))
    near = sum(1 for w in widths if abs(w - med) <= 6)
    narrow = 16 <= med <= 56 and near >= 0.6 * len(widths)
    # the column width is what full lines reach; short last lines and headings pull the median down
    col = sorted(widths)[int(len(widths) * 0.75)]
    return narrow, col
