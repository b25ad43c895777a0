"""The Word reader: the two real corpus reports, small documents built here (with python-docx, and
by hand as a minimal WordprocessingML package where python-docx cannot write the feature:
numbering definitions, footnotes and endnotes, text boxes, fields), and every kind of bad file."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_BREAK
from docx.oxml import parse_xml

from rag.chunk.chunker import cut_document
from rag.errors import RagError
from rag.ingest import build_document
from rag.read.docx import read_docx
from rag.settings import Settings

REPORTS = Path(__file__).resolve().parent.parent / "eval" / "corpus" / "reports"
GD = REPORTS / "07_province_guangdong_2025.docx"
NX = REPORTS / "08_province_ningxia_2025.docx"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = f'xmlns:w="{W}"'


def sections(text: str) -> dict[int, list[tuple[str, list[str]]]]:
    """Per article: the numbered sections (style cn/paren) with their numbered children."""
    arts, _, _, _ = cut_document(text)
    out = {}
    for a in arts:
        out[a.index] = [
            (s.title, [c.title for c in s.children if c.style == "paren"]) for s in a.root.children if s.style == "cn"
        ]
    return out


def body_paragraphs(raw: bytes) -> list[str]:
    """The text of every w:p of the body in document order, read independently of the reader."""
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(raw)).read("word/document.xml"))
    return ["".join(t.text or "" for t in p.iter(f"{{{W}}}t")) for p in root.iter(f"{{{W}}}p")]


def line_of(st, needle: str):
    """The span of the first line holding `needle`."""
    pos = st.text.index(needle)
    return st.locate(pos)


# --- the real reports --------------------------------------------------------------------------
def test_guangdong_structure_follows_the_numbering_a_reader_sees():
    raw = GD.read_bytes()
    st = read_docx(raw, GD.name)[0]
    assert st.fmt == "docx" and st.encoding == "docx" and st.record is None
    secs = sections(st.text)
    main = dict(secs[1])
    assert list(main) == ["一、2024年工作回顾", "二、2025年工作安排"]
    subs = main["二、2025年工作安排"]
    assert len(subs) == 12 and subs[0].startswith("（一）做实粤港澳大湾区") and subs[-1].startswith("（十二）")
    # the attachments are articles of their own: the list of ten items and the glossary
    arts, paras, _, _ = cut_document(st.text)
    assert [a.title for a in arts][1:] == ["附件1 2025年省十件民生实事", "附件2 名词解释"]
    assert len(secs[2]) == 10
    # a bold lead-in inside （一） titles its paragraph, which stays in （一）
    p = next(p for p in paras if p.block.text.startswith("**深入实施“湾区通”工程"))
    assert [s.title[:4] for s in p.section.path()] == ["二、20", "（一）做", "深入实施"]


def test_ningxia_numbered_first_sentences_with_commas_are_sections():
    st = read_docx(NX.read_bytes(), NX.name)[0]
    secs = dict(sections(st.text)[1])
    assert [len(v) for v in secs.values()] == [6, 5]
    assert secs["一、2024年工作回顾"][0] == "（一）锚定目标攻坚，经济发展实现逆势而上"
    # the rest of the paragraph follows its heading as body text of that section
    assert "### （一）锚定目标攻坚，经济发展实现逆势而上\n\n在连续两年高基数增长" in st.text


def test_source_map_points_at_the_paragraph_in_the_original():
    raw = GD.read_bytes()
    st = read_docx(raw, GD.name)[0]
    paras = body_paragraphs(raw)
    for needle in ("（十一）推进法治广东", "做强重大合作平台", "附件1", "2025年省十件民生实事", "18.“新八级工”制度"):
        span = line_of(st, needle)
        assert needle in paras[span.para - 1], needle
    # spans are sorted, do not overlap and cover every line
    assert all(a.end <= b.start for a, b in zip(st.source_map, st.source_map[1:]))
    inside = [False] * len(st.text)
    for s in st.source_map:
        inside[s.start : s.end] = [True] * (s.end - s.start)
    assert all(ok for ok, c in zip(inside, st.text) if c != "\n")
    assert all(st.text[off:].startswith("#") for off, _ in st.headings)
    assert (st.text.index("## 一、2024年工作回顾"), 2) in st.headings


# --- documents built here ----------------------------------------------------------------------
def _styled_doc() -> bytes:
    d = docx.Document()
    d.add_paragraph("甲市政府工作报告", style="Title")
    d.add_paragraph("")
    d.add_paragraph("一、过去一年的工作", style="Heading 1")
    custom = d.styles.add_style("甲市小标题", 1)
    custom.base_style = d.styles["Heading 2"]
    d.add_paragraph("（一）稳定增长", style=custom)
    d.add_paragraph().add_run("各位代表：").bold = True
    p = d.add_paragraph()
    p.add_run("着力扩大内需。").bold = True
    p.add_run("全年地区生产总值增长5%，\u200b社会消费品零售总额增长6%。")
    p = d.add_paragraph()
    p.add_run("我们要")
    p.add_run("坚定信心").bold = True
    p.add_run("，乘势而上。")
    p = d.add_paragraph("第一行")
    p.add_run().add_break(WD_BREAK.LINE)
    p.add_run("第二行。")
    d.add_paragraph("   ")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("指标", "2024年", "增长"), ("地区生产总值", "5000亿元", "5%"), ("", "", "")]):
        for c, v in enumerate(row):
            t.cell(r, c).text = v
    box = d.add_table(rows=1, cols=1)
    box.cell(0, 0).text = "专栏里的一段话。"
    p = d.add_paragraph("第")
    p._p.append(parse_xml(f'<w:fldSimple {NS} w:instr=" PAGE "><w:r><w:t>7</w:t></w:r></w:fldSimple>'))
    p.add_run("页之外的正文。")
    d.sections[0].footer.paragraphs[0].text = "页脚文字不是正文"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def test_styles_bold_lead_ins_tables_breaks_and_fields():
    raw = _styled_doc()
    st = read_docx(raw, "甲市.docx")[0]
    lines = [ln for ln in st.text.split("\n") if ln]
    assert lines[:4] == ["# 甲市政府工作报告", "## 一、过去一年的工作", "### （一）稳定增长", "各位代表："]
    lines.pop(3)
    assert lines[3] == "**着力扩大内需。**全年地区生产总值增长5%，社会消费品零售总额增长6%。"
    assert lines[4] == "我们要坚定信心，乘势而上。"  # bold inside a sentence is emphasis, not a lead-in
    assert lines[5] == "第一行第二行。"  # a soft break is not a paragraph break
    assert lines[6:8] == ["- 指标 | 2024年 | 增长", "- 地区生产总值 | 5000亿元 | 5%"]
    assert lines[8] == "专栏里的一段话。"  # a one-cell table is a box around text
    assert lines[9] == "第页之外的正文。"  # the page number is gone
    assert "页脚" not in st.text and "\u200b" not in st.text
    assert [lv for _, lv in st.headings] == [1, 2, 3]
    paras = body_paragraphs(raw)
    assert paras[line_of(st, "地区生产总值 |").para - 1] == "地区生产总值"
    assert paras[line_of(st, "我们要").para - 1] == "我们要坚定信心，乘势而上。"
    arts, chunk_paras, _, _ = cut_document(st.text)
    lead = next(p for p in chunk_paras if "内需" in p.block.text)
    assert [s.title for s in lead.section.path()] == ["一、过去一年的工作", "（一）稳定增长", "着力扩大内需"]
    table = next(p for p in chunk_paras if "指标" in p.block.text)
    assert table.kind == "bullet" and len(table.block.lines) == 2


def _package(
    body: str,
    numbering: str = "",
    footnotes: str = "",
    endnotes: str = "",
    styles: str = "",
    main_type: str = "wordprocessingml.document.main+xml",
) -> bytes:
    """A minimal .docx written by hand (python-docx cannot write numbering, notes or text boxes)."""
    parts = {
        "word/document.xml": f'<w:document {NS} xmlns:mc="http://schemas.openxmlformats.org/'
        f'markup-compatibility/2006"><w:body>{body}</w:body></w:document>'
    }
    rels, types = [], []
    for name, xml, rt in (
        ("numbering", numbering, "numbering"),
        ("footnotes", footnotes, "footnotes"),
        ("endnotes", endnotes, "endnotes"),
        ("styles", styles, "styles"),
    ):
        if xml:
            parts[f"word/{name}.xml"] = xml
            rels.append(
                f'<Relationship Id="r{name}" Type="http://schemas.openxmlformats.org/officeDocument/'
                f'2006/relationships/{rt}" Target="{name}.xml"/>'
            )
            types.append(
                f'<Override PartName="/word/{name}.xml" ContentType="application/vnd.openxmlformats-'
                f'officedocument.wordprocessingml.{name}+xml"/>'
            )
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        f'{main_type}"/>' + "".join(types) + "</Types>"
    )
    parts["_rels/.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="word/document.xml"/></Relationships>'
    )
    parts["word/_rels/document.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(rels)
        + "</Relationships>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            z.writestr(name, xml)
    return out.getvalue()


def _p(text: str, num: tuple[int, int] | None = None, extra: str = "") -> str:
    npr = f'<w:pPr><w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr></w:pPr>' if num else ""
    return f'<w:p>{npr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r>{extra}</w:p>'


NUMBERING = f"""<w:numbering {NS}>
<w:abstractNum w:abstractNumId="0">
 <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>
 <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>
 <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="1">
 <w:lvl w:ilvl="0"><w:start w:val="3"/><w:numFmt w:val="decimalEnclosedCircle"/><w:lvlText w:val="%1"/></w:lvl>
