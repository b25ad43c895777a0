"""Chunking: from one report's original text to articles, sections, paragraphs and chunks.

General rules only (the chunker meets reports it has never seen):

1. Lines. Page-continuation markers are cut out and become hard breaks; text is never joined
   across them. The layout is measured: when most lines have about the same small width (a median of
   8–28 Chinese characters) the file is a narrow newspaper column, where blank lines mean nothing and a paragraph ends at a short line
   ending a sentence; otherwise a line is a paragraph and a line cut mid-sentence is joined to
   the next.
2. Blocks. Each paragraph-level block is classified: heading (markdown, 一、, （一）, wrapped over
   up to three lines, damaged by mojibake, short two-phrase titles, news headlines, box titles),
   subtitle (——date/meeting), dateline, byline, bullet, or body. A body paragraph can open with
   an inline heading (（一）坚持政治引领。…) or a **bold lead-in**.
3. Articles. A level-1 markdown title, a headline followed by 本报讯, or a title followed by a
   bullet list opens an article. When a heading's numbering style belongs to an earlier article
   of the file the text is interleaved: we switch back, and body paragraphs are then re-assigned
   to the article whose vocabulary they match.
4. Chunks. Paragraphs longer than ~1.6× the target are split at sentence ends (never inside a
   sentence, so a figure stays with its unit and a list of targets stays whole).
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from . import boilerplate
from .clean import (
    GarbledRun,
    Marker,
    display_width,
    ends_sentence,
    find_garbled,
    find_markers,
    normalize,
    repair,
)

CN_DIGITS = "零一二三四五六七八九十"
_CN_NUM = r"[一二三四五六七八九十]{1,3}"
CN_ENUM_RE = re.compile(rf"^({_CN_NUM})、")
PAREN_ENUM_RE = re.compile(rf"^[（(]({_CN_NUM})[）)]")
ARABIC_ENUM_RE = re.compile(r"^(\d{1,2})[.．、](?!\d)")
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*)$")
BULLET_RE = re.compile(r"^[-*+•·▪●○◆]\s+")
BOLD_LEAD_RE = re.compile(r"^\*\*(.+?)\*\*")
SUBTITLE_RE = re.compile(r"^(?:——|--)\s*\S")
# The line that says when and where the report was given, with or without a leading dash:
# 「——2024年1月20日在甲市第五届人民代表大会第三次会议上」「二〇二四年一月二十日在乙县…会议上」.
_YEAR_WORDS = r"(?:\d{4}|[〇零○一二三四五六七八九]{4})\s*年"
MEETING_LINE_RE = re.compile(rf"^[—―\-－\s]*(?:{_YEAR_WORDS}.{{1,10}}?日)?\s*在.{{2,60}}?(?:会议|大会|會議|大會)上(?:的(?:讲话|报告|講話|報告))?[^，。；,;]{{0,30}}$")
DASHED_DATE_RE = re.compile(rf"^[—―\-－]{{1,2}}\s*{_YEAR_WORDS}")
# A title glued to its dateline (and speaker) on one line: 「政府工作报告——2024年…会议上…」.
GLUED_TITLE_RE = re.compile(r"^(.{2,30}?)(?:——|――|--)(.{0,20}?(?:会议|大会|會議|大會)上.*)$")
DATELINE_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*(?:星期|周|週)[一二三四五六日天])?$")
BYLINE_RE = re.compile(
    r"^(?:(?:本报|本報)?(?:记者|記者|通讯员|通訊員|编辑|編輯)[\s：:].{0,40}"
    r"|.{0,40}(?:编辑整理|編輯整理|整理|报道|報道)$"
    r"|[（(][\u4e00-\u9fff、，, ]{2,24}[）)])$"
)
SPEAKER_RE = re.compile(r"^(?:[省市县区縣區州旗]长|[省市县区縣區州旗]長|主席|主任|书记|書記|代[市县縣][长長])\s+[\u4e00-\u9fff·]{2,5}$")
# 「甲市人民政府市长 张三」「国务院总理 李四」「乙县人民政府代理县长王五」: an office, then a name.
SPEAKER_LINE_RE = re.compile(r"^[\u4e00-\u9fff（）()]{0,24}?(?:总理|總理|代?(?:省|市|县|區|区|縣|州|旗|盟)(?:长|長)|主席)"
                             r"[\s\u3000\u00a0\u2002]*([\u4e00-\u9fff·]{2,4})?$")
NEWS_LEAD_RE = re.compile(r"^(?:本报讯|本報訊|新华社|新華社|本报|本報)")
# Note markers in the text (［3］, [3], ^[3]) and the glossary line that opens a note: 「［3］甲乙工程：」.
NOTE_MARK_RE = re.compile(r"\^?[［\[【](\d{1,3})[］\]】]")
NOTE_RE = re.compile(r"^\^?[［\[【](\d{1,3})[］\]】]")
NOTE_HEAD_RE = re.compile(r"^\^?[［\[【]\d{1,3}[］\]】]\s*[^。！？!?]{1,40}[：:]$")
# The heading of a glossary part (too short for the general title rule).
NOTES_HEADING_RE = re.compile(r"^(?:#{1,6}\s*)?(?:注释|註釋|注解|註解|名词解释|名詞解釋|附注|附註|注)[：:]?$")
INNER_PUNCT = set("，,。；;：:、！!？?")


def cn_to_int(s: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for report numbering)."""
    if not s:
        return 0
    if s == "十":
        return 10
    if "十" in s:
        a, _, b = s.partition("十")
        return (CN_DIGITS.index(a) if a else 1) * 10 + (CN_DIGITS.index(b) if b else 0)
    return CN_DIGITS.index(s[0])


