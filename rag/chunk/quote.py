"""Quotes of a chunk: a sentence with its offsets in the original file, and the citation that
points a reader at it (file, section, paragraph, page). Shared by the answers and by the indicator
table, which both cite sentences of chunks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ContextSentence:
    """One selected sentence: where it comes from and its original-script text."""

    n: int  # 1-based number of its passage in the prompt
    chunk_id: str
    text: str  # original script
    start: int  # offsets in the original file
    end: int
    score: float
    lead: str = ""  # the lead-in of a list item (「今年主要预期目标是：」): read with it, never quoted


def offset_map(spans: list[list[int]], text: str) -> list[int]:
    """Original-file offset of every character of a chunk's text (list lines add a '\\n')."""
    out: list[int] = []
    for s, e in spans:
        if out and len(out) < len(text) and text[len(out)] == "\n":
            out.append(out[-1] + 1)
        out.extend(range(s, e))
    while len(out) < len(text):
        out.append(out[-1] + 1 if out else 0)
    return out[: len(text)]


@dataclass
class Citation:
    n: int
    id: str
    doc: str
    title: str
    section: list[str]
    breadcrumb: str
    paragraph: int
    quote: str  # the supporting sentence, in the document's own script
    text: str  # the whole chunk
    start: int  # offsets of the quote in the original file (for PDF, DOCX, HTML: in the text read from it)
    end: int
    page: int | None = None  # the PDF page of the quote

    @property
    def location(self) -> str:
        """For display: 「第12页 ¶3」 for a PDF, 「¶3」 otherwise."""
        return (f"第{self.page}页 " if self.page else "") + f"¶{self.paragraph}"

    def to_dict(self) -> dict:
        return {**asdict(self), "location": self.location}


def citation_for(cs: ContextSentence, n: int, chunks_by_id: Mapping[str, Any] | Any) -> Citation:
    c = chunks_by_id[cs.chunk_id]
    return Citation(
        n=n,
        id=c.id,
        doc=c.doc,
        title=c.title,
        section=c.section,
        breadcrumb=c.breadcrumb,
        paragraph=c.paragraph,
        quote=cs.text,
        text=c.text,
        start=cs.start,
        end=cs.end,
        page=c.page_at(cs.start) if hasattr(c, "page_at") else None,
    )
