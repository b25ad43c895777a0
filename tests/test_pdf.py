"""The PDF reader on real Word/LibreOffice-made PDFs (tests/data/pdf/, made by eval/make_pdf_fixtures.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.read.pdf import read_pdf
from rag.read.pdf_layout import PAGE_NUMBER_RE, fold_compat

DATA = Path(__file__).parent / "data" / "pdf"
FOOTERS = ["footer_emdash", "footer_hyphen", "footer_di_ye", "footer_of_total", "footer_bare"]


def _read(name: str):
    (st,) = read_pdf((DATA / f"{name}.pdf").read_bytes(), f"{name}.pdf")
    return st


def _source(name: str) -> list[str]:
    return [
        re.sub(r"\s+", "", ln) for ln in (DATA / f"{name}.txt").read_text(encoding="utf-8").split("\n") if ln.strip()
    ]


def _lines(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if ln.strip()]


@pytest.mark.parametrize("name", FOOTERS)
def test_running_heads_and_page_numbers_are_gone(name: str) -> None:
    st = _read(name)
    assert st.fmt == "pdf" and st.encoding == "pdf" and st.record is None and st.suffix_id == ""
    lines = _lines(st.text)
    assert lines == _source(name)  # every paragraph, whole, in order; nothing else
    for ln in lines:
        assert not PAGE_NUMBER_RE.match(ln)
        assert "页" not in ln and "工作报告（" not in ln
    assert sum(1 for ln in lines if ln.endswith("政府工作报告")) <= 1  # the title, not the running head


def test_broken_lines_are_joined() -> None:
    st = _read("word_07")
    lines = _lines(st.text)
    known = next(ln for ln in _source("word_07") if ln.startswith("2024年是中华人民共和国成立"))
    assert known in lines  # one line, no break where the page wrapped it
    for ln in lines:  # a body line never stops mid-sentence (headings, the dateline and the byline may)
        if len(ln) > 60:
            assert ln[-1] in "。！？：；”", ln[-20:]
    # LibreOffice's CJK/Latin autospace is a gap, not a character
    assert "2025年广东省政府工作报告" in lines and "2025 年" not in st.text


def test_paragraph_across_pages_is_joined_and_mapped_to_both_pages() -> None:
    st = _read("footer_of_total")
    src = _source("footer_of_total")
    spans = st.source_map
    crossing = [(a, b) for a, b in zip(spans, spans[1:]) if a.end == b.start and a.page != b.page]
    assert crossing, "no paragraph crosses a page in the fixture"
    for a, b in crossing:
        line_start = st.text.rfind("\n", 0, a.start) + 1
        line_end = st.text.find("\n", b.end)
        whole = st.text[line_start : line_end if line_end >= 0 else None]
        assert whole in src  # joined without the footer, header or a break
        assert (a.page, b.page) == (a.page, a.page + 1) and b.para == 1
        assert st.locate(b.start).page == a.page + 1 and st.locate(b.start + 5).page == a.page + 1
        assert st.locate(a.end - 1).page == a.page
    # spans are sorted, do not overlap and cover every paragraph
    assert all(x.end <= y.start for x, y in zip(spans, spans[1:]))
    for m in re.finditer(r"[^\n]+", st.text):
        assert st.locate(m.start()) is not None and st.locate(m.start()).end >= m.start()
    pages = {s.page for s in spans}
    assert pages == {1, 2, 3}
    for p in pages:
        assert [s.para for s in spans if s.page == p] == list(range(1, sum(1 for s in spans if s.page == p) + 1))


def test_two_columns_are_read_left_then_right() -> None:
    st = _read("two_columns")
    assert _lines(st.text) == _source("two_columns")


def test_kangxi_radicals_become_unified_ideographs() -> None:
    st = _read("kangxi")
    text = st.text
    assert not re.search(r"[\u2e80-\u2fdf]", text)
    assert "日均行政审批时限压缩至3个工作日" in text and "生产总值" in text and "改革" in text
    assert "“放管服”" in text and "，" in text  # full-width punctuation is not folded to ASCII
    assert fold_compat("⽇均，（甲市）") == "日均，（甲市）"


def test_heading_hints_from_font_size() -> None:
    st = _read("footer_emdash")
    starts = {pos: level for pos, level in st.headings}
    assert starts.get(0) == 1 and st.text.startswith("甲市2025年政府工作报告\n")


def test_scanned_pdf_needs_ocr() -> None:
    with pytest.raises(RagError, match=r"scanned\.pdf has no text layer \(a scanned PDF\?\): run OCR first"):
        read_pdf((DATA / "scanned.pdf").read_bytes(), "scanned.pdf")


def test_encrypted_pdf_is_named() -> None:
    with pytest.raises(RagError, match=r"encrypted\.pdf is encrypted \(locked with a password\)"):
        read_pdf((DATA / "encrypted.pdf").read_bytes(), "encrypted.pdf")


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.99])
def test_truncated_pdf(cut: float) -> None:
    raw = (DATA / "word_08.pdf").read_bytes()
    with pytest.raises(RagError, match=r"甲\.pdf is a truncated PDF"):
        read_pdf(raw[: int(len(raw) * cut)], "甲.pdf")


def test_corrupt_pdf() -> None:
    raw = bytearray((DATA / "word_08.pdf").read_bytes())
    raw[200:6000] = b"\x00" * 5800  # objects and xref damaged, head and tail intact
    try:
        out = read_pdf(bytes(raw), "乙.pdf")
    except RagError as exc:
        assert "乙.pdf" in str(exc) and "\n" not in str(exc)
    else:  # PDFium repairs what it can; what it gives must still be a document
        assert out and out[0].text.strip()


def test_not_a_pdf() -> None:
    with pytest.raises(RagError, match="not a PDF"):
        read_pdf("甲市政府工作报告".encode(), "甲.pdf")


def test_a_300_page_pdf_is_read_whole() -> None:
    """Speed is measured by eval/bench_pdf.py; here: every page read, none dropped, no empty lines."""
    import io

    import pypdfium2 as pdfium

    src = pdfium.PdfDocument((DATA / "footer_emdash.pdf").read_bytes())
    doc = pdfium.PdfDocument.new()
    for _ in range(100):
        doc.import_pages(src)
    buf = io.BytesIO()
    doc.save(buf)
    (st,) = read_pdf(buf.getvalue(), "丙.pdf")
    assert max(s.page for s in st.source_map) == 300
    assert all(ln.strip() for ln in st.text.split("\n"))  # no empty paragraphs


# --- hostile files (built at test time: tests/hostile_docs.py) -------------------------------------------------
def test_javascript_is_never_run_and_the_text_is_read():
    import hostile_docs as h

    st = read_pdf(h.pdf_with_javascript(), "脚本.pdf")[0]
    assert st.text.split("\n") == h.PDF_LINES
    assert "alert" not in st.text and "HACKED" not in st.text
    added = read_pdf(h.pdf_add_javascript((DATA / "upload_report.pdf").read_bytes()), "脚本.pdf")[0]
    assert added.text == read_pdf((DATA / "upload_report.pdf").read_bytes(), "原.pdf")[0].text
    # the reader never sets up a form environment, without which PDFium runs no document script
    import inspect

    import rag.read.pdf

    assert "init_forms" not in inspect.getsource(rag.read.pdf)


def test_a_huge_page_count_is_refused_at_once(monkeypatch):
    import hostile_docs as h
    import pypdfium2 as pdfium

    from rag.read.pdf import _extract

    raw = h.pdf_many_pages(100_000)
    with pytest.raises(RagError, match="100000 pages; at most 2000"):
        read_pdf(raw, "页数.pdf")
    # at once: from the page count, before one page is loaded (the reader's child process does
    # the same in-process work, counted here)
    loaded = []
    real = pdfium.PdfDocument.get_page
    monkeypatch.setattr(pdfium.PdfDocument, "get_page", lambda doc, i: loaded.append(i) or real(doc, i))
    with pytest.raises(RagError, match="100000 pages; at most 2000"):
        _extract(raw, "页数.pdf")
    assert loaded == []


def test_a_decompression_bomb_stream_stops_at_the_memory_limit(monkeypatch):
    import hostile_docs as h

    monkeypatch.setattr("rag.read.pdf.MAX_MEMORY", 512 << 20)
    # the memory limit stopped it, not the reader's time limit (MAX_SECONDS, whose message differs)
    with pytest.raises(RagError, match=r"流炸弹.pdf needs more than 512 MB of memory to read"):
        read_pdf(h.pdf_stream_bomb(256 << 20), "流炸弹.pdf")  # PDFium wanted ~20× the stream: 5 GB