def int_to_cn(n: int) -> str:
    if n <= 10:
        return CN_DIGITS[n] if n < 10 else "十"
    tens, ones = divmod(n, 10)
    return (CN_DIGITS[tens] if tens > 1 else "") + "十" + (CN_DIGITS[ones] if ones else "")


# --- lines --------------------------------------------------------------------------------------
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


# --- blocks -------------------------------------------------------------------------------------
@dataclass
class Block:
    kind: str  # heading | body | bullet | subtitle | dateline | byline | speaker
    lines: list[Line]
    md_level: int = 0
    style: str = ""  # cn | paren | arabic | plain | two-phrase | bold | garbled
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


def _enum(s: str) -> tuple[str, int | None, int]:
    """Numbering at the start of `s`: (style, number, length of the prefix)."""
    if m := CN_ENUM_RE.match(s):
        return "cn", cn_to_int(m.group(1)), m.end()
    if m := PAREN_ENUM_RE.match(s):
        return "paren", cn_to_int(m.group(1)), m.end()
    if m := ARABIC_ENUM_RE.match(s):
        return "arabic", int(m.group(1)), m.end()
    return "", None, 0


def _garbled_start(text: str) -> tuple[GarbledRun | None, str, int | None]:
    """A line that opens with mojibake: the run, the numbering style its repair suggests, the number."""
    runs = find_garbled(text[:16])
    if not runs or runs[0].start > 1:
        return None, "", None
    run = runs[0]
    fixed = repair(text[: run.end + 2]) or run.repaired
    style, num, _ = _enum(fixed)
    if not style and fixed.startswith(("（", "(", "）", ")")):
        style = "paren"  # the repaired text keeps a bracket of 「（六）」 whose number was lost
    return run, style, num


def _sentence_head(s: str, limit: int = 30) -> str | None:
    """The first clause of `s` if it is short and ends with 。 or ：, i.e. a lead-in title."""
    m = re.match(rf"^(.{{2,{limit}}}?)[。：:]", s)
    if m and not any(c in "，,；;" for c in m.group(1)) and len(s) > m.end() + 4:
        return m.group(1)
    return None


