"""The indicator table as the CLI, the API and the web page show it: the stored rows of the
library's reports, limited by a scope and to some indicators, and target against result.

Reading needs the chunk store only (no model, no index): the rows were extracted when each
report was ingested. A store written before the extraction rules it is read with is read by
extracting on the fly, so an upgrade never shows an empty or stale table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from rag.errors import RagError
from rag.indicators.catalog import BY_ID, CATALOG
from rag.indicators.compare import pair_rows
from rag.scope import Scope, resolve
from rag.search.places import Places
from rag.search.question import Report
from rag.search.stores import AnyChunkStore

FIELDS = ("doc", "place", "level", "year", "indicator", "kind", "period", "value")
PAIR_FIELDS = ("place", "indicator", "period", "target", "result", "verdict", "target_doc", "result_doc")


def check_indicators(ids: Iterable[str] | None) -> tuple[str, ...]:
    """Indicator ids as given (comma-separated allowed); a `RagError` naming an unknown one."""
    out: list[str] = []
    for v in ids or ():
        out += [s.strip() for s in str(v).split(",") if s.strip()]
    unknown = [i for i in out if i not in BY_ID]
    if unknown:
        raise RagError(f"unknown indicator {', '.join(map(repr, unknown))} (one of {', '.join(BY_ID)})")
    return tuple(dict.fromkeys(out))


def library_rows(store: AnyChunkStore) -> list[dict]:
    """Every report's indicator rows, in corpus order."""
    rows = store.indicators()
    if rows is not None:
        return rows
    from rag.indicators.extract import extract

    return [
        r.to_dict() for doc, _, level, _ in store.reports() for r in extract(store.iter_chunks(doc=doc), level or "")
    ]


def select(store: AnyChunkStore, scope: Scope | None = None, indicators: Iterable[str] | None = None) -> list[dict]:
    """The rows of the reports a scope admits (a `RagError` for what the library does not hold),
    of the given indicators (all when none)."""
    reports = [Report(doc, place or "", level or "", year) for doc, place, level, year in store.reports()]
    admitted = resolve(scope, reports, Places([r.place for r in reports]).aliases)
    wanted = set(check_indicators(indicators))
    return [
        r
        for r in library_rows(store)
        if (admitted is None or r["doc"] in admitted) and (not wanted or r["indicator"] in wanted)
    ]


def pairs_in(store: AnyChunkStore, scope: Scope | None = None, indicators: Iterable[str] | None = None) -> list[dict]:
    """Each target beside the result a later report gives for it (see `compare.pair_rows`), for the
    pairs with a report in the scope: a target's result is in the next report, so a scope of one
    year still shows how that year's targets turned out."""
    admitted = {r["doc"] for r in select(store, scope, indicators)}
    return [
        p
        for p in pair_rows(select(store, None, indicators))
        if p["target_doc"] in admitted or p["result_doc"] in admitted
    ]


def to_csv(rows: list[dict], fields: tuple[str, ...] = FIELDS) -> str:
    """The rows (or pairs) as CSV with the cited sentences and where they are; UTF-8 with a
    byte-order mark, which spreadsheet programs need to read Chinese."""
    pairs = fields == PAIR_FIELDS
    extra = ("target_quote", "result_quote") if pairs else ("quote", "section", "paragraph", "page")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(fields + extra)
    for r in rows:
        cells = ["" if r.get(f) is None else r.get(f) for f in fields]
        if pairs:
            cells += [
                (r.get("target_citation") or {}).get("quote", ""),
                (r.get("result_citation") or {}).get("quote", ""),
            ]
        else:
            cit = r.get("citation") or {}
            cells += [
                cit.get("quote", ""),
                " / ".join(cit.get("section") or []),
                cit.get("paragraph", ""),
                cit.get("page") or "",
            ]
        w.writerow(cells)
    return "\ufeff" + out.getvalue()


def label(indicator: str) -> str:
    return BY_ID[indicator].label if indicator in BY_ID else indicator


ORDER = [i.id for i in CATALOG]
