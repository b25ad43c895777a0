"""A Word document's lines before they become text: attachment lines open articles, notes go
under 「注释」 at the end of the article citing them, each line written as the chunker reads it."""

from __future__ import annotations

from rag.read.docx_lines import Line, attachments, render, with_notes


def _texts(lines: list[Line]) -> list[str]:
    return [render(ln) for ln in lines]


def test_lines_are_written_as_headings_rows_lead_ins_or_plain():
    assert render(Line([("甲市政府工作报告", 1)], level=1)) == "# 甲市政府工作报告"
    assert render(Line([("注释", None)], level=2, md=False)) == "注释"
    assert render(Line([("项目 | 金额", 3)], row=True)) == "- 项目 | 金额"
    assert render(Line([("坚持稳中求进。全年工作如下。", 4)], lead=7)) == "**坚持稳中求进。**全年工作如下。"
    assert render(Line([("一句正文。", 5)])) == "一句正文。"


def test_an_attachment_after_the_body_opens_an_article_with_its_title():
    lines = [
        Line([("甲市政府工作报告", 1)], level=1),
        Line([("今年全市新增就业1万人。", 2)]),
        Line([("附件1", 3)]),
        Line([("乙县十件民生实事", 4)]),
        Line([("一是新建学校两所。", 5)]),
    ]
    out = attachments(lines)
    assert _texts(out) == [
        "# 甲市政府工作报告",
        "今年全市新增就业1万人。",
        "# 附件1 乙县十件民生实事",
        "一是新建学校两所。",
    ]
    assert out[2].pieces == [("附件1", 3), ("乙县十件民生实事", 4)]  # each keeps its paragraph


def test_an_attachment_word_before_any_body_or_inside_a_sentence_stays_text():
    lines = [Line([("附件1", 1)]), Line([("正文开始。", 2)]), Line([("附件1：详见下表。", 3)])]
    assert [ln.level for ln in attachments(lines)] == [None, None, None]


def test_notes_go_under_a_notes_heading_at_the_end_of_the_article_citing_them():
    lines = [
        Line([("甲市政府工作报告", 1)], level=1),
        Line([("推进“一网通办”［1］改革。", 2)], notes=[1]),
        Line([("附件", 3)], level=1),
        Line([("乙县名录。", 4)]),
    ]
    out = with_notes({1: "指政务服务一个入口办理。"}, lines)
    assert _texts(out) == [
        "# 甲市政府工作报告",
        "推进“一网通办”［1］改革。",
        "注释",
        "［1］“一网通办”：指政务服务一个入口办理。",
        "# 附件",
        "乙县名录。",
    ]
    assert out[3].pieces[0][1] == 2  # the note cites the paragraph that refers to it


def test_a_note_that_names_its_own_term_keeps_it():
    lines = [Line([("实施计划［2］。", 7)], notes=[2])]
    out = with_notes({2: "专项计划：三年行动。"}, lines)
    assert _texts(out)[-1] == "［2］专项计划：三年行动。"