def build_blocks(text: str, lines: list[Line], narrow: bool, col: int,
                 noise: list[str | None] | None = None) -> list[Block]:
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
                blocks.append(Block("noise", [ln], title=noise[i]))
            i += 1
            continue
        at_head = not any(b.kind == "body" for b in blocks)
        if at_head and (m := GLUED_TITLE_RE.match(t)) and len(t) <= 120:
            blocks.append(Block("subtitle", [ln], title=t))
            i += 1
            continue
        if (MEETING_LINE_RE.match(t) or DASHED_DATE_RE.match(t)) and len(t) <= 100 and not prev_body_open() \
                and not ends_sentence(t):
            blocks.append(Block("subtitle", [ln], title=t))
            i += 1
            continue
        if len(t) <= 40 and (sm := SPEAKER_LINE_RE.match(t)) and not prev_body_open():
            # the name may stand on the next line: 「国务院总理」「张三」
            k = 1 if sm.group(1) else 2
            if k == 1 or (i + 1 < n and re.fullmatch(r"[\u4e00-\u9fff·]{2,4}", lines[i + 1].text)):
                blocks.append(Block("speaker", lines[i:i + k]))
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
                style, num, plen = _enum(body)
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
        style, num, plen = _enum(t)
        if garbled_run is not None and not style:
            style, num = g_style, g_num
        if style in ("cn", "paren") and can_head:
            # a numbered heading, possibly wrapped over up to three narrow lines
            head = [ln]
            skip = garbled_run.end if garbled_run is not None else 0  # a garbled prefix may start with 。
            if narrow:
                while (len(head) < 3 and i + len(head) < n and not is_short(head[-1])
                       and not any(c in "。！？!?" for c in head[-1].text[skip if len(head) == 1 else 0:])
                       and not lines[i + len(head)].hard_before):
                    nxt = lines[i + len(head)]
                    if _enum(nxt.text)[0] or any(c in "。！？!?；;" for c in nxt.text):
                        break  # the next line opens a paragraph or another heading
                    head.append(nxt)
            joined = "".join(h.text for h in head)
            rest = joined[garbled_run.end:] if garbled_run is not None else joined
            if (not any(c in "。！？!?" for c in rest.rstrip("。")) and (not rest.endswith("。") or len(rest) < 40)
                    and len(joined) <= 64):
                b = Block("heading", head, style=style, number=num, title=joined)
                if garbled_run is not None:
                    b.garbled = [garbled_run]
                    b.style = style
                blocks.append(b)
                i += len(head)
                continue
        followed_by_gap = i + 1 >= n or lines[i + 1].blank_before or lines[i + 1].hard_before
        if (_short_title(t) and can_head and (not narrow or (is_short(ln) and followed_by_gap))
                and style not in ("arabic",)):
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
            b.garbled = [r for r in find_garbled(b.text)]
    return blocks


def _inline_heading(b: Block) -> None:
    """A body paragraph that opens with its own heading: （一）坚持政治引领。… or **lead-in**."""
    t = b.text
    if m := BOLD_LEAD_RE.match(t):
        b.inline, b.style, b.title = True, "bold", m.group(1).strip().rstrip("。：:")
        return
    style, num, plen = _enum(t)
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


# --- articles and sections ---------------------------------------------------------------------
STYLE_RANK = {"cn": 1, "plain": 1, "two-phrase": 1, "paren": 2, "arabic": 3, "bold": 4}


@dataclass
class Section:
    title: str
    rank: int
    style: str
    number: int | None
    parent: Section | None
    start: int
    md_level: int = 0
    children: list[Section] = field(default_factory=list)
    ordinal: int = 0
    garbled: bool = False
    block: Block | None = None
    clean_title: str = ""

    def path(self) -> list[Section]:
        out: list[Section] = []
        node: Section | None = self
        while node is not None and node.rank > 0:
            out.append(node)
            node = node.parent
        return out[::-1]

    @property
    def display(self) -> str:
        return self.clean_title or self.title


@dataclass
class Article:
    index: int
    root: Section
    title: str = ""
    subtitle: str = ""
    kind: str = ""
    stack: list[Section] = field(default_factory=list)
    signatures: set[tuple[int, str]] = field(default_factory=set)
    has_body: bool = False


@dataclass
class Para:
    """A paragraph-level unit with its article and section, before it is cut into chunks."""
    block: Block
    article: Article
    section: Section
    kind: str  # body | heading | title | meta | bullet | noise
    reassigned: bool = False


