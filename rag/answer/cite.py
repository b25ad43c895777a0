"""Citations, assigned in code: the model's own [n] markers are not trusted; each verified answer
sentence gets the numbers of the context sentences that support it (see `verify.check`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rag.answer.context import Chunks, ContextSentence
from rag.answer.verify import Verdict


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


def assign(verdict: Verdict, chunks_by_id: Chunks, between: set[int] | None = None) -> tuple[str, list[Citation]]:
    """The answer text with code-assigned [n] markers and the numbered citations they point to.

    Unsupported sentences are dropped when at least one sentence is supported. A line break
    follows the sentences whose index is in `between` (the end of each part of an answer)."""
    any_supported = any(sup for _, sup in verdict.sentences)
    citations: list[Citation] = []
    key_to_n: dict[tuple[str, int], int] = {}
    out: list[str] = []
    for i, (sent, sup) in enumerate(verdict.sentences):
        if any_supported and not sup:
            continue
        marks = []
        for cs in sup:
            key = (cs.chunk_id, cs.start)
            if key not in key_to_n:
                key_to_n[key] = len(citations) + 1
                citations.append(citation_for(cs, key_to_n[key], chunks_by_id))
            marks.append(f"[{key_to_n[key]}]")
        sent = re.sub(r"\s*\[\d+\]", "", sent)
        out.append(sent + "".join(marks) + ("\n" if i in (between or ()) else ""))
    joiner = (
        " "
        if any(re.search(r"[A-Za-z]", s) for s in out)
        and not any("\u4e00" <= ch <= "\u9fff" for s in out for ch in s[:3])
        else ""
    )
    return joiner.join(out).strip(), citations


def citation_for(cs: ContextSentence, n: int, chunks_by_id: Chunks) -> Citation:
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
