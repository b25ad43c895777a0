"""Citations, assigned in code: the model's own [n] markers are not trusted; each verified answer
sentence gets the numbers of the context sentences that support it (see `verify.check`)."""

from __future__ import annotations

import re

from rag.answer.context import Chunks
from rag.answer.verify import Verdict
from rag.chunk.quote import Citation, citation_for


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
