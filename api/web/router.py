"""`/` and `/static/*`: the web page and its files, served from the package (no CDN, no build step).

The page holds no data, so it loads without the API key; every data call it makes carries the key.
A strict Content-Security-Policy allows scripts, styles and connections to this origin only, so even
a report text that slipped into the page as markup could not run anything.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import NOT_FOUND, ApiError

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _load(name: str) -> tuple[bytes, str] | None:
    """A file of the page (its bytes and ETag); None for anything that is not one (no path walking)."""
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        return None
    data = path.read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


def files() -> list[str]:
    """Every file the page is made of (for the weight check)."""
    return sorted(p.name for p in STATIC.iterdir() if p.is_file() and p.suffix in TYPES)


def _serve(request: Request, name: str) -> Response:
    found = _load(name)
    if found is None:
        raise ApiError(404, f"no file '{name}'", NOT_FOUND, code="not_found")
    data, etag = found
    headers = {**HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=TYPES[Path(name).suffix], headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def page(request: Request) -> Response:
    return _serve(request, "index.html")


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def static(request: Request, name: str) -> Response:
    return _serve(request, name)
