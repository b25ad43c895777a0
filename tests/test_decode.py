"""Bytes to text (rag/read/decode.py): encodings told from invented report bytes, binary files named,
and the two repairs. The corpus files, re-encoded, are read end to end in tests/test_read.py."""

from __future__ import annotations

import codecs

import pytest

from rag.errors import RagError
from rag.read.decode import binary_kind, decode, repair, resolve_artefacts, too_many_controls, unify_newlines

TEXT = "甲市人民政府工作报告\n\n一、2024年工作回顾\n\n全年新建公园12个，新增绿地面积30公顷。\n"


@pytest.mark.parametrize(
    "raw, encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with a byte-order mark
        (TEXT.encode("utf-16-le"), "utf-16-le"),  # without one: the byte order that reads as Chinese
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("gbk"), "gb18030"),
    ],
)
def test_encodings_are_told_from_the_bytes(raw, encoding):
    assert decode(raw) == (TEXT, encoding)


def test_short_gbk_text_is_not_taken_for_korean():
    """charset-normalizer alone calls these bytes cp949; GB18030 is tried first."""
    assert decode("甲市人民政府工作报告".encode("gbk")) == ("甲市人民政府工作报告", "gb18030")


def test_binary_files_are_named_in_the_error():
    assert binary_kind(b"\x89PNG\r\n\x1a\n") == "a PNG image" and binary_kind(TEXT.encode()) is None
    with pytest.raises(RagError, match=r"^乙县\.txt is a PNG image, not a report"):
        decode(b"\x89PNG\r\n\x1a\n" + bytes(64), "乙县.txt")
    with pytest.raises(RagError, match="byte-order mark but is not UTF-8"):
        decode(codecs.BOM_UTF8 + b"\xff\xfe\xfa" * 5, "丙镇.txt")


def test_control_characters_one_rule():
    assert too_many_controls("甲" * 3000 + "\x01\x02\x03") == 0  # a few stray ones in a long text
    assert too_many_controls("\x01\x02\x03") == 3
    assert too_many_controls("甲市\t乙县\x0b丙镇\f\r\n") == 0  # tab, Word's line break, form feed
    with pytest.raises(RagError, match="control characters"):
        decode(bytes(range(1, 32)) * 50, "丁村.txt")


# --- the two repairs ----------------------------------------------------------------------------
def test_unify_newlines():
    assert unify_newlines("甲市\r\r\n乙县\r\n丙镇\r丁村\n\n戊乡\r\r") == "甲市\n乙县\n丙镇\n丁村\n\n戊乡\n\n"
    assert unify_newlines("\u3000\u3000甲市 \r\n") == "\u3000\u3000甲市 \n"  # indent, trailing space kept


def test_resolve_artefacts_only_for_space_and_format_characters():
    assert resolve_artefacts("甲市<U+00A0>乙县<U+200D>") == "甲市\u00a0乙县\u200d"
    assert resolve_artefacts("<U+3000><U+3000>丙镇<u+feff><U+2002>") == "\u3000\u3000丙镇\ufeff\u2002"
    kept = "<U+4E2D> <U+0041> <U+110000> <U+00A> U+00A0"
    assert resolve_artefacts(kept) == kept


def test_repair_does_both():
    assert repair("甲市<U+00A0>乙县\r\n丙镇\r") == "甲市\u00a0乙县\n丙镇\n"
