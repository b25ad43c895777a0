"""Document management without HTTP: the library's incremental ingestion cuts the corpus exactly as
`ingest_paths` does, uploads are validated and named by the server, and failures leave nothing behind."""

from __future__ import annotations

import shutil
from dataclasses import asdict

import pytest

from rag.errors import InvalidReport
from rag.library import Library
from rag.search.store import ChunkStore
from rag.uploads import display_name, validate_report


def test_incremental_ingestion_matches_ingest_paths(seed_index, tmp_path):
    from rag.ingest import ingest_paths

    settings = seed_index.model_copy(update={"index_dir": tmp_path})
    lib = Library(settings)
    first = lib.ingest()
    again = lib.ingest()  # from the cut cache
    reference = ingest_paths([settings.seeds_dir], settings, progress=False)
    for docs in (first, again):
        assert [d.id for d in docs] == [d.id for d in reference]
        assert [asdict(c) for d in docs for c in d.chunks] == [asdict(c) for d in reference for c in d.chunks]
        assert [d.twin_of for d in docs] == [d.twin_of for d in reference]
    assert first[0] is not again[0]  # copies: twin linking never changes the cache


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"\x00\x01\x02 report", "NUL"),
        ("忻州市政府工作报告".encode("gbk"), "not UTF-8"),
        (b"\x01\x02\x03\x04\x05\x06 abc " * 10, "binary"),
        (b"12345 67890", "no Chinese"),
        ("报告".encode() * 600, "at most"),
    ],
)
def test_uploads_that_are_not_text_reports_are_refused(data, reason):
    with pytest.raises(InvalidReport, match=reason):
        validate_report(data, max_bytes=3000)


def test_a_valid_report_passes_with_a_bom_and_crlf():
    assert validate_report("\ufeff忻州市\r\n报告".encode(), 1000) == "忻州市\r\n报告"


def test_an_upload_is_held_to_the_readers_rule_for_control_characters(tmp_path):
    """Word's line breaks (vertical tabs) are text to the readers; an upload with them is not refused
    while the CLI reads the same file, and a binary-looking text is refused by both."""
    from rag.errors import RagError
    from rag.read.decode import decode

    word_breaks = "甲市2024年政府工作报告\v各位代表：\v现在，我代表市人民政府报告工作。\v新建公园3个。\n".encode()
    assert decode(word_breaks)[0] == validate_report(word_breaks, 10_000)
    binary = "甲市报告\x01\x02\x03\x04".encode()
    with pytest.raises(RagError, match="control characters"):
        decode(binary)
    with pytest.raises(InvalidReport, match="control characters"):
        validate_report(binary, 10_000)


def test_client_file_names_are_only_for_display():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\x\\报告.txt") == "报告.txt"
    assert display_name("\x00\x1b") == "upload.txt"
    assert len(display_name("a" * 500)) == 120


def test_sync_rebuilds_when_the_store_misses_an_upload(seed_index, tmp_path):
    """An index rebuilt from the seeds alone (e.g. by `rag index`) is brought back to the library."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    settings = seed_index.model_copy(update={"index_dir": index_dir})
    lib = Library(settings)
    assert lib.in_sync() and lib.sync() is None
    up = index_dir / "uploads"
    up.mkdir()
    (up / "upload-0123456789ab.txt").write_text(
        "阳泉市2024年政府工作报告\n\n今年全市新建智慧农业示范园区37个。\n", encoding="utf-8"
    )
    (up / "notes.txt").write_text("not an upload id: ignored", encoding="utf-8")
    assert not lib.in_sync()
    change = lib.sync()
    assert change is not None and change.documents == 6
    ids = [d["id"] for d in ChunkStore(index_dir).documents()]
    assert "upload-0123456789ab" in ids and "notes" not in ids
    assert lib.in_sync()
