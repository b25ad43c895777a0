"""Scoring an extracted indicator table against a gold table (`rag eval --indicators GOLD.jsonl`).

A row is correct when its report, indicator and kind match a gold row, its value has the same
numbers and qualifiers (左右, 以上, 以内 …; a decline stays a decline), its period is the gold's and
its citation quotes the gold evidence. A row where the gold has none for that report, indicator
and kind is invented.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from rag.chunk.clean import compact
from rag.errors import RagError
from rag.indicators.compare import pair_rows

_QUALIFIERS = re.compile(r"左右|以上|以内|以下|上下|突破|超过|不低于|约|近")
_DECLINE = re.compile(r"下降|降低|回落|微降|降到|降至|减少")


def value_key(value: str) -> tuple:
    """What two written values must share to be the same: the numbers, the qualifiers and the
    direction; a value in words is its words."""
    nums = tuple(float(n) for n in re.findall(r"\d+(?:\.\d+)?", value))
    if not nums:
        return ("words", compact(value))
    return nums, tuple(sorted(set(_QUALIFIERS.findall(value)))), bool(_DECLINE.search(value))


def load_gold(path: Path) -> list[dict]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"cannot read the gold table {path}: {exc.strerror or exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{n}: not a JSON object ({exc.msg})") from exc
        missing = [k for k in ("doc", "indicator", "kind", "period", "value", "evidence") if k not in row]
        if missing:
            raise RagError(f"{path}:{n}: missing {', '.join(missing)}")
        rows.append(row)
    return rows


def _correct(row: dict, gold: dict) -> bool:
    quote = compact(row.get("citation", {}).get("quote", ""))
    return (
        value_key(row["value"]) == value_key(gold["value"])
        and row.get("period") == gold["period"]
        and compact(gold["evidence"]) in quote
    )


def score(rows: list[dict], gold: list[dict], places: dict[str, str], years: dict[str, int | None]) -> dict:
    """Precision, recall and invented rows over the reports the gold table covers, overall and by
    indicator and kind; target-vs-actual pairs found against the gold's pairs (`places`, `years`:
    each report's place and year, by document id)."""
    docs = {g["doc"] for g in gold}
    rows = [r for r in rows if r["doc"] in docs]
    by_key = {(g["doc"], g["indicator"], g["kind"]): g for g in gold}
    outcome = []
    for r in rows:
        g = by_key.get((r["doc"], r["indicator"], r["kind"]))
        outcome.append((r, "invented" if g is None else "correct" if _correct(r, g) else "wrong"))
    found = {(r["doc"], r["indicator"], r["kind"]) for r, o in outcome if o == "correct"}

    def block(sel_rows: list, sel_gold: list) -> dict:
        n_ok = sum(o == "correct" for _, o in sel_rows)
        return {
            "rows": len(sel_rows),
            "gold": len(sel_gold),
            "correct": n_ok,
            "precision": round(n_ok / len(sel_rows), 4) if sel_rows else None,
            "recall": round(sum((g["doc"], g["indicator"], g["kind"]) in found for g in sel_gold) / len(sel_gold), 4)
            if sel_gold
            else None,
            "invented": sum(o == "invented" for _, o in sel_rows),
        }

    groups: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r, o in outcome:
        groups[f"{r['indicator']}/{r['kind']}"][0].append((r, o))
    for g in gold:
        groups[f"{g['indicator']}/{g['kind']}"][1].append(g)
    gold_pairs = {
        (p["place"], p["indicator"], p["period"])
        for p in pair_rows(
            [
                {
                    **g,
                    "place": places.get(g["doc"], g["doc"]),
                    "year": years.get(g["doc"]),
                    "citation": {"quote": g["evidence"]},
                }
                for g in gold
            ]
        )
    }
    ok_rows = [r for r, o in outcome if o == "correct"]
    got_pairs = {(p["place"], p["indicator"], p["period"]) for p in pair_rows(ok_rows)}
    total = block(outcome, gold)
    total["invented_share"] = round(total["invented"] / len(rows), 4) if rows else 0.0
    return {
        "overall": total,
        "by_indicator_kind": {k: block(*v) for k, v in sorted(groups.items())},
        "pairs": {"gold": len(gold_pairs), "found": len(got_pairs & gold_pairs)},
        "failures": [
            {
                "doc": r["doc"],
                "indicator": r["indicator"],
                "kind": r["kind"],
                "value": r["value"],
                "quote": r.get("citation", {}).get("quote", ""),
                "outcome": o,
                "gold": by_key.get((r["doc"], r["indicator"], r["kind"]), {}).get("value"),
            }
            for r, o in outcome
            if o != "correct"
        ]
        + [
            {
                "doc": g["doc"],
                "indicator": g["indicator"],
                "kind": g["kind"],
                "value": None,
                "outcome": "missed",
                "gold": g["value"],
                "evidence": g["evidence"],
            }
            for g in gold
            if (g["doc"], g["indicator"], g["kind"]) not in {(r["doc"], r["indicator"], r["kind"]) for r in rows}
        ],
    }
