"""What ingestion makes: a `Document` (one report, its metadata and section tree) and its `Chunk`s.

These are the records the chunk store keeps (``index/chunks.sqlite``, see `rag.search.store`): the
contract between ingestion and everything downstream (embedding, BM25, citations)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from rag.chunk.clean import compact
from rag.chunk.metadata import DocMeta

_SALUTATION = re.compile(r"^\s*各位代表\s*[：:！!，,。]?\s*$")


@dataclass
class Chunk:
    id: str
    doc: str
    article: int
    kind: str  # body | bullet | heading | title | meta | noise
    title: str  # display title of the article, e.g. 2024年政府工作报告
    place: str
    year: int | None
    section: list[str]
    section_path: str
    paragraph: int
    part: int
    text: str
    search_text: str
    start: int
    end: int
    spans: list[list[int]]
    locations: list[dict]
    flags: list[str] = field(default_factory=list)
    garbled: list[dict] = field(default_factory=list)
    twins: list[str] = field(default_factory=list)
    breadcrumb: str = ""
    period: int | None = None  # the year the passage is about (a report's review part is the year before)
    notes: list[str] = field(default_factory=list)  # ids of the glossary notes its markers ［n］ point to
    term: str = ""  # for a glossary note: the term it explains
    follows: list[str] = field(default_factory=list)  # for a lead-in (「要把握好以下三点。」): the items it announces
    pages: list[list[int]] = field(default_factory=list)  # PDF: [offset, page] where each page of the chunk begins

    def page_at(self, offset: int) -> int | None:
        """The PDF page that holds `offset` of the extracted text (None for other formats)."""
        page = None
        for start, pg in self.pages:
            if start > offset and page is not None:
                break
            page = pg
        return page

    @property
    def searchable(self) -> bool:
        """What retrieval may return. Headings are in every chunk's breadcrumb; page furniture
        (``noise``) is not the report at all; a salutation (「各位代表！」) says nothing. Titles,
        datelines and speaker lines are indexed, but retrieval demotes them unless a question asks
        who gave the report or when (they name the place and year better than any paragraph)."""
        if self.kind in ("title", "meta"):
            return True
        return self.kind in ("body", "bullet") and len(compact(self.text)) >= 6 and not _SALUTATION.match(self.text)


@dataclass
class Document:
    id: str
    name: str
    path: str
    sha256: str
    chars: int
    meta: DocMeta
    title: str
    articles: list[dict]
    sections: list[dict]
    markers: list[dict]
    narrow: bool
    duplicates_collapsed: int = 0
    garbled_runs: int = 0
    twin_of: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    fmt: str = "text"  # the original's format: text | csv | json | pdf | docx | html


def finalize_breadcrumbs(doc: Document) -> None:
    for c in doc.chunks:
        parts = [c.place, c.title] if c.place else [c.title]
        crumb = " · ".join(x for x in parts if x)
        if c.section:
            crumb += " › " + " › ".join(c.section)
        c.breadcrumb = crumb


# --- what the chunk store keeps of a document -----------------------------------------------------
def doc_summary(d: Document) -> dict:
    """The document without its chunks: its row in the chunk store and its line of `rag ingest --json`."""
    return {
        "id": d.id,
        "name": d.name,
        "path": d.path,
        "sha256": d.sha256,
        "chars": d.chars,
        "title": d.title,
        "meta": asdict(d.meta),
        "articles": d.articles,
        "sections": d.sections,
        "markers": d.markers,
        "narrow": d.narrow,
        "duplicates_collapsed": d.duplicates_collapsed,
        "garbled_runs": d.garbled_runs,
        "twin_of": d.twin_of,
        "chunks": len(d.chunks),
        "format": d.fmt,
    }
