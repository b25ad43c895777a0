"""Reading Word (.docx) reports into the one-paragraph-per-line text the chunker reads.

What Word shows, not what the XML happens to hold: list numbers Word draws (「一、」「（一）」)
are written out, page-number fields, headers and footers and deleted revisions are left out,
soft line breaks stay inside their paragraph, and text boxes follow the paragraph anchoring them.
Structure the file marks becomes structure the chunker already reads:

* heading styles (``heading 1``–``4``, 「标题 1」, an outline level, or a style based on one) and
  a fully bold short paragraph → markdown heading lines; the title style, the first line when it
  is a bold title, and an attachment line 「附件1」 (with its title) → ``#``, which opens an article;
  ``heading k`` → ``#`` × (k + 1), because level 1 is what opens an article;
* a paragraph opening with a bold phrase that ends a sentence → ``**lead-in**rest`` (BOLD_LEAD_RE);
  when the lead-in (bold or not) is a numbered 「一、」/「（一）」 sentence it is a section heading in
  the report, so it goes on its own heading line and the rest of the paragraph follows as body;
* tables → one ``- cell | cell`` line per row (a list block, so rows stay rows); a one-column
  table (a boxed 专栏) → its paragraphs;
* footnotes and endnotes → ［n］ at the reference (one sequence for both, in order of first
  reference) and 「［n］term：text」 lines under 「注释」 at the end of the article that cites them,
  the form `rag.chunk.annotate.link_notes` links (term: the note's own 「term：」, else the quoted or last
  phrase before the mark).

`SourceText.source_map`: one span per emitted line (two for an attachment line joined with its
title), ``para`` = the 1-based position of the paragraph among all ``w:p`` of the document body in
document order — table-cell and text-box paragraphs and empty paragraphs counted, VML fallback
copies (``mc:Fallback``) not; a table row gives its first paragraph; a note gives the paragraph
citing it; the 「注释」 line has ``para=None``. `SourceText.headings`: every heading line emitted.

Example: a paragraph whose first run 「（一）甲市着力扩大内需，稳定增长。」 is bold becomes
``### （一）甲市着力扩大内需，稳定增长`` and, on the next line, the rest of the paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.read.chars import ends_sentence, is_cjk
from rag.read.docx_lines import Line, attachments, render, with_notes
from rag.read.docx_package import open_docx
from rag.read.docx_style import Numbering, Styles, on
from rag.read.numbering import CN_ENUM_RE, PAREN_ENUM_RE
from rag.read.source import SourceSpan, SourceText

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_RT_NOTES = {
    "footnote": "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes",
    "endnote": "http://schemas.openxmlformats.org/officeDocument/2006/relationships/endnotes",
}
_SKIP_FIELDS = {"PAGE", "NUMPAGES", "SECTIONPAGES", "PAGEREF", "TOC", "NUMWORDS", "NUMCHARS"}
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_PHRASE_END = "。：:！？!?；;"


def _in_fallback(el) -> bool:
    return any(a.tag == f"{_MC}Fallback" for a in el.iterancestors())


def _outer_boxes(el) -> list:
    """Text-box contents under `el` that are not inside another box or a VML fallback copy."""
    out = []
    for tx in el.iter(f"{_W}txbxContent"):
        if _in_fallback(tx):
            continue
        if any(a.tag == f"{_W}txbxContent" for a in tx.iterancestors() if a is not el and _below(a, el)):
            continue
        out.append(tx)
    return out


def _below(a, el) -> bool:
    return any(x is el for x in a.iterancestors())


@dataclass
class _Run:
    chars: list[str] = field(default_factory=list)
    bold: list[bool] = field(default_factory=list)
    notes: list[int] = field(default_factory=list)
    boxes: list = field(default_factory=list)

    def add(self, s: str, bold: bool) -> None:
        self.chars.append(s)
        self.bold.extend([bold] * len(s)) if len(s) != 1 else self.bold.append(bold)

    def finish(self) -> tuple[str, list[bool]]:
        """Text and per-character boldness: zero-width characters gone, soft breaks resolved
        (nothing between Chinese characters, a space otherwise), ends stripped."""
        text, bold = "".join(self.chars), self.bold
        if "\n" in text or text.translate(_ZERO_WIDTH) != text:  # the slow path only when needed
            keep = [(c, b) for c, b in zip(text, bold) if ord(c) not in _ZERO_WIDTH]
            out: list[tuple[str, bool]] = []
            for k, (c, b) in enumerate(keep):
                if c != "\n":
                    out.append((c, b))
                    continue
                prev = out[-1][0] if out else ""
                nxt = next((x for x, _ in keep[k + 1 : k + 64] if x != "\n"), "")
                if prev and nxt and not (_wide(prev) or _wide(nxt)) and not prev.isspace():
                    out.append((" ", b))
            text, bold = "".join(c for c, _ in out), [b for _, b in out]
        lo = len(text) - len(text.lstrip())
        hi = len(text.rstrip())
        return text[lo:hi], bold[lo:hi]


def _wide(c: str) -> bool:
    return is_cjk(c) or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or c in "“”‘’…—"


class _Reader:
    def __init__(self, doc) -> None:
        self.doc = doc
        body = doc.element.body
        self.body = body
        self.order = {p: i for i, p in enumerate((p for p in body.iter(f"{_W}p") if not _in_fallback(p)), 1)}
        part = doc.part
        self.styles = Styles(part.styles.element if _has(part, "styles") else None)
        self.numbering = Numbering(part.numbering_part.element if _has(part, "numbering_part") else None)
        self.fields: list[dict] = []
        self.lines: list[Line] = []
        self.note_xml: dict[tuple[str, str], Any] = {}  # lxml elements
        self.note_no: dict[tuple[str, str], int] = {}
        self.note_para: dict[int, int | None] = {}
        self.note_text: dict[int, str] = {}
        from docx.oxml.parser import parse_xml

        for kind, rt in _RT_NOTES.items():
            for rel in part.rels.values():
                if rel.reltype == rt and not rel.is_external:
                    root = parse_xml(rel.target_part.blob)
                    for n in root.iter(f"{_W}{kind}"):
                        if n.get(f"{_W}type") in (None, "normal"):
                            self.note_xml[(kind, n.get(f"{_W}id") or "")] = n

    # block level
    def block(self, container) -> None:
        for child in container:
            tag = child.tag
            if tag == f"{_W}p":
                self.paragraph(child)
            elif tag == f"{_W}tbl":
                self.table(child)
            elif tag == f"{_W}sdt":
                gallery = child.find(f"{_W}sdtPr/{_W}docPartObj/{_W}docPartGallery")
                if gallery is not None and "Contents" in (gallery.get(f"{_W}val") or ""):
                    continue  # a table of contents repeats the headings
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    self.block(content)
            elif tag in (f"{_W}customXml", f"{_W}ins", f"{_W}moveTo"):
                self.block(child)

    def read_para(self, p) -> tuple[str, list[bool], _Run, int | None]:
        """A paragraph's shown text (list number included), its boldness, and its heading level."""
        run = _Run()
        psid = self.styles.para_style(p)
        num = self.styles.num_pr(p)
        label = self.numbering.label(*num) if num else ""
        self.content(p, run, psid)
        text, bold = run.finish()
        if label and text:
            sep = " " if label == "•" or (label[-1].isascii() and label[-1].isalnum()) else ""
            text, bold = label + sep + text, [bold[0]] * (len(label) + len(sep)) + bold
        level = self.styles.heading_level(p)
        if self.styles.is_toc(p):
            text, bold = "", []
        return text, bold, run, level

    def paragraph(self, p) -> None:
        idx = self.order.get(p)
        text, bold, run, level = self.read_para(p)
        if text:
            self.emit(text, bold, idx, level, run.notes)
        for box in run.boxes:
            self.block(box)

    def emit(self, text: str, bold: list[bool], idx: int | None, level: int | None, notes: list[int]) -> None:
        first = not self.lines
        if level is not None and level <= 4:
            self.lines.append(Line([(text, idx)], 1 if level == 0 else min(level + 1, 4), notes=notes))
            return
        lead = next((k for k, (c, b) in enumerate(zip(text, bold)) if not b and not c.isspace()), len(text))
        if lead == len(text):  # bold throughout: a heading when it is short and not a sentence
            heading = (
                len(text) <= 40 and not ends_sentence(text, "：:；;，,、") and not any(c in "。！？!?" for c in text)
            )
            lv = 1 if first else _enum_level(text) or 3
            self.lines.append(Line([(text, idx)], lv if heading else None, bold=True, notes=notes))
            return
        head, rest = text[:lead].rstrip(), text[lead:].lstrip()
        if head and rest[:1] in _PHRASE_END:
            head, rest = head + rest[0], rest[1:].lstrip()
        if not (head and rest and len(head) <= 60 and ends_sentence(head, "：:；;")):
            head, rest = _numbered_sentence(text)  # not bold: a numbered first sentence may still be a heading
            if not head:
                self.lines.append(Line([(text, idx)], notes=notes))
                return
        if head_level := _enum_level(head):
            if head_level < 4:
                self.lines.append(Line([(head.rstrip(_PHRASE_END), idx)], head_level))
                self.lines.append(Line([(rest, idx)], notes=notes))
                return
        self.lines.append(Line([(head + rest, idx)], lead=len(head), notes=notes))

    def table(self, tbl) -> None:
        rows = tbl.findall(f"{_W}tr")
        if all(len(tr.findall(f"{_W}tc")) <= 1 for tr in rows):  # a box around paragraphs, not a grid
            for tr in rows:
                for tc in tr.findall(f"{_W}tc"):
                    self.block(tc)
            return
        for tr in rows:
            cells, first, notes = [], None, []
            for tc in tr.findall(f"{_W}tc"):
                merge = tc.find(f"{_W}tcPr/{_W}vMerge")
                parts = []
                for p in tc.iter(f"{_W}p"):
                    if _in_fallback(p):
                        continue
                    text, _, run, _ = self.read_para(p)
                    if text:
                        parts.append(text)
                        notes += run.notes
                        first = first or self.order.get(p)
                continued = merge is not None and merge.get(f"{_W}val") in (None, "continue")
                cells.append("" if continued else " ".join(parts))
            if any(cells):
                self.lines.append(Line([(" | ".join(cells), first)], row=True, notes=notes))

    # run level
    def hidden(self) -> bool:
        return any(f["skip"] for f in self.fields if f["phase"] == "result")

    def content(self, el, run: _Run, psid: str) -> None:
        for child in el:
            tag = child.tag
            if tag == f"{_W}r":
                self.run(child, run, psid)
            elif tag in (
                f"{_W}hyperlink",
                f"{_W}ins",
                f"{_W}moveTo",
                f"{_W}smartTag",
                f"{_W}customXml",
                f"{_W}dir",
                f"{_W}bdo",
            ):
                self.content(child, run, psid)
            elif tag == f"{_W}sdt":
                inner = child.find(f"{_W}sdtContent")
                if inner is not None:
                    self.content(inner, run, psid)
            elif tag == f"{_W}fldSimple":
                instr = (child.get(f"{_W}instr") or "").split()
                if not instr or instr[0].upper() not in _SKIP_FIELDS:
                    self.content(child, run, psid)
            elif tag in (f"{_M}oMath", f"{_M}oMathPara") and not self.hidden():
                run.add("".join(t.text or "" for t in child.iter(f"{_M}t")), False)

    def run(self, r, run: _Run, psid: str) -> None:
        rpr = r.find(f"{_W}rPr")
        vanish = rpr is not None and bool(on(rpr.find(f"{_W}vanish")))
        bold = self.styles.bold(r, psid)
        for c in r:
            tag = c.tag
            if tag == f"{_W}fldChar":
                kind = c.get(f"{_W}fldCharType")
                if kind == "begin":
                    self.fields.append({"instr": "", "phase": "code", "skip": False})
                elif kind == "separate" and self.fields:
                    f = self.fields[-1]
                    words = f["instr"].split()
                    f["phase"], f["skip"] = "result", bool(words) and words[0].upper() in _SKIP_FIELDS
                elif kind == "end" and self.fields:
                    self.fields.pop()
            elif tag == f"{_W}instrText":
                if self.fields:
                    self.fields[-1]["instr"] += c.text or ""
            elif vanish or self.hidden():
                continue
            elif tag == f"{_W}t":
                run.add(c.text or "", bold)
            elif tag in (f"{_W}tab", f"{_W}ptab"):
                run.add(" ", bold)
            elif tag in (f"{_W}br", f"{_W}cr"):
                run.add("\n", bold)
            elif tag == f"{_W}noBreakHyphen":
                run.add("-", bold)
            elif tag == f"{_W}sym":
                code = (
                    int(c.get(f"{_W}char") or "0", 16)
                    if re.fullmatch(r"[0-9A-Fa-f]{1,6}", c.get(f"{_W}char") or "")
                    else 0
                )
                if code and not 0xE000 <= code <= 0xF8FF:
                    run.add(chr(code), bold)
            elif tag in (f"{_W}footnoteReference", f"{_W}endnoteReference"):
                n = self.note(tag[len(_W) : -len("Reference")], c.get(f"{_W}id") or "")
                if n:
                    run.add(f"［{n}］", False)
                    run.notes.append(n)
            elif tag in (f"{_W}drawing", f"{_W}pict", f"{_MC}AlternateContent"):
                run.boxes.extend(_outer_boxes(c))

    def note(self, kind: str, nid: str) -> int:
        """The number of a foot- or endnote, read the first time it is cited."""
        key = (kind, nid)
        if key in self.note_no:
            return self.note_no[key]
        el = self.note_xml.get(key)
        if el is None:
            return 0
        n = len(self.note_no) + 1
        self.note_no[key] = n
        saved, self.fields = self.fields, []
        texts = []
        for p in el.iter(f"{_W}p"):
            run = _Run()
            self.content(p, run, self.styles.para_style(p))
            texts.append(run.finish()[0])
        self.fields = saved
        self.note_text[n] = " ".join(t for t in texts if t)
        return n


