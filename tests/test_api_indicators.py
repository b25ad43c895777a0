"""`GET /v1/indicators` and `GET /v1/indicators/compare`: the indicator table of `rag indicators` over
HTTP, on the real app (mock LLM, no weights) over private copies of the seed index (five 2024 reports:
rows, no pairs) and of the development corpus (series of reports of one place: pairs)."""

from __future__ import annotations

import csv
import io
import re
import time

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from live_server import private_index

from api.main import create_app
from api.settings import ApiSettings
from rag.indicators import table
from rag.settings import LLMSettings

KEY = "indicator-key"
DAIXIAN = "004_d43a798d97625b5b"


def compact(s: str) -> str:
    return re.sub(r"\s+", "", s or "")


def _client(settings, key: str | None = KEY):
    app = create_app(settings, ApiSettings(api_key=key))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = TestClient(app, raise_server_exceptions=False, headers=headers)
    return app, client


def _wait_ready(client: TestClient, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert not client.get("/readyz").json().get("error"), client.get("/readyz").json()
        assert time.monotonic() < deadline, "the service did not become ready"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def seed(seed_index, tmp_path_factory):
    settings = private_index(
        seed_index, tmp_path_factory, "indicators-seed", llm=LLMSettings(backend="mock", choice="small")
    )
    app, client = _client(settings)
    with client:
        _wait_ready(client)
        yield client, app.state.services.assistant.retriever.store


@pytest.fixture(scope="module")
def corpus(corpus_index, tmp_path_factory):
    settings = private_index(
        corpus_index, tmp_path_factory, "indicators-corpus", llm=LLMSettings(backend="mock", choice="small")
    )
    app, client = _client(settings, key=None)
    with client:
        _wait_ready(client)
        yield client, app.state.services.assistant.retriever.store


def rows_of(client: TestClient, path: str = "/v1/indicators", **params) -> list[dict]:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data"} and isinstance(body["data"], list)
    return body["data"]


def error_of(client: TestClient, path: str = "/v1/indicators", **params) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 422, (params, r.status_code, r.text)
    return r.json()["error"]


# --- rows -----------------------------------------------------------------------------------------------
def test_the_rows_are_the_tables_each_cited_to_a_sentence_of_its_report(seed):
    client, store = seed
    rows = rows_of(client)
    assert rows == table.select(store), "the API serves the rows of `rag indicators --json`"
    assert len(rows) >= 20 and {r["kind"] for r in rows} == {"target", "result"}
    assert {r["place"] for r in rows} >= {"朔州市", "代县"}
    for r in rows:
        assert set(table.FIELDS) <= set(r) and r["indicator"] in table.ORDER, r
        cit = r["citation"]
        assert cit["doc"] == r["doc"] and cit["quote"] and cit["quote"] in cit["text"], r
        figure = re.search(r"\d+(?:\.\d+)?", r["value"])
        assert figure is None or figure.group() in compact(cit["quote"]), r  # the value's figure is quoted
    # the offsets point at the quote in the text the report view shows
    for doc in {r["doc"] for r in rows}:
        text = client.get(f"/v1/documents/{doc}/text").json()["text"]
        for r in [r for r in rows if r["doc"] == doc][:4]:
            cit = r["citation"]
            assert compact(text[cit["start"] : cit["end"]]) == compact(cit["quote"]), cit
    daixian = next(r for r in rows if r["doc"] == DAIXIAN and r["indicator"] == "gdp_growth")
    assert (daixian["kind"], daixian["period"], daixian["value"]) == ("target", 2024, "5%左右")


def test_filters_narrow_the_rows_repeated_or_comma_separated(seed):
    client, store = seed
    everything = rows_of(client)
    shuozhou = rows_of(client, place="朔州市")
    assert shuozhou and {r["place"] for r in shuozhou} == {"朔州市"}
    assert shuozhou == [r for r in everything if r["place"] == "朔州市"]
    assert rows_of(client, place="朔州") == shuozhou  # as a question may write it
    two = rows_of(client, place=["朔州市", "代县"])
    assert two == rows_of(client, place="朔州市,代县") == [r for r in everything if r["place"] in ("朔州市", "代县")]
    picked = rows_of(client, indicator="gdp_growth,urban_jobs")
    assert picked and {r["indicator"] for r in picked} == {"gdp_growth", "urban_jobs"}
    assert picked == [r for r in everything if r["indicator"] in ("gdp_growth", "urban_jobs")]
    assert rows_of(client, year="2024") == everything  # every seed report is of 2024
    assert {r["doc"] for r in rows_of(client, doc=DAIXIAN)} == {DAIXIAN}
    assert {r["place"] for r in rows_of(client, level="county")} == {"代县"}
    both = rows_of(client, place="代县", indicator="cpi", year=2024)
    assert [(r["place"], r["indicator"], r["value"]) for r in both] == [("代县", "cpi", "3%左右")]
    # each name is held, but no report is in all of them: an empty table, not an error
    assert rows_of(client, place="代县", level="prefecture") == []


def test_csv_has_a_header_and_the_rows_with_their_sentences(seed):
    client, _ = seed
    r = client.get("/v1/indicators", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="indicators.csv"'
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert lines[0] == list(table.FIELDS) + ["quote", "section", "paragraph", "page"]
    rows = rows_of(client)
    assert len(lines) == len(rows) + 1
    assert [line[:8] for line in lines[1:]] == [[str(row[f]) for f in table.FIELDS] for row in rows]
    assert [line[8] for line in lines[1:]] == [row["citation"]["quote"] for row in rows]
    only = list(
        csv.reader(
            io.StringIO(
                client.get("/v1/indicators", params={"format": "csv", "place": "代县", "indicator": "gdp_growth"}).text
            )
        )
    )
    assert len(only) == 2 and only[1][1] == "代县" and only[1][4] == "gdp_growth" and only[1][7] == "5%左右"


def test_compare_gives_a_list_even_when_no_report_has_a_successor(seed):
    client, store = seed
    pairs = rows_of(client, "/v1/indicators/compare")
    assert pairs == table.pairs_in(store)  # the seeds are all of 2024: no target has a later result
    r = client.get("/v1/indicators/compare", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="indicators-compare.csv"'
    header = next(csv.reader(io.StringIO(r.text.removeprefix("\ufeff"))))
    assert header == list(table.PAIR_FIELDS) + ["target_quote", "result_quote"]


# --- bad filters ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/indicators", "/v1/indicators/compare"])
def test_what_the_library_does_not_hold_is_a_422_with_the_reason(seed, path):
    client, _ = seed
    e = error_of(client, path, indicator="gdp_growth,gdp")
    assert e["code"] == "unknown_indicator" and e["param"] == "indicator" and "'gdp'" in e["message"]
    assert "gdp_growth" in e["message"]  # the ids it could have been
    e = error_of(client, path, place="大同")
    assert e["code"] == "unknown_scope" and e["param"] == "place" and "大同" in e["message"]
    assert "朔州市" in e["message"]
    e = error_of(client, path, year="2023")
    assert e["code"] == "unknown_scope" and e["param"] == "year" and "2023" in e["message"]
    e = error_of(client, path, year="twenty")
    assert e["code"] == "invalid_year" and "'twenty' is not a year" in e["message"]
    e = error_of(client, path, level="city")
    assert e["code"] == "unknown_scope" and e["param"] == "level" and "city" in e["message"]
    e = error_of(client, path, level="national")  # a level, but the seeds hold no national report
    assert e["code"] == "unknown_scope" and "national" in e["message"]
    e = error_of(client, path, doc="no-such-report")
    assert e["code"] == "unknown_scope" and e["param"] == "doc" and "no-such-report" in e["message"]
    for padded in (" 代县", "代县,", "", "代县,,朔州市"):
        e = error_of(client, path, place=padded)
        assert e["code"] == "unknown_scope" and e["param"] == "place", padded
    e = error_of(client, path, format="xml")
    assert e["param"] == "format"
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


# --- the OpenAPI document -------------------------------------------------------------------------------------
def test_the_document_lists_both_paths_and_what_each_filter_accepts(seed):
    client, _ = seed
    spec = client.get("/openapi.json").json()
    for path, model in (("/v1/indicators", "IndicatorTable"), ("/v1/indicators/compare", "IndicatorPairs")):
        op = spec["paths"][path]["get"]
        assert op["summary"] and op["description"]
        content = op["responses"]["200"]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert "text/csv" in content
        assert "422" in op["responses"] and "401" in op["responses"]
        assert {p["name"] for p in op["parameters"]} == {"doc", "place", "year", "level", "indicator", "format"}
    schemas = spec["components"]["schemas"]
    assert schemas["IndicatorTable"]["examples"][0]["data"][0]["indicator"] == "gdp_growth"
    assert schemas["IndicatorPairs"]["examples"][0]["data"][0]["verdict"] == "below"
    assert schemas["IndicatorRow"]["properties"]["citation"]["$ref"] == "#/components/schemas/Citation"
    # what the document admits for a filter is exactly what the server accepts
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/indicators"]["get"]["parameters"]}
    candidates = {
        "place": ["朔州市", "朔州", "代县", "太原市", "代县,朔州市", "代县,代县", "大同", " 代县", "代县,", ""],
        "year": ["2024", "2023", "abc", "2024,2024"],
        "level": ["prefecture", "county", "national", "city", "county,prefecture"],
        "indicator": list(table.ORDER) + ["gdp", "gdp_growth,cpi", "GDP_GROWTH"],
        "doc": [DAIXIAN, "no-such-report", f"{DAIXIAN},{DAIXIAN}"],
    }
    verdicts = set()
    for name, values in candidates.items():
        validator = jsonschema_rs.validator_for(params[name])
        for value in values:
            accepted = client.get("/v1/indicators", params={name: value}).status_code == 200
            assert validator.is_valid([value]) == accepted, (name, value, accepted)
            verdicts.add(accepted)
    assert verdicts == {True, False}


# --- pairs, on the development corpus -------------------------------------------------------------------------
def test_a_target_stands_beside_the_result_the_next_report_gives(corpus):
    client, store = corpus
    pairs = rows_of(client, "/v1/indicators/compare")
    assert pairs == [
        {**p, "target_citation": p["target_citation"] or None, "result_citation": p["result_citation"] or None}
        for p in table.pairs_in(store)
    ]
    guangdong = next(
        p for p in pairs if p["place"] == "广东省" and p["indicator"] == "gdp_growth" and p["period"] == 2025
    )
    assert (guangdong["target"], guangdong["result"], guangdong["verdict"]) == ("5%左右", "3.9%", "below")
    years = {r["doc"]: r["year"] for r in rows_of(client, place="广东省")}
    assert years[guangdong["target_doc"]] == 2025 and years[guangdong["result_doc"]] == 2026
    for side in ("target", "result"):
        cit = guangdong[f"{side}_citation"]
        assert cit["doc"] == guangdong[f"{side}_doc"] and cit["quote"] in cit["text"]
        assert compact(guangdong[side]) in compact(cit["quote"]), cit
    assert {p["verdict"] for p in pairs} <= {"above", "below", "met", "not comparable"}
    assert {"above", "below", "met"} <= {p["verdict"] for p in pairs}

    # a filter on the later report still shows how the earlier report's targets turned out
    later = rows_of(client, "/v1/indicators/compare", place="广东", year=2026, indicator="gdp_growth")
    assert guangdong in later and {(p["place"], p["indicator"]) for p in later} == {("广东省", "gdp_growth")}
    r = client.get("/v1/indicators/compare", params={"place": "广东省", "indicator": "gdp_growth", "format": "csv"})
    lines = list(csv.reader(io.StringIO(r.text.removeprefix("\ufeff"))))
    assert ["广东省", "gdp_growth", "2025", "5%左右", "3.9%", "below"] in [line[:6] for line in lines[1:]]
