"""`rag indicators`: the headline indicators of the library's reports, each cited to its sentence,
and with `--compare` each target beside the result a later report gives for it."""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape
from rich.table import Table

from rag.console import fail, out
from rag.errors import RagError
from rag.scope import LEVELS, Scope
from rag.settings import get_settings


def indicators_cmd(
    docs: list[str] | None = typer.Option(
        None,
        "--doc",
        help="Only these documents (id or file name; repeatable, or comma-separated).",
        show_default=False,
    ),
    places: list[str] | None = typer.Option(None, "--place", help="Only these places' reports.", show_default=False),
    years: list[str] | None = typer.Option(None, "--year", help="Only reports of these years.", show_default=False),
    levels: list[str] | None = typer.Option(
        None, "--level", help=f"Only reports of these levels ({', '.join(LEVELS)}).", show_default=False
    ),
    indicator: list[str] | None = typer.Option(
        None, "--indicator", help="Only these indicators (gdp_growth, urban_jobs, cpi …).", show_default=False
    ),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="Each target beside the result a later report gives for the same place and year, and how they stand.",
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per row on stdout."),
    csv_out: bool = typer.Option(False, "--csv", help="CSV on stdout (with the cited sentence)."),
) -> None:
    """Targets and results of the headline indicators (GDP growth, jobs, CPI …), each with the
    sentence it is cited from. Read from the index: no model runs."""
    from rag.indicators import table
    from rag.search.stores import open_chunk_store

    try:
        if json_out and csv_out:
            raise RagError("--json and --csv: choose one")
        s = get_settings()
        scope = Scope.of(docs=docs, places=places, years=years, levels=levels) or None
        store = open_chunk_store(s)
        rows = table.select(store, scope, indicator)
        pairs = table.pairs_in(store, scope, indicator) if compare else []
    except RagError as exc:
        fail(exc)
    shown = pairs if compare else rows
    if json_out:
        for r in shown:
            print(json.dumps(r, ensure_ascii=False))
        return
    if csv_out:
        sys.stdout.write(table.to_csv(shown, table.PAIR_FIELDS if compare else table.FIELDS))
        return
    if not shown:
        out.print("no indicators in these reports" if not compare else "no target with a later report's result")
        return
    out.print(_pairs_table(shown) if compare else _rows_table(shown))


def _rows_table(rows: list[dict]) -> Table:
    from rag.indicators.table import label

    t = Table(show_lines=False, header_style="bold")
    for col in ("report", "indicator", "kind", "period", "value", "cited sentence"):
        t.add_column(col, overflow="fold")
    for r in rows:
        cit = r.get("citation") or {}
        t.add_row(
            f"{r['place']} {r['year']}",
            label(r["indicator"]),
            r["kind"],
            str(r["period"] or ""),
            escape(r["value"]),
            escape(f"「{cit.get('quote', '')}」 ¶{cit.get('paragraph', '')}"),
        )
    return t


def _pairs_table(pairs: list[dict]) -> Table:
    from rag.indicators.table import label

    t = Table(header_style="bold")
    for col in ("place", "indicator", "year", "target", "result", "verdict"):
        t.add_column(col, overflow="fold")
    colour = {"met": "green", "above": "cyan", "below": "red"}
    for p in pairs:
        v = p["verdict"]
        t.add_row(
            p["place"],
            label(p["indicator"]),
            str(p["period"]),
            escape(p["target"]),
            escape(p["result"]),
            f"[{colour[v]}]{v}[/]" if v in colour else v,
        )
    return t
