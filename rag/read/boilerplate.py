"""Non-content: the lines of a file that are not the report — web-portal chrome, navigation and link
lists, breadcrumbs, scraper headers, site footers, photo captions, licence blocks, 「相关报道」.

They are recognised by general signals, never by the words of one site: the field names scrapers
write (「标题：」「来源URL：」), web furniture vocabulary (ICP备案, 网站标识码, 版权所有, 字号, 打印),
URLs, captions ending in 「…摄」, and the shape of lists (runs of short lines without a sentence
in them). Such lines are kept in the chunk store as ``noise`` (they are part of the file and
can be shown) but never indexed, so a question that names a place and a year cannot be
answered by a page header that names them too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol


class _Line(Protocol):
    text: str


# A whole line that is a piece of web furniture.
_STRONG = [
    ("link", re.compile(r"https?://|www\.[a-z0-9-]+\.|\.(?:com|cn|net|org|gov)(?:/|\s|$)", re.I)),
    (
        "footer",
        re.compile(
            r"ICP[备備]|公网安备|公網安備|网站标识码|網站標識碼|版权所有|版權所有|Copyright|©|"
            r"主办单位|主辦單位|^主办[：:]|承办单位|技术支持|技術支持|网站地图|網站地圖|联系地址|聯繫地址|"
            r"联系电话|联系我们|访客|訪客|访问量|浏览次数|瀏覽次數|点击数|阅读次数|"
            r"^.{2,16}(?:微信|微博|客户端|公众号)$|责任编辑|責任編輯|编辑[：:]|校对[：:]|审核[：:]|上班时间|办公时间|邮编[：:]",
            re.I,
        ),
    ),
    ("breadcrumb", re.compile(r"^(?:当前位置|您的位置|你的位置|现在位置|當前位置)[：:]|首页\s*(?:>|>>|»|＞|/|→)")),
    (
        "chrome",
        re.compile(
            r"^(?:下载|打印|全屏|收藏|分享|关闭|关闭窗口|打印本页|加大|还原|减小|默认|放弃|返回顶部|"
            r"上一篇|下一篇|扫一扫|分享到|【?字号[：:]?|字体[：:]|[【】]|大|中|小|"
            r"是否继续[？?]?|您访问的链接即将离开.*)$"
        ),
    ),
    (
        "licence",
        re.compile(
            r"Public domain|公有领域|公有領域|知识共享|知識共享|CC[- ]BY|本作品|维基文库|維基文庫|"
            r"^(?:false|true)$",
            re.I,
        ),
    ),
    (
        "related",
        re.compile(
            r"^(?:相关报道|相關報道|相关新闻|相關新聞|相关链接|相關鏈接|相关阅读|延伸阅读|推荐阅读|"
            r"友情链接|友情鏈接|热点推荐|更多)[：:]?$"
        ),
    ),
    (
        "caption",
        re.compile(
            r"(?:记者|記者|摄影|攝影|通讯员|通訊員)\s*[\u4e00-\u9fff·\s]{2,12}(?:摄|攝)[）)]?$|"
            r"^图为|^圖為|供图[）)]?$|图片来源"
        ),
    ),
]
# Field names a scraper or a content system writes before the text: 「标题：…」「发文时间：…」.
_FIELD = re.compile(
    r"^(?:标题|標題|题目|发文单位|發文單位|发文机关|发文时间|發文時間|发文字号|发布时间|發布時間|发布日期|发布机构|"
    r"成文日期|索引号|主题分类|主题词|来源URL|来源网址|来源链接|原文链接|链接|网址|URL|正文|报告人|作者|"
    r"时间|日期|添加时间|更新时间|信息来源|文章来源|稿件来源)\s*[：:]",
    re.I,
)
_SOURCE = re.compile(r"^[（(]?\s*(?:来源|來源|稿源|出处|出處)\s*[：:]")
_SENTENCE = re.compile(r"[。！？!?；;]")
_NUMBERED = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)]|\d{1,2}[.．、](?!\d))")
# A list is a run of at least this many short lines with no sentence among them.
_LIST_RUN = 5
# Kinds that belong to a site's furniture (a short line between two of them is furniture too).
_SITE = {"footer", "link", "chrome", "nav", "related", "licence", "breadcrumb", "edge"}
_LIST_ITEM_CHARS = 24


def strong_kind(text: str) -> str | None:
    """The kind of web furniture a whole line is, by its own content; None for ordinary text."""
    t = text.strip()
    if not t:
        return None
    if _FIELD.match(t) and len(t) <= 200:
        return "header"
    if _SOURCE.match(t) and len(t) <= 60:
        return "source"
    for kind, rx in _STRONG:
        if kind in ("footer", "link", "licence", "caption") and len(t) > 120:
            continue  # a long line that mentions a URL or a photographer is text, not furniture
        if rx.search(t):
            return kind
    return None


def _short_item(text: str) -> bool:
    """A list item: short, no sentence, no clause punctuation, not a numbered heading."""
    t = text.strip()
    return (
        0 < len(t) <= _LIST_ITEM_CHARS
        and not _SENTENCE.search(t)
        and not re.search(r"[，,、]", t)
        and not _NUMBERED.match(t)
    )


def _is_sentence(text: str) -> bool:
    """A line that carries report text: a sentence end or a clause comma among enough words."""
    t = text.strip()
    cjk = len(re.findall(r"[\u4e00-\u9fff]", t))
    return cjk >= 8 and bool(re.search(r"[。！？!?；;，,]", t))


def classify(lines: Sequence[_Line]) -> list[str | None]:
    """A noise kind for every line (None for report text), from line signals and list shape."""
    n = len(lines)
    kinds: list[str | None] = [strong_kind(ln.text) for ln in lines]
    # a licence block runs to the end of the file through the fragments of its hyperlinked words
    for i in range(n):
        if kinds[i] == "licence":
            k = i + 1
            while k < n and (kinds[k] or len(lines[k].text.strip()) <= 80):
                kinds[k] = kinds[k] or "licence"
                k += 1
            break
    # lists: after an opener (友情链接：, 相关报道：) every short line until the next sentence
    i = 0
    while i < n:
        if kinds[i] == "related":
            j = i + 1
            while j < n and not _is_sentence(lines[j].text) and (_short_item(lines[j].text) or kinds[j]):
                kinds[j] = kinds[j] or "related"
                j += 1
            i = j
            continue
        i += 1
    # lists without an opener: a run of short items (navigation, city lists, link lists)
    i = 0
    while i < n:
        j = i
        while j < n and (kinds[j] is not None or _short_item(lines[j].text)) and not _is_sentence(lines[j].text):
            j += 1
        run = range(i, j)
        items = [k for k in run if kinds[k] is None]
        if len(items) >= _LIST_RUN and (
            sum(len(lines[k].text.strip()) for k in items) / len(items) <= 16 or any(kinds[k] for k in run)
        ):
            for k in items:
                kinds[k] = "nav"
        i = max(j, i + 1)
    # a few short lines caught between furniture (「甲市人民政府微信」 in a footer, 「放弃」 after it)
    k = 0
    while k < n:
        if kinds[k] is not None or not _short_item(lines[k].text) or len(lines[k].text.strip()) > 16:
            k += 1
            continue
        j = k
        while j < n and kinds[j] is None and _short_item(lines[j].text) and len(lines[j].text.strip()) <= 16:
            j += 1
        before = kinds[k - 1] if k > 0 else "edge"
        after = kinds[j] if j < n else "edge"
        if j - k <= 3 and before in _SITE and after in _SITE and not (before == after == "edge"):
            for m in range(k, j):
                kinds[m] = before if before != "edge" else after
        k = j
    return kinds
