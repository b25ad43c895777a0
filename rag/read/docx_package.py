"""Opening a .docx safely: the checks that keep wrong, damaged and hostile files out of the reader.

A .docx is a ZIP package; what people upload as one may be an old or password-protected Word file
(an OLE container, which Word also uses for encrypted .docx), a ZIP of something else, a download
cut short, or a ZIP bomb. Each gets one line that says what is wrong and what to do, before any
XML is parsed; sizes are read from the ZIP directory, so a bomb is refused without inflating it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from rag.errors import RagError

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # a 1,000-page report with images is well under this
MAX_XML = 8 * 1024 * 1024  # the XML parts: parsed whole (~14 bytes of memory per byte) and read at ~1 s per 0.1 MB of
# short paragraphs; a provincial report has 0.2 MB
MAX_RATIO = 100  # report XML compresses ~10×, repetitive XML ~200× (small parts only); a zip bomb ~1000×
RATIO_FROM = 16 << 20  # the ratio is judged on parts this large
MAX_ENTRIES = 10_000
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_docx(raw: bytes, name: str):
    """The python-docx Document, after checks that keep hostile or wrong files out."""
    if raw.startswith(_OLE):
        raise RagError(
            f"{name} is password-protected or an old .doc (Word 97-2003) file; save it as .docx without a password"
        )
    if not raw.startswith(b"PK"):
        raise RagError(f"{name} is not a .docx file (not a ZIP package); save it from Word as .docx")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise RagError(
            f"{name} is a damaged .docx (truncated or corrupt ZIP: {exc}); download it again or re-save it in Word"
        ) from None
    total = sum(i.file_size for i in infos)
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > RATIO_FROM), default=0)
    if len(infos) > MAX_ENTRIES or total > MAX_UNCOMPRESSED or worst > MAX_RATIO:
        raise RagError(
            f"{name} unpacks to {total >> 20} MB in {len(infos)} files (compression up to "
            f"{worst:.0f}:1), over the limit for a report ({MAX_UNCOMPRESSED >> 20} MB, "
            f"{MAX_RATIO}:1); it is not a normal .docx"
        )
    xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
    if xml > MAX_XML:
        raise RagError(
            f"{name} holds {xml >> 20} MB of document XML, over the limit for a report "
            f"({MAX_XML >> 20} MB, about 400 pages of text); split it into its reports"
        )
    names = set(zf.namelist())
    if "[Content_Types].xml" not in names:
        raise RagError(f"{name} is a ZIP archive, not a Word document; save the report as .docx")
    for info in infos:
        _check_entry(raw, info, name)
    import docx  # imported here: only .docx files need it

    try:
        return docx.Document(io.BytesIO(raw))
    except ValueError as exc:  # python-docx: "file is not a Word file, content type is …"
        what = str(exc).rsplit("content type is", 1)[-1].strip(" '")
        raise RagError(f"{name} is not a Word document (content type {what}); save the report as .docx") from None
    except Exception as exc:  # noqa: BLE001 - lxml, KeyError for missing parts: all mean a broken package
        raise RagError(
            f"{name} is a damaged .docx ({type(exc).__name__}: {str(exc)[:80]}); re-save it in Word"
        ) from None


def _check_entry(raw: bytes, info: zipfile.ZipInfo, name: str) -> None:
    """Inflate one entry in bounded steps and check it against the ZIP directory: its size (a bomb
    can state 1 MB and inflate to gigabytes; readers that trust the stated size would allocate
    what the data inflates to) and its checksum (a damaged download). Memory: one step at a time."""
    if info.flag_bits & 0x1:
        raise RagError(f"{name} has encrypted parts; save the report from Word without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise RagError(
            f"{name} uses a compression Word never writes (method {info.compress_type}) "
            f"in {info.filename}; re-save it in Word"
        )
    at = info.header_offset
    head = raw[at : at + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise RagError(
            f"{name} is a damaged .docx (corrupt entry {info.filename}); download it again or re-save it in Word"
        )
    n, m = struct.unpack("<HH", head[26:30])
    data = memoryview(raw)[at + 30 + n + m : at + 30 + n + m + info.compress_size]
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    size, crc = 0, 0
    try:
        for k in range(0, len(data), _STEP):
            piece = bytes(data[k : k + _STEP])
            while piece:
                out = inflate.decompress(piece, _STEP) if inflate else piece
                piece = inflate.unconsumed_tail if inflate else b""
                size += len(out)
                if size > info.file_size:
                    raise RagError(
                        f"{name} is a damaged .docx or a decompression bomb: {info.filename} inflates "
                        f"to more than the {info.file_size} bytes its ZIP directory states; "
                        f"download it again or re-save it in Word"
                    )
                crc = zlib.crc32(out, crc)
    except zlib.error:
        crc = -1
    if size != info.file_size or crc != info.CRC:
        raise RagError(
            f"{name} is a damaged .docx (corrupt entry {info.filename}); download it again or re-save it in Word"
        )


_STEP = 1 << 20
