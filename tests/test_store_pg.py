"""The chunk store in PostgreSQL, against a real throw-away server (rag.deploy.postgres_server):
the same rows in the same order as the SQLite store for the same writes, the same diff writes and
generations, a pending write seen only by its writer, a killed writer that changes nothing, what
replicas share (named values, uploads, one transaction for all of them, a writer lock across
processes), and a server that is down told in one line.

The behaviours both stores share run over both (`store_kind`). A missing PostgreSQL install skips
these tests locally and fails them when `CI` is set (`make services` installs it)."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from rag.chunk.document import doc_summary
from rag.deploy.postgres_server import NOT_INSTALLED, PostgresLocal, find_bin_dir
from rag.errors import DocumentNotFound, RagError, Unavailable
from rag.ingest import ingest_paths
from rag.search.store import ChunkStore, chunk_int_id
from rag.search.store_pg import PgChunkStore
from rag.search.store_rows import _crc
from rag.search.stores import open_chunk_store, safe_url
from rag.settings import Settings, StoreSettings

REPO = Path(__file__).resolve().parent.parent
REPORT_A = "甲市2024年政府工作报告\n\n一、2023年工作回顾\n\n全年新建公园12个，新增绿地面积30公顷。\n\n二、2024年重点工作\n\n今年计划新建学校5所。\n"
REPORT_B = "乙县2023年政府工作报告\n\n一、2022年工作回顾\n\n全县新修农村公路80公里。\n\n二、2023年重点工作\n\n今年新增就业岗位2000个。\n"
_databases = itertools.count()


# --- the server -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """One throw-away server for the module; each test gets a database of its own (`url`)."""
    try:
        find_bin_dir()
    except RagError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the PostgreSQL tests must run in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    with PostgresLocal(tmp_path_factory.mktemp("postgres")) as pg:
        yield pg


@pytest.fixture
def url(postgres) -> str:
    return postgres.create_database(f"t{next(_databases)}")


@pytest.fixture
def folder(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.txt").write_text(REPORT_A, encoding="utf-8")
    (reports / "b.txt").write_text(REPORT_B, encoding="utf-8")
    return Settings(index_dir=tmp_path / "index", seeds_dir=reports), reports


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def open_store(store_kind, folder, request):
    """`open_store(create=False)`: a store of the kind under test (SQLite in the test's index folder,
    or the test's PostgreSQL database); every store opened is closed at the end."""
    settings, _ = folder
    if store_kind == "postgres":
        settings = settings.model_copy(update={"store": StoreSettings(url=request.getfixturevalue("url"))})
    opened = []

    def open_(create: bool = False):
        store = open_chunk_store(settings, create=create)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def _docs(settings, reports):
    return ingest_paths([reports], settings, progress=False)


def _write(store, docs, *, commit: bool = True) -> bool:
    return store.write(docs, [doc_summary(d) for d in docs], commit=commit)


def sql(url: str, query: str, args: tuple = ()) -> list:
    """Run one statement on a connection of its own (changing rows behind the store's back)."""
    with psycopg.connect(url, autocommit=True) as db:
        cursor = db.execute(query, args or None)
        return cursor.fetchall() if cursor.description else []


def _row_versions(store, doc: str) -> list:
    """What identifies the stored version of a document's chunk rows: SQLite's rowids, PostgreSQL's
    xmin (the transaction that wrote the row)."""
    if isinstance(store, ChunkStore):
        return store.db.execute("SELECT rowid FROM chunks WHERE doc = ? ORDER BY rowid", (doc,)).fetchall()
    return store.db.execute("SELECT xmin::text FROM chunks WHERE doc = %s ORDER BY position", (doc,)).fetchall()


# --- the same rows as SQLite ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_docs(tmp_path_factory):
    settings = Settings(index_dir=tmp_path_factory.mktemp("seed-store"), seeds_dir=REPO / "seeds")
    return settings, ingest_paths([settings.seeds_dir], settings, progress=False)


def test_the_seeds_read_back_exactly_as_from_sqlite(seed_docs, url):
    settings, docs = seed_docs
    summaries = [doc_summary(d) for d in docs]
    lite, pg = ChunkStore(settings.index_dir, create=True), PgChunkStore(url, create=True)
    assert lite.write(docs, summaries) and pg.write(docs, summaries)
    assert not lite.write(docs, summaries) and not pg.write(docs, summaries)
    ids = lite.ids_where(searchable_only=False)
    iids = [chunk_int_id(i) for i in reversed(ids)]
    asked = [i for pair in zip(iids, range(1, len(iids) + 1)) for i in pair]  # > 500, with ids not held
    first, last = docs[0], docs[-1]
    reads = {
        "documents": lambda s: s.documents(),
        "reports": lambda s: s.reports(),
        "indicators": lambda s: s.indicators(),
        "indicators of one": lambda s: s.indicators([last.id]),
        "counts": lambda s: (s.count(), s.count(searchable_only=True)),
        "chunks": lambda s: list(s.iter_chunks(batch=50)),
        "searchable chunks": lambda s: list(s.iter_chunks(searchable_only=True)),
        "chunks of one": lambda s: list(s.iter_chunks(doc=last.id)),
        "ids": lambda s: s.ids_where(),
        "ids by place and year": lambda s: s.ids_where(places=[first.meta.place], years=[first.meta.year or 0]),
        "ids by level": lambda s: s.ids_where(levels=[last.meta.level], searchable_only=False),
        "int ids": lambda s: s.int_ids_of([last.id, first.id]),
        "by int ids": lambda s: list(s.by_int_ids(asked).items()),
        "get": lambda s: [s.get(i) for i in ids[::7]] + [s.get("no/such/id")],
        "verify": lambda s: s.verify(),
    }
    assert len(asked) > 500 and len(ids) == lite.count() > 100
    for name, read in reads.items():
        assert read(pg) == read(lite), name
    assert lite.indicators(), "the seeds have headline indicators"
    lite.close()
    pg.close()


# --- the behaviours both stores share -----------------------------------------------------------------------
def test_a_write_is_a_diff_and_a_new_generation_only_when_something_changed(open_store, folder):
    settings, reports = folder
    store = open_store(create=True)
    assert store.generation == ""
    assert _write(store, _docs(settings, reports))
    gen = store.generation
    rows_b = _row_versions(store, "b")
    assert rows_b and not _write(store, _docs(settings, reports)), "the same reports again change nothing"
    assert store.generation == gen
    (reports / "a.txt").write_text(REPORT_A.replace("5所", "6所"), encoding="utf-8")
    assert _write(store, _docs(settings, reports))
    assert store.generation != gen
    assert _row_versions(store, "b") == rows_b, "an unchanged report is not rewritten"
    assert any("新建学校6所" in c.text for c in store.iter_chunks(doc="a"))
    (reports / "b.txt").unlink()
    gen = store.generation
    assert _write(store, _docs(settings, reports))
    assert store.generation != gen
    assert [d["id"] for d in store.documents()] == ["a"] and not store.ids_where(docs=["b"])
    assert store.indicators(["b"]) == [] and store.count() == len(store.ids_where(searchable_only=False))


def test_filters_by_document_place_level_and_year(open_store, folder):
    settings, reports = folder
    docs = _docs(settings, reports)
    for d, place, level in zip(docs, ("甲市", "乙县"), ("prefecture", "county")):
        d.meta.place, d.meta.level = place, level
        for c in d.chunks:
            c.place = place
    store = open_store(create=True)
    _write(store, docs)
    by_doc = store.ids_where(docs=["b"])
    assert by_doc and all(i.startswith("b/") for i in by_doc)
    assert store.ids_where(places=["甲市"]) == store.ids_where(docs=["a"]) != []
    assert store.ids_where(levels=["county"]) == by_doc
    assert store.ids_where(years=[2023]) == by_doc
    assert store.ids_where(places=["甲市"], years=[2023]) == []
    assert store.ids_where(places=["丙省"]) == []
    assert len(store.ids_where(searchable_only=False)) == store.count() > len(store.ids_where())
    assert store.reports() == [("a", "甲市", "prefecture", 2024), ("b", "乙县", "county", 2023)]
    assert sorted(store.int_ids_of(["b"])) == sorted(chunk_int_id(i) for i in by_doc)


def test_an_uncommitted_write_is_seen_only_by_its_writer_until_commit(open_store, folder):
    settings, reports = folder
    _write(open_store(create=True), _docs(settings, reports))
    docs = _docs(settings, reports)
    docs[0].chunks[-1].text += "（新）"
    writer, reader = open_store(), open_store()
    generation = reader.generation
    assert writer.write(docs, [{"id": d.id} for d in docs], commit=False) and writer.pending
    assert writer.generation != generation and any("（新）" in c.text for c in writer.iter_chunks())
    assert reader.generation == generation and not any("（新）" in c.text for c in reader.iter_chunks())
    writer.rollback()
    assert not writer.pending and writer.generation == generation
    assert not any("（新）" in c.text for c in writer.iter_chunks())
    writer.write(docs, [{"id": d.id} for d in docs], commit=False)
    writer.close()  # a process that dies here leaves the store as it was
    assert reader.generation == generation and not any("（新）" in c.text for c in reader.iter_chunks())
    writer = open_store()
    writer.write(docs, [{"id": d.id} for d in docs], commit=False)
    writer.commit()
    assert not writer.pending and reader.generation == writer.generation != generation
    assert any("（新）" in c.text for c in reader.iter_chunks())


def test_a_failed_write_leaves_the_previous_store(open_store, folder):
    settings, reports = folder
    store = open_store(create=True)
    _write(store, _docs(settings, reports))
    generation = store.generation
    docs = _docs(settings, reports)
    docs[1].chunks[0].id = docs[0].chunks[0].id  # a duplicate id: the insert fails half-way
    docs[0].chunks[0].text += "（改）"
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        _write(store, docs)
    assert not store.pending and store.generation == generation
    assert [d["id"] for d in store.documents()] == ["a", "b"]
    assert not any("（改）" in c.text for c in store.iter_chunks())


def test_an_iteration_keeps_its_snapshot_while_a_writer_commits(open_store, folder):
    settings, reports = folder
    store = open_store(create=True)
    _write(store, _docs(settings, reports))
    every = [c.id for c in store.iter_chunks()]
    reading = store.iter_chunks(batch=2)
    first = next(reading)
    (reports / "b.txt").unlink()
    writer = open_store()
    assert _write(writer, _docs(settings, reports))
    assert [first.id] + [c.id for c in reading] == every, "the rows of one snapshot, not a mix"
    assert not list(store.iter_chunks(doc="b"))


# --- PostgreSQL: what a transaction holds ------------------------------------------------------------------
def test_uploads_named_values_and_chunks_commit_together_or_not_at_all(url, folder):
    settings, reports = folder
    docs = _docs(settings, reports)
    store, other = PgChunkStore(url, create=True), PgChunkStore(url)
    original = "甲市2025年政府工作报告".encode() + b"\x00\xff binary-safe"
    for finish in ("rollback", "commit"):
        store.begin()
        store.begin()  # joins the open transaction
        store.put_upload("upload-1", ".docx", original, {"name": "甲市.docx", "bytes": len(original)})
        assert _write(store, docs, commit=True) and store.pending, "a write inside begin() leaves it open"
        store.meta_set("manifest", '{"build": "甲"}')
        assert store.uploads() == {"upload-1": {"name": "甲市.docx", "bytes": len(original), "suffix": ".docx"}}
        assert store.meta_get("manifest") == '{"build": "甲"}' and store.count() > 0
        assert other.uploads() == {} and other.meta_get("manifest") is None and other.count() == 0
        getattr(store, finish)()
        assert not store.pending
    assert other.upload_data("upload-1") == original and other.meta_get("manifest") == '{"build": "甲"}'
    assert [d["id"] for d in other.documents()] == ["a", "b"]
    store.meta_set("excluded", '["b"]')  # no transaction open: committed at once
    store.put_upload("upload-2", ".txt", b"text", {"name": "x.txt"})
    assert other.meta_get("excluded") == '["b"]' and list(other.uploads()) == ["upload-1", "upload-2"]
    store.begin()
    store.drop_upload("upload-1")
    assert list(other.uploads()) == ["upload-1", "upload-2"]
    store.commit()
    assert list(other.uploads()) == ["upload-2"]
    with pytest.raises(DocumentNotFound):
        other.upload_data("upload-1")
    with pytest.raises(ValueError):
        store.meta_set("generation", "x")
    store.close()
    other.close()


def test_a_writer_killed_before_commit_leaves_the_store_as_it_was(url, folder):
    settings, reports = folder
    store = PgChunkStore(url, create=True)
    _write(store, _docs(settings, reports))
    generation, documents = store.generation, store.documents()
    (reports / "b.txt").unlink()
    child = f"""
import os, signal, sys
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from rag.chunk.document import doc_summary
from rag.ingest import ingest_paths
from rag.search.store_pg import PgChunkStore
from rag.search.store_rows import _crc
from rag.settings import Settings
settings = Settings(index_dir=Path({str(settings.index_dir)!r}), seeds_dir=Path({str(reports)!r}))
docs = ingest_paths([settings.seeds_dir], settings, progress=False)
store = PgChunkStore({url!r})
store.begin()
store.put_upload("upload-1", ".txt", b"x", {{}})
assert store.write(docs, [doc_summary(d) for d in docs], commit=False)
store.meta_set("manifest", "new")
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert store.generation == generation and store.documents() == documents and store.verify() == 2
    assert store.uploads() == {} and store.meta_get("manifest") is None
    assert _write(store, _docs(settings, reports)), "the killed writer's lock went with its connection"
    assert [d["id"] for d in store.documents()] == ["a"]
    store.close()


# --- PostgreSQL: the writer lock across processes -------------------------------------------------------------
def test_the_writer_lock_excludes_other_processes_and_goes_with_a_killed_holder(url):
    store = PgChunkStore(url, create=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from rag.search.store_pg import PgChunkStore\n"
            f"store = PgChunkStore({url!r})\n"
            "with store.writer_lock():\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for timeout in (0, 0.2):
            with pytest.raises(Unavailable, match="another process is changing the library") as caught:
                with store.writer_lock(timeout=timeout):
                    pytest.fail("two holders of the writer lock")
            assert "\n" not in str(caught.value)
        holder.send_signal(signal.SIGKILL)
        holder.wait(60)
        with store.writer_lock(timeout=60):  # released by the server when the holder's connection went
            pass
    finally:
        holder.kill()
        holder.wait(60)
    other = PgChunkStore(url)
    with store.writer_lock(), pytest.raises(Unavailable):  # two stores of one process exclude each other too
        with other.writer_lock(timeout=0):
            pass
    with other.writer_lock(timeout=0):  # released when its holder leaves the block
        pass
    other.close()
    store.close()


def test_threads_share_one_store(url, folder):
    settings, reports = folder
    store = PgChunkStore(url, create=True)
    docs = _docs(settings, reports)
    _write(store, docs)
    ids = store.ids_where(searchable_only=False)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert [getattr(store.get(i), "id", None) for i in ids] == ids and store.generation
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(5):
        docs[0].chunks[-1].text = f"第{n}版"
        _write(store, docs)
    for t in threads:
        t.join(120)
    assert not failures and not any(t.is_alive() for t in threads)
    store.close()


# --- PostgreSQL: failures in one line ------------------------------------------------------------------------
def test_a_server_that_is_down_or_drops_the_connection_is_unavailable_in_one_line(postgres, url, folder):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = f"postgresql://rag:secret-pw@127.0.0.1:{port}/rag"
    with pytest.raises(
        Unavailable, match=r"^the chunk store at postgresql://rag@127\.0\.0\.1:\d+/rag cannot be reached"
    ):
        PgChunkStore(down, create=True)
    with pytest.raises(Unavailable) as caught:
        PgChunkStore(down)
    assert "\n" not in str(caught.value) and "secret-pw" not in str(caught.value)
    assert (
        safe_url(down + "?password=other&sslmode=disable") == f"postgresql://rag@127.0.0.1:{port}/rag?sslmode=disable"
    )

    settings, reports = folder
    store = PgChunkStore(url, create=True)
    _write(store, _docs(settings, reports))
    generation = store.generation

    def drop_connections() -> None:
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (url.rsplit("/", 1)[1],),
            )

    drop_connections()
    with pytest.raises(Unavailable, match="cannot be reached") as caught:
        store.documents()
    assert "\n" not in str(caught.value)
    assert store.generation == generation, "the next call connects again"
    docs = _docs(settings, reports)
    docs[0].chunks[-1].text += "（新）"
    assert _write(store, docs, commit=False) and store.pending
    drop_connections()
    with pytest.raises(Unavailable, match="lost with a change pending"):
        store.commit()
    assert not store.pending and store.generation == generation
    store.close()


def test_versions_missing_schemas_and_checksums(url, folder):
    settings, reports = folder
    with pytest.raises(RagError, match="no chunk store at .*; run `rag ingest` first"):
        PgChunkStore(url)
    stores = [PgChunkStore(url, create=True), PgChunkStore(url, create=True)]  # creating twice is harmless
    store = stores[0]
    _write(store, _docs(settings, reports))
    store.put_upload("upload-1", ".txt", b"x", {"name": "x.txt"})
    sql(url, "UPDATE chunks SET data = replace(data, '新建学校5所', '新建学校6所')")  # its CRC no longer matches
    with pytest.raises(RagError, match=r"chunk store .* is damaged .*; run `rag index --rebuild`"):
        list(store.iter_chunks())
    with pytest.raises(RagError, match="is damaged"):
        store.verify()
    assert [c.doc for c in store.iter_chunks(doc="b")], "the rest of the store still reads"
    data = sql(url, "SELECT data FROM chunks WHERE data LIKE '%新建学校6所%'")[0][0]
    sql(url, "UPDATE chunks SET crc = %s WHERE data = %s", (_crc(data), data))  # a row changed with its CRC
    assert any("新建学校6所" in c.text for c in store.iter_chunks())
    with pytest.raises(RagError, match="document a does not match its checksum"):
        store.verify()
    fresh = PgChunkStore(url, create=True, replace_damaged=True)
    assert fresh.count() == 0 and fresh.uploads(), "the report's rows are gone, the uploads stay"
    _write(fresh, _docs(settings, reports))
    assert fresh.verify() == 2
    kept = PgChunkStore(url, create=True, replace_damaged=True)  # an intact store is kept
    assert kept.count() > 0
    sql(url, "UPDATE meta SET value = '999' WHERE key = 'version'")
    with pytest.raises(RagError, match="format 999"):
        PgChunkStore(url)
    for s in (*stores, fresh, kept):
        s.close()


def test_open_chunk_store_picks_the_store_the_url_names(url, tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    lite = open_chunk_store(settings, create=True)
    assert isinstance(lite, ChunkStore)
    lite.close()
    for scheme in ("postgresql", "postgres"):
        pg = open_chunk_store(
            settings.model_copy(update={"store": StoreSettings(url=url.replace("postgresql", scheme))}), create=True
        )
        assert isinstance(pg, PgChunkStore)
        pg.close()
    with pytest.raises(RagError, match=r"mysql://u@h/db is not a store this version knows"):
        open_chunk_store(settings.model_copy(update={"store": StoreSettings(url="mysql://u:pw@h/db")}))


# --- the throw-away server ---------------------------------------------------------------------------------------
def test_the_server_is_stopped_when_its_caller_fails_and_a_missing_install_is_one_line(postgres, tmp_path):
    with pytest.raises(RagError) as caught:
        find_bin_dir(tmp_path)
    assert (
        str(caught.value)
        == NOT_INSTALLED
        == "PostgreSQL is not installed: run `make services` (apt-get install postgresql)"
    )
    with pytest.raises(ZeroDivisionError):
        with PostgresLocal(tmp_path / "pg", database="甲市") as pg:
            with psycopg.connect(pg.url) as db:
                assert db.execute("SELECT current_database()").fetchone() == ("甲市",)
            url = pg.url
            raise ZeroDivisionError("the caller fails")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
