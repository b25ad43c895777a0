"""The web-page reader on make-believe portal pages that wrap real report text
(tests/data/html/, made by eval/make_html_fixtures.py; each page's .json says what it holds)."""

from __future__ import annotations

import json
import random
import re
import socket
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.read.html import read_html

DATA = Path(__file__).parent / "data" / "html"
PAGES = sorted(p.stem for p in DATA.glob("*.html"))
_WS = re.compile(r"\s+")


def load(stem: str) -> tuple[bytes, dict]:
    return (DATA / f"{stem}.html").read_bytes(), json.loads((DATA / f"{stem}.json").read_text(encoding="utf-8"))


def compact(s: str) -> str:
    return _WS.sub("", s)


def read(raw: bytes, name: str = "page.html"):
    [src] = read_html(raw, name)
    return src


def assert_in_order(text: str, paragraphs: list[str]) -> None:
    flat, pos = compact(text), 0
    for p in paragraphs:
        i = flat.find(compact(p), pos)
        assert i >= 0, f"missing or out of order: {p[:40]}"
        pos = i + len(compact(p))


def test_there_are_fixtures_of_every_layout():
    layouts = {load(s)[1]["layout"] for s in PAGES}
    assert layouts == {"p", "br", "headings", "gbk-meta", "gbk-http-equiv", "table"}
    assert all((DATA / f"{s}.html").stat().st_size < 60_000 for s in PAGES)


@pytest.mark.parametrize("stem", PAGES)
def test_report_paragraphs_present_in_order_and_chrome_absent(stem):
    raw, side = load(stem)
    src = read(raw, f"{stem}.html")
    assert src.fmt == "html" and src.record is None and src.fields == {} and src.suffix_id == ""
    assert_in_order(src.text, side["paragraphs"])
    leaked = [c for c in side["chrome"] if c in src.text]
    assert not leaked, leaked
    assert compact(src.text).count(compact(side["title"])) >= 1


@pytest.mark.parametrize("stem", PAGES)
def test_source_map_is_one_span_per_line_and_headings_point_at_heading_lines(stem):
    src = read(load(stem)[0])
    lines = src.text.split("\n")
    assert lines[-1] == "" and all(lines[:-1]), "one paragraph per line, no blank lines"
    assert len(src.source_map) == len(lines) - 1
    pos, last_para = 0, 0
    for span, line in zip(src.source_map, lines):
        assert (span.start, span.end) == (pos, pos + len(line))
        assert span.page is None and span.para >= max(1, last_para) and span.para <= last_para + 1
        last_para = span.para
        pos = span.end + 1
    for start, level in src.headings:
        line = src.text[start : src.text.index("\n", start)]
        assert line.startswith("#" * level + " ") and not line.startswith("#" * (level + 1))
    assert sum(1 for ln in lines if ln.startswith("#")) == len(src.headings)


def test_h1_to_h4_become_heading_lines_and_the_title_is_kept_once():
    raw, side = load("portal_headings")
    src = read(raw)
    lines = src.text.split("\n")
    for text, level in side["headings"]:
        assert "#" * level + " " + text in lines, text
    assert {lvl for _, lvl in src.headings} >= {1, 2, 3}
    title = side["title"]
    assert lines[0] == "# " + title
    assert sum(1 for ln in lines if compact(ln.lstrip("# ")) == compact(title)) == 1


def test_the_page_h1_outside_the_article_is_the_first_heading():
    raw, side = load("portal_p")  # <h1> sits above the content <div>, which extraction picks
    src = read(raw)
    assert src.text.startswith("# " + side["title"] + "\n")
    assert src.headings[0] == (0, 1)


def test_dateline_and_short_lines_are_kept():
    raw, side = load("portal_p")
    lines = read(raw).text.split("\n")
    short = [p for p in side["paragraphs"] if len(p) <= 12]
    assert short and all(p in lines for p in short)
    assert any(re.match(r"^[—―\-]{1,2}\s*\d{4}年", p) and p in lines for p in side["paragraphs"])


