"""Word's styles and list numbering as the reader needs them: heading levels through style names,
``basedOn`` chains and outline levels; the list labels Word draws (「一、」「（一）」「1.」)."""

from __future__ import annotations

import pytest
from lxml import etree

from rag.read.docx_style import Numbering, Styles, format_number, on

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _xml(body: str):
    return etree.fromstring(f'<w:root xmlns:w="{W}">{body}</w:root>'.encode())


def _para(style: str | None = None, outline: int | None = None):
    ppr = ""
    if style or outline is not None:
        ppr = (
            "<w:pPr>"
            + (f'<w:pStyle w:val="{style}"/>' if style else "")
            + (f'<w:outlineLvl w:val="{outline}"/>' if outline is not None else "")
            + "</w:pPr>"
        )
    return _xml(f"<w:p>{ppr}</w:p>")[0]


STYLES = _xml("""
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="T"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="H2"><w:name w:val="heading 2"/></w:style>
<w:style w:type="paragraph" w:styleId="CN1"><w:name w:val="标题 1"/></w:style>
<w:style w:type="paragraph" w:styleId="Mine"><w:name w:val="甲市小标题"/><w:basedOn w:val="H2"/></w:style>
<w:style w:type="paragraph" w:styleId="Out"><w:name w:val="大纲"/><w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Loop1"><w:name w:val="a"/><w:basedOn w:val="Loop2"/></w:style>
<w:style w:type="paragraph" w:styleId="Loop2"><w:name w:val="b"/><w:basedOn w:val="Loop1"/></w:style>
<w:style w:type="paragraph" w:styleId="Toc1"><w:name w:val="toc 1"/></w:style>
""")


@pytest.mark.parametrize(
    "style, outline, level",
    [
        (None, None, None),  # the default paragraph style is body text
        ("T", None, 0),  # the title
        ("H2", None, 2),
        ("CN1", None, 1),  # a Chinese style name
        ("Mine", None, 2),  # a style based on a heading
        ("Out", None, 3),  # an outline level in the style (0-based in the XML)
        ("Normal", 0, 1),  # an outline level on the paragraph itself
        ("Loop1", None, None),  # a basedOn cycle ends, it does not hang
    ],
)
def test_heading_levels(style, outline, level):
    assert Styles(STYLES).heading_level(_para(style, outline)) == level


def test_a_table_of_contents_paragraph_is_recognised():
    styles = Styles(STYLES)
    assert styles.is_toc(_para("Toc1")) and not styles.is_toc(_para("H2"))


def test_toggle_properties():
    b = _xml('<w:b/><w:b w:val="0"/><w:b w:val="true"/>')
    assert [on(x) for x in b] == [True, False, True] and on(None) is None


@pytest.mark.parametrize(
    "n, fmt, text",
    [
        # Word repeats letters past z: 27 is "aa", 28 "bb"
        (3, "chineseCounting", "三"),
        (12, "chineseCounting", "十二"),
        (20, "chineseCounting", "二十"),
        (3, "decimal", "3"),
        (3, "decimalEnclosedCircle", "③"),
        (4, "lowerRoman", "iv"),
        (28, "upperLetter", "BB"),
        (5, "decimalFullWidth", "５"),
        (7, "decimalZero", "07"),
        (2, "ideographTraditional", "乙"),
        (2, "unknown", "2"),
    ],
)
def test_number_formats(n, fmt, text):
    assert format_number(n, fmt) == text


NUMBERING = _xml("""
<w:abstractNum w:abstractNumId="0">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>
  <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="1">
  <w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/></w:lvl>
</w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
<w:num w:numId="2"><w:abstractNumId w:val="0"/></w:num>
<w:num w:numId="3"><w:abstractNumId w:val="0"/><w:lvlOverride w:ilvl="0"><w:startOverride w:val="5"/></w:lvlOverride></w:num>
<w:num w:numId="4"><w:abstractNumId w:val="1"/></w:num>
""")


def test_list_labels_count_restart_deeper_levels_and_continue_across_lists():
    num = Numbering(NUMBERING)
    labels = [
        num.label("1", 0),
        num.label("1", 1),
        num.label("1", 1),
        num.label("1", 2),
        num.label("1", 0),
        num.label("1", 1),
        num.label("2", 0),
    ]
    assert labels == ["一、", "（一）", "（二）", "1.", "二、", "（一）", "三、"]  # numId 2 continues numId 1


def test_a_start_override_begins_a_new_list_and_bullets_and_unknown_lists_are_plain():
    num = Numbering(NUMBERING)
    assert num.label("3", 0) == "五、" and num.label("3", 0) == "六、"
    assert num.label("4", 0) == "•"
    assert num.label("99", 0) == "" and Numbering(None).label("1", 0) == ""
