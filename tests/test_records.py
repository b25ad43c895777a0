"""Dataset files (rag/read/records.py): which field holds the report, CSV dialects and headers, JSON
forms; invented records of 甲市 and 乙县 (the corpus datasets are read in tests/test_read.py)."""

from __future__ import annotations

import json

import pytest

from rag.errors import RagError
from rag.read.records import MIN_REPORT_CHARS, csv_records, json_records

BODY_A = "甲市2024年政府工作报告。" + "全年新建公园12个，新增绿地面积30公顷。" * 12
BODY_B = "乙县2024年政府工作报告。" + "城镇新增就业1.8万人，调查失业率5.5%以内。" * 12


def test_the_longest_column_is_the_report_and_the_others_are_labels():
    text = f'title;year;full_text\n甲市报告;2024;"{BODY_A}"\n乙县报告;2024;"{BODY_B}"\n'  # ; dialect
    assert csv_records(text, "reports.csv") == [
        (1, BODY_A, {"title": "甲市报告", "year": "2024"}),
        (2, BODY_B, {"title": "乙县报告", "year": "2024"}),
    ]


def test_a_csv_without_header_names_its_columns():
    text = f"甲市\t{BODY_A}\n乙县\t{BODY_B}\n"
    assert csv_records(text, "x.csv") == [(1, BODY_A, {"column1": "甲市"}), (2, BODY_B, {"column1": "乙县"})]


def test_a_row_that_disagrees_with_the_header_names_its_line():
    with pytest.raises(RagError, match="line 3: the row has 2 fields, the header has 3"):
        csv_records(f'a,b,text\n1,2,"{BODY_A}"\n1,"{BODY_B}"\n', "bad.csv")


def test_short_fields_are_no_report():
    assert len(BODY_A) >= MIN_REPORT_CHARS
    with pytest.raises(RagError, match="no column holds report text"):
        csv_records("title,year\n甲市报告,2024\n", "short.csv")


def test_json_lines_and_json_forms():
    lines = "\n".join(
        json.dumps({"place": "甲市", "year": 2024, "content": b}, ensure_ascii=False) for b in (BODY_A, BODY_B)
    )
    assert json_records(lines, "x.jsonl", lines=True) == [
        (1, BODY_A, {"place": "甲市", "year": "2024"}),
        (2, BODY_B, {"place": "甲市", "year": "2024"}),
    ]
    wrapped = json.dumps({"data": [{"content": BODY_A, "ok": True}]}, ensure_ascii=False)
    assert json_records(wrapped, "x.json", lines=False) == [(1, BODY_A, {"ok": "true"})]
    assert json_records(lines, "named.json", lines=False)[1][0] == 2  # JSON Lines under a .json name


def test_a_json_item_that_is_not_an_object_is_named():
    with pytest.raises(RagError, match="item 2 is a JSON string"):
        json_records(json.dumps([{"content": BODY_A}, "乙县"], ensure_ascii=False), "x.json", lines=False)
