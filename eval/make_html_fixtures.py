"""Make-believe government portal pages that wrap a real corpus report, for the HTML reader.

    .venv/bin/python eval/make_html_fixtures.py                 # small fixtures -> tests/data/html/
    .venv/bin/python eval/make_html_fixtures.py --full /tmp/h   # full reports, every layout -> /tmp/h/bench/
    .venv/bin/python eval/make_html_fixtures.py --corpus /tmp/c # all 14 reports as .html + .txt twins

A portal page puts the report between a header, a navigation menu, a breadcrumb, a metadata line
(发布时间/来源/浏览次数), font-size and share buttons, a sidebar of related links, a related-article
list, prev/next links and a footer (版权所有/网站标识码/ICP备), with inline <script>/<style>, an <iframe>,
<noscript>, a search <form> and comments. None of that is report text; the reader must drop it.

Layouts (portals differ in how they mark up the body):
- ``p``: one <p> per paragraph, headings as <p><strong>.
- ``br``: one <div>, lines separated by <br>, indented with &nbsp;/full-width spaces.
- ``headings``: h1 title, 一、 headings in <h2>, （一） in <h3>, plus a small data table.
- ``gbk-meta``: the ``p`` layout encoded as GBK, declared with <meta charset="gbk">.
- ``gbk-http-equiv``: the ``br`` layout encoded as GBK, declared only in http-equiv Content-Type.
- ``table``: an old portal whose whole page is laid out with nested <table>s.

Each page gets a sidecar ``<name>.json``: the paragraphs (in order), headings (text, level),
table rows, the chrome strings that must not appear and the declared encoding.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.read.formats import read_source  # noqa: E402

REPORTS = ROOT / "eval" / "corpus" / "reports"
FIXTURES = ROOT / "tests" / "data" / "html"

# (fixture name, report file, layout) of the committed small pages
SMALL = [
    ("portal_p", "11_prefecture_baoding_2021.txt", "p"),
    ("portal_br", "13_county_gaoyang_2018.txt", "br"),
    ("portal_headings", "14_district_hailaer_2017.txt", "headings"),
    ("portal_gbk_meta", "02_national_2020.txt", "gbk-meta"),
    ("portal_gbk_http_equiv", "12_prefecture_baoding_2026.txt", "gbk-http-equiv"),
    ("portal_table", "06_province_hebei_2019.txt", "table"),
]
LAYOUTS = ["p", "br", "headings", "gbk-meta", "gbk-http-equiv", "table"]
SMALL_PARAS = 30

SITE = "甲市人民政府门户网站"
CHROME = [  # every string below is portal chrome: the tests check none of it is read as report text
    SITE, "无障碍浏览", "长者模式", "请输入关键词", "走进甲市", "政务服务", "互动交流", "数据开放",
    "当前位置", "发布时间", "浏览次数", "【字号", "分享到", "打印本页", "关闭窗口", "微信", "微博", "QQ空间",
    "相关文章", "乙县2023年政府工作报告", "丙区政府工作报告解读", "热点专题", "营商环境专栏",
    "相关阅读", "关于印发甲市重点工作任务分工的通知", "上一篇", "下一篇", "甲市国民经济和社会发展统计公报",
    "版权所有", "网站标识码", "ICP备", "公网安备", "主办单位", "联系电话", "网站地图",
    "脚本写入的文字", "脚本泄漏", "样式注释", "框架内文字", "请启用浏览器脚本", "模板注释", "未闭合脚本",
]
TABLE = [  # a made-up data table for the ``headings`` layout (rows are report content)
    ["指标", "目标", "完成"],
    ["地区生产总值增速", "6.5%左右", "6.8%"],
    ["城镇新增就业", "1.2万人", "1.35万人"],
    ["居民人均可支配收入增速", "7%", "7.2%"],
]
_META_LINE = re.compile(r"^(标题|发文单位|发文时间|报告人|来源URL|来源|正文)[：:]")
_CN_HEAD = re.compile(r"^[一二三四五六七八九十]{1,3}、")
_PAREN_HEAD = re.compile(r"^[（(][一二三四五六七八九十]{1,3}[）)]")


# --- the report -----------------------------------------------------------------------------------
def _docx_paragraphs(path: Path) -> list[str]:
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read("word/document.xml"))
    return ["".join(t.text or "" for t in p.iter(f"{ns}t")) for p in root.iter(f"{ns}p")]


def report(path: Path) -> tuple[str, list[str]]:
    """(title, paragraphs) of a corpus report: its non-blank lines, stripped, without the
    「标题：」「来源URL：」 header some files carry; the title from that header, the record's title
    field or the file name."""
    title = ""
    if path.suffix == ".docx":
        lines = _docx_paragraphs(path)
    else:
        src = read_source(path)[0]
        lines = src.text.split("\n")
        title = src.fields.get("title", "")
    paras: list[str] = []
    for i, line in enumerate(lines):
        t = line.strip(" \t\u3000\u00a0\u2002\u2003")
        if not t:
            continue
        m = _META_LINE.match(t)
        if m and i < 15 and not paras:
            if m.group(1) == "标题":
                title = t[3:].strip()
            continue
        paras.append(t)
    if not title and paras and len(paras[0]) <= 30 and "报告" in paras[0]:
        title, paras = paras[0], paras[1:]
    if not title:
        year = re.search(r"(?:19|20)\d\d", path.stem)
        title = f"{year.group(0) if year else ''}年政府工作报告".lstrip("年")
    if paras and paras[0] == title:
        paras = paras[1:]
    return title, paras


def cut(paras: list[str], n: int) -> list[str]:
    """The first `n` paragraphs, plus the first 一、 and （一） headings and two paragraphs after
    each when they come later (so every small page has both heading levels)."""
    out = paras[:n]
    for level in (2, 3):
        if not any(heading_level(p) == level for p in out):
            for i, p in enumerate(paras):
                if heading_level(p) == level and i >= n:
                    out += paras[i:i + 3]
                    break
    while out and heading_level(out[-1]) and len(out) < len(paras):  # a page does not end on a heading
        out.append(paras[paras.index(out[-1]) + 1])
    return out


def heading_level(p: str) -> int:
    if len(p) <= 40 and not p.endswith(("。", "；")):
        if _CN_HEAD.match(p):
            return 2
        if _PAREN_HEAD.match(p):
            return 3
    return 0


# --- portal chrome --------------------------------------------------------------------------------
E = html.escape


def _head(title: str, charset: str, http_equiv: bool) -> str:
    meta = (f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if http_equiv
            else f'<meta charset="{charset}">')
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="keywords" content="政府工作报告,{E(SITE)}">
<title>{E(title)}_{E(SITE)}</title>
<style>
/* 样式注释：页面布局 */
body {{ font-family: "Microsoft YaHei", sans-serif; margin: 0; }}
.nav li {{ float: left; list-style: none; padding: 0 12px; }}
.content p {{ text-indent: 2em; line-height: 2; }}
</style>
<script type="text/javascript">
var _hmt = _hmt || [];
document.write("<p>脚本写入的文字不应出现在正文里</p>");
if (a < b && c > d) {{ console.log("脚本泄漏：</p><div>"); }}
</script>
</head>
"""


