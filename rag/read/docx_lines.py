"""The lines a Word document is read into, and what happens to them before they become text:
attachment lines open articles, notes go under 「注释」 at the end of the article citing them, and
each line is written in the markdown-ish form the chunker reads (`rag.read.docx` fills the lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.read.chars import ends_sentence

ATTACH_RE = re.compile(r"^(?:附件|附表|附录|附錄)\s*[0-9０-９一二三四五六七八九十]{0,3}\s*[：:]?\s*(.{0,30})$")


# --- lines ------------------------------------------------------------------------------------
@dataclass
class Line:
    pieces: list[tuple[str, int | None]]  # (text, para); more than one only for a joined attachment line
    level: int | None = None  # markdown heading level
    lead: int = 0  # length of the bold lead-in of pieces[0]
    row: bool = False  # a table row
    bold: bool = False  # the paragraph is bold throughout
    notes: list[int] = field(default_factory=list)
    md: bool = True  # a heading written as markdown (the notes heading is written plain: NOTES_HEADING_RE)

    @property
    def text(self) -> str:
        return " ".join(t for t, _ in self.pieces)


# --- from lines to the text -------------------------------------------------------------------
def attachments(lines: list[Line]) -> list[Line]:
    """An attachment line after the body (「附件1」, 「附件2 名词解释」) opens an article; a bare
    label takes the short title on the next line with it (「附件1」「甲市十件民生实事」)."""
    out: list[Line] = []
    seen_body = False
    k = 0
    while k < len(lines):
        ln = lines[k]
        k += 1
        m = ATTACH_RE.match(ln.text) if not ln.row and len(ln.pieces) == 1 else None
        if m and seen_body and not ends_sentence(ln.text):
            ln.level, ln.lead = 1, 0
            nxt = lines[k] if k < len(lines) else None
            if (
                not m.group(1).strip()
                and nxt is not None
                and not nxt.row
                and len(nxt.text) <= 40
                and not ends_sentence(nxt.text)
                and not ATTACH_RE.match(nxt.text)
            ):
                ln.pieces += nxt.pieces
                ln.notes += nxt.notes
                k += 1
        elif ln.level is None:
            seen_body = True
        out.append(ln)
    return out


def _note_term(before: str) -> str:
    """The phrase a note explains: the quoted words just before its mark, else the last phrase."""
    before = re.sub(r"［\d+］$", "", before.rstrip())
    if m := re.search(r"[“「《‘]([^“”「」《》‘’]{1,30})[”」》’]$", before):
        return m.group(0)
    tail = re.split(r"[，,。；;：:、！？!?\s（）()]", before)[-1]
    return tail[-12:] or "注"


def with_notes(note_text: dict[int, str], lines: list[Line]) -> list[Line]:
    """Notes under 「注释」 at the end of the article that cites them (links are per article);
    `note_text`: each note's text by its number."""
    out: list[Line] = []
    pending: list[tuple[int, str, int | None]] = []
    done: set[int] = set()

    def flush() -> None:
        if pending:
            out.append(Line([("注释", None)], level=2, md=False))
            for n, before, para in pending:
                body = note_text.get(n, "")
                if not re.match(r"^[^：:。\n]{1,40}[：:]", body):
                    body = f"{_note_term(before)}：{body}"
                out.append(Line([(f"［{n}］{body}", para)]))
            pending.clear()

    for i, ln in enumerate(lines):
        if ln.level == 1 and i:
            flush()
        out.append(ln)
        for n in ln.notes:
            if n not in done:
                done.add(n)
                text = ln.text
                pos = text.find(f"［{n}］")
                pending.append((n, text[:pos] if pos >= 0 else text, ln.pieces[0][1]))
    flush()
    return out


def render(ln: Line) -> str:
    text = ln.text
    if ln.level and ln.md:
        return "#" * ln.level + " " + text
    if ln.row:
        return "- " + text
    if ln.lead:
        return f"**{text[: ln.lead]}**{text[ln.lead :]}"
    return text