def test_br_separated_lines_are_lines_of_one_block():
    raw, side = load("portal_br")
    src = read(raw)
    lines = src.text.split("\n")
    for p in side["paragraphs"]:
        assert p in lines
    # the report's lines share the <div>'s block number
    paras = {s.para for s in src.source_map}
    assert len(paras) < len(src.source_map)


def test_table_rows_kept_as_text():
    raw, side = load("portal_headings")
    lines = read(raw).text.split("\n")
    for row in side["table_rows"]:
        assert " | ".join(row) in lines


def test_layout_table_of_an_old_portal_reads_as_paragraphs():
    raw, side = load("portal_table")
    lines = read(raw).text.split("\n")
    assert side["paragraphs"][5] in lines  # a paragraph on its own line, not glued into a row
    assert not any(" | " in ln for ln in lines)


@pytest.mark.parametrize("stem", ["portal_gbk_meta", "portal_gbk_http_equiv"])
def test_gbk_pages_are_decoded(stem):
    raw, side = load(stem)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    if stem.endswith("http_equiv"):
        assert b"http-equiv" in raw and b"<meta charset" not in raw
    src = read(raw)
    assert src.encoding == "gb18030"
    assert src.text.count("\ufffd") == "".join(side["paragraphs"]).count("\ufffd")  # only the source's own
    assert_in_order(src.text, side["paragraphs"])


def test_undeclared_gbk_is_guessed_and_a_bom_wins_over_the_declaration():
    raw, side = load("portal_gbk_meta")
    bare = re.sub(rb'<meta charset="gbk">', b"", raw)
    src = read(bare)
    assert src.encoding == "gb18030"
    assert_in_order(src.text, side["paragraphs"])
    utf8 = b"\xef\xbb\xbf" + raw.decode("gb18030").encode("utf-8")  # still says gbk, but has a UTF-8 BOM
    src = read(utf8)
    assert src.encoding == "utf-8-sig"
    assert_in_order(src.text, side["paragraphs"])


def test_a_wrong_declaration_falls_back_to_the_guess():
    raw, side = load("portal_gbk_meta")
    lying = raw.replace(b'<meta charset="gbk">', b'<meta charset="utf-8">')
    src = read(lying)
    assert src.encoding == "gb18030"
    assert_in_order(src.text, side["paragraphs"][:5])


MALFORMED = [
    "<script>document.write('<scr'+'ipt>泄漏甲</scr'+'ipt>');</script>",
    "<SCRIPT type='text/javascript'>var a = '泄漏乙';</SCRIPT >",
    "<script><![CDATA[ 泄漏丙 ]]></script>",
    "<style>p::after { content: '泄漏丁</p>'; }</style>",
    "<noscript><p>泄漏戊</p></noscript>",
    "<iframe srcdoc='<p>泄漏己</p>'><p>泄漏己</p></iframe>",
    "<form><textarea>泄漏庚</textarea><select><option>泄漏辛</option></select></form>",
    "<!-- <p>泄漏壬</p> -->",
    "<template><p>泄漏癸</p></template>",
    "<object><p>泄漏子</p></object>",
]


def test_scripts_styles_frames_forms_comments_never_leak():
    raw, side = load("portal_p")
    page = raw.decode("utf-8")
    cut = page.index(side["paragraphs"][10])
    page = page[:cut] + "".join(MALFORMED) + page[cut:]
    page += "<script>var unclosed = '泄漏丑';"  # unclosed at the end
    src = read(page.encode("utf-8"))
    assert "泄漏" not in src.text
    assert_in_order(src.text, side["paragraphs"])


