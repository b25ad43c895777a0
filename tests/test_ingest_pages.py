"""A chunk of a paged original (PDF) knows the page of every offset, and a citation shows it."""

from __future__ import annotations

from pathlib import Path

from rag.chunk.quote import Citation
from rag.ingest import build_document, chunk_pages
from rag.read.source import SourceSpan, SourceText
from rag.settings import Settings

PARAS = [
    "甲市2025年政府工作报告",
    "一、2024年工作回顾",
    "全年地区生产总值增长5.2%，一般公共预算收入增长3.1%，城镇新增就业1.2万人。",
    "粮食总产量稳定在50万吨以上，新建高标准农田3万亩，农村居民人均可支配收入增长6.5%。",
    "二、2025年主要目标",
    "地区生产总值增长5%左右，居民消费价格涨幅3%左右，城镇调查失业率5.5%以内。",
]


def _paged_source() -> SourceText:
    """Six paragraphs, the first four on page 1 and the rest on page 2, as a PDF reader gives them."""
    text, spans, pos = "", [], 0
    for i, p in enumerate(PARAS):
        page = 1 if i < 4 else 2
        spans.append(SourceSpan(pos, pos + len(p), page=page, para=i + 1 if page == 1 else i - 3))
        text += p + "\n"
        pos = len(text)
    return SourceText(text, None, {}, "pdf", "", fmt="pdf", source_map=spans)


def test_chunk_pages_follow_the_source_map():
    src = _paged_source()
    b = src.text.index("二、")
    assert chunk_pages([[0, 10]], src) == [[0, 1]]
    assert chunk_pages([[b - 20, b + 10]], src) == [[b - 20, 1], [b, 2]]
    assert chunk_pages([[0, 10]], SourceText("x", None, {}, "utf-8", "")) == []  # not paged: no pages


def test_chunks_of_a_pdf_carry_their_page_and_citations_show_it():
    src = _paged_source()
    doc = build_document(Path("甲市.pdf"), src.text, Settings(), "甲市", source=src)
    assert doc.fmt == "pdf"
    by_text = {c.text: c for c in doc.chunks}
    first = next(c for t, c in by_text.items() if "生产总值增长5.2%" in t)
    target = next(c for t, c in by_text.items() if "失业率5.5%" in t)
    assert first.page_at(first.start) == 1
    assert target.page_at(target.start) == 2
    cit = Citation(
        n=1,
        id=target.id,
        doc=target.doc,
        title="",
        section=target.section,
        breadcrumb="",
        paragraph=target.paragraph,
        quote="城镇调查失业率5.5%以内",
        text=target.text,
        start=target.start,
        end=target.end,
        page=target.page_at(target.start),
    )
    assert cit.location == f"第2页 ¶{target.paragraph}"
    assert cit.to_dict()["page"] == 2
    text_doc = build_document(Path("甲市.txt"), src.text, Settings(), "甲市")
    assert all(c.pages == [] for c in text_doc.chunks)
    assert (
        Citation(
            n=1, id="x", doc="x", title="", section=[], breadcrumb="", paragraph=3, quote="", text="", start=0, end=0
        ).location
        == "¶3"
    )
