"""Response shapes shared by several routes. They mirror the objects of `rag ask --json` and
`rag search --json` field by field. The routes return the pipeline's own dictionaries and FastAPI
validates them against these models (`response_model`): a missing or mistyped field is a 500 and a
line in the log, never a response that breaks the document; `extra="allow"` passes a field added
there through, and `response_model_exclude_unset` sends exactly the fields the pipeline set."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 1.0 as an integer; so does the API (2.5, "5" and true are still refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Integer fields as JSON Schema means them: strict (no strings, no booleans), a whole float allowed,
# within their bounds (inside the type, so that they reach the schema of an Optional).
TopK = Annotated[int, Field(ge=1, le=50), Strict(), BeforeValidator(_whole_number)]
TokenCount = Annotated[int, Field(ge=1, le=4096), Strict(), BeforeValidator(_whole_number)]
OneChoice = Annotated[int, Field(ge=1, le=1), Strict(), BeforeValidator(_whole_number)]
Year = Annotated[int, Field(ge=1900, le=2100), Strict(), BeforeValidator(_whole_number)]


class Citation(BaseModel):
    model_config = ConfigDict(extra="allow")

    n: int = Field(description="Number of the citation; the answer refers to it as [n].")
    id: str = Field(description="Chunk id: `<doc>/a<article>/s<section path>/p<paragraph>`.")
    doc: str = Field(description="Document id (see /v1/documents).")
    title: str = Field(description="Display title of the article, e.g. 2024年政府工作报告.")
    section: list[str] = Field(description="Heading path from the top of the article to the paragraph.")
    breadcrumb: str = Field(description="Human-readable header: place · title › section › subsection.")
    paragraph: int = Field(description="Paragraph number within its section.")
    quote: str = Field(description="The supporting sentence, in the document's own script.")
    text: str = Field(description="The whole paragraph (chunk) the quote comes from.")
    start: int = Field(description="Offset of the quote's first character in the original file.")
    end: int = Field(description="Offset just past the quote's last character in the original file.")
    page: int | None = Field(None, description="PDF page (1-based) of the quote; null for other formats.")
    location: str = Field("", description="Where the quote stands, for display: 「第12页 ¶3」 (PDF) or 「¶3」.")


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    rank: int = Field(description="1-based rank after fusion.")
    id: str = Field(description="Chunk id (citable).")
    doc: str = Field(description="Document id.")
    title: str = Field(description="Display title of the article.")
    place: str = Field(description="City or county the report is about.")
    year: int | None = Field(description="Year of the article (null when unknown).")
    period: int | None = Field(description="The year the passage is about (a report reviews the year before).")
    section: list[str] = Field(description="Heading path of the paragraph.")
    breadcrumb: str = Field(description="place · title › section › subsection.")
    paragraph: int = Field(description="Paragraph number within its section.")
    text: str = Field(description="The paragraph as it appears in the report.")
    start: int = Field(description="Offset of the paragraph in the original file.")
    end: int = Field(description="End offset of the paragraph in the original file.")
    score: float = Field(description="Fused reciprocal-rank score (after place/year steering).")
    dense: float = Field(description="Dense (embedding) similarity.")
    bm25: float = Field(description="BM25 score.")
    dense_rank: int | None = Field(description="0-based rank among dense candidates (null when not a candidate).")
    bm25_rank: int | None = Field(description="0-based rank among BM25 candidates (null when not a candidate).")
    also: list[dict] = Field(description="The same paragraph in twin reports (id, doc, start, end, text).")


class Timings(BaseModel):
    model_config = ConfigDict(extra="allow")

    retrieve_ms: float | None = Field(None, description="Retrieval time in milliseconds.")
    evidence_s: float | None = Field(None, description="Seconds until the strongest evidence was known.")
    prompt_tokens: int | None = Field(None, description="Tokens in the prompt (absent when no model was needed).")
    first_token_s: float | None = Field(None, description="Seconds until the first answer token.")
    completion_tokens: int | None = Field(None, description="Tokens generated.")
    prompt_eval_s: float | None = Field(
        None, description="Seconds the model spent on the prompt before its first token."
    )
    decode_tok_s: float | None = Field(None, description="Generation speed after the first token, tokens per second.")
    generations: int | None = Field(
        None,
        description="Model calls: 2 when the first answer failed the checks and was retried with a stricter prompt.",
    )
    total_s: float | None = Field(None, description="Seconds for the whole answer.")


class AskResponse(BaseModel):
    """The object of `rag ask --json`."""

    model_config = ConfigDict(extra="allow")

    question: str = Field(description="The question as asked.")
    answer: str = Field(
        description="The answer with [n] citation markers, or 「资料中未提及」 / "
        '"The reports do not say." plus what the reports say nearby.'
    )
    refused: bool = Field(description="True when the reports do not answer the question.")
    citations: list[Citation] = Field(description="Verified citations the [n] markers refer to.")
    retrieved: list[SearchResult] = Field(description="The passages retrieved for the question.")
    timings: Timings = Field(description="Where the time went.")
    extractive: bool = Field(
        description="True when the generated answer could not be verified and the best "
        "supporting sentence is quoted instead."
    )
    verified: bool = Field(description="True when every figure of the answer was found in the cited text.")
    model: str = Field(description="Pipeline model that answered (default or small; empty when none was needed).")
    standalone_question: str = Field(
        description="The question actually answered, after a follow-up was "
        "rewritten with the history (equals `question` otherwise)."
    )
    notes: list[str] = Field(description="Why an answer was refused, retried or replaced.")
