"""The section tree: blocks walked in order, opening articles (a file can hold several reports or
news items) and sections (nested by numbering style), with every block attached to both as a
paragraph.

A level-1 markdown title, a headline followed by 本报讯, or a title followed by a bullet list opens an
article. When a heading's numbering style belongs to an earlier article of the file, the text is
interleaved: we switch back to that article (see `reassign` for the paragraphs that follow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.chunk.blocks import Block
from rag.chunk.clean import repair
from rag.read.numbering import CN_ENUM_RE, PAREN_ENUM_RE, int_to_cn

NEWS_LEAD_RE = re.compile(r"^(?:本报讯|本報訊|新华社|新華社|本报|本報)")
STYLE_RANK = {"cn": 1, "plain": 1, "two-phrase": 1, "paren": 2, "arabic": 3, "bold": 4}


@dataclass
class Section:
    """A heading and what it holds; the root of an article has rank 0 and no title."""

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

    def path(self) -> list[Section]:
        out: list[Section] = []
        node: Section | None = self
        while node is not None and node.rank > 0:
            out.append(node)
            node = node.parent
        return out[::-1]


@dataclass
class Article:
    """One report or news item of the file, with its section tree (`root`) and open sections (`stack`)."""

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


def _new_article(articles: list[Article], start: int) -> Article:
    root = Section(title="", rank=0, style="", number=None, parent=None, start=start)
    art = Article(len(articles) + 1, root)
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
    sec = Section(
        title=_strip_md(title),
        rank=rank,
        style=b.style,
        number=b.number,
        parent=parent,
        start=b.start,
        md_level=b.md_level,
        garbled=garbled,
    )
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
        if enum := PAREN_ENUM_RE.match(fixed) or CN_ENUM_RE.match(fixed):
            fixed = fixed[enum.end() :]
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
    """How a heading is marked (markdown level, numbering style): an article keeps its own marks."""
    return (b.md_level, b.style)


def build_sections(blocks: list[Block]) -> tuple[list[Article], list[Para], bool]:
    """Walk the blocks, opening articles and sections, and attach every block to both.

    Also says whether the articles are interleaved (a heading switched back to an earlier article),
    in which case their body paragraphs are worth re-assigning by content."""
    articles: list[Article] = []
    paras: list[Para] = []
    cur = _new_article(articles, blocks[0].start if blocks else 0)
    interleaved = False

    for i, b in enumerate(blocks):
        nb = blocks[i + 1] if i + 1 < len(blocks) else None  # the next block, of any kind
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

    return articles, paras, interleaved