def _top() -> str:
    return f"""<!-- 模板注释：页头开始 -->
<div class="header">
  <div class="top-bar"><a href="/wza">无障碍浏览</a> | <a href="/old">长者模式</a> | <a href="/en">English</a> | <a href="/login">登录</a></div>
  <div class="logo"><a href="/"><img src="/images/logo.png" alt="{E(SITE)}">{E(SITE)}</a></div>
  <form class="search" action="/search" method="get"><input type="text" name="q" placeholder="请输入关键词"><button type="submit">搜索</button></form>
</div>
<div class="nav"><ul>
  <li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li><li><a href="/zwfw">政务服务</a></li>
  <li><a href="/hdjl">互动交流</a></li><li><a href="/zjjs">走进甲市</a></li><li><a href="/sjkf">数据开放</a></li>
</ul></div>
<noscript>请启用浏览器脚本以获得最佳浏览体验</noscript>
"""


_CRUMB = ('<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; '
          '<a href="/zwgk/gzbg">政府工作报告</a></div>\n')
_INFO = ('<div class="info"><span>发布时间：2024-01-20 10:30</span> <span>来源：甲市人民政府办公室</span> '
         '<span>浏览次数：<em id="hits">1234</em></span> <span class="font">【字号：<a href="#">大</a> '
         '<a href="#">中</a> <a href="#">小</a>】</span></div>\n')
