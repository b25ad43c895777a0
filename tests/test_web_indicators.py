"""The web page's indicators view in headless Chromium (the browser fixtures of test_web.py), against the API
under uvicorn over a private copy of the development corpus (it holds series of reports of one place, so
targets have results to stand beside) with an API key and the mock LLM: the table by report, a value opening
its sentence in the report view, the filters, the CSV download (fetched with the key), target against result
with its SVG chart, and the 390 px layout."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
import test_web
from live_server import live_server, private_index
from test_web import compact, css, mark_is_in_view, no_overflow, severe_console_errors, shot, wait

from api.main import create_app
from api.settings import ApiSettings
from rag.settings import LLMSettings

# the browser fixtures of test_web.py (a fresh headless Chromium per call; skipped without one, failing in CI)
browser_available = test_web.browser_available
browser = test_web.browser

KEY = "indicator-page-key"


@pytest.fixture(scope="module")
def corpus_server(corpus_index, tmp_path_factory):
    settings = private_index(
        corpus_index, tmp_path_factory, "web-indicators", llm=LLMSettings(backend="mock", choice="small")
    )
    with live_server(lambda port: create_app(settings, ApiSettings(api_key=KEY))) as served:
        yield served


def api(base: str, path: str, **params):
    r = httpx.get(base + path, params=params, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert r.status_code == 200, r.text
    return r


def open_indicators(driver, base: str) -> None:
    """Open the page, give the key when asked, switch to the indicators view and wait for its table."""
    driver.get(base + "/")
    wait(driver, lambda d: css(d, "#key-dialog[open]"), 10, "no key prompt")
    css(driver, "#key")[0].send_keys(KEY + "\n")
    wait(driver, lambda d: css(d, "#model option[value=small]"), 30, "the key was not used")
    assert not css(driver, "#indicators:not([hidden])")
    css(driver, "#indicators-open")[0].click()
    wait(driver, lambda d: css(d, "#ind-table [data-testid=indicator-value]"), 30, "the indicator table did not load")


def read(driver, selector: str, attribute: str | None = None) -> list[str]:
    """The text (or an attribute) of every element a selector finds, read at once (the view re-renders)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map("
        "e => arguments[1] ? e.getAttribute(arguments[1]) : e.textContent)",
        selector,
        attribute,
    )


