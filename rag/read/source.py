"""What a reader gives: `SourceText`, one report as read from a file, and the `SourceSpan`s that map
its text back to the page or paragraph of the original. Shared by `rag.read.formats` and the
format readers (`rag.read.pdf`, `rag.read.docx`, `rag.read.html`), which sit below it."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class SourceSpan:
    """Where a stretch of `SourceText.text` comes from in the original file (PDF, DOCX, HTML)."""

    start: int  # offsets in SourceText.text
    end: int
    page: int | None = None  # 1-based page of a PDF
    para: int | None = (
        None  # 1-based paragraph (block) of the source: DOCX paragraph, HTML block, PDF block on its page
    )


@dataclass
class SourceText:
    """One report as read from a file, before any cleaning or cutting.

    For a text or dataset file `text` is the file's own text, so offsets are offsets in the file.
    For PDF, DOCX and HTML it is the text extracted from the file, one paragraph per line, and
    `source_map` maps its offsets back to the page / paragraph of the original."""

    text: str  # decoded, line endings unified to "\n", export artefacts resolved; otherwise as found
    record: int | None  # 1-based record number in a CSV/JSON(L) file (see `read_bytes`); None for text
    fields: dict[str, str]  # the record's other filled scalar fields as stripped strings; {} for text
    encoding: (
        str  # how the bytes were decoded, e.g. "utf-8", "utf-8-sig", "gb18030", "utf-16"; the format for binary files
    )
    suffix_id: str  # "" when the file holds one report, else "r<record>": distinct document ids
    fmt: str = "text"  # text | csv | json | pdf | docx | html
    source_map: list[SourceSpan] = field(default_factory=list)  # sorted by start; [] for text files
    headings: list[tuple[int, int]] = field(default_factory=list)  # (line start offset, level 1-4) from styles/tags

    def locate(self, offset: int) -> SourceSpan | None:
        """The span of the original that holds `offset` (None for text files)."""
        i = bisect.bisect_right([s.start for s in self.source_map], offset) - 1
        return self.source_map[i] if i >= 0 else None