def _new_article(articles: list[Article], start: int, title: str = "", kind: str = "") -> Article:
    root = Section(title="", rank=0, style="", number=None, parent=None, start=start)
    art = Article(len(articles) + 1, root, title=title, kind=kind)
    art.stack = [root]
    articles.append(art)
    return art


def _push_section(art: Article, b: Block, garbled: bool) -> Section:
    rank = STYLE_RANK.get(b.style, 1)
    stack = art.stack
    while len(stack) > 1 and stack[-1].rank >= rank:
        stack.pop()
    # numbering continuity: （五） cannot be the first child of a section that has no （四）;
    # such a heading resumes an outer level (typically after a page cut)
    if b.style in ("cn", "paren", "arabic") and b.number is not None and b.number > 1:
        while len(stack) > 1 and not any(c.style == b.style for c in stack[-1].children):
            stack.pop()
    if b.number is None and b.style in ("cn", "paren", "arabic"):
        same = [c for c in stack[-1].children if c.style == b.style]
        b.number = ((same[-1].number or 0) + 1) if same else 1
    parent = stack[-1]
    title = b.title
    if b.style in ("cn", "paren") and garbled:
        title = _rebuild_numbered_title(b)
    sec = Section(title=_strip_md(title), rank=rank, style=b.style, number=b.number, parent=parent,
                  start=b.start, md_level=b.md_level, garbled=garbled, block=b)
    parent.children.append(sec)
    sec.ordinal = len(parent.children)
    stack.append(sec)
    art.signatures.add(_signature(b))
    return sec


def _strip_md(s: str) -> str:
    return s.replace("**", "").strip()


def _rebuild_numbered_title(b: Block) -> str:
    """A damaged numbered heading: the inferred number, then the best readable text we have
    (the GBK re-decoding when it helps, else the undamaged remainder after an ellipsis)."""
    prefix = f"（{int_to_cn(b.number or 0)}）" if b.style == "paren" else f"{int_to_cn(b.number or 0)}、"
    fixed = repair(b.title)
    if fixed:
        if PAREN_ENUM_RE.match(fixed) or CN_ENUM_RE.match(fixed):
            fixed = fixed[(PAREN_ENUM_RE.match(fixed) or CN_ENUM_RE.match(fixed)).end():]
        elif fixed[:1] in "）)、":
            fixed = fixed[1:]
        elif fixed[:1] in "（(":
            fixed = fixed[2:]
        if len(fixed) >= 2:
            return prefix + fixed
    cut = b.garbled[0].end if b.garbled else 0
    rest = b.title[cut:]
    return prefix + "…" + rest if rest else prefix


def _signature(b: Block) -> tuple[int, str]:
    return (b.md_level, b.style if b.style not in ("plain",) else "plain")