def select(driver, selector: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(css(driver, selector)[0]).select_by_value(value)


def test_the_indicator_table_opens_each_value_at_its_sentence_and_charts_target_against_result(corpus_server, browser):
    from selenium.webdriver.common.keys import Keys

    base, _ = corpus_server
    rows = api(base, "/v1/indicators").json()["data"]
    gd = [r for r in rows if r["place"] == "广东省" and r["indicator"] == "gdp_growth"]
    target = next(r for r in gd if r["kind"] == "target" and r["year"] == 2025)
    assert target["value"] == "5%左右"
    d = browser()
    open_indicators(d, base)
    assert css(d, "#chat[hidden]") and css(d, "#indicators-open")[0].get_attribute("aria-pressed") == "true"
    assert d.execute_script("return document.documentElement.scrollHeight <= window.innerHeight"), (
        "the view fills the window below the bar; only its own content scrolls"
    )

    # the table: a column per report, grouped by place, a row per indicator, every value of the library
    places = [th.text for th in css(d, "#ind-thead th.ind-place")]
    assert "广东省" in places and "宁夏回族自治区" in places and len(places) == len(set(places))
    assert len(css(d, "#ind-table [data-testid=indicator-value]")) == len(rows)
    cell = css(d, f"#ind-table tr[data-indicator=gdp_growth] button.k-target[data-doc='{target['doc']}']")
    assert len(cell) == 1 and "5%左右" in cell[0].text and "目标" in cell[0].text
    assert cell[0].get_attribute("title") == target["citation"]["quote"]
    shot(d, "indicators-desktop.png")

    # a value opens the report view with its sentence highlighted; Escape comes back to it
    cell[0].click()
    wait(
        d,
        lambda d: css(d, "[data-testid=source] mark") and not css(d, "[data-testid=source][hidden]"),
        30,
        "the report view did not open at a highlighted span",
    )
    mark = css(d, "[data-testid=source] mark")[0]
    assert compact(mark.get_attribute("textContent")) == compact(target["citation"]["quote"])
    assert "5%左右" in compact(mark.get_attribute("textContent")) and mark_is_in_view(d)
    assert "广东" in css(d, "#report-crumb")[0].text
    shot(d, "indicators-report.png")
    d.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(d, lambda d: css(d, "[data-testid=source][hidden]"), 5)
    assert d.switch_to.active_element == cell[0]

    # target against result: 广东省's 2025 GDP target beside the 2026 report's result, charted, with the verdict
    pair = css(d, "#ind-pairs section[data-place='广东省'] tr[data-indicator=gdp_growth]")
    assert pair, "no pair row for 广东省's GDP growth"
    row = next(p for p in pair if "2025" in p.text)
    assert row.get_attribute("data-verdict") == "below" and "低于目标" in row.text
    assert "5%左右" in row.text and "3.9%" in row.text
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    shot(d, "indicators-compare.png")
    chart = row.find_elements("css selector", "svg[data-testid=indicator-chart]")
    assert len(chart) == 1 and "低于目标" in chart[0].get_attribute("aria-label")
    target_bar = chart[0].find_elements("css selector", "rect.t")[0]
    result_bar = chart[0].find_elements("css selector", "rect.r")[0]
    assert "v-below" in result_bar.get_attribute("class")
    ratio = float(result_bar.get_attribute("width")) / float(target_bar.get_attribute("width"))
    assert abs(ratio - 3.9 / 5) < 0.02, ratio  # the bars are drawn to scale
    # every pair of the library is shown, under its place; a value in words has no chart
    pairs = api(base, "/v1/indicators/compare").json()["data"]
    assert len(css(d, "#ind-pairs tbody tr")) == len(pairs)
    assert {s.get_attribute("data-place") for s in css(d, "#ind-pairs section")} == {p["place"] for p in pairs}
    words = [r for r in css(d, "#ind-pairs tr[data-verdict='not comparable']")]
    assert words and all(not r.find_elements("css selector", "svg") and "无法比较" in r.text for r in words)
    # the result opens the later report at its sentence
    later = next(p for p in pairs if p["place"] == "广东省" and p["indicator"] == "gdp_growth" and p["period"] == 2025)
    row.find_elements("css selector", "button.k-result")[0].click()
    wait(
        d,
        lambda d: (
            css(d, "[data-testid=source] mark")
            and compact(css(d, "[data-testid=source] mark")[0].get_attribute("textContent"))
            == compact(later["result_citation"]["quote"])
        ),
        30,
        "the result's sentence was not highlighted",
    )
    css(d, "#report-close")[0].click()

    # filters (filled from the data) narrow the table and the pairs, and the CSV link carries them
    options = [o.get_attribute("value") for o in css(d, "#ind-place option")]
    assert options[0] == "" and "广东省" in options and len(options) == len({r["place"] for r in rows}) + 1
    select(d, "#ind-place", "广东省")
    wait(d, lambda d: set(read(d, "#ind-thead th.ind-place")) == {"广东省"}, 15)
    select(d, "#ind-indicator", "gdp_growth")
    wait(
        d,
        lambda d: (
            set(read(d, "#ind-rows tr", "data-indicator")) == {"gdp_growth"}
            and set(read(d, "#ind-pairs tbody tr", "data-indicator")) == {"gdp_growth"}
        ),
        15,
    )
    assert len(css(d, "#ind-table [data-testid=indicator-value]")) == len(gd)
    assert set(read(d, "#ind-pairs section", "data-place")) == {"广东省"}
    href = css(d, "#ind-csv")[0].get_attribute("href")
    assert "format=csv" in href and "indicator=gdp_growth" in href and "place=%E5%B9%BF%E4%B8%9C%E7%9C%81" in href

    # the download is fetched with the key and saved from a blob
    d.execute_script("""
        window.savedBlobs = [];
        const make = URL.createObjectURL;
        URL.createObjectURL = (blob) => { window.savedBlobs.push(blob); return make.call(URL, blob); };""")
    css(d, "#ind-csv")[0].click()
    wait(d, lambda d: d.execute_script("return window.savedBlobs.length") == 1, 15, "no CSV was saved")
    text = d.execute_async_script("window.savedBlobs[0].text().then(arguments[arguments.length - 1])")
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert lines[0][:8] == ["doc", "place", "level", "year", "indicator", "kind", "period", "value"]
    assert len(lines) == len(gd) + 1 and all(line[1] == "广东省" and line[4] == "gdp_growth" for line in lines[1:])
    assert "已下载" in css(d, "#ind-status")[0].text and not css(d, "#key-dialog[open]")

    # back to the chat
    css(d, "#indicators-open")[0].click()
    assert css(d, "#indicators[hidden]") and not css(d, "#chat[hidden]")
    errors = severe_console_errors(d)  # the page's first call, before it had the key, and nothing else
    assert len(errors) == 1 and "/v1/models" in errors[0] and "401" in errors[0], errors


def test_the_indicators_view_at_390_px(corpus_server, browser):
    base, _ = corpus_server
    d = browser(390, 844)
    open_indicators(d, base)
    assert no_overflow(d), "the page scrolls sideways (only the tables' frames may)"
    assert css(d, "#ind-table thead")[0].is_displayed(), "the table keeps its header on a phone"
    assert css(d, "#ind-pairs svg[data-testid=indicator-chart]")
    shot(d, "indicators-390.png")
    value = css(d, "#ind-table [data-testid=indicator-value]")[0]
    d.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", value)
    value.click()
    wait(d, lambda d: css(d, "[data-testid=source] mark") and not css(d, "[data-testid=source][hidden]"), 30)
    report = css(d, "[data-testid=source]")[0]
    assert report.rect["width"] <= 390 and report.rect["x"] == 0 and no_overflow(d)
    assert d.execute_script("return document.getElementById('indicators').inert"), "the covered view takes no focus"
    assert mark_is_in_view(d)
