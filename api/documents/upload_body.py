"""The body of `POST /v1/documents`: a report's bytes, a multipart form with one `file` field, or JSON
`{"name": ..., "text": ...}`, turned into the bytes and display name of the upload; and the OpenAPI
description of those bodies. Whether the bytes are a report is the library's check, not this one's.
"""

from __future__ import annotations

import json

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError

from api.errors import ApiError

# The text of a report (the contract tests make real ones for this format); never empty.
REPORT_TEXT = {"type": "string", "format": "report", "minLength": 1}
# Raw bodies documented with a schema of their own (the text ones are `REPORT_TEXT`).
BINARY_TYPES = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/html",
    "application/octet-stream",
)
RAW_TYPES = (
    "text/plain",
    "text/markdown",
    "application/octet-stream",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/html",
    "text/csv",
    "application/jsonl",
    "application/x-ndjson",
)
FILE = {"type": "string", "format": "binary", "minLength": 1}


class UploadJson(BaseModel):
    name: str | None = Field(None, max_length=200, description="A file name to show in listings (never a path).")
    text: str = Field(
        description="The report's text (format `report`: see the request body).",
        json_schema_extra={"format": "report", "minLength": 1},
    )


REQUEST_BODY = {
    "required": True,
    "description": (
        "The report as a file's bytes: UTF-8 text, a PDF with a text layer, a Word .docx or a web page, sniffed from "
        "the bytes (give a display name with `?name=`, whose suffix also tells a CSV or JSON Lines dataset; "
        "`text/csv`, `text/markdown`, `application/jsonl` are accepted too), a multipart form with the file in "
        '`file`, or JSON `{"name": ..., "text": ...}`. String format `report`: the text of a report, with '
        "at least one paragraph of Chinese (or English) text to index; anything else is a 422 `invalid_report`."
    ),
    "content": {
        "text/plain": {"schema": REPORT_TEXT},
        **{t: {"schema": FILE} for t in BINARY_TYPES},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {"file": {**FILE, "description": "The report file."}},
            },
            "encoding": {"file": {"contentType": ", ".join(["text/plain", *BINARY_TYPES])}},
        },
        "application/json": {"schema": UploadJson.model_json_schema()},
    },
}


async def read_upload(request: Request, name: str | None) -> tuple[bytes, str | None]:
    """The uploaded bytes and display name, whichever way the body holds them; 400 for a body that
    cannot be read, 415 for an unsupported Content-Type, 422 for a JSON or form body of the wrong shape."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data = await request.body()
    if ctype == "application/json":
        try:
            raw = json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise ApiError(400, f"the request body is not valid JSON ({exc})", code="invalid_json") from exc
        except RecursionError:
            raise ApiError(400, "the request body is not valid JSON (nested too deeply)", code="invalid_json") from None
        try:
            payload = UploadJson.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            raise ApiError(
                422, f"{param}: {first['msg']}" if param else first["msg"], param=param, code=first["type"]
            ) from exc
        return payload.text.encode("utf-8"), payload.name or name
    if ctype == "multipart/form-data":
        return await _form_file(request, name)
    if ctype not in RAW_TYPES and ctype:
        raise ApiError(
            415,
            f"unsupported Content-Type '{ctype}'; send the file's bytes (text/plain, "
            "application/pdf, application/octet-stream …), a multipart form with a `file` field, "
            "or application/json",
            code="unsupported_media_type",
        )
    return data, name


async def _form_file(request: Request, name: str | None) -> tuple[bytes, str | None]:
    """The bytes and file name of the one `file` field of a multipart upload (a browser form or
    `curl -F file=@甲市.pdf`); the body size limit has already been applied by the middleware."""
    try:
        form = await request.form(max_files=1, max_fields=4)
    except Exception as exc:  # malformed multipart bodies raise parser-specific errors
        raise ApiError(
            400,
            f"the multipart body cannot be read ({str(exc).splitlines()[0] if str(exc) else 'malformed'})",
            code="invalid_multipart",
        ) from exc
    upload = form.get("file")
    if upload is None:
        raise ApiError(
            422, "the multipart form has no `file` field holding the report file", param="file", code="missing_file"
        )
    other = sorted({k for k in form.keys() if k != "file"})
    if other:
        raise ApiError(
            422,
            f"unexpected form field '{other[0][:50]}': the form holds one field, `file`",
            param=other[0][:50],
            code="unexpected_field",
        )
    if isinstance(upload, str):  # a form field holding the text itself (sent without a file name)
        return upload.encode("utf-8"), name
    try:
        data = await upload.read()
    finally:
        await upload.close()
    return data, name or upload.filename
