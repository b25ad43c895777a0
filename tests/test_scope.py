"""rag/scope.py: a scope as the command line and requests give it (`Scope.of`), and the reports it
admits in a library (`resolve`), on a small invented library: 甲市's reports of 2023 and 2024,
乙县's of 2024, the national one of 2024."""

from __future__ import annotations

import pytest

from rag.errors import RagError
from rag.scope import Scope, resolve
from rag.search.query import Report

REPORTS = [
    Report("jia-2023", "甲市", "prefecture", 2023),
    Report("jia-2024", "甲市", "prefecture", 2024),
    Report("yi-2024", "乙县", "county", 2024),
    Report("national-2024", "全国", "national", 2024),
]
ALIASES = {"甲市": "甲市", "甲": "甲市", "乙县": "乙县", "乙": "乙县", "全国": "全国"}


def admitted(**fields) -> set[str] | None:
    got = resolve(Scope.of(**fields), REPORTS, ALIASES)
    return None if got is None else set(got)


# --- Scope.of -------------------------------------------------------------------------------------------
def test_of_reads_repeated_and_comma_separated_values_and_drops_blanks():
    s = Scope.of(
        docs=["a, b", "c", " ", ""], places=["甲市,乙县", "甲市"], years=["2023, 2024", 2024], levels=["county"]
    )
    assert s == Scope(("a", "b", "c"), ("甲市", "乙县"), (2023, 2024), ("county",))
    assert s.to_dict() == {
        "docs": ["a", "b", "c"],
        "places": ["甲市", "乙县"],
        "years": [2023, 2024],
        "levels": ["county"],
    }
    assert s.describe() == "documents a, b, c; places 甲市, 乙县; years 2023, 2024; levels county"


def test_an_empty_scope_is_false_and_admits_every_report():
    assert not Scope() and not Scope.of() and not Scope.of(docs=[" , "], years=[])
    assert Scope.of(levels=["county"])
    assert resolve(None, REPORTS, ALIASES) is None
    assert resolve(Scope.of(places=[""]), REPORTS, ALIASES) is None


@pytest.mark.parametrize("year", ["20x4", "1800", "2101", "-2024", "二〇二四"])
def test_a_year_that_is_not_a_year_is_an_error(year):
    with pytest.raises(RagError, match="is not a year"):
        Scope.of(years=[year])


# --- resolve ---------------------------------------------------------------------------------------------
def test_a_document_by_id_by_file_name_or_by_path():
    assert admitted(docs=["jia-2024"]) == {"jia-2024"}
    assert admitted(docs=["jia-2024.docx"]) == {"jia-2024"}
    assert admitted(docs=["reports/yi-2024.txt", "jia-2023"]) == {"yi-2024", "jia-2023"}


def test_a_place_by_any_of_its_names_admits_all_its_reports():
    assert admitted(places=["甲"]) == admitted(places=["甲市"]) == {"jia-2023", "jia-2024"}
    assert admitted(places=["乙", "全国"]) == {"yi-2024", "national-2024"}


def test_years_and_levels_admit_their_reports():
    assert admitted(years=[2024]) == {"jia-2024", "yi-2024", "national-2024"}
    assert admitted(levels=["county", "national"]) == {"yi-2024", "national-2024"}


def test_the_fields_limit_together():
    assert admitted(places=["甲市"], years=[2024]) == {"jia-2024"}
    assert admitted(docs=["jia-2023", "yi-2024"], levels=["county"]) == {"yi-2024"}
    assert admitted(places=["甲", "乙"], years=["2024"], levels=["prefecture"]) == {"jia-2024"}


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"docs": ["jia-2025", "jia-2024", "nope.txt"]}, "no document 'jia-2025', 'nope.txt' in the library"),
        ({"places": ["丙市"]}, "no report of '丙市' in the library"),
        ({"levels": ["city"]}, "unknown level 'city' (one of national, province, prefecture, county, district)"),
        ({"years": [2022]}, "no report of 2022 in the library"),
        ({"places": ["乙县"], "years": [2023]}, "no report in the library is in places 乙县; years 2023"),
        ({"levels": ["province"]}, "no report in the library is in levels province"),
    ],
)
def test_what_the_library_does_not_hold_is_named(fields, named):
    with pytest.raises(RagError) as exc:
        admitted(**fields)
    assert str(exc.value) == f"scope: {named}"
