"""`GET /v1/indicators` and `GET /v1/indicators/compare`: the headline indicators of the library's
reports (`rag indicators`), each cited to its sentence, and each target beside the result a later
report gives for it (`rag indicators --compare`). Read from the chunk store of this request's index:
no model runs, and the reading runs in the thread pool.

The filters are the command line's (`--doc`, `--place`, `--year`, `--level`, `--indicator`): each
repeatable (`?place=广东省&place=北京市`) or comma-separated (`?place=广东省,北京市`). As everywhere in the
API, names are taken exactly (no padding, no blank entries): a document by its id or the file name
/v1/documents lists, a place as the reports write it, a year and a level the library holds, an
indicator id of the catalogue. Anything else is a 422 with the reason (`unknown_scope`,
`invalid_year`, `unknown_indicator`). Names that each exist but admit no report together (乙县 and
`prefecture`) give an empty table: a query string cannot say which combinations the library holds,
so the OpenAPI document lists each parameter's names (`document`), and that is what the server accepts.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import get_retriever, require_ready
from api.errors import COMMON_ERRORS, ApiError, ErrorResponse
from api.schemas import Citation
from api.scope import Vocabulary
from rag.errors import RagError
from rag.indicators import table
from rag.scope import LEVELS, Scope
from rag.search.retrieve import Retriever

router = APIRouter(prefix="/v1", tags=["indicators"], dependencies=[Depends(require_ready)])

PATHS = ("/v1/indicators", "/v1/indicators/compare")
FILTERS = ("doc", "place", "year", "level", "indicator")
Verdict = Literal["above", "below", "met", "not comparable"]
VERDICTS = get_args(Verdict)
ROW_EXAMPLE: dict[str, Any] = {
    "doc": "07_province_guangdong_2025",
    "place": "广东省",
    "level": "province",
    "year": 2025,
    "indicator": "gdp_growth",
    "kind": "target",
    "period": 2025,
    "value": "5%左右",
    "citation": {
        "n": 1,
        "id": "07_province_guangdong_2025/a1/s2/p1",
        "doc": "07_province_guangdong_2025",
        "title": "2025年政府工作报告",
        "section": ["二、2025年工作安排"],
        "breadcrumb": "广东省 · 2025年政府工作报告 › 二、2025年工作安排",
        "paragraph": 1,
        "quote": "地区生产总值增长5%左右；",
        "text": "今年经济社会发展的主要预期目标是：地区生产总值增长5%左右；……",
        "start": 5120,
        "end": 5132,
        "page": None,
        "location": "¶1",
    },
}
PAIR_EXAMPLE: dict[str, Any] = {
    "place": "广东省",
    "indicator": "gdp_growth",
    "period": 2025,
    "target": "5%左右",
    "result": "3.9%",
    "verdict": "below",
    "target_doc": "07_province_guangdong_2025",
    "result_doc": "15_province_guangdong_2026",
    "target_citation": ROW_EXAMPLE["citation"],
    "result_citation": {
        **ROW_EXAMPLE["citation"],
        "id": "15_province_guangdong_2026/a1/s1/p2",
        "doc": "15_province_guangdong_2026",
        "title": "2026年政府工作报告",
        "quote": "全省地区生产总值增长3.9%。",
        "start": 812,
        "end": 827,
    },
}


class IndicatorRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    doc: str = Field(description="Document id of the report (see /v1/documents).")
    place: str = Field(description="The place of the report.")
    level: str = Field(description="Its administrative level: national, province, prefecture, county or district.")
    year: int | None = Field(description="Year of the report.")
    indicator: str = Field(
        description="Indicator id: gdp_growth, gdp_total, budget_revenue_growth, budget_revenue, "
        "urban_jobs, unemployment_rate, cpi, income_growth, grain_output, "
        "energy_intensity, industry_growth, investment_growth, retail_growth, "
        "trade_growth, air_quality."
    )
    kind: Literal["target", "result"] = Field(
        description="`target` (set for the report's year) or `result` "
        "(achieved in an earlier year, usually the year before)."
    )
    period: int | None = Field(description="The year the figure is about.")
    value: str = Field(
        description="The value as the report writes it: 「5%左右」, 「1100万人以上」, 「与经济增长同步」."
    )
    citation: Citation = Field(
        description="The sentence the value is read from, as the citations of /v1/ask: "
        "`text[start:end]` of /v1/documents/{doc}/text is `quote`."
    )


class IndicatorPair(BaseModel):
    model_config = ConfigDict(extra="allow")

    place: str = Field(description="The place.")
    indicator: str = Field(description="Indicator id (see GET /v1/indicators).")
    period: int | None = Field(description="The year the target was set for and the result is about.")
    target: str = Field(description="The target as the earlier report writes it.")
    result: str = Field(description="The result as the later report writes it.")
    verdict: Verdict = Field(
        description="How the result stands against the target, computed from the "
        "two values (never generated): above, below, met (a ceiling "
        "such as 「以内」, unemployment or CPI is met at or under it, a "
        "floor 「以上」 at or over it, a figure or range within it), or "
        "not comparable (a target in words, different units)."
    )
    target_doc: str = Field(description="Document id of the report that set the target.")
    result_doc: str = Field(description="Document id of the report that gives the result.")
    target_citation: Citation | None = Field(description="The sentence of the target.")
    result_citation: Citation | None = Field(description="The sentence of the result.")


class IndicatorTable(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": [ROW_EXAMPLE]}]})

    data: list[IndicatorRow] = Field(
        description="One row per figure, in the order of the library (report by "
        "report), each report's targets, then its results."
    )


class IndicatorPairs(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": [PAIR_EXAMPLE]}]})

    data: list[IndicatorPair] = Field(
        description="Each target of the chosen reports beside the result a later "
        "report gives for the same place, indicator and year (and each "
        "result of the chosen reports beside the target it answers)."
    )


def _query(what: str) -> Any:
    return Query(
        [],
        description=f"Only {what}: repeat the parameter or separate names with commas, exactly as "
        "listed (no blanks, no padding). A name the library does not hold is a 422.",
    )


class Filters:
    """The query's filters, as given (checked against the library in `select`)."""

    def __init__(
        self,
        doc: list[str] = _query("these documents (ids, or file names as /v1/documents lists them)"),
        place: list[str] = _query("these places' reports (as the reports write them: 「广东省」 or 「广东」)"),
        year: list[str] = _query("the reports of these years (a report of 2025 reviews 2024)"),
        level: list[str] = _query(f"reports of these levels ({', '.join(LEVELS)})"),
        indicator: list[str] = _query("these indicators (ids: gdp_growth, urban_jobs, cpi …)"),
        format: Literal["json", "csv"] = Query(
            "json",
            description=(
                '`json` (the default): `{"data": [...]}`; `csv`: a UTF-8 CSV file (with a byte-order '
                "mark, for spreadsheets) with the cited sentence of each row."
            ),
        ),
    ):
        self.values = {"doc": doc, "place": place, "year": year, "level": level, "indicator": indicator}
        self.format = format


