"""Reading web pages: the report that a government portal page carries, without the portal.

A portal page wraps the report in a header, a navigation menu, a breadcrumb (首页 > 政务公开 > …),
a metadata line (发布时间/来源/浏览次数), font-size and share buttons (【字号：大 中 小】 分享到 打印
关闭窗口), a sidebar of related links and a footer (版权所有 网站标识码 ICP备). None of that is the
report, and indexing it would put the same menu into every document's chunks. Main-content
extraction is trafilatura's (measured against readability-lxml and jusText in
``eval/bench_html.py``): it keeps paragraphs, h1–h4 and tables in its XML output, which this
module walks to one line per paragraph, ``#``-heading lines for h1–h4 and one line per table row.

Nothing is fetched and nothing is executed: the page is parsed by lxml with network access off,
and <script>, <style>, <iframe>, <noscript>, forms, embedded objects and comments are removed
from the tree before extraction, so their text can never reach the index (`rag.read.html_page`: bytes to that tree).

Example: a page whose article opens ``<h1>甲市2024年政府工作报告</h1><p>各位代表：</p>…`` gives a
text that opens ``"# 甲市2024年政府工作报告\\n各位代表：\\n…"``, with the heading (0, 1).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from rag.errors import RagError
from rag.read.html_page import _WS, _check_text, _clean, _page_title, _parse, decode_page
from rag.read.source import SourceSpan, SourceText

MAX_BYTES = 20 * 2**20  # a report page is well under 1 MB; anything over 20 MB is not one
MIN_REPORT_CHARS = 100  # fewer letters outside links than this: a page without a report (an index, a menu)

# Portal chrome that extraction sometimes keeps at the edges of the main text: page navigation,
# share/print/close buttons, the font-size switch, the publishing metadata line and footer lines.
# Only short lines near the start or end are tested, so report sentences are never touched.
_CHROME_LINE = re.compile(
    r"^(?:上一篇|下一篇|上一条|下一条|上一页|下一页)[:：]"
    r"|^(?:分享到|分享|当前位置|您的位置|您现在的位置|当前的位置)[:：]"
    r"|[【\[]?\s*字号\s*[:：]?\s*[大中小]"
    r"|^[【\[]?(?:打印|打印本页|关闭|关闭窗口|关闭本页|收藏|返回顶部|分享|保存|全屏)[】\]]?"
    r"(?:[\s|｜/]*[【\[]?(?:打印|打印本页|关闭|关闭窗口|关闭本页|收藏|返回顶部|分享|保存|全屏|下载)[】\]]?)*$"
    r"|版权所有|ICP备|网站标识码|公网安备"
    r"|^(?:发布时间|发布日期|信息来源|浏览次数|点击数|访问次数|阅读次数)[:：]"
    r"|^(?:来源|时间|日期|作者|责任编辑|编辑)[:：].{0,40}(?:浏览|点击|阅读|访问)"
)
_CHROME_MAX = 80  # characters: a chrome line is short
_CHROME_EDGE = 8  # lines at each end of the main text that may be chrome


@dataclass
class _Block:
    lines: list[str]
    level: int = 0  # 1-4 for h1-h4, else 0


# --- main content ---------------------------------------------------------------------------------
def _extract(root, name: str) -> list[_Block]:
    """trafilatura's main content of the page, as blocks of lines."""
    import lxml.etree
    import trafilatura

    xml = trafilatura.extract(
        root,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
        fast=False,
    )
    if not xml:
        return []
    doc = lxml.etree.fromstring(
        xml.encode("utf-8"), parser=lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    )
    main = doc.find("main")
    blocks: list[_Block] = []
    _walk(main if main is not None else doc, blocks)
    return [b for b in blocks if b.lines]


def _link_texts(root) -> list[str]:
    """The page's link texts, longest first (menus, related lists, breadcrumbs are links)."""
    texts = {_WS.sub("", "".join(a.itertext())) for a in root.iter("a")}
    return sorted((t for t in texts if len(t) >= 2), key=len, reverse=True)[:_MAX_LINKS]


def _letters_outside_links(blocks: list[_Block], links: list[str]) -> int:
    """Letters of the main text that are not the text of one of the page's links. When extraction
    finds no article it falls back to the whole page, which is then mostly menus and link lists."""
    text = _WS.sub("", "".join(line for b in blocks for line in b.lines))
    if len(text) > _LINK_CHECK_CHARS:
        return len(text)  # far more text than any menu: a report (and the check would cost)
    for t in links:
        text = text.replace(t, "")
    return len(_LETTER.findall(text))


_MAX_LINKS = 3000
_LINK_CHECK_CHARS = 20_000
_LETTER = re.compile(r"[^\W_]")