def assign(blocks: list[Block]) -> tuple[list[Article], list[Para]]:
    """Walk the blocks, opening articles and sections, and attach every block to both."""
    articles: list[Article] = []
    paras: list[Para] = []
    cur = _new_article(articles, blocks[0].start if blocks else 0)
    interleaved = False

    def next_body(i: int) -> Block | None:
        return blocks[i + 1] if i + 1 < len(blocks) else None

    for i, b in enumerate(blocks):
        nb = next_body(i)
        if b.kind == "heading":
            is_title_like = b.style in ("plain", "two-phrase")
            opens_news = nb is not None and nb.kind == "body" and bool(NEWS_LEAD_RE.match(nb.text))
            opens_box = nb is not None and nb.kind == "bullet" and len(nb.lines) >= 2
            if b.md_level == 1 or (is_title_like and (opens_news or opens_box)):
                if cur.has_body or cur.title or len(cur.root.children) > 0:
                    cur = _new_article(articles, b.start)
                cur.title = _strip_md(b.title)
                cur.kind = "news" if opens_news else ("box" if opens_box else "")
                paras.append(Para(b, cur, cur.root, "title"))
                continue
            if is_title_like and not cur.title and not cur.has_body and not cur.root.children:
                cur.title = _strip_md(b.title)
                paras.append(Para(b, cur, cur.root, "title"))
                continue
            # interleaved articles: a heading style foreign to this article but used by an earlier one
            sig = _signature(b)
            if cur.signatures and sig not in cur.signatures:
                owner = next((a for a in reversed(articles) if a is not cur and sig in a.signatures), None)
                if owner is not None:
                    cur = owner
                    interleaved = True
            sec = _push_section(cur, b, garbled=bool(b.garbled))
            paras.append(Para(b, cur, sec, "heading"))
            continue
        if b.kind == "subtitle":
            if not cur.subtitle:
                cur.subtitle = _strip_md(b.title).lstrip("—-").strip()
            paras.append(Para(b, cur, cur.root, "title"))
            continue
        if b.kind == "noise":
            paras.append(Para(b, cur, cur.root, "noise"))
            continue
        if b.kind in ("dateline", "speaker", "byline"):
            paras.append(Para(b, cur, cur.stack[-1] if b.kind != "byline" else cur.root, "meta"))
            continue
        # body or bullet
        if b.kind == "body" and b.inline:
            sec = _push_section(cur, b, garbled=bool(b.garbled) and b.garbled[0].start <= 1)
            if b.style == "bold":
                cur.stack.pop()  # a bold lead-in titles its own paragraph only
        else:
            sec = cur.stack[-1]
        cur.has_body = True
        paras.append(Para(b, cur, sec, "bullet" if b.kind == "bullet" else "body"))

    if interleaved and len(articles) > 1:
        paras = _split_mixed(articles, paras)
        _reassign_by_content(articles, paras)
    return articles, paras


# --- interleaved articles: naive Bayes over character bigrams ------------------------------------
def _bigrams(s: str) -> list[str]:
    t = "".join(c for c in normalize(s).text if c.isalnum())
    return [t[i:i + 2] for i in range(len(t) - 1)]


class _ArticleModel:
    """Character-bigram language model per article, Dirichlet-smoothed towards the whole file."""

    MU = 400.0

    def __init__(self, articles: list[Article], paras: list[Para]):
        self.articles = articles
        self.counts = {a.index: Counter() for a in articles}
        for p in paras:
            if p.kind == "body":
                self.counts[p.article.index].update(_bigrams(p.block.text))
        self.totals = {k: sum(c.values()) for k, c in self.counts.items()}
        self.bg = Counter()
        for c in self.counts.values():
            self.bg.update(c)
        self.bg_total = sum(self.bg.values()) or 1

    def scores(self, grams: list[str], own: int | None = None) -> dict[int, float]:
        """Log-likelihood per article; the paragraph itself is left out of its `own` article."""
        out: dict[int, float] = {}
        mine = Counter(grams)
        n = len(grams)
        for a in self.articles:
            c, tot = self.counts[a.index], self.totals[a.index]
            if tot < 200:
                continue
            lo = a.index == own
            score = 0.0
            for g in grams:
                pbg = (self.bg[g] - mine[g] + 0.5) / (self.bg_total - n + 1) if True else 0
                cg = c[g] - mine[g] if lo else c[g]
                score += math.log((cg + self.MU * pbg) / ((tot - n if lo else tot) + self.MU))
            out[a.index] = score
        return out