def _split(param: str, values: list[str]) -> list[str]:
    """The names of a repeatable, comma-separated parameter; a 422 for a blank one."""
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            if not name or name != name.strip():
                raise ApiError(
                    422,
                    f"{param}: {name!r} is not a name: give names exactly, separated by commas, "
                    "without blanks or padding",
                    param=param,
                    code="unknown_scope",
                )
            out.append(name)
    return list(dict.fromkeys(out))


def names(vocabulary: Vocabulary) -> dict[str, dict[str, str]]:
    """What each filter may name in this library: name → what it means (document id, place, year,
    level, indicator id). A name holding a comma cannot be told from a list, so it is left out (a
    document with one is named by its id)."""
    reports = vocabulary.reports
    out = {
        "doc": {name: doc for name, doc in vocabulary.docs},
        "place": {alias: place for alias, place in vocabulary.places},
        "year": {str(y): str(y) for y in sorted({y for *_, y in reports if y})},
        "level": {lv: lv for lv in LEVELS if any(r[2] == lv for r in reports)},
        "indicator": {i: i for i in table.ORDER},
    }
    return {k: {n: v for n, v in d.items() if "," not in n and n} for k, d in out.items()}


def _check(filters: Filters, vocabulary: Vocabulary) -> tuple[dict[str, list[str]], bool]:
    """The filters as what they mean, and whether any report is in all of them; a 422 naming the first
    name the library does not hold."""
    known = names(vocabulary)
    meant: dict[str, list[str]] = {}
    for param in FILTERS:
        given = _split(param, filters.values[param])
        bad = [n for n in given if n not in known[param]]
        if bad:
            name = bad[0]
            if param == "indicator":
                raise ApiError(
                    422,
                    f"indicator: unknown indicator {name!r} (one of {', '.join(known['indicator'])})",
                    param=param,
                    code="unknown_indicator",
                )
            if param == "year" and not (name.isdigit() and len(name) == 4):
                raise ApiError(422, f"year: {name!r} is not a year", param=param, code="invalid_year")
            what = {"doc": "document", "place": "place", "year": "year", "level": "level"}[param]
            held = sorted(set(known[param].values()))
            shown = ", ".join(held[:30]) + (" …" if len(held) > 30 else "")
            raise ApiError(
                422,
                f"{param}: no {what} {name!r} in the library (it holds: {shown})",
                param=param,
                code="unknown_scope",
            )
        meant[param] = list(dict.fromkeys(known[param][n] for n in given))
    docs, places = set(meant["doc"]), set(meant["place"])
    years, levels = {int(y) for y in meant["year"]}, set(meant["level"])
    admits = any(
        (not docs or doc in docs)
        and (not places or place in places)
        and (not years or year in years)
        and (not levels or level in levels)
        for doc, place, level, year in vocabulary.reports
    )
    return meant, admits