def _has(part, attr: str) -> bool:
    try:
        return getattr(part, attr) is not None
    except (KeyError, NotImplementedError, AttributeError):
        return False


def _enum_level(s: str) -> int | None:
    if CN_ENUM_RE.match(s):
        return 2
    if PAREN_ENUM_RE.match(s):
        return 3
    return None


def _numbered_sentence(text: str) -> tuple[str, str]:
    """A paragraph 「（一）甲市扩大内需，稳定增长。…」: its numbered first sentence, if short, and the rest."""
    if not _enum_level(text):
        return "", ""
    m = re.match(r"^([^。！？!?；;]{4,45}[。！？!?])", text)
    if not m or len(text) - m.end() < 10:
        return "", ""
    return m.group(1), text[m.end() :].lstrip()


def read_docx(raw: bytes, name: str) -> list[SourceText]:
    """The report in a .docx file's bytes as one `SourceText` (see the module docstring).
    Raises `RagError` (one line) for a file that is not a readable, text-bearing .docx."""
    doc = open_docx(raw, name)
    reader = _Reader(doc)
    try:
        reader.block(reader.body)
    except RecursionError:
        raise RagError(f"{name} nests tables or boxes too deeply to read; re-save it in Word") from None
    lines = with_notes(reader.note_text, attachments(reader.lines))
    if not lines:
        raise RagError(f"{name} has no text (a scanned document or only images?); save a .docx with the report's text")
    parts: list[str] = []
    spans: list[SourceSpan] = []
    headings: list[tuple[int, int]] = []
    pos = 0
    for ln in lines:
        line = render(ln)
        if ln.level:
            headings.append((pos, ln.level))
        if len(ln.pieces) == 1:
            spans.append(SourceSpan(pos, pos + len(line), para=ln.pieces[0][1]))
        else:  # an attachment label joined with its title: each keeps its paragraph
            cut = pos + len(line) - len(ln.pieces[-1][0])
            spans.append(SourceSpan(pos, cut, para=ln.pieces[0][1]))
            spans.append(SourceSpan(cut, pos + len(line), para=ln.pieces[-1][1]))
        parts.append(line)
        pos += len(line) + 2
    text = "\n\n".join(parts) + "\n"
    return [SourceText(text, None, {}, "docx", "", fmt="docx", source_map=spans, headings=headings)]
