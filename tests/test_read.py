"""Reading files into report texts (rag/read/formats.py), on the real files in eval/corpus/reports/.

Contract: a file in any common encoding (UTF-8 with or without BOM, UTF-16/32, GBK/GB18030, a
legacy code page) or dataset format (CSV in any dialect, JSON Lines, JSON) becomes one text per
report, with line endings unified to "\\n" and literal "<U+00A0>" tokens resolved. Nothing else is
changed: indents, trailing spaces and blank lines stay. Bad input is a RagError with a one-line
reason. The corpus files are read as they are and re-encoded into tmp_path; nothing is mocked.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.read.decode import unify_newlines
from rag.read.formats import SUFFIXES, find_sources, read_bytes, read_source, sniff
from rag.read.source import SourceText

CORPUS = Path(__file__).resolve().parent.parent / "eval" / "corpus" / "reports"
TEXT_FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".txt", ".csv", ".jsonl"))
PLAIN = [n for n in TEXT_FILES if n.endswith(".txt")]
CSVS = ["09_province_beijing_2026.csv", "10_province_hainan_2026.csv"]
JSONL = "04_national_2023.jsonl"
WAS_GBK = ["01_national_2015.txt", "02_national_2020.txt", "14_district_hailaer_2017.txt"]


def only(path: Path) -> SourceText:
    [src] = read_source(path)
    return src


def corpus_text(name: str) -> str:
    """The file's text by the plain reading (strict UTF-8, line endings unified): the reference
    every other encoding of the same file must reproduce."""
    return unify_newlines((CORPUS / name).read_bytes().decode("utf-8-sig"))


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


# --- the corpus as it is ------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(TEXT_FILES) == 14 and len(PLAIN) == 9


@pytest.mark.parametrize("name", TEXT_FILES)
def test_every_corpus_file_reads_to_one_clean_report(name):
    srcs = read_source(CORPUS / name)
    assert len(srcs) == 1  # each corpus file holds one report (the JSONL and CSVs one record each)
    src = srcs[0]
    assert len(src.text) > 8000  # the shortest, the 高阳县 report, has about 8.8k characters
    assert "\r" not in src.text
    assert "<U+" not in src.text
    assert src.suffix_id == ""  # one report per file: its document id is the file's
    if name.endswith(".txt"):
        assert (src.record, src.fields, src.encoding) == (None, {}, "utf-8")
    else:
        assert src.record == 1


@pytest.mark.parametrize("name", [n for n in PLAIN if b"\r" not in (CORPUS / n).read_bytes()])
def test_lf_text_is_returned_exactly_as_stored(name):
    """Nothing is stripped or normalised: citations point at offsets in exactly this text."""
    assert only(CORPUS / name).text == (CORPUS / name).read_bytes().decode("utf-8")


def test_cr_cr_lf_is_one_line_end_not_an_empty_line():
    raw = (CORPUS / "01_national_2015.txt").read_bytes()
    assert raw.count(b"\r\r\n") == 116 and raw.count(b"\r") == 232  # every line ends in CR CR LF
    text = only(CORPUS / "01_national_2015.txt").text
    assert text.count("\n") == 116
    assert "\n\n" not in text  # one paragraph per line, no empty lines between them
    assert text.startswith("\n        \n3月5日")  # the whitespace-only opening lines are kept
    assert text.endswith("更大贡献！\n      ")  # trailing spaces kept, no final newline added


def test_export_tokens_become_the_characters_they_name():
    text = only(CORPUS / "01_national_2015.txt").text
    assert "新华社记者\u00a0庞兴雷\u00a0摄\n" in text
    assert "国务院总理\u00a0李克强\n" in text
    assert "各位代表：\u200d\n" in text
    assert text.count("\u00a0") == 3 and text.count("\u200d") == 1


def test_crlf_files_keep_their_lines_indents_and_trailing_spaces():
    t22 = only(CORPUS / "03_national_2022.txt").text
    assert t22.count("\n") == 95 and t22.startswith("各位代表：\n") and t22.endswith("不懈奋斗！")
    t17 = only(CORPUS / "14_district_hailaer_2017.txt").text
    assert t17.count("\n") == 90
    assert t17.startswith("\u3000—2017年2月11日在海拉尔区第十四届人民代表大会第六次会议上 \n\n")
    lines = t17.split("\n")
    assert sum(ln.startswith("\u3000\u3000") for ln in lines) == 44  # U+3000 indents untouched
    assert sum(ln.endswith(" ") for ln in lines) == 2
    assert t17.endswith("旅游名城而努力奋斗!")


@pytest.mark.parametrize(
    "name, place, lines, end",
    [
        ("09_province_beijing_2026.csv", "北京市", 106, "贡献！\n相关报道："),
        ("10_province_hainan_2026.csv", "海南省", 259, "海南自由贸易港法规制定权。"),
    ],
)
def test_csv_row_gives_the_full_text_and_the_other_columns(name, place, lines, end):
    src = only(CORPUS / name)
    assert src.encoding == "utf-8-sig" and src.record == 1
    assert set(src.fields) == {"province", "year", "title", "source_url", "publish_date"}
    assert src.fields["province"] == place
    assert src.fields["year"] == "2026"
    assert src.fields["title"] == f"2026年{place}政府工作报告"
    assert src.fields["source_url"].startswith("https://")
    assert src.fields["publish_date"].startswith("2026-")
    assert src.text.count("\n") + 1 == lines  # the quoted multi-line field, every line of it
    assert src.text.endswith(end)
    # the field is exactly what the csv module reads (the BOM is not part of the header)
    with open(CORPUS / name, encoding="utf-8-sig", newline="") as f:
        assert src.text == list(csv.DictReader(f))[0]["full_text"]


def test_beijing_csv_keeps_the_portal_chrome_for_the_cleaner():
    assert only(CORPUS / "09_province_beijing_2026.csv").text.startswith("下载\n打印\n全屏\n收藏\n【字号：\n")


def test_jsonl_content_has_real_newlines_and_the_other_keys_are_fields():
    src = only(CORPUS / JSONL)
    assert src.record == 1 and src.encoding == "utf-8"
    assert src.fields["title"] == "2023年中华人民共和国国务院政府工作报告"
    assert src.fields["year"] == "2023"
    assert src.fields["url"].startswith("https://zh.wikisource.org/")
    assert "content" not in src.fields
    assert "\\n" not in src.text and src.text.count("\n") == 268
    assert "国务院总理\u3000\n李克强" in src.text  # the split speaker line, as stored
    assert "\n" * 18 in src.text  # a run of 17 empty lines is kept: nothing is stripped
    assert src.text.endswith("Public domain\nfalse\nfalse")  # the licence block is the cleaner's job
    assert src.text == json.loads((CORPUS / JSONL).read_text(encoding="utf-8"))["content"]


def test_formats_are_sniffed_from_the_bytes_not_the_name(tmp_path):
    """A Word file renamed .txt is still Word; a PDF or a web page is known by its first bytes."""
    docx = (CORPUS / "07_province_guangdong_2025.docx").read_bytes()
    assert sniff(docx, "甲市.txt") == "docx"
    assert sniff(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "甲市.docx") == "pdf"
    assert sniff("\ufeff<!DOCTYPE html><html><body>甲市</body></html>".encode("utf-8"), "甲市.txt") == "html"
    assert sniff(b"<!-- saved -->\n<html lang=zh>", "a.dat") == "html"
    assert sniff("甲市2024年政府工作报告\n各位代表：<b>不是网页</b>".encode(), "甲市.html") == "text"
    assert sniff(b"title,content\n", "甲市.csv") == "csv" and sniff(b"{}", "甲市.jsonl") == "jsonl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.xml", "<x/>")
    assert sniff(buf.getvalue(), "乙县.docx") == "zip"
    with pytest.raises(RagError) as exc:  # a ZIP that is not a Word document says so
        read_bytes(buf.getvalue(), "乙县.docx")
    assert "ZIP archive but not a Word document" in one_line(exc) and "乙县.docx" in one_line(exc)


# --- encodings: real text re-encoded into tmp_path ----------------------------------------------
@pytest.mark.parametrize("name", WAS_GBK)
def test_gbk_originals_read_back_identically(tmp_path, name):
    """Three corpus files were GBK upstream: written back in GBK they read as they do now."""
    path = tmp_path / name
    path.write_bytes((CORPUS / name).read_bytes().decode("utf-8").encode("gbk"))
    src = only(path)
    assert src.encoding == "gb18030"  # GBK is a subset of GB18030
    assert src.text == only(CORPUS / name).text


@pytest.mark.parametrize("name", ["05_national_2024.txt", "11_prefecture_baoding_2021.txt"])
def test_gb18030_reads_characters_gbk_lacks(tmp_path, name):
    """05 has U+2002 EN SPACE and 11 has U+FFFD: GB18030 encodes them, GBK cannot."""
    text = (CORPUS / name).read_bytes().decode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    path = tmp_path / name
    path.write_bytes(text.encode("gb18030"))
    assert (only(path).text, only(path).encoding) == (text, "gb18030")


@pytest.mark.parametrize(
    "encoding, label",
    [
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # with BOM, as Windows Notepad saves "Unicode"
        ("utf-16-le", "utf-16-le"),  # no BOM: found by where its NUL bytes sit
        ("utf-16-be", "utf-16-be"),
        ("utf-32", "utf-32"),
        ("gb18030", "gb18030"),
    ],
)
@pytest.mark.parametrize("name", ["03_national_2022.txt", "14_district_hailaer_2017.txt", "01_national_2015.txt"])
def test_text_in_every_encoding_reads_back_identically(tmp_path, name, encoding, label):
    raw = (CORPUS / name).read_bytes()  # CRLF / CR CR LF line endings and <U+…> tokens included
    path = tmp_path / name
    path.write_bytes(raw.decode("utf-8").encode(encoding))
    src = only(path)
    assert src.encoding == label
    assert src.text == only(CORPUS / name).text


def test_big5_traditional_text_falls_to_charset_normalizer(tmp_path):
    opencc = pytest.importorskip("opencc")
    text = opencc.OpenCC("s2tw").convert((CORPUS / "03_national_2022.txt").read_bytes().decode("utf-8"))
    path = tmp_path / "03_big5.txt"
    path.write_bytes(text.encode("big5"))
    src = only(path)
    assert src.encoding in ("big5", "cp950")
    assert src.text == unify_newlines(text)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16", "utf-8"])
def test_csv_and_jsonl_in_other_encodings(tmp_path, encoding):
    for name in CSVS + [JSONL]:
        path = tmp_path / name
        path.write_bytes((CORPUS / name).read_bytes().decode("utf-8-sig").encode(encoding))
        ref, got = only(CORPUS / name), only(path)
        assert (got.text, got.fields, got.record) == (ref.text, ref.fields, ref.record)
        assert got.encoding == encoding


@pytest.mark.parametrize("encoding, cut", [("utf-8", 2), ("gb18030", 1)])
def test_text_cut_mid_character_is_read_with_the_damage_marked(tmp_path, encoding, cut):
    """A download cut inside the last character ("）", 3 bytes in UTF-8, 2 in GBK) loses that
    character only; charset-normalizer alone calls both files undecodable."""
    text = (CORPUS / "02_national_2020.txt").read_bytes().decode("utf-8")
    assert text.endswith("）")
    path = tmp_path / "cut.txt"
    path.write_bytes(text.encode(encoding)[:-cut])
    src = only(path)
    assert (src.encoding, src.text) == (encoding, text[:-1] + "\ufffd")


def test_a_stray_byte_in_gbk_text_is_one_replacement_character(tmp_path):
    name = "14_district_hailaer_2017.txt"
    raw = (CORPUS / name).read_bytes().decode("utf-8").encode("gbk")
    at = raw.index("海拉尔".encode("gbk"), 1000)
    path = tmp_path / name
    path.write_bytes(raw[:at] + b"\xff" + raw[at:])  # 0xFF is never valid in GB18030
    src = only(path)
    before = unify_newlines(raw[:at].decode("gbk"))
    assert src.encoding == "gb18030"
    assert src.text == before + "\ufffd" + only(CORPUS / name).text[len(before) :]


# --- records: CSV dialects, JSON forms ----------------------------------------------------------
def report(name: str, n: int = 0) -> str:
    """A slice of a real report (LF-only files) to put into records."""
    return (CORPUS / name).read_bytes().decode("utf-8")[n * 3000 : (n + 1) * 3000]


def test_csv_with_several_rows_in_another_dialect(tmp_path):
    rows = [
        ["地区", "年份", "正文"],
        ["甲市", "2024", report("05_national_2024.txt")],
        ["乙县", "2025", ""],  # no text: no report
        ["丙镇", "2026", '他说"好"，' + report("13_county_gaoyang_2018.txt")],
    ]
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    path = tmp_path / "乙县.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    srcs = read_source(path)
    assert [(s.record, s.suffix_id, s.fields) for s in srcs] == [
        (1, "r1", {"地区": "甲市", "年份": "2024"}),
        (3, "r3", {"地区": "丙镇", "年份": "2026"}),
    ]
    assert srcs[0].text == rows[1][2] and srcs[1].text == rows[3][2]  # doubled quotes undone


def test_tab_separated_and_headerless_csv(tmp_path):
    body = report("06_province_hebei_2019.txt")
    path = tmp_path / "tab.csv"
    path.write_text(f"title\tyear\ttext\n甲市报告\t2019\t{body.replace(chr(10), ' ')}\n", encoding="utf-8")
    assert only(path).fields == {"title": "甲市报告", "year": "2019"}
    path.write_text(f'甲市,2019,"{body}"\n', encoding="utf-8")
    src = only(path)
    assert src.text == body and src.fields == {"column1": "甲市", "column2": "2019"}


def test_jsonl_with_several_records(tmp_path):
    lines = [
        json.dumps(
            {"title": "甲市", "year": 2024, "draft": False, "tags": ["a"], "text": report("05_national_2024.txt")}
        ),
        "",
        json.dumps({"title": "乙县", "year": 2025, "text": ""}),
        json.dumps({"title": "丙镇", "year": None, "text": report("11_prefecture_baoding_2021.txt")}),
    ]
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    srcs = read_source(path)
    assert [(s.record, s.suffix_id, s.fields) for s in srcs] == [
        (1, "r1", {"title": "甲市", "year": "2024", "draft": "false"}),  # lists are not fields
        (4, "r4", {"title": "丙镇"}),  # null is left out
    ]


def test_json_list_single_object_and_wrapped_list(tmp_path):
    a, b = report("05_national_2024.txt", 1), report("06_province_hebei_2019.txt", 1)
    path = tmp_path / "reports.json"
    path.write_text(
        json.dumps([{"name": "甲市", "body": a}, {"name": "乙县", "body": b}], ensure_ascii=False, indent=2)
    )
    assert [(s.record, s.suffix_id, s.text) for s in read_source(path)] == [(1, "r1", a), (2, "r2", b)]
    path.write_text(json.dumps({"name": "甲市", "body": a.replace("\n", "\r\n")}))
    [src] = read_source(path)
    assert (src.record, src.suffix_id, src.text, src.fields) == (1, "", a, {"name": "甲市"})
    path.write_text(json.dumps({"source": "甲市档案馆", "data": [{"body": a}, {"body": b}]}))
    assert [s.text for s in read_source(path)] == [a, b]


def test_jsonl_named_json_and_json_named_jsonl(tmp_path):
    (tmp_path / "x.json").write_bytes((CORPUS / JSONL).read_bytes() * 2)  # two JSON Lines records
    assert [s.record for s in read_source(tmp_path / "x.json")] == [1, 2]
    (tmp_path / "y.jsonl").write_text(json.dumps({"content": report("02_national_2020.txt")}, indent=2))
    assert len(read_source(tmp_path / "y.jsonl")) == 1


def test_read_bytes_uses_the_name_for_the_format():
    raw = (CORPUS / CSVS[0]).read_bytes()
    assert read_bytes(raw, "甲市.csv")[0].fields["province"] == "北京市"
    [as_text] = read_bytes(raw, "甲市.txt")  # the same bytes as a plain text file: one text, BOM dropped
    assert as_text.text.startswith("province,year,title") and as_text.record is None


# --- empty and bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, raw",
    [
        ("empty.txt", b""),
        ("blank.txt", b" \r\n\r\n\t"),
        ("bom.txt", b"\xef\xbb\xbf"),
        ("bom.json", b"\xef\xbb\xbf\r\n"),
        ("utf16-bom.csv", b"\xff\xfe"),
        ("empty.csv", b""),
        ("header-only.csv", "\ufeffprovince,year,full_text\r\n".encode()),
        ("blank.jsonl", b"\n\n"),
        ("empty-list.json", b"[]"),
    ],
)
def test_empty_input_gives_no_reports(name, raw):
    assert read_bytes(raw, name) == []


def test_binary_bytes_are_refused():
    with pytest.raises(RagError) as exc:
        read_bytes(bytes(range(256)) * 16, "甲市.txt")
    assert one_line(exc) == "甲市.txt is not a text file (it contains NUL bytes)"
    with pytest.raises(RagError) as exc:  # read as a PDF (the bytes say so), which it is not
        read_bytes(b"%PDF-1.7\n" + bytes(range(1, 256)) * 4, "乙县.pdf.txt")
    assert "PDF" in one_line(exc) and "乙县.pdf.txt" in one_line(exc)
    with pytest.raises(RagError) as exc:
        read_bytes(bytes(range(1, 32)) * 50, "丙镇.txt")
    assert "control characters" in one_line(exc)


def test_csv_without_a_long_text_column_is_refused(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text(
        "title,year,url\n甲市政府工作报告,2024,https://甲市.gov.cn/1\n乙县政府工作报告,2025,https://乙县.gov.cn/2\n",
        encoding="utf-8",
    )
    with pytest.raises(RagError) as exc:
        read_source(path)
    msg = one_line(exc)
    assert msg.startswith("index.csv: no column holds report text") and "'url'" in msg and "200" in msg


def test_malformed_csv_names_the_line(tmp_path):
    body = report("05_national_2024.txt").replace("\n", " ")
    path = tmp_path / "bad.csv"
    path.write_text(f"title,text\n甲市,{body}\n乙县,{body},extra\n", encoding="utf-8")
    with pytest.raises(RagError) as exc:
        read_source(path)
    assert one_line(exc) == "bad.csv: malformed CSV at line 3: the row has 3 fields, the header has 2"
    path.write_text(f'title,text\n甲市,"{body}"\n乙县,"{body}\n', encoding="utf-8")  # quote never closed
    with pytest.raises(RagError) as exc:
        read_source(path)
    assert one_line(exc).startswith("bad.csv: malformed CSV at line 3")


def test_broken_json_line_is_named(tmp_path):
    good = (CORPUS / JSONL).read_text(encoding="utf-8")
    path = tmp_path / "broken.jsonl"
    path.write_text(good + '{"title": "甲市", "content": "各位代表\n', encoding="utf-8")
    with pytest.raises(RagError) as exc:
        read_source(path)
    msg = one_line(exc)
    assert msg.startswith("broken.jsonl: line 2 is not valid JSON (")
    path.write_text(good + '["甲市", "乙县"]\n', encoding="utf-8")
    with pytest.raises(RagError) as exc:
        read_source(path)
    assert one_line(exc) == "broken.jsonl: line 2 is a JSON list, not an object with a report field"


def test_json_without_report_text_and_broken_json(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"title": "甲市政府工作报告", "year": 2024}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(RagError) as exc:
        read_source(path)
    assert one_line(exc).startswith("meta.json: no string field holds report text (the longest, 'title'")
    path.write_text('{"title": "甲市",\n "content": }', encoding="utf-8")
    with pytest.raises(RagError) as exc:
        read_source(path)
    assert one_line(exc).startswith("meta.json is not valid JSON (Expecting value at line 2")


def test_unreadable_path(tmp_path):
    with pytest.raises(RagError) as exc:
        read_source(tmp_path / "甲市.txt")
    assert one_line(exc).startswith("cannot read ")


# --- which files ----------------------------------------------------------------------------------
def test_find_sources(tmp_path):
    for name in TEXT_FILES[:3] + ["07_province_guangdong_2025.docx"]:
        shutil.copy(CORPUS / name, tmp_path / name)
    (tmp_path / "._01_national_2015.txt").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata file
    (tmp_path / "甲市.MD").write_text("# 甲市", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    found = find_sources([tmp_path])
    assert [p.name for p in found] == TEXT_FILES[:3] + ["07_province_guangdong_2025.docx", "甲市.MD"]
    assert all(p.suffix.lower() in SUFFIXES for p in found)
    odd = tmp_path / "甲市.rtf"
    odd.write_bytes(b"{\\rtf1 x}")
    assert odd not in find_sources([tmp_path])
    assert find_sources([odd]) == [odd]  # named explicitly: kept, and reading it says why it fails
    assert [p.name for p in find_sources([CORPUS])] == sorted(p.name for p in CORPUS.iterdir())
    with pytest.raises(RagError) as exc:
        find_sources([tmp_path / "乙县"])
    assert one_line(exc).startswith("no such file or directory: ")