def _split_mixed(articles: list[Article], paras: list[Para], margin: float = 0.2) -> list[Para]:
    """Undo joins across interleaved articles: a body paragraph whose lines read like two
    different articles is split where the vocabulary changes."""
    model = _ArticleModel(articles, paras)
    out: list[Para] = []
    for p in paras:
        if p.kind != "body" or len(p.block.lines) < 2:
            out.append(p)
            continue
        labels = []
        for ln in p.block.lines:
            grams = _bigrams(ln.text)
            sc = model.scores(grams, own=p.article.index)
            if len(grams) < 12 or len(sc) < 2:
                labels.append(None)
                continue
            ranked = sorted(sc.items(), key=lambda kv: -kv[1])
            confident = (ranked[0][1] - ranked[1][1]) / len(grams) > margin
            labels.append(ranked[0][0] if confident else None)
        known = [x for x in labels if x is not None]
        if all(x == p.article.index for x in known):
            out.append(p)
            continue
        # unknown labels follow the previous line (the paragraph's article at the start),
        # then cut where the label changes
        cur = p.article.index
        groups: list[list[Line]] = []
        last = None
        for ln, lab in zip(p.block.lines, labels):
            cur = lab if lab is not None else cur
            if groups and cur == last:
                groups[-1].append(ln)
            else:
                groups.append([ln])
            last = cur
        for k, g in enumerate(groups):
            blk = Block("body", g, garbled=[r for r in find_garbled("".join(x.text for x in g))])
            out.append(Para(blk, p.article, p.section, "body", reassigned=False) if k == 0 else
                       Para(blk, p.article, p.section, "body"))
    return out


def _reassign_by_content(articles: list[Article], paras: list[Para], margin: float = 0.45) -> None:
    """Move body paragraphs that read like another article of the same file into it.

    Each article's vocabulary is learnt from the paragraphs it holds; a paragraph moves when
    another article explains it better by `margin` nats per bigram (leave-one-out, two passes).
    """
    body = [p for p in paras if p.kind == "body" and not p.block.inline]
    origin = {id(p): (p.article, p.section) for p in body}
    for _ in range(2):
        model = _ArticleModel(articles, paras)
        moved = False
        for p in body:
            grams = _bigrams(p.block.text)
            if len(grams) < 12:
                continue
            scores = model.scores(grams, own=p.article.index)
            best = max(scores, key=scores.get)
            if best != p.article.index and (scores[best] - scores[p.article.index]) / len(grams) > margin:
                target = next(a for a in articles if a.index == best)
                home, home_section = origin[id(p)]
                p.article, p.section = target, (home_section if target is home else target.root)
                p.reassigned = target is not home
                moved = True
        if not moved:
            break


# --- chunks -------------------------------------------------------------------------------------
_SENT_END_RE = re.compile(r"[。！？!?][”’」』）)]*")


@dataclass
class Piece:
    """A chunk before ids and metadata: its text with the original offset of every character."""
    para: Para
    text: str
    offsets: list[int]
    number: int  # paragraph number within its section (0 for headings/titles/meta)
    part: int  # 1-based part within a split paragraph, 0 when the paragraph is whole
    duplicates: list[Para] = field(default_factory=list)

    @property
    def spans(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for o in self.offsets:
            if out and out[-1][1] == o:
                out[-1] = (out[-1][0], o + 1)
            else:
                out.append((o, o + 1))
        return out


def para_text(text: str, p: Para) -> tuple[str, list[int]]:
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


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence; a sentence ends at 。！？ (not at ；, so lists stay whole)."""
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
    units = split_sentences(text) if "\n" not in text else _line_units(text)
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


def group_lists(blocks: list[Block]) -> list[Block]:
    """Consecutive bullet lines are one list block: a list is cited and embedded as a whole."""
    out: list[Block] = []
    for b in blocks:
        if b.kind == "bullet" and out and out[-1].kind == "bullet" and not b.lines[0].hard_before:
            out[-1].lines.extend(b.lines)
        else:
            out.append(b)
    return out


def make_pieces(text: str, paras: list[Para], target: int) -> list[Piece]:
    """Number paragraphs within their sections and split the long ones."""
    counters: Counter[int] = Counter()
    pieces: list[Piece] = []
    for p in paras:
        ptext, offs = para_text(text, p)
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


def cut_document(text: str, target: int = 300) -> tuple[list[Article], list[Para], list[Marker], bool]:
    """Lines → blocks → articles/sections/paragraphs for one report."""
    markers = find_markers(text)
    lines = split_lines(text, markers)
    narrow, col = detect_narrow(lines)
    blocks = group_lists(build_blocks(text, lines, narrow, col, boilerplate.classify(lines)))
    if not blocks:
        return [], [], markers, narrow
    articles, paras = assign(blocks)
    return articles, paras, markers, narrow
