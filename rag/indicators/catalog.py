"""The headline indicators of a work report: their canonical ids, how reports name them and what
kind of figure each takes.

A name pattern matches the indicator itself and not its neighbours (「城镇居民人均可支配收入」 is not
the whole population's income, 「工业投资」 not 固定资产投资, 「规上工业增加值占…比重」 not its growth).
Ids are stable: tables, gold files and API clients name indicators by them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bump when the catalog or the extraction rules change: stored rows of an older version are recomputed.
EXTRACTOR_VERSION = 1


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str  # what a table heads the column with
    name: re.Pattern  # how reports name it, up to where its figure may follow
    measure: str  # "rate" (a growth or a share, in %), "amount" (亿元, 万吨 …), "level" (a rate it stands at)
    units: tuple[str, ...] = ()  # units an amount may take (元 stands for 亿元, 万亿元 too)
    words: tuple[str, ...] = ()  # targets a report may state in words only (「与经济增长同步」)


_NOT_PART = r"(?<!城镇)(?<!农村)(?<!乡村)(?<!城乡)"  # a sub-population's figure is not the whole's

CATALOG: tuple[Indicator, ...] = (
    Indicator(
        "gdp_growth",
        "GDP growth",
        re.compile(
            r"(?:地区|国内)?生产总值(?:比上年|同比)?|GDP(?:比上年|同比)?|"
            r"经济(?=增长\s*\d|增速\s*\d)"
        ),
        "rate",
    ),
    Indicator(
        "gdp_total",
        "GDP",
        re.compile(r"(?:地区|国内)生产总值|经济总量|生产总值(?=达到|突破|超过|迈上|跃上|增加到|提高到)"),
        "amount",
        ("元",),
    ),
    Indicator(
        "budget_revenue_growth",
        "budget revenue growth",
        re.compile(r"(?:地方)?一般公共(?:财政)?预算收入(?:按可比口径|同口径|比上年|同比)?"),
        "rate",
    ),
    Indicator("budget_revenue", "budget revenue", re.compile(r"(?:地方)?一般公共(?:财政)?预算收入"), "amount", ("元",)),
    Indicator(
        "urban_jobs", "new urban jobs", re.compile(r"城镇新增就业(?:人数)?|新增城镇就业(?:人数)?"), "amount", ("人",)
    ),
    Indicator(
        "unemployment_rate", "surveyed unemployment", re.compile(r"(?:年末)?城镇调查失业率(?:平均值|平均)?"), "level"
    ),
    Indicator(
        "cpi",
        "CPI",
        re.compile(r"居民消费价格(?:指数|总水平)?(?:涨幅|上涨|增长|增幅|同比)?|CPI"),
        "rate",
        words=("持平",),
    ),
    Indicator(
        "income_growth",
        "income growth",
        re.compile(_NOT_PART + r"居民(?:人均可支配)?收入(?:实际)?"),
        "rate",
        words=("与经济增长同步", "和经济增长同步", "同经济增长同步", "与经济增长基本同步", "和经济增长基本同步"),
    ),
    Indicator(
        "grain_output",
        "grain output",
        re.compile(r"粮食(?:总产量|产量|总产|播种面积和产量|播种面积[^，,；;。]{0,16}?、产量)"),
        "amount",
        ("斤", "吨", "公斤"),
    ),
    Indicator(
        "energy_intensity",
        "energy intensity",
        re.compile(r"单位(?:地区|国内)?(?:生产总值|GDP)能耗|能耗强度"),
        "rate",
        words=("继续下降", "完成国家下达任务", "完成国家下达的目标任务", "完成省下达任务", "完成省定任务"),
    ),
    Indicator(
        "industry_growth",
        "industrial value added growth",
        re.compile(
            r"(?:规模以上|规上)工业(?:企业)?增加值(?:比上年|同比)?|"
            r"(?:规模以上|规上)工业企业[^，,；;。]{0,14}?、增加值"
        ),
        "rate",
    ),
    Indicator(
        "investment_growth",
        "fixed-asset investment growth",
        re.compile(
            r"(?<!工业)(?<!民间)(?<!基础设施)(?<!制造业)(?<!房地产)(?<!技改)(?:全社会)?固定资产投资(?:比上年|同比)?"
        ),
        "rate",
        words=("提质提效", "稳定增长", "保持稳定", "合理增长"),
    ),
    Indicator("retail_growth", "retail sales growth", re.compile(r"社会消费品零售总额(?:比上年|同比)?"), "rate"),
    Indicator(
        "trade_growth",
        "foreign trade growth",
        re.compile(
            r"(?<!服务)(?:外贸|货物|对外贸易)?进出口(?:总额|总值)?(?:比上年|同比)?|货物贸易(?:进出口)?|外贸(?=增长)"
        ),
        "rate",
        words=("稳量提质", "促稳提质", "稳规模优结构", "稳中提质"),
    ),
    Indicator(
        "air_quality",
        "air quality",
        re.compile(
            r"(?:PM_?2\.5|细颗粒物)(?:（PM_?2\.5）|\(PM_?2\.5\))?(?:年均|平均)?浓度|空气质量优良天数(?:比例|比率|占比)?|"
            r"优良天数(?:比例|比率)"
        ),
        "level",
        ("微克/立方米", "天"),
        words=("完成国家下达任务", "完成省定任务"),
    ),
)

BY_ID = {i.id: i for i in CATALOG}
