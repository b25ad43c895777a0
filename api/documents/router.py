"""`/v1/documents`: list, upload and remove reports.

An upload is validated (UTF-8 text, a dataset file, a PDF with a text layer, a Word .docx or a web
page, sniffed from its bytes, within the size limit), saved under an id the server generates,
ingested and indexed (only its new chunks are embedded), and then published: the next
question can find it. Questions answered meanwhile use the previous index to the end. Removing a
seed report excludes it from the service's corpus; its file in the seeds folder is left alone.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path as FilePath

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.dependencies import get_retriever, get_services, require_ready
from api.documents.upload_body import REQUEST_BODY, read_upload
from api.errors import COMMON_ERRORS, CONFLICT, NOT_FOUND, ApiError, ErrorResponse
from api.services import Services
from rag.errors import RagError
from rag.library import Change
from rag.read.formats import MEDIA_TYPES, SourceText, read_source
from rag.search.retrieve import Retriever

router = APIRouter(prefix="/v1", tags=["documents"], dependencies=[Depends(require_ready)])

# A document id: a file stem the server made or found in the seeds folder; never `.`/`..`, never a path.
DOC_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class DocumentInfo(BaseModel):
    id: str = Field(description="Document id, as in citations (`doc`) and chunk ids.")
    name: str = Field(description="File name (for an upload: the name the client gave, for display only).")
    title: str = Field(description="place · title of the first article.")
    place: str = Field(description="City or county.")
    level: str = Field(description="city or county.")
    year: int | None = Field(description="Year of the report.")
    kind: str = Field(description="Kind of document, e.g. 政府工作报告.")
    date: str = Field(description="Date of the report when stated.")
    script: str = Field(description="simplified or traditional.")
    chars: int = Field(description="Characters of text.")
    chunks: int = Field(description="Chunks cut from it.")
    twin_of: list[str] = Field(description="Ids of the same report in the other script.")
    source: str = Field(description="`seed` (from the seeds folder) or `upload`.")
    format: str = Field("text", description="Format of the original: text, csv, json, pdf, docx or html.")
    uploaded: str | None = Field(None, description="Time of upload (uploads only).")


class ChangeResult(BaseModel):
    document: dict | None = Field(description="The uploaded document: id, title, place, year, chunks, chars, format.")
    documents: int = Field(description="Documents in the library after the change.")
    chunks: int = Field(description="Indexed chunks after the change.")
    embedded: int = Field(description="Chunks that had to be embedded (the rest came from the cache).")
    reused: int = Field(description="Chunks whose vectors came from the cache.")
    seconds: float = Field(description="Time to ingest, index and publish.")


def _info(d: dict, services: Services, uploads: dict) -> DocumentInfo:
    meta = d.get("meta") or {}
    up = uploads.get(d["id"], {})
    return DocumentInfo(
        id=d["id"],
        name=up.get("name") or d.get("name", ""),
        title=d.get("title", ""),
        place=meta.get("place") or "",
        level=meta.get("level") or "",
        year=meta.get("year"),
        kind=meta.get("kind") or "",
        date=meta.get("date") or "",
        script=meta.get("script") or "",
        chars=d.get("chars", 0),
        chunks=d.get("chunks", 0),
        twin_of=d.get("twin_of", []),
        source=services.library.source(d["id"]),
        uploaded=up.get("uploaded"),
        format=d.get("format") or "text",
    )


def _result(change: Change) -> ChangeResult:
    return ChangeResult(
        document=change.document,
        documents=change.documents,
        chunks=change.chunks,
        embedded=change.embedded,
        reused=change.reused,
        seconds=change.seconds,
    )


@router.get(
    "/documents", response_model=list[DocumentInfo], responses=COMMON_ERRORS, summary="The documents being served"
)
async def list_documents(
    services: Services = Depends(get_services), retriever: Retriever = Depends(get_retriever)
) -> list[DocumentInfo]:
    uploads = services.library.uploads()
    return [_info(d, services, uploads) for d in retriever.documents]


@router.post(
    "/documents",
    status_code=201,
    response_model=ChangeResult,
    summary="Upload a report",
    responses={
        **COMMON_ERRORS,
        400: {"model": ErrorResponse, "description": "Malformed JSON body."},
        409: {"model": ErrorResponse, "description": "The same text is already in the library."},
        415: {"model": ErrorResponse, "description": "Unsupported Content-Type."},
        422: {
            "model": ErrorResponse,
            "description": "Not a report (not UTF-8 text, a PDF without a text layer, "
            "another binary file), empty, or nothing to index.",
        },
    },
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def upload_document(
    request: Request,
    name: str | None = Query(
        None, max_length=200, description=("Display name for a raw upload (for listings only; never used as a path).")
    ),
    services: Services = Depends(get_services),
) -> ChangeResult:
    data, name = await read_upload(request, name)
    change = await run_in_threadpool(services.add_document, data, name)
    return _result(change)  # 201, the route's status


@router.delete(
    "/documents/{doc_id}",
    response_model=ChangeResult,
    summary="Remove a report",
    responses={
        **COMMON_ERRORS,
        404: {"model": ErrorResponse, "description": "No document with that id."},
        409: {"model": ErrorResponse, "description": "It is the last document."},
    },
)
async def delete_document(
    doc_id: str = Path(max_length=100, pattern=DOC_ID, description="Document id from GET /v1/documents."),
    services: Services = Depends(get_services),
) -> ChangeResult:
    change = await run_in_threadpool(services.remove_document, doc_id)
    return _result(change)


@router.get(
    "/documents/{doc_id}/file",
    summary="The original file of a report",
    responses={
        **COMMON_ERRORS,
        200: {
            "description": "The file as it was given, with its content type (a PDF opens at `#page=N`).",
            "content": {t: {} for t in sorted(set(MEDIA_TYPES.values()))},
        },
        404: {"model": ErrorResponse, "description": "No document with that id."},
    },
    response_class=FileResponse,
)
async def document_file(
    doc_id: str = Path(max_length=100, pattern=DOC_ID, description="Document id from GET /v1/documents."),
    services: Services = Depends(get_services),
    retriever: Retriever = Depends(get_retriever),
) -> FileResponse:
    served = {d["id"] for d in retriever.documents}
    if doc_id not in served:
        raise ApiError(404, f"no document '{doc_id}'", code="not_found")
    path = services.library.file_of(doc_id)
    media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    shown = services.library.uploads().get(doc_id, {}).get("name") or path.name
    return FileResponse(path, media_type=media, filename=shown, content_disposition_type="inline")


class Paragraph(BaseModel):
    id: str = Field(description="Chunk id, as in citations (`id`).")
    kind: str = Field(description="body, bullet, heading, title, meta or noise (page furniture).")
    start: int = Field(description="Offset in `text` where the chunk begins.")
    end: int = Field(description="Offset in `text` where it ends.")
    spans: list[list[int]] = Field(description="The exact `[start, end)` ranges of `text` its characters come from.")
    section: list[str] = Field(description="Heading path from the top of the article.")
    breadcrumb: str = Field(description="place · title › section › subsection.")
    paragraph: int = Field(description="Paragraph number within its section (0 for headings, titles, meta lines).")
    page: int | None = Field(None, description="PDF page where the chunk begins.")
    twins: list[str] = Field(description="Ids of the matching chunks in twin reports (the other script).")


class DocumentText(BaseModel):
    id: str = Field(description="Document id.")
    name: str = Field(description="File name (for an upload: the name the client gave).")
    title: str = Field(description="place · title of the first article.")
    place: str = Field(description="The place the report is about.")
    year: int | None = Field(description="Year of the report.")
    script: str = Field(description="simplified or traditional.")
    format: str = Field(description="Format of the original: text, csv, json, pdf, docx or html.")
    text: str = Field(
        description="The report's text as read (decoded, line endings unified; for PDF, Word and "
        "web pages the text extracted from the file, one paragraph per line): the string "
        "that citation and paragraph offsets index."
    )
    paragraphs: list[Paragraph] = Field(description="Every chunk cut from the text, in order, with its offsets.")
    twin_of: list[str] = Field(description="Ids of the same report in the other script.")


_TEXT_CACHE: OrderedDict[tuple, list[SourceText]] = OrderedDict()
_TEXT_CACHE_SIZE = 8
_TEXT_LOCK = threading.Lock()


def _sources(path: FilePath) -> list[SourceText]:
    """What `read_source` gives for a file, kept for a few files (a PDF takes a while to read, and
    the report view switches between twins)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _TEXT_LOCK:
        if key in _TEXT_CACHE:
            _TEXT_CACHE.move_to_end(key)
            return _TEXT_CACHE[key]
    sources = read_source(path)
    with _TEXT_LOCK:
        _TEXT_CACHE[key] = sources
        while len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
            _TEXT_CACHE.popitem(last=False)
    return sources