def _walk(el, out: list[_Block]) -> None:
    """Blocks of a trafilatura XML element, in document order: a <p>/<head>/<item> is one block
    (its <lb/> line breaks become lines), a table row of plain cells one line, a row whose cells
    hold paragraphs (a layout table of an old portal) the blocks of those cells."""
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "head":
            rend = child.get("rend", "h2")
            level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
            lines = _lines(child)
            out.append(_Block([" ".join(lines)] if lines else [], min(level, 4)))
        elif tag == "row":
            cells = [c for c in child if c.tag == "cell"]
            if any(_has_blocks(c) for c in cells):
                for c in cells:
                    if _has_blocks(c):
                        _walk(c, out)
                    else:
                        out.append(_Block(_lines(c)))
            else:
                texts = [" ".join(_lines(c)) for c in cells]
                texts = [t for t in texts if t]
                if texts:
                    out.append(_Block([" | ".join(texts)]))
        elif tag in ("table", "list", "div", "main", "cell", "quote") and _has_blocks(child):
            _walk(child, out)
        elif tag:  # a paragraph, list item, code block, or inline text directly under a container
            out.append(_Block(_lines(child)))


def _has_blocks(el) -> bool:
    return any(
        isinstance(c.tag, str) and c.tag in ("p", "head", "list", "item", "table", "row", "quote", "div") for c in el
    )


def _lines(el) -> list[str]:
    """The text of `el`, cut at <lb/> (a <br> of the page), each piece cleaned; blank pieces dropped."""
    parts: list[str] = [el.text or ""]
    for child in el.iterdescendants():
        if child.tag == "lb":
            parts.append("\n")
        else:
            parts.append(child.text or "")
        parts.append(child.tail or "")
    return [t for t in (_clean(s) for s in "".join(parts).split("\n")) if t]


def _drop_chrome(blocks: list[_Block]) -> list[_Block]:
    """Remove chrome lines among the first and last `_CHROME_EDGE` lines of the main text."""
    total = sum(len(b.lines) for b in blocks)
    n = 0
    out: list[_Block] = []
    for b in blocks:
        keep = []
        for line in b.lines:
            edge = n < _CHROME_EDGE or n >= total - _CHROME_EDGE
            n += 1
            if edge and not b.level and len(line) <= _CHROME_MAX and _CHROME_LINE.search(line):
                continue
            keep.append(line)
        if keep:
            out.append(_Block(keep, b.level))
    return out


def _with_title(blocks: list[_Block], title: str, level: int) -> list[_Block]:
    """The report title once, as the first heading: the page's <h1> when extraction left it out
    (trafilatura takes it for page metadata), or its first line marked as h1 when it is the title."""
    if not title:
        return blocks
    key = _WS.sub("", title)
    for i, b in enumerate(blocks[:5]):
        if len(b.lines) == 1 and _WS.sub("", b.lines[0]) == key:
            blocks = (
                blocks[: i + 1]
                + [c for c in blocks[i + 1 : i + 5] if not (len(c.lines) == 1 and _WS.sub("", c.lines[0]) == key)]
                + blocks[i + 5 :]
            )
            if i == 0:
                blocks[0] = _Block(b.lines, b.level or level)
            return blocks
    return [_Block([title], level)] + blocks


# --- the reader -----------------------------------------------------------------------------------
def read_html(raw: bytes, name: str) -> list[SourceText]:
    """The report on a web page as one `SourceText`: one paragraph per line, h1–h4 as ``#`` lines,
    table rows as ``cell | cell`` lines; `source_map` gives each line's block (1-based) in the
    page's main content; `encoding` is the charset the page was read in.

    Raises `RagError` (one line) for a page over 20 MB, bytes that are not a web page, and a page
    without report text (a menu, an index of links, an empty template)."""
    if len(raw) > MAX_BYTES:
        raise RagError(
            f"{name} is {len(raw) / 2**20:.0f} MB, too large for a report page "
            f"(limit {MAX_BYTES // 2**20} MB); save the report's text as .txt instead"
        )
    if b"\x00" in raw[:4096] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RagError(
            f"{name} is not a web page: it is binary data (NUL bytes); give the report as .html, .txt, .docx or .pdf"
        )
    text, encoding = decode_page(raw, name)
    _check_text(text, name, encoding)
    if "<" not in text:
        raise RagError(f"{name} has no HTML markup; if it is the report's text, name it .txt")
    root = _parse(text, name)
    links = _link_texts(root)
    blocks = _drop_chrome(_extract(root, name))
    if _letters_outside_links(blocks, links) < MIN_REPORT_CHARS:
        raise RagError(
            f"{name}: no report text found in the page (only menus, links or too little text); "
            f"open it in a browser and save the report's text as .txt"
        )
    blocks = _with_title(blocks, *_page_title(root))
    out: list[str] = []
    spans: list[SourceSpan] = []
    headings: list[tuple[int, int]] = []
    pos = 0
    for para, b in enumerate(blocks, 1):
        for line in b.lines:
            if b.level:
                headings.append((pos, b.level))
                line = "#" * b.level + " " + line
            out.append(line)
            spans.append(SourceSpan(pos, pos + len(line), None, para))
            pos += len(line) + 1
    return [SourceText("\n".join(out) + "\n", None, {}, encoding, "", fmt="html", source_map=spans, headings=headings)]
