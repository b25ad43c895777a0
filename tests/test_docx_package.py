"""The checks before a Word package is parsed: wrong formats named, ZIP bombs and oversized XML
refused in one line, a real .docx opened (python-docx builds one here)."""

from __future__ import annotations

import io
import zipfile

import pytest

from rag.errors import RagError
from rag.read.docx_package import open_docx


def _docx(text: str = "甲市政府工作报告") -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_real_docx_opens():
    doc = open_docx(_docx("乙县今年新建学校两所。"), "a.docx")
    assert [p.text for p in doc.paragraphs] == ["乙县今年新建学校两所。"]


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old .doc"),
        (b"%PDF-1.7 not a zip", "not a ZIP package"),
        (b"PK\x03\x04 truncated", "damaged"),
        (_zip({"a.txt": b"hello"}), "ZIP archive, not a Word document"),
    ],
)
def test_what_is_not_a_docx_is_named(raw, words):
    with pytest.raises(RagError, match=words) as exc:
        open_docx(raw, "x.docx")
    assert "\n" not in str(exc.value) and str(exc.value).startswith("x.docx")


def test_a_bomb_is_refused_by_its_stated_sizes(monkeypatch):
    monkeypatch.setattr("rag.read.docx_package.RATIO_FROM", 1000)
    raw = _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * 2_000_000})  # ~1000:1
    with pytest.raises(RagError, match="over the limit for a report"):
        open_docx(raw, "bomb.docx")


def test_too_much_document_xml_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr("rag.read.docx_package.MAX_XML", 10_000)
    raw = _docx("很长的报告。" * 3000)
    with pytest.raises(RagError, match="MB of document XML"):
        open_docx(raw, "long.docx")
    monkeypatch.setattr("rag.read.docx_package.MAX_XML", 10_000_000)
    assert open_docx(raw, "long.docx").paragraphs