_SHARE = ('<div class="share"><span>分享到：</span><a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a>'
          ' <a href="javascript:window.print()">打印本页</a> <a href="javascript:window.close()">关闭窗口</a></div>\n'
          '<iframe src="about:blank" width="600" height="40" title="视频">您的浏览器不支持框架：框架内文字</iframe>\n')
_RELATED = """<div class="related"><h4>相关阅读</h4><ul>
  <li><a href="/a/1.html">关于印发甲市重点工作任务分工的通知</a> <span>2024-02-01</span></li>
  <li><a href="/a/2.html">甲市国民经济和社会发展统计公报</a> <span>2024-03-10</span></li>
  <li><a href="/a/3.html">丙区政府工作报告解读</a> <span>2024-01-25</span></li>
</ul></div>
<div class="pagenav"><p>上一篇：<a href="/a/0.html">甲市国民经济和社会发展统计公报</a></p>
<p>下一篇：<a href="/a/4.html">关于印发甲市重点工作任务分工的通知</a></p></div>
"""
_SIDEBAR = """<div class="sidebar">
  <h3>相关文章</h3><ul>
    <li><a href="/b/1.html">乙县2023年政府工作报告</a></li>
    <li><a href="/b/2.html">丙区政府工作报告解读</a></li>
    <li><a href="/b/3.html">甲市2023年政府工作报告</a></li>
  </ul>
  <h3>热点专题</h3><ul><li><a href="/zt/1">营商环境专栏</a></li><li><a href="/zt/2">乡村振兴专题</a></li></ul>
</div>
"""
_FOOTER = """<!-- 模板注释：页脚 -->
<div class="footer">
  <p><a href="/map">网站地图</a> | <a href="/about">关于我们</a> | <a href="/contact">联系我们</a></p>
  <p>主办单位：甲市人民政府办公室　承办：甲市大数据中心　联系电话：0312-1234567</p>
  <p>版权所有：甲市人民政府　网站标识码：1301000001</p>
  <p>冀ICP备05001234号　冀公网安备13010202000123号</p>
</div>
<script>document.getElementById("hits").innerHTML = "脚本泄漏的浏览次数";</script>
"""


# --- the body of each layout ----------------------------------------------------------------------
def _body_p(title: str, paras: list[str]) -> str:
    lines = [f'<h1 class="title">{E(title)}</h1>', _INFO, '<div class="content" id="zoom">']
    for p in paras:
        lines.append(f"<p><strong>{E(p)}</strong></p>" if heading_level(p) else f"<p>{E(p)}</p>")
    lines.append("</div>")
    return "\n".join(lines)


def _body_br(title: str, paras: list[str]) -> str:
    body = "<br>\n".join(("" if heading_level(p) else "&nbsp;&nbsp;&nbsp;&nbsp;") + E(p) for p in paras)
    return (f'<div class="article-title">{E(title)}</div>\n{_INFO}'
            f'<div class="TRS_Editor" id="zoom">\n{body}<br>\n</div>')


def _body_headings(title: str, paras: list[str], table: bool) -> str:
    lines = [f"<h1>{E(title)}</h1>", _INFO, "<article>"]
    for i, p in enumerate(paras):
        level = heading_level(p)
        lines.append(f"<h{level}>{E(p)}</h{level}>" if level else f"<p>{E(p)}</p>")
        if table and i == len(paras) // 2:
            rows = "\n".join("<tr>" + "".join(f"<{'th' if r == 0 else 'td'}>{E(c)}</{'th' if r == 0 else 'td'}>"
                                              for c in row) + "</tr>" for r, row in enumerate(TABLE))
            lines.append(f'<table border="1" class="data">\n{rows}\n</table>')
    lines.append("</article>")
    return "\n".join(lines)


def _page_div(title: str, body: str, charset: str, http_equiv: bool) -> str:
    return (_head(title, charset, http_equiv) + "<body>\n" + _top() + _CRUMB
            + '<div class="main"><div class="left">\n' + body + "\n" + _SHARE + _RELATED
            + "</div>\n" + _SIDEBAR + "</div>\n" + _FOOTER + "</body>\n</html>\n")


