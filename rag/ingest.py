"""Ingestion: read reports, cut them into chunks, collapse duplicates, link twin reports.

The documents and chunks made here (`rag.chunk.document`) are what the chunk store
(``index/chunks.sqlite``, see `rag.search.store`) keeps: the contract between ingestion and
everything downstream (embedding, BM25, citations). `rag.search.store.write_store` writes them in
one transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from rag.chunk.annotate import assign_periods, link_leads, link_notes
from rag.chunk.chunker import cut_document
from rag.chunk.clean import normalize, to_simplified
from rag.chunk.document import Chunk, Document, finalize_breadcrumbs
from rag.chunk.duplicates import find_duplicates
from rag.chunk.metadata import DocMeta, article_kind, article_year, derive
from rag.chunk.pieces import make_pieces
from rag.chunk.sections import Article, Section
from rag.chunk.twins import link_twins
from rag.errors import RagError
from rag.read.formats import SUFFIXES, find_sources, read_source
from rag.read.source import SourceText
from rag.settings import Settings

log = logging.getLogger(__name__)


# --- reading ------------------------------------------------------------------------------------
def read_report(path: Path) -> str | None:
    """The text of a single-report file; None for an empty file; a clear error for anything that is
    not a report. (A dataset file may hold several reports: `load_file` cuts them all.)"""
    sources = read_source(path)
    return sources[0].text if sources else None


def find_reports(paths: Iterable[Path]) -> list[Path]:
    """Expand directories to the report files inside them (sorted; see `rag.read.formats.SUFFIXES`)."""
    return find_sources(paths)


def load_file(path: Path, settings: Settings) -> list[Document]:
    """Every report in one file, cut into chunks: one for a text file, one per record of a dataset
    (its other columns become labels for the metadata)."""
    return [
        build_document(
            path,
            src.text,
            settings,
            path.stem + (f"-{src.suffix_id}" if src.suffix_id else ""),
            fields=src.fields,
            source=src,
        )
        for src in read_source(path)
    ]


def chunk_pages(spans: list[list[int]], source: SourceText | None) -> list[list[int]]:
    """[offset, page] where each PDF page of a chunk (its `spans` of the extracted text) begins."""
    if source is None or not any(s.page for s in source.source_map):
        return []
    out: list[list[int]] = []
    for a, b in spans:
        for sp in source.source_map:
            if sp.end <= a or sp.start >= b or sp.page is None:
                continue
            if not out or out[-1][1] != sp.page:
                out.append([max(a, sp.start), sp.page])
    return out


# --- one document -------------------------------------------------------------------------------
def _section_ids(sec: Section) -> str:
    return ".".join(str(s.ordinal) for s in sec.path()) or "0"


def _article_display(art: Article, meta: DocMeta, kind: str, year: int | None) -> str:
    if kind.startswith("政府工作报告"):
        base = f"{year}年政府工作报告" if year else "政府工作报告"
        return base + ("（摘要）" if "摘要" in kind else "")
    title = art.title or ""
    sub = art.subtitle or ""
    if sub and not any(k in to_simplified(sub) for k in ("会议上", "月")):
        return f"{title}——{sub}" if title else sub
    return title or (f"{year}年" if year else "") + "报告"


def _depth(sec: Section) -> int:
    return len(sec.path())


def build_document(
    path: Path,
    text: str,
    settings: Settings,
    doc_id: str | None = None,
    fields: dict[str, str] | None = None,
    source: SourceText | None = None,
) -> Document:
    """Cut one report into chunks with metadata (duplicates collapsed, twins not yet linked).

    `fields` are a dataset record's other columns (title, year, …): labels, trusted least.
    `source`: what the reader gave (format, the map back to a PDF's pages)."""
    doc_id = doc_id or path.stem
    articles, paras, markers, narrow = cut_document(text)
    content = "\n".join(p.block.text for p in paras if p.kind in ("body", "bullet", "heading"))
    head = [p.block.text for p in paras if p.kind in ("title", "meta") and p.article is articles[0]] if articles else []
    header = [p.block.text for p in paras if p.kind == "noise" and p.block.title == "header"]
    labels = [*(fields or {}).values(), *header, path.stem]
    meta = derive(content, head, path.with_name(path.name + ".meta.toml"), labels)

    art_info: dict[int, dict] = {}
    for art in articles:
        body_sample = "".join(p.block.text for p in paras if p.article is art and p.kind == "body")[:4000]
        kind = article_kind(art.title, art.subtitle, body_sample, art.kind)
        sec_titles = [s.title for s in _walk(art.root)]
        year = article_year(art.title, art.subtitle, meta.year, sec_titles)
        art_info[art.index] = {
            "index": art.index,
            "title": art.title,
            "subtitle": art.subtitle,
            "kind": kind,
            "year": year,
            "display": _article_display(art, meta, kind, year),
        }
    if not meta.kind and articles:
        meta.kind = art_info[articles[0].index]["kind"]

    dups, n_collapsed = find_duplicates(paras, settings.near_duplicate_threshold)
    for p in paras:  # a collapsed group is cited under the location with the richest heading context
        group = dups["groups"].get(id(p))
        if group:
            p.section = max([p] + group, key=lambda q: _depth(q.section)).section
    pieces = make_pieces([p for p in paras if id(p) not in dups["dropped"]], settings.chunk_target_chars)
    chunks: list[Chunk] = []
    meta_counter: dict[tuple[int, str], int] = defaultdict(int)
    for pc in pieces:
        p = pc.para
        group = dups["groups"].get(id(p), [])
        section = p.section
        sec_ids = _section_ids(section)
        art = p.article
        if p.kind in ("body", "bullet"):
            cid = f"{doc_id}/a{art.index}/s{sec_ids}/p{pc.number}" + (f".{pc.part}" if pc.part else "")
        elif p.kind == "heading":
            cid = f"{doc_id}/a{art.index}/s{sec_ids}/h"
        else:
            key = (art.index, p.kind)
            meta_counter[key] += 1
            cid = f"{doc_id}/a{art.index}/{p.kind[0]}{meta_counter[key]}"
        spans = [list(s) for s in pc.spans]
        locations = [{"doc": doc_id, "start": spans[0][0], "end": spans[-1][1], "section_path": sec_ids}]
        for q in group:
            qs = q.block.lines
            locations.append(
                {"doc": doc_id, "start": qs[0].start, "end": qs[-1].end, "section_path": _section_ids(q.section)}
            )
        flags: list[str] = []
        garbled = [{"text": g.text, "repaired": g.repaired} for g in p.block.garbled if g.text in pc.text]
        if garbled:
            flags.append("garbled")
        if p.reassigned:
            flags.append("reassigned")
        if group:
            flags.append("duplicates-collapsed")
        if any(ln.hard_before for ln in p.block.lines[1:]):
            flags.append("page-cut")
        info = art_info[art.index]
        chunks.append(
            Chunk(
                id=cid,
                doc=doc_id,
                article=art.index,
                kind=p.kind,
                title=info["display"],
                place=meta.place,
                year=info["year"],
                section=[s.title for s in section.path()],
                section_path=sec_ids,
                paragraph=pc.number,
                part=pc.part,
                text=pc.text,
                search_text=normalize(pc.text).text,
                start=spans[0][0],
                end=spans[-1][1],
                spans=spans,
                locations=locations,
                flags=flags,
                garbled=garbled,
                pages=chunk_pages(spans, source),
            )
        )
    _dedupe_ids(chunks)
    assign_periods(chunks, art_info)
    link_notes(chunks)
    link_leads(chunks)
    doc = Document(
        id=doc_id,
        name=path.name,
        path=str(path),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        chars=len(text),
        meta=meta,
        title="",
        articles=list(art_info.values()),
        sections=[_section_tree(a) for a in articles],
        markers=[asdict(m) for m in markers],
        narrow=narrow,
        duplicates_collapsed=n_collapsed,
        garbled_runs=sum(len(p.block.garbled) for p in paras),
        chunks=chunks,
        fmt=source.fmt if source is not None else "text",
    )
    doc.title = f"{meta.place} · {art_info[articles[0].index]['display']}" if articles else path.stem
    finalize_breadcrumbs(doc)
    return doc


def _walk(sec: Section) -> Iterable[Section]:
    for c in sec.children:
        yield c
        yield from _walk(c)


def _section_tree(art: Article) -> dict:
    def node(s: Section) -> dict:
        return {
            "title": s.title,
            "path": _section_ids(s),
            "style": s.style,
            "number": s.number,
            "garbled": s.garbled,
            "children": [node(c) for c in s.children],
        }

    return {
        "article": art.index,
        "title": art.title,
        "subtitle": art.subtitle,
        "children": [node(c) for c in art.root.children],
    }


def _dedupe_ids(chunks: list[Chunk]) -> None:
    seen: dict[str, int] = {}
    for c in chunks:
        if c.id in seen:
            seen[c.id] += 1
            c.id = f"{c.id}~{seen[c.id]}"
        else:
            seen[c.id] = 0


# --- the whole corpus -----------------------------------------------------------------------------
def ingest_paths(paths: Iterable[Path], settings: Settings, progress: bool = True) -> list[Document]:
    """Read and cut every report under `paths`; empty files are skipped with a warning."""
    from rich.progress import track

    files = find_reports(paths)
    if not files:
        raise RagError(
            "no report files ("
            + ", ".join(f"*{x}" for x in SUFFIXES)
            + ") found in "
            + ", ".join(str(p) for p in paths)
        )
    docs: list[Document] = []
    ids: set[str] = set()
    for f in track(files, description="ingest", disable=not progress, transient=True):
        got = load_file(f, settings)
        if not got:
            log.warning("skipping empty file %s", f)
            continue
        for d in got:
            if d.id in ids:
                raise RagError(f"two reports share the name {d.id}; rename one")
            ids.add(d.id)
            docs.append(d)
    link_twins(docs, settings.twin_threshold)
    return docs