def _read(retriever: Retriever, filters: Filters, compare: bool) -> list[dict]:
    meant, admits = _check(filters, Vocabulary.of(retriever))
    if not admits:
        return []
    scope = (
        Scope(tuple(meant["doc"]), tuple(meant["place"]), tuple(int(y) for y in meant["year"]), tuple(meant["level"]))
        or None
    )
    try:
        if compare:
            return [
                {
                    **p,
                    "target_citation": p.get("target_citation") or None,
                    "result_citation": p.get("result_citation") or None,
                }
                for p in table.pairs_in(retriever.store, scope, meant["indicator"])
            ]
        return table.select(retriever.store, scope, meant["indicator"])
    except RagError as exc:  # the names were checked against this library: not expected
        raise ApiError(422, str(exc), code="unknown_scope") from exc


def _csv(rows: list[dict], fields: tuple[str, ...], filename: str) -> Response:
    return Response(
        table.to_csv(rows, fields).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


RESPONSES = {
    **COMMON_ERRORS,
    422: {
        "model": ErrorResponse,
        "description": "A filter names something the library does not hold "
        "(`unknown_scope`, `unknown_indicator`), a year that is not one "
        "(`invalid_year`), or `format` is not json or csv.",
    },
}


def _ok(description: str, example_fields: tuple[str, ...]) -> dict:
    header = ",".join(example_fields)
    return {
        200: {
            "description": description,
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "CSV: a header line, then one line per row."},
                    "example": header + "\n",
                }
            },
        }
    }


@router.get(
    "/indicators",
    response_model=IndicatorTable,
    response_model_exclude_unset=True,
    summary="The headline indicators of the reports, each cited",
    responses={
        **RESPONSES,
        **_ok(
            "The rows (JSON), or with `format=csv` a CSV file `indicators.csv`.",
            table.FIELDS + ("quote", "section", "paragraph", "page"),
        ),
    },
)
async def indicators(filters: Filters = Depends(), retriever: Retriever = Depends(get_retriever)):
    """Targets (for the report's year) and results (of earlier years) of the headline indicators — GDP
    growth and total, budget revenue, new urban jobs, surveyed unemployment, CPI, income growth, grain,
    energy intensity, industry, investment, retail, trade, air quality — as each report writes them, each
    with the sentence it is read from (as `rag indicators --json`). Read from the index: no model runs."""
    rows = await run_in_threadpool(_read, retriever, filters, False)
    if filters.format == "csv":
        return _csv(rows, table.FIELDS, "indicators.csv")
    return {"data": rows}


@router.get(
    "/indicators/compare",
    response_model=IndicatorPairs,
    response_model_exclude_unset=True,
    summary="Each target beside the result a later report gives",
    responses={
        **RESPONSES,
        **_ok(
            "The pairs (JSON), or with `format=csv` a CSV file `indicators-compare.csv`.",
            table.PAIR_FIELDS + ("target_quote", "result_quote"),
        ),
    },
)
async def compare(filters: Filters = Depends(), retriever: Retriever = Depends(get_retriever)):
    """Each target beside the result the next report of the same place states for the same indicator and
    year, with how it stands (as `rag indicators --compare --json`). The filters choose the reports: a
    pair is listed when either of its reports is chosen, so the reports of one year show how that year's
    targets turned out and how the year before's did."""
    pairs = await run_in_threadpool(_read, retriever, filters, True)
    if filters.format == "csv":
        return _csv(pairs, table.PAIR_FIELDS, "indicators-compare.csv")
    return {"data": pairs}


def _ecma(name: str) -> str:
    """A name as a literal in an ECMA-262 pattern (only its syntax characters escaped)."""
    return "".join("\\" + c if c in "\\^$.|?*+()[]{}/" else c for c in name)


def document(spec: dict, vocabulary: Vocabulary) -> None:
    """The filters' schemas for this library, in the OpenAPI document: each an array of strings,
    each string a name the library holds or several separated by commas (a pattern built from the
    names), so that what the document admits is what the server accepts."""
    known = names(vocabulary)
    for path in PATHS:
        op = spec.get("paths", {}).get(path, {}).get("get")
        if op is None:
            continue
        for param in op.get("parameters", []):
            if param.get("in") != "query" or param.get("name") not in FILTERS:
                continue
            listed = sorted(known[param["name"]], key=lambda n: (-len(n), n))  # the longest first
            if listed:
                one = "(?:" + "|".join(_ecma(n) for n in listed) + ")"
                item: dict[str, Any] = {"type": "string", "pattern": f"^{one}(?:,{one})*$", "examples": [listed[-1]]}
            else:
                item = {"type": "string", "not": {}}
            schema = copy.deepcopy(param.get("schema", {}))
            schema.pop("anyOf", None)
            schema.update({"type": "array", "items": item, "default": []})
            param["schema"] = schema
