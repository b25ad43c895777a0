"""Opening a .docx safely: the checks that keep wrong, damaged and hostile files out of the reader.

A .docx is a ZIP package; what people upload as one may be an old or password-protected Word file
(an OLE container, which Word also uses for encrypted .docx), a ZIP of something else, a download
cut short, or a ZIP bomb. Each gets one line that says what is wrong and what to do, before any
XML is parsed; sizes are read from the ZIP directory, so a bomb is refused without inflating it.
"""

from __future__ import annotations

import io
import zipfile

from .errors import RagError

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # a 1,000-page report with images is well under this
MAX_RATIO = 100  # report XML compresses ~10×, repetitive XML ~200× (small parts only); a zip bomb ~1000×
RATIO_FROM = 16 << 20  # the ratio is judged on parts this large
MAX_ENTRIES = 10_000
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_docx(raw: bytes, name: str):
    """The python-docx Document, after checks that keep hostile or wrong files out."""
    if raw.startswith(_OLE):
        raise RagError(f"{name} is password-protected or an old .doc (Word 97-2003) file; "
                       f"save it as .docx without a password")
    if not raw.startswith(b"PK"):
        raise RagError(f"{name} is not a .docx file (not a ZIP package); save it from Word as .docx")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise RagError(f"{name} is a damaged .docx (truncated or corrupt ZIP: {exc}); "
                       f"download it again or re-save it in Word") from None
    total = sum(i.file_size for i in infos)
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > RATIO_FROM), default=0)
    if len(infos) > MAX_ENTRIES or total > MAX_UNCOMPRESSED or worst > MAX_RATIO:
        raise RagError(f"{name} unpacks to {total >> 20} MB in {len(infos)} files (compression up to "
                       f"{worst:.0f}:1), over the limit for a report ({MAX_UNCOMPRESSED >> 20} MB, "
                       f"{MAX_RATIO}:1); it is not a normal .docx")
    names = set(zf.namelist())
    if "[Content_Types].xml" not in names:
        raise RagError(f"{name} is a ZIP archive, not a Word document; save the report as .docx")
    try:
        bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        bad = str(exc)
    if bad:
        raise RagError(f"{name} is a damaged .docx (corrupt entry {bad}); download it again or re-save it in Word")
    import docx  # imported here: only .docx files need it

    try:
        return docx.Document(io.BytesIO(raw))
    except ValueError as exc:  # python-docx: "file is not a Word file, content type is …"
        what = str(exc).rsplit("content type is", 1)[-1].strip(" '")
        raise RagError(f"{name} is not a Word document (content type {what}); save the report as .docx") from None
    except Exception as exc:  # noqa: BLE001 - lxml, KeyError for missing parts: all mean a broken package
        raise RagError(f"{name} is a damaged .docx ({type(exc).__name__}: {str(exc)[:80]}); "
                       f"re-save it in Word") from None
