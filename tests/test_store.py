"""The SQLite chunk store: diff writes in one transaction, look-ups by id and by filters, a reader
that keeps its snapshot while a writer commits, a write left uncommitted until its index is published,
a checksum on every row, clear errors for a damaged, foreign or full file, and a service that reads
chunks on demand instead of holding them."""

from __future__ import annotations

import shutil
import sqlite3
import threading

import pytest

from rag.errors import RagError
from rag.ingest import ingest_paths
from rag.search.store import FILE, ChunkLookup, ChunkStore, chunk_int_id, load_store, write_store
from rag.settings import Settings

REPORT_A = "甲市2024年政府工作报告\n\n一、2023年工作回顾\n\n全年新建公园12个，新增绿地面积30公顷。\n\n二、2024年重点工作\n\n今年计划新建学校5所。\n"
REPORT_B = "乙县2023年政府工作报告\n\n一、2022年工作回顾\n\n全县新修农村公路80公里。\n\n二、2023年重点工作\n\n今年新增就业岗位2000个。\n"


@pytest.fixture
def folder(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.txt").write_text(REPORT_A, encoding="utf-8")
    (reports / "b.txt").write_text(REPORT_B, encoding="utf-8")
    return Settings(index_dir=tmp_path / "index", seeds_dir=reports), reports


def _write(settings, reports) -> bool:
    return write_store(ingest_paths([reports], settings, progress=False), settings)


def test_write_then_read_documents_and_chunks(folder):
    settings, reports = folder
    assert _write(settings, reports)
    store = ChunkStore(settings.index_dir)
    assert [d["id"] for d in store.documents()] == ["a", "b"]
    chunks = list(store.iter_chunks())
    assert {c.doc for c in chunks} == {"a", "b"} and store.count() == len(chunks)
    body = [c for c in chunks if "新建学校5所" in c.text]
    assert len(body) == 1
    c = body[0]
    assert REPORT_A[c.start : c.end] == c.text, "offsets survive the round trip"
    assert store.get(c.id).text == c.text and store.get("no/such/id") is None
    assert store.by_int_ids([chunk_int_id(c.id), 12345])[chunk_int_id(c.id)].id == c.id
    searchable = list(store.iter_chunks(searchable_only=True))
    assert store.count(searchable_only=True) == len(searchable) < len(chunks), "headings are not searchable"
    store.close()


def test_write_store_rewrites_only_on_change_and_load_store_reads_everything(folder):
    settings, reports = folder
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / "chunks.jsonl").write_text("{}\n", encoding="utf-8")  # the format before SQLite
    docs = ingest_paths([reports], settings, progress=False)
    assert write_store(docs, settings) is True
    assert not (settings.index_dir / "chunks.jsonl").exists()
    assert write_store(docs, settings) is False  # same content: nothing rewritten
    summaries, chunks = load_store(settings)
    assert [d["id"] for d in summaries] == ["a", "b"] and summaries[0]["chunks"] == len(docs[0].chunks)
    assert [c.id for c in chunks] == [c.id for d in docs for c in d.chunks]
    assert write_store(docs[:1], settings) is True  # b removed
    assert [d["id"] for d in load_store(settings)[0]] == ["a"]


def test_filters_by_document_place_level_and_year(folder):
    settings, reports = folder
    docs = ingest_paths([reports], settings, progress=False)
    for d, place, level in zip(docs, ("甲市", "乙县"), ("prefecture", "county")):
        d.meta.place, d.meta.level = place, level
        for c in d.chunks:
            c.place = place
    write_store(docs, settings)
    store = ChunkStore(settings.index_dir)
    by_doc = store.ids_where(docs=["b"])
    assert by_doc and all(i.startswith("b/") for i in by_doc)
    assert store.ids_where(places=["甲市"]) == store.ids_where(docs=["a"]) != []
    assert store.ids_where(levels=["county"]) == by_doc
    assert store.ids_where(years=[2023]) == by_doc
    assert store.ids_where(places=["甲市"], years=[2023]) == []
    assert store.ids_where(places=["丙省"]) == []
    assert len(store.ids_where(searchable_only=False)) == store.count() > len(store.ids_where())
    store.close()


def test_a_write_is_a_diff_and_a_new_generation_only_when_something_changed(folder):
    settings, reports = folder
    _write(settings, reports)
    store = ChunkStore(settings.index_dir)
    gen = store.generation
    rows_b = store.db.execute("SELECT rowid FROM chunks WHERE doc = 'b' ORDER BY rowid").fetchall()
    assert not _write(settings, reports), "the same reports again change nothing"
    assert store.generation == gen
    (reports / "a.txt").write_text(REPORT_A.replace("5所", "6所"), encoding="utf-8")
    assert _write(settings, reports)
    assert store.generation != gen
    assert store.db.execute("SELECT rowid FROM chunks WHERE doc = 'b' ORDER BY rowid").fetchall() == rows_b, (
        "an unchanged report is not rewritten"
    )
    assert any("新建学校6所" in c.text for c in store.iter_chunks(doc="a"))
    (reports / "b.txt").unlink()
    _write(settings, reports)
    assert [d["id"] for d in store.documents()] == ["a"] and not store.ids_where(docs=["b"])
    store.close()


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(folder):
    settings, reports = folder
    _write(settings, reports)
    reader = ChunkStore(settings.index_dir)
    reader.db.execute("BEGIN")
    before = reader.db.execute("SELECT count(*) FROM chunks WHERE doc = 'b'").fetchone()[0]
    done = threading.Event()

    def write() -> None:
        (reports / "b.txt").unlink()
        _write(settings, reports)
        done.set()

    t = threading.Thread(target=write)
    t.start()
    t.join(30)
    assert done.is_set(), "a reader's open snapshot must not block the writer (WAL)"
    assert reader.db.execute("SELECT count(*) FROM chunks WHERE doc = 'b'").fetchone()[0] == before > 0
    reader.db.execute("COMMIT")
    assert reader.db.execute("SELECT count(*) FROM chunks WHERE doc = 'b'").fetchone()[0] == 0
    reader.close()


