"""Headline indicators (rag/indicators): extraction from made-up reports (targets in the plan,
results in the review, nothing from five-year paragraphs, averages or sub-regions), target against
result, the stored table kept up to date with the library, and scoring against a gold table."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.indicators.compare import pair_rows, verdict
from rag.indicators.extract import extract
from rag.indicators.score import score, value_key
from rag.ingest import ingest_paths, load_file
from rag.search.store import ChunkStore, write_store
from rag.settings import Settings

REPORT_2025 = """甲省2025年政府工作报告
——2025年1月15日在甲省第十四届人民代表大会第三次会议上
各位代表：
一、2024年工作回顾
过去一年，全省地区生产总值5503亿元、增长5.4%。地方一般公共预算收入增长2.8%。城镇新增就业8.2万人，城镇调查失业率5.1%，居民消费价格下降0.3%。乙市地区生产总值增长9.1%，领跑全省。
五年来，全省地区生产总值年均增长6.2%，一般公共预算收入从400亿元增加到517亿元。
二、2025年工作安排
今年经济社会发展的主要预期目标是：地区生产总值增长5.5%左右；城镇新增就业8万人以上，城镇调查失业率5.5%左右；居民消费价格涨幅2%左右；居民人均可支配收入增长与经济增长同步；粮食产量稳定在75亿斤以上。
“十五五”时期，全省地区生产总值年均增长5%以上。
"""

REPORT_2026 = """甲省2026年政府工作报告
——2026年1月20日在甲省第十四届人民代表大会第四次会议上
各位代表：
一、2025年工作回顾
这一年，全省地区生产总值增长5.6%，城镇新增就业8.5万人，城镇调查失业率5.6%，居民消费价格持平，粮食产量74亿斤。
二、2026年工作安排
今年主要预期目标是：地区生产总值增长5%左右，城镇新增就业8万人以上。
"""


def _rows(tmp_path: Path, name: str, text: str) -> list:
    (tmp_path / name).write_text(text, encoding="utf-8")
    (doc,) = load_file(tmp_path / name, Settings())
    return extract(doc.chunks, "province")


def test_targets_come_from_the_plan_and_results_from_the_review(tmp_path: Path) -> None:
    rows = {(r.indicator, r.kind): r for r in _rows(tmp_path, "甲省_2025.txt", REPORT_2025)}
    got = {k: (r.value, r.period) for k, r in rows.items()}
    assert got[("gdp_growth", "target")] == ("5.5%左右", 2025)
    assert got[("gdp_growth", "result")] == ("5.4%", 2024), "the province's figure, not 乙市's 9.1%"
    assert got[("gdp_total", "result")] == ("5503亿元", 2024)
    assert got[("budget_revenue_growth", "result")] == ("2.8%", 2024)
    assert got[("urban_jobs", "target")] == ("8万人以上", 2025)
    assert got[("urban_jobs", "result")] == ("8.2万人", 2024)
    assert got[("unemployment_rate", "target")] == ("5.5%左右", 2025)
    assert got[("cpi", "result")] == ("下降0.3%", 2024), "a decline stays a decline"
    assert got[("cpi", "target")] == ("2%左右", 2025)
    assert got[("income_growth", "target")] == ("与经济增长同步", 2025), "a target in words is kept as words"
    assert got[("grain_output", "target")] == ("75亿斤以上", 2025)
    # a five-year average and a five-year plan's target are no year's figure; the level a
    # five-year review ends at is the last year's
    assert ("budget_revenue", "result") in got and got[("budget_revenue", "result")] == ("517亿元", 2024)
    assert all("年均" not in r.citation["quote"] or r.indicator == "budget_revenue" for r in rows.values())
    # every row cites the sentence it is read from, in the report's words and at its offsets
    for r in rows.values():
        assert r.value.replace("持平", "") in r.citation["quote"] or r.value in r.citation["quote"]
        assert r.citation["doc"] == "甲省_2025" and r.citation["start"] < r.citation["end"]
        assert REPORT_2025[r.citation["start"] : r.citation["end"]] == r.citation["quote"]


def test_nothing_is_guessed(tmp_path: Path) -> None:
    rows = _rows(tmp_path, "甲省_2025.txt", REPORT_2025)
    kinds = {(r.indicator, r.kind) for r in rows}
    assert ("retail_growth", "target") not in kinds and ("trade_growth", "result") not in kinds
    assert ("income_growth", "result") not in kinds


def test_a_target_meets_the_next_reports_result(tmp_path: Path) -> None:
    rows = [
        r.to_dict()
        for r in _rows(tmp_path, "甲省_2025.txt", REPORT_2025) + _rows(tmp_path, "甲省_2026.txt", REPORT_2026)
    ]
    pairs = {p["indicator"]: p for p in pair_rows(rows) if p["period"] == 2025}
    assert pairs["gdp_growth"]["target"] == "5.5%左右" and pairs["gdp_growth"]["result"] == "5.6%"
    assert pairs["gdp_growth"]["verdict"] == "above"
    assert pairs["urban_jobs"]["verdict"] == "met"
    assert pairs["unemployment_rate"]["verdict"] == "above", "an unemployment target is a ceiling"
    assert pairs["grain_output"]["verdict"] == "below"
    assert pairs["income_growth"]["verdict"] == "not comparable" if "income_growth" in pairs else True
    assert pairs["gdp_growth"]["target_doc"] == "甲省_2025" and pairs["gdp_growth"]["result_doc"] == "甲省_2026"


@pytest.mark.parametrize(
    "target,result,indicator,expected",
    [
        ("5%左右", "5%", "gdp_growth", "met"),
        ("5%左右", "3.9%", "gdp_growth", "below"),
        ("4.5%—5%", "4.8%", "gdp_growth", "met"),
        ("1100万人以上", "1256万人", "urban_jobs", "met"),
        ("1100万人以上", "1000万人", "urban_jobs", "below"),
        ("5.5%左右", "5.2%", "unemployment_rate", "met"),
        ("3%以内", "3.5%", "cpi", "above"),
        ("与经济增长同步", "4.3%", "income_growth", "not comparable"),
        ("5%左右", "110万人", "gdp_growth", "not comparable"),
    ],
)
def test_verdict(target, result, indicator, expected):
    assert verdict(target, result, indicator) == expected


def test_value_keys_keep_numbers_qualifiers_and_direction():
    assert value_key("5.5%左右") == value_key("5.5% 左右")
    assert value_key("5.5%左右") != value_key("5.5%以上")
    assert value_key("下降0.3%") != value_key("0.3%")
    assert value_key("与经济增长同步") == value_key("与经济增长同步")


def test_scoring_counts_correct_wrong_invented_and_missed(tmp_path: Path):
    rows = [r.to_dict() for r in _rows(tmp_path, "甲省_2025.txt", REPORT_2025)]
    gold = [
        {
            "doc": "甲省_2025",
            "indicator": "gdp_growth",
            "kind": "target",
            "period": 2025,
            "value": "5.5%左右",
            "evidence": "地区生产总值增长5.5%左右",
        },
        {
            "doc": "甲省_2025",
            "indicator": "urban_jobs",
            "kind": "result",
            "period": 2024,
            "value": "8.3万人",
            "evidence": "城镇新增就业8.2万人",
        },
        {
            "doc": "甲省_2025",
            "indicator": "retail_growth",
            "kind": "target",
            "period": 2025,
            "value": "6%",
            "evidence": "社会消费品零售总额增长6%",
        },
    ]
    res = score(rows, gold, {"甲省_2025": "甲省"}, {"甲省_2025": 2025})
    outcomes = {(f["indicator"], f["outcome"]) for f in res["failures"]}
    assert ("urban_jobs", "wrong") in outcomes and ("retail_growth", "missed") in outcomes
    assert ("cpi", "invented") in outcomes
    assert res["overall"]["correct"] == 1 and res["overall"]["recall"] == round(1 / 3, 4)


def test_the_table_follows_the_library(tmp_path: Path, monkeypatch):
    """Rows are written with their report, replaced when it changes, gone when it goes; a report
    that did not change is not read again."""
    import rag.indicators.extract as ex

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "甲省_2025.txt").write_text(REPORT_2025, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=reports)
    calls: list[str] = []
    real = ex.extract

    def counting(chunks, level=""):
        chunks = list(chunks)
        calls.append(chunks[0].doc if chunks else "")
        return real(chunks, level)

    monkeypatch.setattr(ex, "extract", counting)

    def write() -> list[dict]:
        write_store(ingest_paths([reports], settings, progress=False), settings)
        return ChunkStore(settings.index_dir).indicators()

    rows = write()
    assert {r["doc"] for r in rows} == {"甲省_2025"} and calls == ["甲省_2025"]
    (reports / "甲省_2026.txt").write_text(REPORT_2026, encoding="utf-8")
    rows = write()
    assert {r["doc"] for r in rows} == {"甲省_2025", "甲省_2026"}
    assert calls == ["甲省_2025", "甲省_2026"], "the unchanged report is not extracted again"
    (reports / "甲省_2025.txt").unlink()
    rows = write()
    assert {r["doc"] for r in rows} == {"甲省_2026"}


def test_cli_indicators(tmp_path: Path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from rag.cli.main import app

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "甲省_2025.txt").write_text(REPORT_2025, encoding="utf-8")
    (reports / "甲省_2026.txt").write_text(REPORT_2026, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=reports)
    write_store(ingest_paths([reports], settings, progress=False), settings)
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(reports))
    runner = CliRunner()
    res = runner.invoke(app, ["indicators", "--json", "--year", "2026", "--indicator", "gdp_growth"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {(r["kind"], r["value"]) for r in rows} == {("target", "5%左右"), ("result", "5.6%")}
    assert all(r["citation"]["quote"] for r in rows)
    res = runner.invoke(app, ["indicators", "--compare", "--json", "--indicator", "gdp_growth"])
    (pair,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert (pair["target"], pair["result"], pair["verdict"]) == ("5.5%左右", "5.6%", "above")
    res = runner.invoke(app, ["indicators", "--csv", "--doc", "甲省_2025"])
    assert res.exit_code == 0, res.output
    assert res.stdout.lstrip("\ufeff").startswith("doc,place,level,year,indicator")
    for bad in (["--indicator", "gdp"], ["--place", "乙省"], ["--year", "20x5"], ["--json", "--csv"]):
        res = runner.invoke(app, ["indicators", *bad])
        assert res.exit_code == 1 and res.output.count("\n") <= 1 and "Traceback" not in res.output, (bad, res.output)


def test_the_corpus_table_against_its_gold(corpus_index):
    """The development corpus's table scored against the gold table read by hand (a regression gate;
    the rules are written to hold for reports they have never seen)."""
    from rag.indicators.score import load_gold
    from rag.indicators.table import library_rows

    store = ChunkStore(corpus_index.index_dir)
    reports = store.reports()
    gold = load_gold(Path(__file__).resolve().parent.parent / "eval" / "indicators-gold.jsonl")
    assert len({g["doc"] for g in gold}) >= 10
    res = score(library_rows(store), gold, {r[0]: r[1] for r in reports}, {r[0]: r[3] for r in reports})
    overall = res["overall"]
    assert overall["precision"] >= 0.95 and overall["recall"] >= 0.85, res["failures"]
    assert overall["invented_share"] <= 0.02
    assert res["pairs"]["found"] >= 0.8 * res["pairs"]["gold"]
