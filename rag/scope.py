"""A scope: the reports a question may be answered from, as the user limits them.

A library often holds more than one wants to ask about (a province's reports of several years
beside the national ones); a scope names documents, places, years and/or levels, and every stage
keeps to it: query analysis picks reports only inside it, retrieval searches only its chunks, a
comparison's parts stay inside it. A field left empty does not limit; the fields limit together
(places 甲市 and years 2024: 甲市's 2024 report).

A scope that names something the library does not hold is an error, never an empty search: the
user mistyped a document id or a place, and an answer 「资料中未提及」 would hide it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from rag.errors import RagError

LEVELS = ("national", "province", "prefecture", "county", "district")


@dataclass(frozen=True)
class Scope:
    docs: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    levels: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.docs or self.places or self.years or self.levels)

    @classmethod
    def of(
        cls,
        docs: Iterable[str] | None = None,
        places: Iterable[str] | None = None,
        years: Iterable[int | str] | None = None,
        levels: Iterable[str] | None = None,
    ) -> Scope:
        """A scope from lists as a command line or a request gives them (comma-separated strings
        allowed); blank entries are dropped, and a year must be a year."""

        def items(values) -> tuple[str, ...]:
            out: list[str] = []
            for v in values or ():
                out += [s.strip() for s in str(v).split(",") if s.strip()]
            return tuple(dict.fromkeys(out))

        year_list = []
        for y in items(years):
            if not y.isdigit() or not 1900 <= int(y) <= 2100:
                raise RagError(f"scope: {y!r} is not a year")
            year_list.append(int(y))
        return cls(items(docs), items(places), tuple(year_list), items(levels))

    def to_dict(self) -> dict:
        return {
            "docs": list(self.docs),
            "places": list(self.places),
            "years": list(self.years),
            "levels": list(self.levels),
        }

    def describe(self) -> str:
        """For notes and messages: 「documents a, b; places 甲市; years 2024」."""
        parts = [
            f"{name} {', '.join(map(str, values))}"
            for name, values in (
                ("documents", self.docs),
                ("places", self.places),
                ("years", self.years),
                ("levels", self.levels),
            )
            if values
        ]
        return "; ".join(parts)


def resolve(scope: Scope | None, reports: list, aliases: dict[str, str]) -> frozenset[str] | None:
    """The ids of the reports a scope admits (None: no scope, every report).

    `reports` are the library's `query.Report`s; `aliases` maps every way of writing an indexed
    place to the place (「甲」「甲市」 → 甲市). A document may be named by its id or its file name.
    Anything the library does not hold is a `RagError` naming it; so is a scope that admits no
    report (甲市 with a year it has no report of)."""
    if not scope:
        return None
    ids = {r.doc for r in reports}

    def doc_id(name: str) -> str | None:  # an id, or a file name (「07_甲市_2024.docx」 → its id)
        return name if name in ids else PurePath(name).stem if PurePath(name).stem in ids else None

    unknown = [d for d in scope.docs if doc_id(d) is None]
    if unknown:
        raise RagError(f"scope: no document {', '.join(map(repr, unknown))} in the library")
    places = []
    for p in scope.places:
        place = aliases.get(p) or aliases.get(p.strip())
        if place is None:
            raise RagError(f"scope: no report of {p!r} in the library")
        places.append(place)
    bad_levels = [lv for lv in scope.levels if lv not in LEVELS]
    if bad_levels:
        raise RagError(f"scope: unknown level {', '.join(map(repr, bad_levels))} (one of {', '.join(LEVELS)})")
    known_years = {r.year for r in reports if r.year}
    missing_years = [y for y in scope.years if y not in known_years]
    if missing_years:
        raise RagError(f"scope: no report of {', '.join(map(str, missing_years))} in the library")
    docs = {doc_id(d) for d in scope.docs}
    admitted = frozenset(
        r.doc
        for r in reports
        if (not docs or r.doc in docs)
        and (not places or r.place in places)
        and (not scope.years or r.year in scope.years)
        and (not scope.levels or r.level in scope.levels)
    )
    if not admitted:
        raise RagError(f"scope: no report in the library is in {scope.describe()}")
    return admitted