</w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>
</w:numbering>"""


def test_auto_numbering_is_written_out_as_word_shows_it():
    body = "".join(
        [
            _p("过去一年的工作", (1, 0)),
            _p("稳定增长，提高质量。全年增长百分之五以上，好于预期。", (1, 1)),
            _p("扩大内需", (1, 1)),
            _p("消费", (1, 2)),
            _p("投资", (1, 2)),
            _p("今年的安排", (1, 0)),
            _p("抓好发展", (1, 1)),
            _p("第三项", (2, 0)),
        ]
        + [_p("空", (1, 0))] * 9
        + [_p("第十五", (1, 0))]
    )
    st = read_docx(_package(body, numbering=NUMBERING), "乙县.docx")[0]
    lines = [ln for ln in st.text.split("\n") if ln]
    assert lines[:3] == ["一、过去一年的工作", "### （一）稳定增长，提高质量", "全年增长百分之五以上，好于预期。"]
    assert lines[3:8] == ["（二）扩大内需", "1.消费", "2.投资", "二、今年的安排", "（一）抓好发展"]
    assert lines[8] == "③第三项" and lines[-1] == "十二、第十五"
    secs = dict(sections(st.text)[1])
    assert secs == {
        "一、过去一年的工作": ["（一）稳定增长，提高质量", "（二）扩大内需"],
        "二、今年的安排": ["（一）抓好发展"],
        **{k: [] for k in list(secs)[2:]},
    }


def _ref(kind: str, nid: int) -> str:
    return f'<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:{kind}Reference w:id="{nid}"/></w:r>'


def _notes(kind: str, items: dict[int, str]) -> str:
    seps = "".join(
        f'<w:{kind} w:type="{t}" w:id="{i}"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        for i, t in ((-1, "separator"), (0, "continuationSeparator"))
    )
    notes = "".join(
        f'<w:{kind} w:id="{i}"><w:p><w:r><w:{kind}Ref/></w:r><w:r><w:t xml:space="preserve"> {t}'
        f"</w:t></w:r></w:p></w:{kind}>"
        for i, t in items.items()
    )
    return f"<w:{kind}s {NS}>{seps}{notes}</w:{kind}s>"


def test_footnotes_and_endnotes_become_linked_glossary_notes(tmp_path):
    page_field = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> NUMPAGES </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>12</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    box = (
        '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>'
        "<w:p><w:r><w:t>框中的话。</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>框中的话。</w:t></w:r></w:p>"
        "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )
    body = "".join(
        [
            "<w:p><w:r><w:t>甲市推进“甲乙工程”</w:t></w:r>"
            + _ref("footnote", 1)
            + "<w:r><w:t>建设，共</w:t></w:r>"
            + page_field
            + "<w:r><w:t>项。</w:t></w:r></w:p>",
            _p("实施丙计划").replace("</w:p>", _ref("footnote", 2) + "<w:r><w:t>，成效明显。</w:t></w:r></w:p>"),
            _p("完成丁任务").replace("</w:p>", _ref("endnote", 1) + "<w:r><w:t>。</w:t></w:r>" + box + "</w:p>"),
        ]
    )
    raw = _package(
        body,
        footnotes=_notes("footnote", {1: "指甲市实施的乙类工程。", 2: "丙计划：三年行动。"}),
        endnotes=_notes("endnote", {1: "由乙县承担。"}),
    )
    st = read_docx(raw, "甲市.docx")[0]
    lines = [ln for ln in st.text.split("\n") if ln]
    assert lines[:4] == [
        "甲市推进“甲乙工程”［1］建设，共项。",
        "实施丙计划［2］，成效明显。",
        "完成丁任务［3］。",
        "框中的话。",
    ]
    assert lines[4:] == [
        "注释",
        "［1］“甲乙工程”：指甲市实施的乙类工程。",
        "［2］丙计划：三年行动。",
        "［3］完成丁任务：由乙县承担。",
    ]
    assert "12" not in st.text  # the NUMPAGES result
    assert line_of(st, "［2］丙计划").para == 2 and line_of(st, "框中的话").para == 4  # a note: its citing paragraph
    path = tmp_path / "甲市.docx"
    doc = build_document(path, st.text, Settings(index_dir=tmp_path, seeds_dir=tmp_path))
    by_text = {c.text[:6]: c for c in doc.chunks}
    notes = {c.term: c.id for c in doc.chunks if c.term}
    assert notes.keys() == {"“甲乙工程”", "丙计划", "完成丁任务"}
    assert by_text["甲市推进“甲"].notes == [notes["“甲乙工程”"]]
    assert by_text["实施丙计划［"].notes == [notes["丙计划"]]


def test_outline_level_and_a_heading_style_by_name(tmp_path):
    styles = (
        f'<w:styles {NS}><w:style w:type="paragraph" w:styleId="a1"><w:name w:val="标题 1"/></w:style>'
        f'<w:style w:type="paragraph" w:styleId="x"><w:name w:val="甲市章"/><w:basedOn w:val="a1"/></w:style></w:styles>'
    )
    body = (
        '<w:p><w:pPr><w:pStyle w:val="x"/></w:pPr><w:r><w:t>总体要求</w:t></w:r></w:p>'
        '<w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>主要目标</w:t></w:r></w:p>'
        + _p("地区生产总值增长5%左右。")
    )
    st = read_docx(_package(body, styles=styles), "甲市.docx")[0]
    assert st.text.split("\n\n")[:2] == ["## 总体要求", "#### 主要目标"]
    assert st.headings == [(0, 2), (len("## 总体要求\n\n"), 4)]


# --- bad files ---------------------------------------------------------------------------------
def _one_line_error(raw: bytes, name: str = "坏.docx") -> str:
    with pytest.raises(RagError) as exc:
        read_docx(raw, name)
    msg = str(exc.value)
    assert "\n" not in msg and name in msg
    return msg


def test_bad_files_give_one_line_errors(tmp_path, monkeypatch):
    good = GD.read_bytes()
    assert "password-protected or an old .doc" in _one_line_error(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert "not a .docx" in _one_line_error(b"%PDF-1.7 not a word file")
    assert "damaged" in _one_line_error(good[: len(good) // 2])  # truncated download
    # corrupt: flip bytes inside document.xml's compressed data (CRC no longer matches)
    info = zipfile.ZipFile(io.BytesIO(good)).getinfo("word/document.xml")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    bad = bytearray(good)
    bad[at : at + 16] = bytes(16)
    assert "damaged" in _one_line_error(bytes(bad))
    # a ZIP renamed to .docx
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("报告.txt", "甲市政府工作报告")
    assert "ZIP archive, not a Word document" in _one_line_error(out.getvalue())
    # a spreadsheet renamed to .docx
    xl = _package(_p("x"), main_type="spreadsheetml.sheet.main+xml")
    assert "not a Word document" in _one_line_error(xl)
    # a zip bomb: 40 MB of zeros in 40 KB, and a package over the size limit
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (40 << 20))
    assert "not a normal .docx" in _one_line_error(out.getvalue())
    monkeypatch.setattr("rag.read.docx_package.MAX_UNCOMPRESSED", 100_000)
    assert "over the limit" in _one_line_error(good)
    monkeypatch.undo()
    # a document with no text
    d = docx.Document()
    d.add_paragraph("")
    d.add_paragraph("\u200b  ")
    empty = io.BytesIO()
    d.save(empty)
    assert "has no text" in _one_line_error(empty.getvalue())


# --- hostile packages (built at test time: tests/hostile_docs.py) --------------------------------------------
def test_zip_bombs_are_refused_without_inflating_them(monkeypatch):
    import tracemalloc
    import types
    import zlib

    import hostile_docs as h

    import rag.read.docx_package as package

    inflated = [0]

    class CountingInflate:
        """zlib's inflater, counting the bytes it puts out: the work of checking an entry."""

        def __init__(self, *args):
            self._inner = zlib.decompressobj(*args)

        def decompress(self, data, max_length=0):
            out = self._inner.decompress(data, max_length)
            inflated[0] += len(out)
            return out

        @property
        def unconsumed_tail(self):
            return self._inner.unconsumed_tail

    monkeypatch.setattr(
        package, "zlib", types.SimpleNamespace(decompressobj=CountingInflate, crc32=zlib.crc32, error=zlib.error)
    )
    honest = h.docx_zip_bomb(2 << 30)  # the directory says 2 GB
    lying = h.docx_zip_bomb(2 << 30, lie=True)  # the directory says 1 MB, the data inflates to 2 GB
    assert len(honest) < 4 << 20 and len(lying) < 4 << 20
    tracemalloc.start()
    try:
        assert "not a normal .docx" in _one_line_error(honest)
        assert inflated[0] == 0, "the honest bomb was refused from its directory, without inflating a byte"
        msg = _one_line_error(lying)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "decompression bomb" in msg and "word/document.xml" in msg
    assert peak < 64 << 20, f"peak {peak >> 20} MB while refusing"
    # the lying one stops one step past the size its directory states, not at 2 GB
    stated = max(i.file_size for i in zipfile.ZipFile(io.BytesIO(lying)).infolist())
    assert 0 < inflated[0] <= stated + 2 * package._STEP, f"{inflated[0] >> 20} MB inflated"


def test_entity_bombs_external_entities_and_deep_nesting_are_harmless():
    import hostile_docs as h

    assert "damaged" in _one_line_error(h.docx_billion_laughs())
    assert "damaged" in _one_line_error(h.docx_deep_nesting(100_000))
    st = read_docx(h.docx_external_entity(), "外部实体.docx")[0]  # the entity is never resolved
    assert "86.4亿元" in st.text and "root:" not in st.text and "/etc/passwd" not in st.text


def test_document_xml_over_the_limit_is_refused_before_parsing(monkeypatch):
    import hostile_docs as h

    raw = h.docx_bytes(["甲市全年地区生产总值增长5.2%。"] * 400)
    monkeypatch.setattr("rag.read.docx_package.MAX_XML", 20_000)
    assert "of document XML, over the limit" in _one_line_error(raw)