def _document_text(services: Services, retriever: Retriever, doc_id: str) -> DocumentText:
    """The text the document's offsets index (read again from its file, as ingestion read it) and its chunks."""
    summary = next((d for d in retriever.documents if d["id"] == doc_id), None)
    if summary is None:
        raise ApiError(404, f"no document '{doc_id}'", NOT_FOUND, code="document_not_found")
    try:
        path = services.library.file_of(doc_id)
        sources = _sources(path)
    except (RagError, OSError) as exc:
        raise ApiError(
            404,
            f"the file of document '{doc_id}' cannot be read ({str(exc).splitlines()[0]})",
            NOT_FOUND,
            code="document_file_missing",
        ) from exc
    src = next((s for s in sources if path.stem + (f"-{s.suffix_id}" if s.suffix_id else "") == doc_id), None)
    if src is None:
        raise ApiError(
            404, f"the file of document '{doc_id}' no longer holds it", NOT_FOUND, code="document_file_missing"
        )
    digest = summary.get("sha256")
    if digest and hashlib.sha256(src.text.encode("utf-8")).hexdigest() != digest:
        raise ApiError(
            409,
            f"the file of document '{doc_id}' changed since it was indexed; re-index it "
            "(`rag index`) to read it with citations",
            CONFLICT,
            code="document_changed",
        )
    paragraphs = [
        Paragraph(
            id=c.id,
            kind=c.kind,
            start=c.start,
            end=c.end,
            spans=c.spans,
            section=c.section,
            breadcrumb=c.breadcrumb,
            paragraph=c.paragraph,
            page=c.pages[0][1] if c.pages else None,
            twins=c.twins,
        )
        for c in retriever.store.iter_chunks(doc=doc_id)
    ]
    meta = summary.get("meta") or {}
    shown = services.library.uploads().get(doc_id, {}).get("name") or summary.get("name", "")
    return DocumentText(
        id=doc_id,
        name=shown,
        title=summary.get("title", ""),
        place=meta.get("place") or "",
        year=meta.get("year"),
        script=meta.get("script") or "",
        format=summary.get("format") or "text",
        text=src.text,
        paragraphs=paragraphs,
        twin_of=summary.get("twin_of", []),
    )


@router.get(
    "/documents/{doc_id}/text",
    response_model=DocumentText,
    summary="The text of a report, as cited",
    responses={
        **COMMON_ERRORS,
        404: {"model": ErrorResponse, "description": "No document with that id, or its file is gone."},
        409: {"model": ErrorResponse, "description": "The file changed since it was indexed."},
    },
)
async def document_text(
    doc_id: str = Path(
        max_length=100, pattern=DOC_ID, description="Document id from GET /v1/documents or a citation's `doc`."
    ),
    services: Services = Depends(get_services),
    retriever: Retriever = Depends(get_retriever),
) -> DocumentText:
    """The report's text as read, the string citation offsets (`start`, `end`) index, with every chunk's
    offsets and twin chunks, so a client can show the whole report and highlight a quote exactly; for a
    PDF, Word file or web page this is the text read from it, not the binary original (see `/file`)."""
    return await run_in_threadpool(_document_text, services, retriever, doc_id)
