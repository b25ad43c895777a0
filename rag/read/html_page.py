"""A web page's bytes to a parsed tree that is safe to extract from: the charset it declares (or
GB18030/UTF-8 found), lxml parsing with network access off, and <script>, <style>, <iframe>,
forms, embedded objects and comments removed so their text can never reach the index; plus the
page's own title. The report's main content is taken from this tree by `rag.read.html`."""

from __future__ import annotations

import codecs
import logging
import re

from rag.errors import RagError
from rag.read.decode import decode, too_many_controls

log = logging.getLogger(__name__)

CHARSET_SCAN = 4096  # a charset declaration must come this early (browsers look at 1024)

# elements whose content is never text of the page: code, styling, embedded documents, form controls
_DROP = (
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "noscript",
    "noframes",
    "template",
    "object",
    "embed",
    "applet",
    "input",
    "select",
    "textarea",
    "button",
    "svg",
    "math",
    "canvas",
    "audio",
    "video",
    "link",
    "meta",
    "base",
)
# a <form> loses its controls but keeps its content: ASP.NET portals wrap the whole page in one
_UNWRAP = ("form",)
# a javascript: or vbscript: URL, as a browser reads it (leading blanks and control characters, and tabs and
# line breaks anywhere in the scheme, are ignored)
_SCRIPT_URL = re.compile(
    r"^[\x00-\x20]*(?:j[\t\n\r]*a[\t\n\r]*v[\t\n\r]*a|v[\t\n\r]*b)[\t\n\r]*s[\t\n\r]*c"
    r"[\t\n\r]*r[\t\n\r]*i[\t\n\r]*p[\t\n\r]*t[\t\n\r]*:",
    re.I,
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-.:]{1,40})""", re.I)
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn", "csgb2312", "hz-gb-2312"}
_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u2002\u2003\u2009\u200b\u3000]+")
_STRIP = " \t\r\n\f\v\u00a0\u2002\u2003\u2009\u200b\u3000\ufeff"


# --- bytes to text --------------------------------------------------------------------------------
def _declared_charset(raw: bytes) -> str | None:
    """The charset a <meta charset> or http-equiv Content-Type declares in the page's first bytes."""
    m = _META_CHARSET.search(raw[:CHARSET_SCAN])
    return m.group(1).decode("ascii").lower() if m else None


def decode_page(raw: bytes, name: str) -> tuple[str, str]:
    """The page's text and the charset used: a byte-order mark first, then the declared charset
    (GBK/GB2312 read as GB18030, their superset, as browsers do), else `rag.read.decode.decode`'s guess.
    A declaration that the bytes contradict (a UTF-8 label on GBK bytes, common after a site
    migration) is logged and the guess is used instead."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(enc), enc
            except UnicodeDecodeError:
                break  # let the guess name the damage
    declared = _declared_charset(raw)
    if declared:
        codec = "gb18030" if declared in _GB else declared
        try:
            codec = codecs.lookup(codec).name
            if codec.startswith("utf-16") or codec.startswith("utf-32"):
                raise LookupError(codec)  # an ASCII <meta> cannot be read in UTF-16 bytes: the label is wrong
            text = raw.decode(codec)
        except LookupError:
            log.warning("%s declares an unknown charset %r; guessing", name, declared)
        except UnicodeDecodeError:
            log.warning("%s declares %s but is not %s; guessing", name, declared, declared)
        else:
            _check_text(text, name, codec)
            return text, codec
    return decode(raw, name)


def _check_text(text: str, name: str, encoding: str) -> None:
    if controls := too_many_controls(text):
        raise RagError(
            f"{name} is not a web page: it is binary data ({controls} control characters "
            f"when read as {encoding}); give the report as .html, .txt, .docx or .pdf"
        )


# --- text to tree ---------------------------------------------------------------------------------
def _parse(text: str, name: str):
    """The page as an lxml tree with every non-text element and comment removed."""
    import lxml.etree
    import lxml.html

    text = text.lstrip("\ufeff")
    # lxml refuses a str that carries an XML encoding declaration (XHTML pages); it says nothing of the text
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    parser = lxml.html.HTMLParser(
        remove_comments=True, remove_pis=True, no_network=True, compact=True, default_doctype=False, huge_tree=False
    )
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError) as exc:
        raise RagError(f"{name} could not be read as a web page ({exc}); save the page again from a browser") from exc
    for el in list(root.iter(lxml.etree.Comment, lxml.etree.ProcessingInstruction, lxml.etree.Entity)):
        _remove(el)
    for el in list(root.iter(*_DROP)):
        if el.getparent() is not None:
            _remove(el)
    for el in list(root.iter("a")):
        if el.getparent() is not None and _SCRIPT_URL.match(el.get("href") or ""):
            _remove(el)  # a link that runs script is a control of the page (打印本页, 关闭窗口), not report text
    for el in list(root.iter(*_UNWRAP)):
        if el.getparent() is not None:
            el.drop_tag()
    _wrap_loose_text(root)
    return root


_BLOCK = {
    "p",
    "div",
    "table",
    "ul",
    "ol",
    "dl",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "blockquote",
    "pre",
    "hr",
    "center",
    "address",
    "figure",
    "main",
}
_CONTAINERS = {
    "body",
    "div",
    "td",
    "th",
    "article",
    "section",
    "main",
    "center",
    "blockquote",
    "li",
    "dd",
    "aside",
    "header",
    "footer",
    "nav",
    "figure",
}


def _wrap_loose_text(root) -> None:
    """Put text that stands between blocks into a <p> of its own. A browser shows it (a <p> cut by
    a stray <div> or <table> goes on as loose text), but extraction keeps only text in blocks."""
    import lxml.html

    for el in list(root.iter(*_CONTAINERS)):
        kids = list(el)
        if not any(isinstance(k.tag, str) and k.tag in _BLOCK for k in kids):
            continue
        runs: list[tuple[str, list]] = []  # (leading text, inline elements) between blocks
        text = el.text or ""
        inline: list = []
        el.text = None
        for k in kids:
            if isinstance(k.tag, str) and k.tag in _BLOCK:
                runs.append((text, inline))
                text, inline = k.tail or "", []
                k.tail = None
                runs.append(("", [k]))
            else:
                inline.append(k)
        runs.append((text, inline))
        for k in kids:
            el.remove(k)
        for text, items in runs:
            if len(items) == 1 and not text and items[0].tag in _BLOCK:
                el.append(items[0])
            elif text.strip() or any(_has_text(i) for i in items):
                p = lxml.html.Element("p")
                p.text = text
                p.extend(items)
                el.append(p)


def _has_text(el) -> bool:
    return bool("".join(el.itertext()).strip() or (el.tail or "").strip())


def _remove(el) -> None:
    """Remove `el` and its content but keep the text that follows it (its tail)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _page_title(root) -> tuple[str, int]:
    """The page's first <h1>, else its first <h2>, with its level: what trafilatura takes for the
    page title and leaves out of the main text."""
    for tag in ("h1", "h2"):
        for h in root.iter(tag):
            t = _clean("".join(h.itertext()))
            if t and len(t) <= 100:
                return t, int(tag[1])
    return "", 0


def _clean(s: str) -> str:
    return _WS.sub(" ", s).strip(_STRIP)
