"""Pieces: each paragraph's text (markdown marks dropped, every character with its offset in the
original file), numbered within its section and cut into chunk-sized pieces.

A paragraph longer than ~1.6× the target is split at sentence ends (never inside a sentence, so a
figure stays with its unit and a list of targets stays whole); a sentence too long even for that
(a dump without stops, a table flattened to one line) is capped at clause marks or spaces.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from rag.chunk.sections import Para

_SENT_END_RE = re.compile(r"[。！？!?][”’」』）)]*")


@dataclass
class Piece:
    """A chunk before ids and metadata: its text with the original offset of every character."""

    para: Para
    text: str
    offsets: list[int]
    number: int  # paragraph number within its section (0 for headings/titles/meta)
    part: int  # 1-based part within a split paragraph, 0 when the paragraph is whole

    @property
    def spans(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for o in self.offsets:
            if out and out[-1][1] == o:
                out[-1] = (out[-1][0], o + 1)
            else:
                out.append((o, o + 1))
        return out


def para_text(p: Para) -> tuple[str, list[int]]:
    """The paragraph's text (lines joined; lists keep their line breaks) and its source offsets."""
    chars: list[str] = []
    offs: list[int] = []
    for k, ln in enumerate(p.block.lines):
        if k and p.kind == "bullet":
            chars.append("\n")
            offs.append(ln.start - 1)
        chars.append(ln.text)
        offs.extend(range(ln.start, ln.end))
    return _drop_marks("".join(chars), offs, p.block.md_level > 0)


# Markdown structure marks: a heading's leading 「## 」 and the 「**」 around a bold phrase.
_MD_PREFIX_RE = re.compile(r"^#{1,6}[ \t]+")
_BOLD_PAIR_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


def _drop_marks(text: str, offs: list[int], heading: bool) -> tuple[str, list[int]]:
    """The paragraph without its markdown marks, each kept character with its own offset.

    The marks are structure (the chunker has read them as heading levels and bold lead-ins); left
    in the text they would be embedded, shown to the model and quoted (「**甲市**」「# 附件」)."""
    drop: set[int] = set()
    if heading and (m := _MD_PREFIX_RE.match(text)):
        drop.update(range(m.start(), m.end()))
    for m in _BOLD_PAIR_RE.finditer(text):
        drop.update((m.start(), m.start() + 1, m.end() - 2, m.end() - 1))
    if not drop:
        return text, offs
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [offs[i] for i in keep]


def split_full_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence, covering all of `text`; a sentence ends at 。！？ (with its
    closing quotes or brackets), not at ；, so a list of targets stays one sentence."""
    spans = []
    pos = 0
    for m in _SENT_END_RE.finditer(text):
        spans.append((pos, m.end()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def split_paragraph(text: str, target: int) -> list[tuple[int, int]]:
    """Cut a long paragraph at sentence ends into parts of about `target` characters.

    Lengths count non-space characters only, so a letter-spaced or column-set copy of a paragraph
    is cut at the same sentences as the clean copy (twin reports then align part by part)."""
    weight = [0]
    for ch in text:
        weight.append(weight[-1] + (0 if ch.isspace() else 1))

    def size(s: int, e: int) -> int:
        return weight[e] - weight[s]

    if size(0, len(text)) <= int(target * 1.6):
        return [(0, len(text))]
    units = split_full_sentences(text) if "\n" not in text else _line_units(text)
    parts: list[list[int]] = []
    for s, e in units:
        if parts and size(parts[-1][0], e) <= target * 1.2:
            parts[-1][1] = e
        else:
            parts.append([s, e])
    if len(parts) > 1 and size(parts[-1][0], parts[-1][1]) < target * 0.4:
        parts[-2][1] = parts[-1][1]
        parts.pop()
    return [cut for s, e in parts for cut in cap_length(text, s, e, target, weight)]


HARD_MAX = 3  # no chunk is longer than this many times the target, whatever its text
_CLAUSE_BREAK = re.compile(r"[，,；;、：:）)」”]")
_SPACE_BREAK = re.compile(r"\s")


def cap_length(text: str, s: int, e: int, target: int, weight: list[int] | None = None) -> list[tuple[int, int]]:
    """[s, e) as it is when it holds at most `HARD_MAX` × `target` non-space characters, else cut
    into parts of about `target`: after the last clause mark (，；、：) in the second half of each
    part, else after a space, else at the length itself (never between two digits or letters when
    a boundary is near). A sentence of thousands of characters (a dump without stops, a table
    flattened to one line) would otherwise be one chunk: too long to embed, to show or to quote."""
    if weight is None:
        weight = [0]
        for ch in text:
            weight.append(weight[-1] + (0 if ch.isspace() else 1))
    if weight[e] - weight[s] <= HARD_MAX * target:
        return [(s, e)]
    out: list[tuple[int, int]] = []
    step = int(target * 1.2)
    pos = s
    while weight[e] - weight[pos] > step:
        # the end of a part of `step` non-space characters (spaces do not count, as above)
        end = bisect.bisect_right(weight, weight[pos] + step, pos, e + 1) - 1
        low = pos + (end - pos) // 2
        cut = _last_break(text, low, end)
        if cut is None:
            cut = end
            for k in range(end, max(low, end - 20), -1):  # not inside a figure (4.6万) or a Latin word
                if not (_in_figure(text[k - 1]) or _in_figure(text[k])):
                    cut = k
                    break
        out.append((pos, cut))
        pos = cut
    out.append((pos, e))
    return out


def _in_figure(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in ".,%")


def _last_break(text: str, low: int, end: int) -> int | None:
    """The offset just after the last clause mark, else the last space, in text[low:end]."""
    for pattern in (_CLAUSE_BREAK, _SPACE_BREAK):
        last = None
        for m in pattern.finditer(text, low, end):
            last = m.end()
        if last is not None and last > low:
            return last
    return None


def _line_units(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line) + 1))
        pos += len(line) + 1
    out[-1] = (out[-1][0], len(text))
    return out


def make_pieces(paras: list[Para], target: int) -> list[Piece]:
    """Number paragraphs within their sections and split the long ones."""
    counters: Counter[int] = Counter()
    pieces: list[Piece] = []
    for p in paras:
        ptext, offs = para_text(p)
        if p.kind in ("body", "bullet"):
            counters[id(p.section)] += 1
            number = counters[id(p.section)]
            cuts = split_paragraph(ptext, target)
        else:
            number = 0
            cuts = cap_length(ptext, 0, len(ptext), target)
        for k, (s, e) in enumerate(cuts, 1):
            seg, seg_offs = ptext[s:e], offs[s:e]
            # trim whitespace at the cut
            while seg and seg[0].isspace():
                seg, seg_offs = seg[1:], seg_offs[1:]
            while seg and seg[-1].isspace():
                seg, seg_offs = seg[:-1], seg_offs[:-1]
            if seg:
                pieces.append(Piece(p, seg, seg_offs, number, k if len(cuts) > 1 else 0))
    return pieces
