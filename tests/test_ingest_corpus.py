"""Ingestion of the real development corpus: every format read, page furniture stored but not
indexed, a body repeated in one file collapsed, glossary notes linked to their markers, lead-ins
linked to the items they announce, and every chunk mapped back to the text it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunk.clean import compact
from rag.ingest import ingest_paths, load_file
from rag.read.formats import read_source
from rag.settings import Settings

REPORTS = Path(__file__).resolve().parent.parent / "eval" / "corpus" / "reports"


@pytest.fixture(scope="module")
def docs():
    return {d.id: d for d in ingest_paths([REPORTS], Settings(), progress=False)}


def test_every_report_is_read(docs) -> None:
    assert len(docs) == 18, sorted(docs)
    assert {"04_national_2023", "09_province_beijing_2026", "10_province_hainan_2026"} <= set(docs)
    assert {
        docs[k].fmt
        for k in (
            "07_province_guangdong_2025",
            "08_province_ningxia_2025",
            "17_province_beijing_2025",
            "18_province_hainan_2025",
        )
    } == {"docx"}
    assert {docs[k].fmt for k in ("15_province_guangdong_2026", "16_province_ningxia_2026")} == {"csv"}


def test_a_review_of_five_years_is_about_no_one_year(docs) -> None:
    """A report at the start of a plan period reviews last year and the five years; 「五年来，…」 and
    what follows it up to the next 「这一年，…」 is about the span (period None, flagged), so a five-year
    total is never taken for last year's figure."""
    d = docs["10_province_hainan_2026"]
    total = next(c for c in d.chunks if "城镇新增就业86.22万人" in c.text)
    year = next(c for c in d.chunks if "城镇新增就业17.78万人" in c.text)
    assert total.period is None and "span" in total.flags
    assert year.period == 2025 and "span" not in year.flags
    d = docs["04_national_2023"]
    five = next(c for c in d.chunks if c.text.startswith("过去五年极不寻常"))
    one = next(c for c in d.chunks if c.text.startswith("过去一年，我国经济发展"))
    assert five.period is None and one.period == 2022
    plan = [
        c
        for c in docs["16_province_ningxia_2026"].chunks
        if c.section and "十五五" in c.section[-1] and c.kind == "body"
    ]
    assert plan and all(c.period is None for c in plan), "a five-year plan's targets are no year's targets"


def test_chunks_map_back_to_the_text_as_read(docs) -> None:
    for d in docs.values():
        text = read_source(Path(d.path))[0].text
        for c in d.chunks:
            src = "".join(text[s:e] for s, e in c.spans)
            assert compact(src) == compact(c.text), f"{c.id}: spans do not give the chunk text"


def test_furniture_is_stored_but_never_indexed(docs) -> None:
    noise = [c for d in docs.values() for c in d.chunks if c.kind == "noise"]
    assert noise and not any(c.searchable for c in noise)
    texts = " ".join(c.text for c in noise)
    for piece in ("来源URL", "ICP备", "字号", "Public domain", "友情链接", "记者孟宇光摄"):
        assert piece in texts, piece
    indexed = " ".join(c.text for d in docs.values() for c in d.chunks if c.searchable)
    for piece in ("来源URL", "ICP备", "网站标识码", "【字号", "Public domain", "浏览次数", "您是第"):
        assert piece not in indexed, piece


def test_a_body_repeated_in_one_file_collapses_to_one_copy(docs) -> None:
    d = docs["06_province_hebei_2019"]
    assert d.duplicates_collapsed >= 40
    hits = [c for c in d.chunks if "预计全省生产总值增长6.6%左右" in c.text]
    assert len(hits) == 1 and len(hits[0].locations) == 2, [c.id for c in hits]


def test_glossary_notes_are_linked_to_their_markers(docs) -> None:
    d = docs["10_province_hainan_2026"]
    notes = {c.term: c for c in d.chunks if c.term}
    assert len(notes) >= 25, sorted(notes)
    note = notes["四大主导产业"]
    assert "旅游业、现代服务业、高新技术产业、热带特色高效农业" in note.text, (
        "the term and its explanation are one note"
    )
    assert note.section and note.section[-1] == "注释" and note.period is None
    marked = [c for c in d.chunks if note.id in c.notes]
    assert marked and all("四大主导产业［2］" in c.text for c in marked)


def test_note_on_a_made_up_report(tmp_path: Path) -> None:
    text = (
        "政府工作报告\n各位代表：\n一、2023年工作回顾\n全市推进“三区联动”［1］，城镇新增就业1.2万人。\n"
        "注释\n［1］三区联动：\n开发区、景区、社区协同发展。\n"
    )
    (tmp_path / "甲市.txt").write_text(text, encoding="utf-8")
    (doc,) = load_file(tmp_path / "甲市.txt", Settings())
    (note,) = [c for c in doc.chunks if c.term]
    assert note.term == "三区联动" and "开发区、景区、社区协同发展" in note.text
    (use,) = [c for c in doc.chunks if "［1］" in c.text and not c.term]
    assert use.notes == [note.id]


def test_lead_in_lists_the_items_it_announces(docs) -> None:
    d = docs["01_national_2015"]
    (lead,) = [c for c in d.chunks if c.text.startswith("做好今年政府工作，要把握好以下三点")]
    by_id = {c.id: c for c in d.chunks}
    items = [by_id[i].text for i in lead.follows]
    assert len(items) == 3 and items[0].startswith("第一") and items[2].startswith("第三"), items


def test_title_dateline_and_speaker_are_metadata_chunks(docs) -> None:
    d = docs["09_province_beijing_2026"]
    kinds = {c.text: c.kind for c in d.chunks}
    assert kinds["——2026年1月25日在北京市第十六届人民代表大会第四次会议上"] == "title"
    assert kinds["北京市市长 殷勇"] == "meta"
    assert not any(c.text.startswith("各位代表") and c.searchable for c in d.chunks if len(c.text) < 8)


def test_review_and_plan_periods(docs) -> None:
    d = docs["06_province_hebei_2019"]
    review = next(c for c in d.chunks if "城镇新增就业87万人" in c.text)
    assert review.period == 2018
    plan = [c for c in d.chunks if c.kind == "body" and c.section and c.section[0].startswith("三、2019年")]
    assert plan and all(c.period == 2019 for c in plan)
    d = docs["03_national_2022"]  # no title, date or speaker: the year comes from 「一、2021年工作回顾」
    assert (
        d.meta.year == 2022
        and next(c for c in d.chunks if c.section and "2021年工作回顾" in c.section[0]).period == 2021
    )