def _page_table(title: str, paras: list[str], charset: str) -> str:
    """An old portal: the page is one big layout table, the report in a cell, lines in <p> with
    inline styles and <font> tags."""
    rows = "\n".join(f'<p style="text-indent:2em"><font size="3">{E(p)}</font></p>' for p in paras)
    side = _SIDEBAR.replace("<div", "<td width=\"220\" valign=\"top\"><div", 1).replace("</div>\n", "</div></td>\n")
    return (_head(title, charset, False) + '<body leftmargin="0" topmargin="0">\n'
            + '<table width="1000" border="0" align="center" cellpadding="0" cellspacing="0">\n'
            + f'<tr><td colspan="2">{_top()}</td></tr>\n'
            + f'<tr><td colspan="2" class="crumb">{_CRUMB}</td></tr>\n<tr>\n' + side
            + '<td valign="top"><table width="100%" border="0">\n'
            + f'<tr><td align="center" class="title"><b><font size="5">{E(title)}</font></b></td></tr>\n'
            + f"<tr><td align=\"center\">{_INFO}</td></tr>\n"
            + f'<tr><td class="zw" id="zoom">\n{rows}\n</td></tr>\n'
            + f"<tr><td>{_SHARE}{_RELATED}</td></tr>\n</table></td>\n</tr>\n"
            + f'<tr><td colspan="2">{_FOOTER}</td></tr>\n</table>\n'
            + "<script>var unclosed = '未闭合脚本';\n")  # an unclosed script at the end: everything after is script


def page(title: str, paras: list[str], layout: str, table: bool = True) -> tuple[bytes, dict]:
    """The page's bytes and its sidecar (what a reader must find)."""
    charset = "gbk" if layout.startswith("gbk") else "utf-8"
    if layout in ("p", "gbk-meta"):
        text = _page_div(title, _body_p(title, paras), charset, False)
    elif layout in ("br", "gbk-http-equiv"):
        text = _page_div(title, _body_br(title, paras), charset, layout == "gbk-http-equiv")
    elif layout == "headings":
        text = _page_div(title, _body_headings(title, paras, table), charset, False)
    elif layout == "table":
        text = _page_table(title, paras, charset)
    else:
        raise ValueError(layout)
    raw = text.encode("gbk", errors="xmlcharrefreplace") if charset == "gbk" else text.encode("utf-8")
    headings = [(title, 1)] if layout == "headings" else []
    if layout == "headings":
        headings += [(p, heading_level(p)) for p in paras if heading_level(p)]
    side = {"title": title, "layout": layout, "encoding": charset, "paragraphs": paras,
            "headings": headings, "table_rows": TABLE if layout == "headings" and table else [],
            "chrome": [c for c in CHROME if c not in title + "".join(paras)]}
    return raw, side


def write(out: Path, name: str, raw: bytes, side: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.html").write_bytes(raw)
    (out / f"{name}.json").write_text(json.dumps(side, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", type=Path, help="write full-report pages of every layout under DIR/bench/")
    ap.add_argument("--corpus", type=Path, help="write all corpus reports as DIR/html/*.html and DIR/txt/*.txt")
    args = ap.parse_args()
    if args.full:
        for _, report_file, _ in SMALL[:3] + [("n", "05_national_2024.txt", "")]:
            title, paras = report(REPORTS / report_file)
            for layout in LAYOUTS:
                raw, side = page(title, paras, layout)
                write(args.full / "bench", f"{Path(report_file).stem}__{layout}", raw, side)
        print(f"full pages in {args.full / 'bench'}")
    if args.corpus:
        (args.corpus / "html").mkdir(parents=True, exist_ok=True)
        (args.corpus / "txt").mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(sorted(p for p in REPORTS.iterdir() if not p.name.startswith("."))):
            title, paras = report(path)
            raw, _ = page(title, paras, LAYOUTS[i % len(LAYOUTS)], table=False)
            (args.corpus / "html" / f"{path.stem}.html").write_bytes(raw)
            (args.corpus / "txt" / f"{path.stem}.txt").write_text("\n".join([title] + paras) + "\n", encoding="utf-8")
        print(f"corpus pages in {args.corpus / 'html'}, text twins in {args.corpus / 'txt'}")
    if not (args.full or args.corpus):
        for name, report_file, layout in SMALL:
            title, paras = report(REPORTS / report_file)
            raw, side = page(title, cut(paras, SMALL_PARAS), layout)
            write(FIXTURES, name, raw, side)
            print(f"{name}.html: {len(raw):,} bytes")


if __name__ == "__main__":
    main()
