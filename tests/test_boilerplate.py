"""Non-content recognition: every kind of page furniture on a small made-up text and on the real
corpus files, and report text (headings, short list items inside the report) left alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.read.boilerplate import classify, strong_kind
from rag.read.formats import read_source

REPORTS = Path(__file__).resolve().parent.parent / "eval" / "corpus" / "reports"


@dataclass
class L:
    text: str


def kinds(text: str) -> dict[str, str | None]:
    lines = [t.strip() for t in text.splitlines() if t.strip()]
    return dict(zip(lines, classify([L(t) for t in lines])))


BODY = "全年地区生产总值增长5.2%，一般公共预算收入增长6%，城镇新增就业1.2万人。"


@pytest.mark.parametrize(
    "line, kind",
    [
        ("标题：2024年甲市政府工作报告", "header"),
        ("来源URL：http://www.example.gov.cn/a/b.html", "header"),
        ("发文时间：未知", "header"),
        ("正文：", "header"),
        ("来源：甲市日报", "source"),
        ("(来源：甲市人民政府网）", "source"),
        ("甲ICP备05019637号-2", "footer"),
        ("网站标识码：1306000007", "footer"),
        ("版权所有：甲市人民政府", "footer"),
        ("（责任编辑：张三）", "footer"),
        ("添加时间 2026/2/12 15:20:47  浏览次数 4034 次", "footer"),
        ("当前位置：首页>>政务公开>>政府工作报告", "breadcrumb"),
        ("【字号：", "chrome"),
        ("打印", "chrome"),
        ("您访问的链接即将离开“甲市人民政府”门户网站", "chrome"),
        ("相关报道：", "related"),
        ("友情链接：", "related"),
        ("张三作政府工作报告。本报记者 李四摄", "caption"),
        ("Public domain", "licence"),
        ("本作品在中国大陆属于公有领域。", "licence"),
    ],
)
def test_each_kind_of_furniture_by_its_own_line(line: str, kind: str) -> None:
    assert strong_kind(line) == kind


@pytest.mark.parametrize(
    "line",
    [
        BODY,
        "一、2024年工作回顾",
        "（三）扎实推进乡村振兴",
        "各位代表：",
        "政府工作报告",
        "——2024年1月20日在甲市第五届人民代表大会第三次会议上",
        "甲市人民政府市长 张三",
        "来源于群众、服务于群众，是我们工作的出发点。" * 2,
    ],
)
def test_report_lines_are_not_furniture(line: str) -> None:
    assert strong_kind(line) is None


def test_portal_chrome_header_and_caption_before_the_title() -> None:
    text = "\n".join(
        [
            "下载",
            "打印",
            "全屏",
            "收藏",
            "【字号：",
            "加大",
            "还原",
            "减小",
            "】",
            "2024年甲市政府工作报告",
            "——2024年1月20日在甲市第五届人民代表大会第三次会议上",
            "来源：甲市日报",
            "时间：2024-01-22",
            "甲市市长 张三",
            "张三作政府工作报告。本报记者 李四摄",
            "各位代表：",
            BODY,
        ]
    )
    got = kinds(text)
    assert [k for k in got.values()][:9] == ["chrome"] * 9
    assert got["2024年甲市政府工作报告"] is None, "the title is not furniture"
    assert got["甲市市长 张三"] is None and got["各位代表："] is None and got[BODY] is None
    assert got["来源：甲市日报"] == "source" and got["时间：2024-01-22"] == "header"
    assert got["张三作政府工作报告。本报记者 李四摄"] == "caption"


def test_navigation_list_and_footer_between_two_copies() -> None:
    nav = ["乙县", "丙县", "丁县", "戊县", "己县", "庚县"]
    text = "\n".join(
        [
            BODY,
            "来源：甲市新闻网",
            *nav,
            "网站地图",
            "甲ICP备06016263号-1",
            "甲市人民政府微信",
            "甲市人民政府微博",
            "当前位置：",
            "首页",
            ">>",
            "政府工作报告",
            BODY,
        ]
    )
    got = kinds(text)
    assert all(got[x] == "nav" for x in nav), got
    assert got["甲市人民政府微信"] and got["甲市人民政府微博"], "short lines caught between furniture"
    assert got["首页"] and got[">>"] and got["政府工作报告"], "the breadcrumb trail"
    assert got[BODY] is None


def test_link_list_after_an_opener_runs_until_the_next_sentence() -> None:
    text = "\n".join(["友情链接：", "国家科技部", "省科技厅", "甲市科技局", BODY])
    got = kinds(text)
    assert [got[x] for x in ("国家科技部", "省科技厅", "甲市科技局")] == ["related"] * 3
    assert got[BODY] is None


def test_licence_block_runs_through_its_link_fragments_to_the_end() -> None:
    text = "\n".join(
        [BODY, "本作品是中华人民共和国的", "法律", "、", "法规", "，国家机关的决议、决定。", "Public domain", "false"]
    )
    got = kinds(text)
    assert got[BODY] is None
    assert all(got[x] == "licence" for x in ("法律", "、", "法规", "，国家机关的决议、决定。", "false"))


def test_headings_in_a_row_are_not_a_list() -> None:
    heads = [
        "一、2023年工作回顾",
        "（一）经济运行稳中向好",
        "（二）产业转型步伐加快",
        "（三）改革开放持续深化",
        "（四）民生福祉不断增进",
        "（五）生态环境持续改善",
    ]
    got = kinds("\n".join(heads))
    assert not any(got.values()), got


# --- the real files --------------------------------------------------------------------------------
def _noise(name: str) -> dict[str, str | None]:
    return kinds(read_source(REPORTS / name)[0].text)


def test_hebei_scraper_header_navigation_and_footers_are_furniture() -> None:
    got = _noise("06_province_hebei_2019.txt")
    for line in (
        "标题：2018年河北省政府工作报告",
        "正文：",
        "来源：河北新闻网",
        "石家庄市",
        "省教育厅",
        "冀ICP备06016263号-1",
        "网站标识码：1300000013",
        "放弃",
        "许勤作政府工作报告。记者孟宇光摄",
    ):
        assert got[line], line
    assert got["各位代表："] is None and got["一、2018年工作回顾"] is None
    assert got["二〇一九年一月十四日在河北省第十三届人民代表大会第二次会议上"] is None


def test_beijing_portal_chrome_and_dangling_related_reports() -> None:
    got = _noise("09_province_beijing_2026.csv")
    for line in ("下载", "【字号：", "减小", "】", "来源：北京日报", "相关报道："):
        assert got[line], line
    assert got["2026年北京市政府工作报告"] is None and got["北京市市长 殷勇"] is None


def test_excerpt_page_chrome_links_and_visitor_counter() -> None:
    got = _noise("12_prefecture_baoding_2026.txt")
    for line in ("友情链接：", "河北大学", "网站地图", "冀ICP备05019637号-2", "冀公网安备 13060602001065号"):
        assert got[line], line
    assert got["“十四五”时期经济社会发展回顾"] is None


def test_wikisource_licence_and_xinhua_caption() -> None:
    got = _noise("04_national_2023.jsonl")
    assert got["Public domain"] == "licence" and got["公有领域"] == "licence"
    assert sum(1 for k in got.values() if k) <= 20, "only the licence block"
    got = _noise("01_national_2015.txt")
    assert [k for k in got.values() if k] == ["caption"]


@pytest.mark.parametrize(
    "name",
    ["03_national_2022.txt", "05_national_2024.txt", "10_province_hainan_2026.csv", "14_district_hailaer_2017.txt"],
)
def test_clean_reports_have_no_furniture(name: str) -> None:
    assert not any(_noise(name).values())