def test_no_network_access(monkeypatch):
    raw, side = load("portal_p")
    page = raw.decode("utf-8").replace(
        "<!DOCTYPE html>", '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://192.0.2.1/x.dtd">'
    )
    page = page.replace(
        "</head>", '<link rel="stylesheet" href="http://192.0.2.1/a.css"><base href="http://192.0.2.1/"></head>'
    )

    def refuse(*args, **kwargs):
        raise AssertionError("the reader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert_in_order(read(page.encode("utf-8")).text, side["paragraphs"])


def test_page_without_report_text_is_refused():
    raw, _ = load("portal_p")
    page = raw.decode("utf-8")
    start, end = page.index('<h1 class="title">'), page.index('<div class="share">')
    empty = page[:start] + page[end:]
    with pytest.raises(RagError, match="no report text found in the page"):
        read(empty.encode("utf-8"))
    with pytest.raises(RagError, match="no report text found in the page"):
        read(b"<html><head><title>x</title></head><body></body></html>")


def test_huge_page_is_refused_before_parsing(monkeypatch):
    import rag.read.html

    def never(*args):
        raise AssertionError("a page over the limit was decoded or parsed")

    monkeypatch.setattr(rag.read.html, "decode_page", never)
    monkeypatch.setattr(rag.read.html, "_parse", never)
    raw = b"<html><body><p>" + b"a" * (21 * 2**20) + b"</p></body></html>"
    with pytest.raises(RagError, match="too large"):
        read(raw)


def test_deep_nesting_is_bounded():
    from work_bounds import calls_made

    raw, side = load("portal_p")

    def nested(depth: int) -> bytes:
        return (
            raw.decode("utf-8").replace("</body>", "<div>" * depth + "深层文字" + "</div>" * depth + "</body>").encode()
        )

    read(nested(1_000))
    shallow = calls_made(lambda: read(nested(1_000)))
    deep = calls_made(lambda: read(nested(50_000)))
    # nesting past the parser's depth limit (libxml2's, 256 without huge_tree) is no more work
    assert deep <= 1.25 * shallow, f"{shallow:,} calls at depth 1,000, {deep:,} at 50,000"
    src = read(nested(50_000))
    assert_in_order(src.text, side["paragraphs"])
    # a page that is nothing but nesting has no report
    with pytest.raises(RagError):
        read(("<html><body>" + "<div>" * 100_000 + "</body></html>").encode())


@pytest.mark.parametrize(
    "raw",
    [
        random.Random(7).randbytes(20_000),
        b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(5000),
        b"<html>" + bytes(range(256)) * 40,
        b"",
        "甲市政府工作报告。各位代表：这是一份没有标记的纯文本。".encode(),
    ],
    ids=["random", "png", "html-then-binary", "empty", "plain-text"],
)
def test_not_a_web_page_is_one_clear_error(raw):
    with pytest.raises(RagError) as exc:
        read(raw, "upload.html")
    msg = str(exc.value)
    assert "upload.html" in msg and "\n" not in msg


def test_a_leading_h2_that_extraction_takes_for_the_title_is_kept():
    body = "".join(f"<p>乙县第{i}段正文，推进高质量发展，做好民生工作，城镇新增就业{i}千人。</p>" for i in range(5))
    page = f"<html><body><div class='article'><h2>一、工作回顾</h2>{body}<h3>（一）产业</h3>{body}</div></body></html>"
    src = read(page.encode("utf-8"))
    lines = src.text.split("\n")
    assert lines[0] == "## 一、工作回顾" and "### （一）产业" in lines
    assert [lvl for _, lvl in src.headings] == [2, 3]


def test_a_hostile_page_gives_only_its_report_text():
    """Scripts, styles, frames, event handlers and javascript: links (built in tests/hostile_docs.py)."""
    import hostile_docs as h

    src = read(h.html_hostile())
    assert [leak for leak in h.LEAKS if leak in src.text] == []
    assert all(fact in src.text for fact in h.FACTS)


def test_a_link_that_runs_script_is_a_control_not_text():
    body = "".join(
        f"<p>甲市第{i}批项目新建改造城镇老旧小区128个，惠及居民4.6万户，完成投资23.5亿元。</p>" for i in range(6)
    )
    page = (
        "<html><body><h1>甲市2024年政府工作报告</h1>"
        + body
        + "<p>详见附表<a href=' java\tscript:openWin(1)'>点此展开</a>。<a href='javascript:window.print()'>打印本页</a>"
        "<a href='VBScript:x'>关闭窗口</a><a href='/files/a.pdf'>附表一</a></p></body></html>"
    )
    src = read(page.encode("utf-8"))
    assert "点此展开" not in src.text and "打印本页" not in src.text and "关闭窗口" not in src.text
    assert "详见附表。附表一" in src.text.replace(" ", "")
