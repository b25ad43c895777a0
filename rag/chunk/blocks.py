"""Blocks: the lines of a report grouped into paragraph-level units, each classified as a heading
(markdown, 一、, （一）, wrapped over up to three narrow lines, damaged by mojibake, short two-phrase
titles, news headlines, box titles), subtitle (——date/meeting), dateline, byline, speaker, bullet,
noise or body. A body paragraph can open with an inline heading (（一）坚持政治引领。…) or a
**bold lead-in**.

In wide text a line is a paragraph and a line cut mid-sentence is joined to the next; in narrow
columns blank lines mean nothing and a paragraph ends at a short line ending a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.chunk.clean import GarbledRun, find_garbled, repair
from rag.chunk.layout import Line
from rag.read.chars import display_width, ends_sentence
from rag.read.numbering import enum_prefix

MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*)$")
BULLET_RE = re.compile(r"^[-*+•·▪●○◆]\s+")
BOLD_LEAD_RE = re.compile(r"^\*\*(.+?)\*\*")
SUBTITLE_RE = re.compile(r"^(?:——|--)\s*\S")
# The line that says when and where the report was given, with or without a leading dash:
# 「——2024年1月20日在甲市第五届人民代表大会第三次会议上」「二〇二四年一月二十日在乙县…会议上」.
_YEAR_WORDS = r"(?:\d{4}|[〇零○一二三四五六七八九]{4})\s*年"
MEETING_LINE_RE = re.compile(
    rf"^[—―\-－\s]*(?:{_YEAR_WORDS}.{{1,10}}?日)?\s*在.{{2,60}}?(?:会议|大会|會議|大會)上(?:的(?:讲话|报告|講話|報告))?[^，。；,;]{{0,30}}$"
)
DASHED_DATE_RE = re.compile(rf"^[—―\-－]{{1,2}}\s*{_YEAR_WORDS}")
# A title glued to its dateline (and speaker) on one line: 「政府工作报告——2024年…会议上…」.
GLUED_TITLE_RE = re.compile(r"^(.{2,30}?)(?:——|――|--)(.{0,20}?(?:会议|大会|會議|大會)上.*)$")
DATELINE_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*(?:星期|周|週)[一二三四五六日天])?$")
BYLINE_RE = re.compile(
    r"^(?:(?:本报|本報)?(?:记者|記者|通讯员|通訊員|编辑|編輯)[\s：:].{0,40}"
    r"|.{0,40}(?:编辑整理|編輯整理|整理|报道|報道)$"
    r"|[（(][\u4e00-\u9fff、，, ]{2,24}[）)])$"
)
SPEAKER_RE = re.compile(
    r"^(?:[省市县区縣區州旗]长|[省市县区縣區州旗]長|主席|主任|书记|書記|代[市县縣][长長])\s+[\u4e00-\u9fff·]{2,5}$"
)
# 「甲市人民政府市长 张三」「国务院总理 李四」「乙县人民政府代理县长王五」: an office, then a name.
SPEAKER_LINE_RE = re.compile(
    r"^[\u4e00-\u9fff（）()]{0,24}?(?:总理|總理|代?(?:省|市|县|區|区|縣|州|旗|盟)(?:长|長)|主席)"
    r"[\s\u3000\u00a0\u2002]*([\u4e00-\u9fff·]{2,4})?$"
)
# The glossary line that opens a note: 「［3］甲乙工程：」.
NOTE_RE = re.compile(r"^\^?[［\[【](\d{1,3})[］\]】]")
NOTE_HEAD_RE = re.compile(r"^\^?[［\[【]\d{1,3}[］\]】]\s*[^。！？!?]{1,40}[：:]$")
# The heading of a glossary part (too short for the general title rule).
NOTES_HEADING_RE = re.compile(r"^(?:#{1,6}\s*)?(?:注释|註釋|注解|註解|名词解释|名詞解釋|附注|附註|注)[：:]?$")
INNER_PUNCT = set("，,。；;：:、！!？?")


@dataclass
class Block:
    kind: str  # heading | body | bullet | subtitle | dateline | byline | speaker | noise
    lines: list[Line]
    md_level: int = 0
    style: str = ""  # cn | paren | arabic | plain | two-phrase | bold
    number: int | None = None
    title: str = ""  # heading title (or inline heading title for body)
    inline: bool = False  # body paragraph opening with its own heading
    garbled: list[GarbledRun] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.lines[0].start

    @property
    def end(self) -> int:
        return self.lines[-1].end

    @property
    def text(self) -> str:
        return "".join(ln.text for ln in self.lines)


def _short_title(s: str) -> bool:
    """A standalone title line: short, no sentence punctuation inside, not ending a sentence."""
    if not s or display_width(s) > 64 or len(s) < 4:
        return False
    if any(c in INNER_PUNCT for c in s) or ends_sentence(s):
        return False
    return bool(re.search(r"[\u4e00-\u9fff]{2}", s))


def _two_phrase(s: str) -> bool:
    parts = re.split(r"[ \u3000]+", s.strip())
    return len(parts) == 2 and all(len(p) >= 4 for p in parts) and _short_title(s)


def _garbled_start(text: str) -> tuple[GarbledRun | None, str, int | None]:
    """A line that opens with mojibake: the run, the numbering style its repair suggests, the number."""
    runs = find_garbled(text[:16])
    if not runs or runs[0].start > 1:
        return None, "", None
    run = runs[0]
    fixed = repair(text[: run.end + 2]) or run.repaired
    style, num, _ = enum_prefix(fixed)
    if not style and fixed.startswith(("（", "(", "）", ")")):
        style = "paren"  # the repaired text keeps a bracket of 「（六）」 whose number was lost
    return run, style, num


def _sentence_head(s: str, limit: int = 30) -> str | None:
    """The first clause of `s` if it is short and ends with 。 or ：, i.e. a lead-in title."""
    m = re.match(rf"^(.{{2,{limit}}}?)[。：:]", s)
    if m and not any(c in "，,；;" for c in m.group(1)) and len(s) > m.end() + 4:
        return m.group(1)
    return None


def build_blocks(lines: list[Line], narrow: bool, col: int, noise: list[str | None] | None = None) -> list[Block]:
    """Group lines into blocks (paragraph-level units) and classify them; lines that `noise` marks
    as non-content become ``noise`` blocks (one per run of the same kind)."""
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    noise = noise or [None] * n

    def prev_body_open() -> bool:
        """The last block is a body paragraph that has not finished its sentence."""
        if not blocks or blocks[-1].kind != "body":
            return False
        return not ends_sentence(blocks[-1].lines[-1].text, "：:")

    def is_short(ln: Line) -> bool:
        return display_width(ln.text) < col - 5

    while i < n:
        ln = lines[i]
        t = ln.text
        if noise[i]:
            if blocks and blocks[-1].kind == "noise" and blocks[-1].title == noise[i]:
                blocks[-1].lines.append(ln)
            else:
                blocks.append(Block("noise", [ln], title=noise[i] or ""))
            i += 1
            continue
        at_head = not any(b.kind == "body" for b in blocks)
        if at_head and GLUED_TITLE_RE.match(t) and len(t) <= 120:
            blocks.append(Block("subtitle", [ln], title=t))
            i += 1
            continue
        if (
            (MEETING_LINE_RE.match(t) or DASHED_DATE_RE.match(t))
            and len(t) <= 100
            and not prev_body_open()
            and not ends_sentence(t)
        ):
            blocks.append(Block("subtitle", [ln], title=t))
            i += 1
            continue
        if len(t) <= 40 and (sm := SPEAKER_LINE_RE.match(t)) and not prev_body_open():
            # the name may stand on the next line: 「国务院总理」「张三」
            k = 1 if sm.group(1) else 2
            if k == 1 or (i + 1 < n and re.fullmatch(r"[\u4e00-\u9fff·]{2,4}", lines[i + 1].text)):
                blocks.append(Block("speaker", lines[i : i + k]))
                i += k
                continue
        if NOTES_HEADING_RE.match(t):
            blocks.append(Block("heading", [ln], style="plain", title=t.rstrip("：:")))
            i += 1
            continue
        # markdown headings
        if m := MD_HEADING_RE.match(t):
            level, body = len(m.group(1)), m.group(2).strip()
            if SUBTITLE_RE.match(body):
                blocks.append(Block("subtitle", [ln], md_level=level, title=body))
            else:
                style, num, _ = enum_prefix(body)
                style = style or ("two-phrase" if _two_phrase(body) else "plain")
                blocks.append(Block("heading", [ln], md_level=level, style=style, number=num, title=body))
            i += 1
            continue
        if BULLET_RE.match(t):
            blocks.append(Block("bullet", [ln]))
            i += 1
            continue
        if SUBTITLE_RE.match(t) and not prev_body_open() and "。" not in t.rstrip("。")[:-1]:
            blocks.append(Block("subtitle", [ln], title=t))
            i += 1
            continue
        if DATELINE_RE.match(t):
            blocks.append(Block("dateline", [ln]))
            i += 1
            continue
        if SPEAKER_RE.match(t):
            blocks.append(Block("speaker", [ln]))
            i += 1
            continue
        if BYLINE_RE.match(t) and display_width(t) <= 64 and not ends_sentence(t):
            blocks.append(Block("byline", [ln]))
            i += 1
            continue

        can_head = not (prev_body_open() and not ln.hard_before and not (ln.blank_before and not narrow))
        if narrow and blocks and blocks[-1].kind == "body" and not ln.hard_before:
            last = blocks[-1].lines[-1]
            can_head = ends_sentence(last.text, "：:")
        garbled_run, g_style, g_num = _garbled_start(t)
        style, num, _ = enum_prefix(t)
        if garbled_run is not None and not style:
            style, num = g_style, g_num
        if style in ("cn", "paren") and can_head:
            # a numbered heading, possibly wrapped over up to three narrow lines
            head = [ln]
            skip = garbled_run.end if garbled_run is not None else 0  # a garbled prefix may start with 。
            if narrow:
                while (
                    len(head) < 3
                    and i + len(head) < n
                    and not is_short(head[-1])
                    and not any(c in "。！？!?" for c in head[-1].text[skip if len(head) == 1 else 0 :])
                    and not lines[i + len(head)].hard_before
                ):
                    nxt = lines[i + len(head)]
                    if enum_prefix(nxt.text)[0] or any(c in "。！？!?；;" for c in nxt.text):
                        break  # the next line opens a paragraph or another heading
                    head.append(nxt)
            joined = "".join(h.text for h in head)
            rest = joined[garbled_run.end :] if garbled_run is not None else joined
            if (
                not any(c in "。！？!?" for c in rest.rstrip("。"))
                and (not rest.endswith("。") or len(rest) < 40)
                and len(joined) <= 64
            ):
                b = Block("heading", head, style=style, number=num, title=joined)
                if garbled_run is not None:
                    b.garbled = [garbled_run]
                blocks.append(b)
                i += len(head)
                continue
        followed_by_gap = i + 1 >= n or lines[i + 1].blank_before or lines[i + 1].hard_before
        if (
            _short_title(t)
            and can_head
            and (not narrow or (is_short(ln) and followed_by_gap))
            and style not in ("arabic",)
        ):
            blocks.append(Block("heading", [ln], style="two-phrase" if _two_phrase(t) else "plain", title=t))
            i += 1
            continue

        # body paragraph: decide whether this line continues the previous body block
        if blocks and blocks[-1].kind == "body" and not ln.hard_before:
            last = blocks[-1].lines[-1]
            if narrow:
                ends = ends_sentence(last.text, "：:") and (is_short(last) or ln.blank_before)
                ends = ends or (ends_sentence(last.text) and (style in ("cn", "paren") or bool(BOLD_LEAD_RE.match(t))))
            else:
                ends = ends_sentence(last.text, "：:；;") or bool(BOLD_LEAD_RE.match(t))
                if NOTE_HEAD_RE.match(blocks[-1].text) and len(blocks[-1].lines) == 1 and not NOTE_RE.match(t):
                    ends = False  # 「［3］甲乙工程：」 and the next line, its explanation, are one note
            if not ends:
                blocks[-1].lines.append(ln)
                i += 1
                continue
        blocks.append(Block("body", [ln]))
        i += 1

    for b in blocks:
        if b.kind == "body":
            _inline_heading(b)
        if not b.garbled:
            b.garbled = find_garbled(b.text)
    return blocks


def _inline_heading(b: Block) -> None:
    """A body paragraph that opens with its own heading: （一）坚持政治引领。… or **lead-in**."""
    t = b.text
    if m := BOLD_LEAD_RE.match(t):
        b.inline, b.style, b.title = True, "bold", m.group(1).strip().rstrip("。：:")
        return
    style, num, plen = enum_prefix(t)
    run = None
    if not style:
        run, style, num = _garbled_start(t)
        if run is not None:
            plen = run.end
    if style in ("cn", "paren"):
        head = _sentence_head(t[plen:], 28)
        if head is not None:
            b.inline, b.style, b.number = True, style, num
            b.title = t[: plen + len(head)]
            if run is not None:
                b.garbled = [run]


def group_lists(blocks: list[Block]) -> list[Block]:
    """Consecutive bullet lines are one list block: a list is cited and embedded as a whole."""
    out: list[Block] = []
    for b in blocks:
        if b.kind == "bullet" and out and out[-1].kind == "bullet" and not b.lines[0].hard_before:
            out[-1].lines.extend(b.lines)
        else:
            out.append(b)
    return out
