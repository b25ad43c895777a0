"""Metadata that is right or says unknown: level, place, report year and reviewed year for every
corpus report, and the rules on small made-up texts (labels trusted least, never a random word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunk.metadata import derive, level_of, parse_date
from rag.ingest import load_file
from rag.settings import Settings

REPORTS = Path(__file__).resolve().parent.parent / "eval" / "corpus" / "reports"

CORPUS = [
    ("01_national_2015.txt", "全国", "national", 2015, 2014, "2015-03-05"),
    ("02_national_2020.txt", "全国", "national", 2020, 2019, "2020-05-22"),
    ("03_national_2022.txt", "全国", "national", 2022, 2021, ""),
    ("04_national_2023.jsonl", "全国", "national", 2023, 2022, "2023-03-05"),
    ("05_national_2024.txt", "全国", "national", 2024, 2023, "2024-03-05"),
    ("06_province_hebei_2019.txt", "河北省", "province", 2019, 2018, "2019-01-14"),
    ("09_province_beijing_2026.csv", "北京市", "province", 2026, 2025, "2026-01-25"),
    ("10_province_hainan_2026.csv", "海南省", "province", 2026, 2025, "2026-01-27"),
    ("11_prefecture_baoding_2021.txt", "保定市", "prefecture", 2021, 2020, "2021-01-31"),
    ("12_prefecture_baoding_2026.txt", "保定市", "prefecture", 2026, 2025, ""),
    ("13_county_gaoyang_2018.txt", "高阳县", "county", 2018, 2017, "2018-01-31"),
    ("14_district_hailaer_2017.txt", "海拉尔区", "district", 2017, 2016, "2017-02-11"),
]


@pytest.fixture(scope="module")
def corpus_docs():
    return {name: load_file(REPORTS / name, Settings())[0] for name, *_ in CORPUS}


@pytest.mark.parametrize("name, place, level, year, reviews, date", CORPUS, ids=[c[0] for c in CORPUS])
def test_every_corpus_report(corpus_docs, name, place, level, year, reviews, date) -> None:
    m = corpus_docs[name].meta
    assert (m.place, m.level, m.year, m.reviews, m.date) == (place, level, year, reviews, date), m
    assert m.kind.startswith("政府工作报告"), m.kind
    assert all(c.place == place for c in corpus_docs[name].chunks)


def test_label_year_loses_to_the_dateline(corpus_docs) -> None:
    m = corpus_docs["06_province_hebei_2019.txt"].meta
    assert m.year == 2019 and m.label_year == 2018, "the scraper header says 2018, the report was given in 2019"
    assert m.speaker.endswith("许勤") and "第十三届人民代表大会" in m.meeting


def test_excerpt_is_marked_as_such(corpus_docs) -> None:
    assert corpus_docs["12_prefecture_baoding_2026.txt"].meta.kind == "政府工作报告（摘要）"


def test_speaker_split_over_two_lines(corpus_docs) -> None:
    assert corpus_docs["04_national_2023.jsonl"].meta.speaker.replace(" ", "") == "国务院总理李克强"


# --- the rules on made-up texts ---------------------------------------------------------------------
BODY = "一、2023年工作回顾\n全市地区生产总值增长5%，城镇新增就业1.2万人。\n二、2024年工作安排\n全市地区生产总值增长6%左右。"


def test_dateline_meeting_and_speaker() -> None:
    m = derive(BODY, ["——2024年1月20日在甲市第五届人民代表大会第三次会议上", "甲市人民政府市长 张三"])
    assert (m.place, m.level, m.year, m.reviews, m.date) == ("甲市", "prefecture", 2024, 2023, "2024-01-20")
    assert m.meeting == "甲市第五届人民代表大会第三次会议" and m.speaker == "甲市人民政府市长 张三"


def test_chinese_numeral_date() -> None:
    assert parse_date("二〇一九年一月十四日在乙县第十届人民代表大会第二次会议上") == "2019-01-14"


def test_national_report_from_the_meeting_or_the_opening() -> None:
    m = derive("各位代表：\n现在，我代表国务院，向大会报告政府工作。\n" + BODY)
    assert (m.place, m.level, m.year) == ("全国", "national", 2024)
    m = derive(BODY, ["——2024年3月5日在第十四届全国人民代表大会第二次会议上"])
    assert (m.place, m.level) == ("全国", "national")


@pytest.mark.parametrize(
    "opening, place, level",
    [
        ("我代表乙县人民政府向大会报告工作", "乙县", "county"),
        ("我代表丙区人民政府向大会报告工作", "丙区", "district"),
        ("我代表丁省人民政府向大会报告工作", "丁省", "province"),
        ("我代表戊自治区人民政府向大会报告工作", "戊自治区", "province"),
    ],
)
def test_level_from_the_opening(opening: str, place: str, level: str) -> None:
    m = derive(f"各位代表：\n现在，{opening}，请予审议。\n" + BODY)
    assert (m.place, m.level) == (place, level)


def test_no_year_from_a_label_when_the_text_has_one() -> None:
    m = derive(BODY, labels=["2018年甲市政府工作报告"])
    assert m.year == 2024 and m.label_year == 2018


def test_label_only_when_the_text_says_nothing() -> None:
    m = derive("各位代表：\n全市地区生产总值增长6%左右。", labels=["2021年甲市政府工作报告"])
    assert m.year == 2021 and m.place == "甲市"


def test_unknown_stays_unknown() -> None:
    m = derive("经济运行稳中向好，产业结构持续优化，民生福祉不断增进。")
    assert (m.place, m.level, m.year) == ("", "", None)


@pytest.mark.parametrize(
    "place, level",
    [
        ("全国", "national"),
        ("北京市", "province"),
        ("宁夏回族自治区", "province"),
        ("甲省", "province"),
        ("乙市", "prefecture"),
        ("丙县", "county"),
        ("丁旗", "county"),
        ("戊区", "district"),
        ("", ""),
    ],
)
def test_level_of(place: str, level: str) -> None:
    assert level_of(place) == level
