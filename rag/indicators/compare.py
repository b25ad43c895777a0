"""Target against result: each target paired with the result a later report of the same place
states for the same indicator and year, and how the two stand (computed, never generated)."""

from __future__ import annotations

import re

_NUM = re.compile(r"\d+(?:\.\d+)?")
_MAGNITUDE = {"万亿": 1e12, "亿": 1e8, "万": 1e4}
_DECLINE = re.compile(r"下降|降低|回落|微降|降到|降至|减少")


def _quantity(value: str) -> tuple[float, float, str] | None:
    """(low, high, unit) of a written value: 「5%左右」 → (5, 5, "%"), 「4.5%—5%」 → (4.5, 5, "%"),
    「1100万人以上」 → (1.1e7, 1.1e7, "人"); None for a value in words."""
    nums = [float(n) for n in _NUM.findall(value)]
    if not nums:
        return None
    m = re.search(r"\d\s*(万亿|亿|万)?\s*(%|％|个百分点|元|人|吨|斤|公斤|微克/立方米|天)", value)
    mag = _MAGNITUDE.get(m.group(1) or "", 1.0) if m else 1.0
    unit = (m.group(2) if m else "").replace("％", "%")
    sign = -1.0 if _DECLINE.search(value) else 1.0
    vals = [sign * n * mag for n in nums[:2]]
    return min(vals), max(vals), unit


# Indicators whose target is a ceiling however it is worded (「城镇调查失业率5.5%左右」「居民消费价格涨幅2%左右」).
CEILINGS = {"unemployment_rate", "cpi"}


def verdict(target: str, result: str, indicator: str = "") -> str:
    """above / below / met / not comparable: the result against the target. A ceiling (「以内」, or an
    unemployment or price target) is met by any result at or under it, a floor (「以上」) by any at or
    over it, a figure or a range (「4.5%—5%」) by a result within it."""
    t, r = _quantity(target), _quantity(result)
    if t is None or r is None or t[2] != r[2]:
        return "not comparable"
    low, high, _ = t
    x = r[0]
    if re.search(r"以内|以下|不超过", target) or indicator in CEILINGS:
        return "met" if x <= high else "above"
    if re.search(r"以上|不低于|突破|超过", target):
        return "met" if x >= low else "below"
    if low <= x <= high:
        return "met"
    return "above" if x > high else "below"


def pair_rows(rows: list[dict]) -> list[dict]:
    """Every target with the result reported for the same place, indicator and period in a later
    report (the earliest such report when several state it)."""
    results: dict[tuple, dict] = {}
    for r in rows:
        if r["kind"] != "result":
            continue
        key = (r["place"], r["indicator"], r["period"])
        if key not in results or (r.get("year") or 0) < (results[key].get("year") or 0):
            results[key] = r
    out = []
    for t in rows:
        if t["kind"] != "target":
            continue
        res = results.get((t["place"], t["indicator"], t["period"]))
        if res is None or (res.get("year") or 0) <= (t.get("year") or 0):
            continue
        out.append(
            {
                "place": t["place"],
                "indicator": t["indicator"],
                "period": t["period"],
                "target": t["value"],
                "result": res["value"],
                "verdict": verdict(t["value"], res["value"], t["indicator"]),
                "target_doc": t["doc"],
                "result_doc": res["doc"],
                "target_citation": t.get("citation", {}),
                "result_citation": res.get("citation", {}),
            }
        )
    return out
