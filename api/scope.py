"""The optional `scope` of /v1/ask, /v1/search and /v1/chat/completions: the reports a question may be
answered from (`rag.scope`), as a request names them.

A request names things exactly: a document by its id or by the file name /v1/documents lists, a place
as the reports write it (「甲市」 or 「甲」), a year, a level; no comma-separated strings, no padding
(the command line is lenient, `rag.scope.Scope.of`; an API with a schema is not). A scope naming
something the library does not hold, or one that admits no report, is a 422 with the reason, before
the question is queued. The OpenAPI document lists what the library being served holds (`Vocabulary`,
`schema`), so that what it promises is what this check accepts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from api.schemas import Year
from rag.errors import RagError
from rag.scope import LEVELS, Scope
from rag.search.retrieve import Retriever

MAX_ITEMS = 50  # per field: more documents than that is the whole library, or a mistake
MAX_NAME = 200  # characters of one document name or place
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]

# The administrative levels of `rag.scope.LEVELS`, as a type for the request schema.
Level = Literal["national", "province", "prefecture", "county", "district"]
assert get_args(Level) == LEVELS


class ScopeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "description": "Limits the reports a question is answered from. A field left out or empty does not "
            "limit; the fields limit together (places 甲市 and years 2024: 甲市's 2024 report). "
            "Naming anything the library does not hold, or a combination that admits no report, "
            "is a 422 (`code: unknown_scope`) with the reason.",
            "examples": [{"places": ["甲市"], "years": [2024]}, {"docs": ["甲市2024年政府工作报告.docx"]}],
        },
    )

    docs: list[Name] = Field(
        default_factory=list,
        strict=True,
        max_length=MAX_ITEMS,
        description="Documents, by id or by file name as /v1/documents lists them.",
    )
    places: list[Name] = Field(
        default_factory=list,
        strict=True,
        max_length=MAX_ITEMS,
        description="Places, as the reports name them (「甲市」, or 「甲」).",
    )
    years: list[Year] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Years of the reports (a report of 2024 reviews 2023)."
    )
    levels: list[Level] = Field(
        default_factory=list, strict=True, max_length=len(LEVELS), description="Administrative levels of the reports."
    )

    def to_scope(self) -> Scope | None:
        """The pipeline's scope (repeated entries once), None when nothing limits."""

        def once(values: list) -> tuple:
            return tuple(dict.fromkeys(values))

        scope = Scope(once(self.docs), once(self.places), once(self.years), once(self.levels))
        return scope or None


@dataclass(frozen=True)
class Vocabulary:
    """What a scope may name in one library, exactly as the API accepts it (hashable: the OpenAPI
    document is cached per vocabulary)."""

    docs: tuple[tuple[str, str], ...]  # (as sent: an id or a listed file name, the report's id)
    places: tuple[tuple[str, str], ...]  # (as written, the place): the query analysis' aliases
    reports: tuple[tuple[str, str, str, int | None], ...]  # (id, place, level, year)

    @classmethod
    def of(cls, retriever: Retriever) -> Vocabulary:
        reports = tuple(sorted((r.doc, r.place, r.level, r.year) for r in retriever.analyzer.reports))
        docs = {doc: doc for doc, *_ in reports}
        for d in retriever.documents:
            name = d["name"]
            if name in docs:
                continue
            try:  # a file name means the document the pipeline reads it as
                (docs[name],) = retriever.scope_docs(Scope(docs=(name,))) or frozenset()
            except (RagError, ValueError):
                continue
        return cls(tuple(docs.items()), tuple(sorted(retriever.place_aliases.items())), reports)


def check_scope(retriever: Retriever, request: ScopeRequest | None) -> Scope | None:
    """The scope to answer within (None: the whole library), or a 422 `unknown_scope` naming what
    the library being served (`retriever`, the index that will answer) does not hold."""
    scope = request.to_scope() if request is not None else None
    if scope is None:
        return None
    try:
        retriever.scope_docs(scope)
    except RagError as exc:
        raise ApiError(422, str(exc), param="scope", code="unknown_scope") from exc
    # the pipeline also reads a path by its stem and a padded place; the API takes the names as listed
    names = {d["name"] for d in retriever.documents} | {r.doc for r in retriever.analyzer.reports}
    inexact = [d for d in scope.docs if d not in names] + [p for p in scope.places if p not in retriever.place_aliases]
    if inexact:
        raise ApiError(
            422,
            f"scope: {', '.join(map(repr, inexact))} is not a document id, file name or place as the library lists it",
            param="scope",
            code="unknown_scope",
        )
    return scope


def schema(component: dict, vocabulary: Vocabulary) -> dict:
    """The scope's JSON Schema (`component`, as pydantic writes it) for this library: each name from
    the library's lists, and a combination that admits at least one report (`anyOf`, a branch per
    report titled with its id, which holds when every field is empty or names that report)."""

    def admits(names: list) -> dict:
        return {"anyOf": [{"maxItems": 0}, {"contains": {"enum": names}}]} if names else {"maxItems": 0}

    def one_of(names: list) -> dict:  # an empty list admits nothing but an empty field
        return {"enum": names} if names else {"not": {}}

    out = copy.deepcopy(component)
    if not vocabulary.reports:
        return out
    props = out["properties"]
    props["docs"]["items"].update(one_of([name for name, _ in vocabulary.docs]))
    props["places"]["items"].update(one_of([alias for alias, _ in vocabulary.places]))
    props["years"]["items"].update(one_of(sorted({y for *_, y in vocabulary.reports if y})))
    out["anyOf"] = [
        {
            "title": doc,
            "properties": {
                "docs": admits([name for name, d in vocabulary.docs if d == doc]),
                "places": admits([alias for alias, p in vocabulary.places if p == place]),
                "years": admits([year] if year else []),
                "levels": admits([level] if level in LEVELS else []),
            },
        }
        for doc, place, level, year in vocabulary.reports
    ]
    out["examples"] = examples(vocabulary)
    return out


def examples(vocabulary: Vocabulary) -> list[dict]:
    """Scopes this library accepts, for the OpenAPI document: a place with its year, and one document."""
    doc, place, _, year = vocabulary.reports[0]
    written = [alias for alias, p in vocabulary.places if p == place]
    by_place: dict[str, list[Any]] = {"places": [place if place in written else written[0]]} if written else {}
    if year:
        by_place["years"] = [year]
    return [by_place, {"docs": [doc]}] if by_place else [{"docs": [doc]}]
