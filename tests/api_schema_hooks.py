"""What the contract tests need to know that JSON Schema cannot say, for the API's OpenAPI document.

Loaded by tests/test_api_schema.py, and by the command-line run over a live server:

    SCHEMATHESIS_HOOKS=api_schema_hooks PYTHONPATH=tests schemathesis run http://127.0.0.1:8000/openapi.json ...

* String format `report` and the binary upload media types: an upload is a report only if it has
  paragraphs to index (a PDF with a text layer, a Word file, a web page, text in Chinese); random
  strings and bytes are not, and the server rightly answers 422. These strategies make real reports
  (invented places, varied figures), so uploads are created, listed, read back and deleted during
  the run.
* The body-size limit (413, documented on every operation with a body) is on the bytes of the whole
  request, which JSON Schema cannot bound either: positive cases whose JSON body is over 16 KiB (a
  quarter of the default limit, RAG_API_MAX_BODY_BYTES) are dropped. Negative ones are kept.
* A `scope` may name only what the library holds, and the document lists it (one `anyOf` branch per
  report, titled with its id). But the run changes the library after it has read the document: it
  removes seed reports (`DELETE /v1/documents/{id}` with ids taken from the listing), and a scope
  naming a removed report (or a place or year only removed reports had) is then rightly a 422. So
  the removals are noted (`after_call`), and a positive case is kept only if its scope holds for the
  library without them. `reset()` forgets them, for a run on a fresh copy of the index. The filters of
  `/v1/indicators` (and `/compare`) name documents, places, years and levels too: a positive case is
  kept only if each name it gives is still held once the removed reports are gone.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import jsonschema_rs
import schemathesis
from hypothesis import strategies as st

PDF_DIR = Path(__file__).parent / "data" / "pdf"
# PDFs with a text layer that are reports (each has the text it should read as beside it).
PDFS = sorted(p.read_bytes() for p in PDF_DIR.glob("*.pdf") if p.with_suffix(".txt").exists())

PLACES = ["甲市", "乙县", "丙市", "丁县", "戊市"]
THINGS = [
    ("新建公园", "个"),
    ("新增就业岗位", "个"),
    ("改造老旧小区", "个"),
    ("新建学校", "所"),
    ("新建充电桩", "座"),
    ("新认定高新技术企业", "家"),
    ("植树造林", "万亩"),
]


@st.composite
def report_text(draw: st.DrawFn, paragraphs: tuple[int, int] = (1, 4), sentences: tuple[int, int] = (1, 3)) -> str:
    """A short work report: a title line and a few body paragraphs with figures."""
    place = draw(st.sampled_from(PLACES))
    year = draw(st.integers(2015, 2030))
    lines = [f"{place}{year}年政府工作报告", ""]
    for _ in range(draw(st.integers(*paragraphs))):
        said = []
        for _ in range(draw(st.integers(*sentences))):
            thing, unit = draw(st.sampled_from(THINGS))
            said.append(f"{place}今年计划{thing}{draw(st.integers(1, 99999))}{unit}。")
        lines.append("".join(said))
    return "\n".join(lines) + "\n"


def docx_bytes(text: str) -> bytes:
    from docx import Document

    doc = Document()
    for line in text.splitlines():
        if line.strip():
            doc.add_paragraph(line)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def html_bytes(text: str) -> bytes:
    lines = [line for line in text.splitlines() if line.strip()]
    body = "".join(f"<p>{line}</p>" for line in lines[1:])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{lines[0]}</title></head>"
        f"<body><h1>{lines[0]}</h1>{body}</body></html>"
    ).encode()


REPORT = report_text()
TEXT = REPORT.map(lambda t: t.encode())
PDF = st.sampled_from(PDFS)
DOCX = REPORT.map(docx_bytes)
HTML = report_text(paragraphs=(4, 6), sentences=(3, 4)).map(html_bytes)  # a page needs 100 letters of text

schemathesis.openapi.format("report", REPORT)
schemathesis.openapi.media_type("text/plain", TEXT)
schemathesis.openapi.media_type("application/pdf", PDF)
schemathesis.openapi.media_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX)
schemathesis.openapi.media_type("text/html", HTML)
schemathesis.openapi.media_type("application/octet-stream", st.one_of(PDF, DOCX, TEXT))


MAX_POSITIVE_BODY = 16 * 1024


@schemathesis.hook("filter_case")
def body_within_the_size_limit(context, case) -> bool:
    """Keep positive cases whose JSON body fits the server's body limit (see the module's docstring)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, (dict, list)):
        return True
    size = len(json.dumps(case.body, ensure_ascii=False, default=_size_stand_in).encode("utf-8", "surrogatepass"))
    return size <= MAX_POSITIVE_BODY


