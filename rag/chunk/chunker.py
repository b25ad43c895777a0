"""Chunking: from one report's original text to articles, sections and paragraphs; one module per
stage, in order (general rules only: the chunker meets reports it has never seen):

1. `layout`: content lines with their offsets (page-continuation markers cut out, leaving hard
   breaks that text is never joined across), and whether the file is set in narrow newspaper
   columns (most lines about the same small width, a median of 8–28 Chinese characters).
2. `blocks`: lines grouped into paragraph-level blocks, each classified (heading, subtitle,
   dateline, byline, speaker, bullet, noise, body); consecutive bullets are one list.
3. `sections`: articles, the section tree and the paragraphs attached to both.
4. `reassign`: when articles are interleaved, body paragraphs move to the article whose vocabulary
   they match.

The paragraphs are then cut into chunk-sized pieces by `pieces.make_pieces` (after duplicates are
collapsed, see `ingest`). Numbering (一、 （一） ［3］) is read by `numbering`.
"""

from __future__ import annotations

from rag.chunk.blocks import build_blocks, group_lists
from rag.chunk.clean import Marker, find_markers
from rag.chunk.layout import detect_narrow, split_lines
from rag.chunk.reassign import reassign_interleaved
from rag.chunk.sections import Article, Para, build_sections
from rag.read import boilerplate


def cut_document(text: str) -> tuple[list[Article], list[Para], list[Marker], bool]:
    """Lines → blocks → articles/sections/paragraphs for one report, with its page markers and
    whether it is set in narrow columns."""
    markers = find_markers(text)
    lines = split_lines(text, markers)
    narrow, col = detect_narrow(lines)
    blocks = group_lists(build_blocks(lines, narrow, col, boilerplate.classify(lines)))
    if not blocks:
        return [], [], markers, narrow
    articles, paras, interleaved = build_sections(blocks)
    if interleaved and len(articles) > 1:
        paras = reassign_interleaved(articles, paras)
    return articles, paras, markers, narrow