def test_a_failed_write_leaves_the_previous_store(folder, monkeypatch):
    settings, reports = folder
    _write(settings, reports)
    docs = ingest_paths([reports], settings, progress=False)
    docs[1].chunks[0].id = docs[0].chunks[0].id  # a duplicate id: the insert fails half-way
    docs[0].chunks[0].text += "（改）"
    with pytest.raises(sqlite3.IntegrityError):
        write_store(docs, settings)
    store = ChunkStore(settings.index_dir)
    assert [d["id"] for d in store.documents()] == ["a", "b"]
    assert not any("（改）" in c.text for c in store.iter_chunks())
    store.close()


def test_missing_damaged_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(RagError, match="no chunk store"):
        ChunkStore(tmp_path)
    (tmp_path / FILE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(RagError, match="cannot be read"):
        ChunkStore(tmp_path)
    (tmp_path / FILE).unlink()
    db = sqlite3.connect(tmp_path / FILE)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('version', '999')")
    db.commit()
    db.close()
    with pytest.raises(RagError, match="format 999"):
        ChunkStore(tmp_path)


def test_lookup_reads_on_demand_and_caches(folder):
    settings, reports = folder
    _write(settings, reports)
    store = ChunkStore(settings.index_dir)
    ids = store.ids_where()
    lookup = ChunkLookup(store, size=2)
    assert ids[0] in lookup and "x" not in lookup and lookup.get("x") is None
    assert lookup[ids[1]].id == ids[1]
    with pytest.raises(KeyError):
        lookup["x"]
    lookup.get(ids[2]) if len(ids) > 2 else None
    assert len(lookup._cache) <= 2, "the cache is bounded"
    store.close()


def test_the_service_reads_chunks_from_the_store_and_notices_a_stale_index(seed_index, tmp_path):
    from rag.search.retrieve import Retriever

    settings = seed_index.model_copy(update={"index_dir": tmp_path / "index"})
    shutil.copytree(seed_index.index_dir, settings.index_dir)
    r = Retriever(settings)
    assert not hasattr(r, "chunks"), "the retriever must not hold every chunk"
    hits = r.search("忻州今年要新认定多少家高新技术企业？", 3)
    assert any("53家" in h.text for h in hits)
    assert r.by_id[hits[0].id].text == hits[0].text
    r.close()
    keep = sorted(settings.seeds_dir.glob("*.txt"))[1:]
    write_store(ingest_paths(keep, settings, progress=False), settings)
    with pytest.raises(RagError, match="run `rag index`"):
        Retriever(settings)


def test_an_uncommitted_write_is_seen_only_by_its_writer_and_dropped_when_it_closes(folder):
    settings, reports = folder
    _write(settings, reports)
    docs = ingest_paths([reports], settings, progress=False)
    docs[0].chunks[-1].text += "（新）"
    writer = ChunkStore(settings.index_dir, create=True)
    reader = ChunkStore(settings.index_dir)
    generation = reader.generation
    assert writer.write(docs, [{"id": d.id} for d in docs], commit=False) and writer.pending
    assert writer.generation != generation and any("（新）" in c.text for c in writer.iter_chunks())
    assert reader.generation == generation and not any("（新）" in c.text for c in reader.iter_chunks())
    writer.close()  # a process that dies here leaves the store as it was
    assert reader.generation == generation and not any("（新）" in c.text for c in reader.iter_chunks())
    writer = ChunkStore(settings.index_dir, create=True)
    writer.write(docs, [{"id": d.id} for d in docs], commit=False)
    writer.commit()
    assert reader.generation == writer.generation != generation
    writer.close()
    reader.close()


def _damage(settings, old: str, new: str) -> None:
    store = ChunkStore(settings.index_dir)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = settings.index_dir / FILE
    data = path.read_bytes()
    assert len(old.encode()) == len(new.encode()) and data.count(old.encode()) >= 1
    path.write_bytes(data.replace(old.encode(), new.encode(), 1))


def test_a_changed_byte_inside_a_row_is_caught_by_its_checksum(folder):
    settings, reports = folder
    _write(settings, reports)
    _damage(settings, "新建学校5所", "新建学校6所")  # SQLite's own integrity check still passes
    store = ChunkStore(settings.index_dir)
    assert store.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    for read in (
        lambda: list(store.iter_chunks()),
        lambda: store.by_int_ids([chunk_int_id(i) for i in store.ids_where(docs=["a"])]),
        store.verify,
    ):
        with pytest.raises(RagError, match=r"chunk store .* is damaged .*; run `rag index --rebuild`"):
            read()
    assert [c.doc for c in store.iter_chunks(doc="b")]  # the rest of the store still reads
    store.close()
    # `rag index --rebuild` opens it with replace_damaged: a fresh store, written again from the files
    fresh = ChunkStore(settings.index_dir, create=True, replace_damaged=True)
    assert fresh.count() == 0
    fresh.close()
    _write(settings, reports)
    assert ChunkStore(settings.index_dir).verify() == 2


def test_a_rebuild_keeps_an_intact_store(folder):
    settings, reports = folder
    _write(settings, reports)
    store = ChunkStore(settings.index_dir, create=True, replace_damaged=True)  # an intact store is kept
    assert store.count() > 0
    store.close()