def _size_stand_in(value: object) -> str:
    """A string as long as a form's file bytes (or any other value json cannot write)."""
    return "x" * len(value) if isinstance(value, (bytes, bytearray)) else str(value)


SCOPED = ("/v1/ask", "/v1/search", "/v1/chat/completions")
REMOVED: set[str] = set()  # reports this run removed from the library (see the module's docstring)


def reset() -> None:
    """Forget the removals (a new run serves a fresh copy of the index)."""
    REMOVED.clear()


@schemathesis.hook("after_call")
def note_removed_reports(context, case, response) -> None:
    if case.method.upper() == "DELETE" and response.status_code == 200:
        REMOVED.add(str((case.path_parameters or {}).get("doc_id")))


@schemathesis.hook("filter_case")
def scope_within_the_library(context, case) -> bool:
    """Keep positive cases whose scope the library still accepts once the removed reports are gone."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or not REMOVED or case.path not in SCOPED:
        return True
    scope = case.body.get("scope") if isinstance(case.body, dict) else None
    if not isinstance(scope, dict):
        return True
    component = case.operation.schema.raw_schema["components"]["schemas"]["ScopeRequest"]
    return jsonschema_rs.is_valid(without_removed(component), scope)


def without_removed(component: dict) -> dict:
    """The scope's schema for the library less the removed reports: their branches dropped, and the
    names only they had (documents, places, years) taken out of the lists."""
    left = [b for b in component.get("anyOf", []) if b.get("title") not in REMOVED]
    out = copy.deepcopy(component)
    out["anyOf"] = left or [{"not": {}}]
    for field in ("docs", "places", "years"):
        names = [
            n
            for b in left
            for s in b["properties"][field].get("anyOf", [])
            for n in s.get("contains", {}).get("enum", [])
        ]
        items = out["properties"][field]["items"]
        items.pop("enum", None)
        items.update({"enum": list(dict.fromkeys(names))} if names else {"not": {}})
    return out


INDICATORS = ("/v1/indicators", "/v1/indicators/compare")


@schemathesis.hook("filter_case")
def indicator_filters_within_the_library(context, case) -> bool:
    """Keep positive indicator cases whose filters name only what the library still holds once the
    removed reports are gone (see the module's docstring)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or not REMOVED or case.path not in INDICATORS:
        return True
    left = without_removed(case.operation.schema.raw_schema["components"]["schemas"]["ScopeRequest"])
    props = left["properties"]
    held = {
        "doc": set(props["docs"]["items"].get("enum", [])),
        "place": set(props["places"]["items"].get("enum", [])),
        "year": {str(y) for y in props["years"]["items"].get("enum", [])},
        "level": {
            lv
            for b in left["anyOf"]
            for s in b.get("properties", {}).get("levels", {}).get("anyOf", [])
            for lv in s.get("contains", {}).get("enum", [])
        },
    }
    for param, names in held.items():
        values = (case.query or {}).get(param)
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            if any(name not in names for name in str(value).split(",")):
                return False
    return True
