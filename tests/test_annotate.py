"""Annotations on made-up reports: the year each passage is about, lead-ins and their items,
glossary notes and their markers."""

from __future__ import annotations

from pathlib import Path

from rag.ingest import load_file
from rag.settings import Settings

REPORT = """政府工作报告
——2024年1月20日在甲市第五届人民代表大会第三次会议上
各位代表：
一、2023年工作回顾
全市地区生产总值增长5%，城镇新增就业1.2万人，建成“三区联动”［1］示范片区3个。
二、今年工作安排
做好今年工作，要把握好以下两点。
第一，稳字当头。保持经济运行在合理区间。
这一段补充说明第一点的具体要求，不是新的一点。
第二，进中求稳。推动高质量发展取得新成效。
全市地区生产总值增长6%左右。
注释
［1］三区联动：
开发区、景区、社区协同发展。
"""


def _doc(tmp_path: Path):
    (tmp_path / "甲市.txt").write_text(REPORT, encoding="utf-8")
    (doc,) = load_file(tmp_path / "甲市.txt", Settings())
    return doc


def test_periods_follow_the_sections(tmp_path: Path) -> None:
    doc = _doc(tmp_path)

    def about(needle: str) -> int | None:
        (c,) = [c for c in doc.chunks if c.kind == "body" and needle in c.text]
        return c.period

    assert about("增长5%") == 2023
    assert about("增长6%左右") == 2024, "「今年工作安排」 opens the plan part"


def test_lead_in_takes_the_ordinal_items_it_announces(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    by_id = {c.id: c for c in doc.chunks}
    (lead,) = [c for c in doc.chunks if c.text.startswith("做好今年工作")]
    assert [by_id[i].text[:2] for i in lead.follows] == ["第一", "第二"]


def test_note_and_marker(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    (note,) = [c for c in doc.chunks if c.term]
    assert note.term == "三区联动" and note.period is None and "开发区、景区、社区协同发展" in note.text
    (use,) = [c for c in doc.chunks if "［1］" in c.text and not c.term]
    assert use.notes == [note.id]
