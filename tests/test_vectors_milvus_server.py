"""The Milvus vector store against a real Milvus standalone server (`rag.deploy.milvus_server`, the
`milvus` package's binary on a loopback port): the seed reports indexed into a server collection
are retrieved exactly as through the faiss exact index (same chunks, same order, with and without a
scope, and for every field a vector filter takes); an update by diff deletes a dropped report's
vectors on the server; a server that is down or stalled is a clear error, not a hang; the server
dies with the process that started it. Real embedder and jieba, no LLM.

A missing `milvus` package skips these tests locally and fails them when `CI` is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rag.errors import RagError
from rag.scope import Scope
from rag.settings import Settings, VectorSettings

REPO = Path(__file__).resolve().parent.parent
N_QUESTIONS = 10
HANG = 120  # seconds after which a call that should have failed counts as hung


def _milvus_missing() -> str | None:
    try:
        import milvus  # noqa: F401
    except ImportError:
        return "the milvus package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def milvus_available() -> None:
    why = _milvus_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the Milvus server tests must run in CI: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def milvus_server(milvus_available, tmp_path_factory):
    """One throw-away Milvus standalone server for the module."""
    from rag.deploy.milvus_server import MilvusLocal

    with MilvusLocal(tmp_path_factory.mktemp("milvus-server")) as server:
        yield server


def _copy_seed_index(seed_index: Settings, index_dir: Path, vectors: VectorSettings) -> Settings:
    """The seed index's chunk store and embedding cache in a new folder, with other vector settings."""
    settings = seed_index.model_copy(update={"index_dir": index_dir, "vectors": vectors})
    index_dir.mkdir(parents=True)
    shutil.copytree(seed_index.index_dir / "cache", index_dir / "cache")
    shutil.copy(seed_index.index_dir / "chunks.sqlite", index_dir)
    return settings


def _server_vectors(server, **kw) -> VectorSettings:
    return VectorSettings(**{"store": "milvus", "milvus_uri": server.uri, "milvus_index_type": "flat", **kw})


@pytest.fixture(scope="module")
def server_index(seed_index, milvus_server, tmp_path_factory):
    """The seed reports indexed with their vectors in a collection of the server (exact index)."""
    from rag.search.index import build, read_manifest

    settings = _copy_seed_index(seed_index, tmp_path_factory.mktemp("server") / "index", _server_vectors(milvus_server))
    build(settings, progress=False)
    manifest = read_manifest(settings)
    assert manifest["vector_store"] == "milvus" and manifest["milvus_uri"] == milvus_server.uri, manifest
    return settings


@pytest.fixture(scope="module")
def both(server_index, seed_index):
    """(retriever over the server, retriever over the faiss exact index) of the same chunks."""
    from rag.search.index import read_manifest
    from rag.search.retrieve import Retriever

    assert read_manifest(seed_index)["index_type"] == "flat"  # the comparison is against exact search
    served, local = Retriever(server_index), Retriever(seed_index)
    yield served, local
    served.close()
    local.close()


def _questions() -> list[str]:
    from rag.evaluate.questions import load_questions

    qs = [q.question for q in load_questions(REPO / "eval" / "questions.jsonl")]
    return qs[:: max(1, len(qs) // N_QUESTIONS)][:N_QUESTIONS]


def _within(seconds: float, fn, *args):
    """`fn(*args)` in a worker thread; a call still running after `seconds` fails the test as hung."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def test_the_server_retrieves_the_same_chunks_in_the_same_order_as_faiss(both):
    served, local = both
    assert served.index.store.count() == local.index.store.count() > 200
    questions = _questions()
    assert len(questions) == N_QUESTIONS
    for q in questions:
        got, want = served.search(q, 10), local.search(q, 10)
        assert [r.id for r in got] == [r.id for r in want], q
        assert [r.dense_rank for r in got] == [r.dense_rank for r in want], q
        # the dense scores themselves: the server's exact index computes the same inner products
        qvec = local.embedder.embed_query(q)
        s_scores, s_ids = served.index.store.search(qvec, 30)
        f_scores, f_ids = local.index.store.search(qvec, 30)
        assert s_ids.tolist() == f_ids.tolist(), q
        np.testing.assert_allclose(s_scores, f_scores, atol=1e-4)


def test_scopes_and_vector_filters_give_the_same_results_on_the_server(both):
    from rag.search.vectors import VectorFilter

    served, local = both
    reports = served.analyzer.reports
    assert len(reports) >= 5
    first, second = reports[0], reports[1]
    scopes = [
        Scope(docs=(first.doc,)),
        Scope(places=(second.place,)),
        Scope(years=(first.year,)) if first.year else Scope(docs=(second.doc,)),
        Scope(levels=(next(r.level for r in reports if r.level),)),
        Scope(docs=(first.doc, second.doc)),
    ]
    for q in _questions()[:4]:
        for scope in scopes:
            got, want = served.search(q, 5, scope=scope), local.search(q, 5, scope=scope)
            assert got, (q, scope)
            assert [r.id for r in got] == [r.id for r in want], (q, scope)
            allowed = served.scope_docs(scope)
            assert allowed is not None and all(r.doc in allowed for r in got), (q, scope)
    # every field a vector filter takes, alone and together, straight on the two stores
    qvec = local.embedder.embed_query(_questions()[0])
    filters = [
        VectorFilter(docs=(first.doc,)),
        VectorFilter(places=(first.place, second.place)),
        VectorFilter(levels=(next(r.level for r in reports if r.level),)),
        VectorFilter(years=tuple({r.year for r in reports if r.year})),
        VectorFilter(places=(first.place,), years=(first.year,) if first.year else ()),
        VectorFilter(places=("甲市",)),  # a place no report has: nothing
    ]
    for where in filters:
        s_scores, s_ids = served.index.store.search(qvec, 20, where)
        f_scores, f_ids = local.index.store.search(qvec, 20, where)
        assert s_ids.tolist() == f_ids.tolist(), where
        np.testing.assert_allclose(s_scores, f_scores, atol=1e-4)
    assert served.index.store.search(qvec, 20, filters[-1])[1].size == 0


def test_an_update_by_diff_deletes_the_dropped_reports_vectors_on_the_server(seed_index, milvus_server, tmp_path):
    from pymilvus import MilvusClient

    from rag.ingest import ingest_paths
    from rag.search.index import build, read_manifest
    from rag.search.retrieve import Retriever
    from rag.search.store import write_store

    # its own collections and alias on the shared server
    vectors = _server_vectors(milvus_server, milvus_collection_prefix="diff")
    settings = _copy_seed_index(seed_index, tmp_path / "index", vectors)
    first = build(settings, progress=False)
    before = read_manifest(settings)
    client = MilvusClient(uri=milvus_server.uri)

    def held(expr: str) -> int:
        got = client.query(before["collection"], filter=expr, output_fields=["count(*)"], consistency_level="Strong")
        return int(got[0]["count(*)"])

    try:
        dropped, *keep = sorted(settings.seeds_dir.glob("*.txt"))
        r = Retriever(settings)
        doc = next(rep.doc for rep in r.analyzer.reports if rep.doc.startswith(dropped.stem))
        r.close()
        had = held(f'doc == "{doc}"')
        assert had > 0 and held("") == first.chunks
        write_store(ingest_paths(keep, settings, progress=False), settings)
        second = build(settings, progress=False)
        after = read_manifest(settings)
        assert after["collection"] == before["collection"], "an update made a new collection"
        assert second.removed == had and second.embedded == 0
        assert held(f'doc == "{doc}"') == 0
        assert held("") == after["chunk_count"] == first.chunks - had
        assert client.describe_alias("diff_chunks")["collection_name"] == after["collection"]
        r2 = Retriever(settings)
        assert r2.index.store.count() == after["chunk_count"]
        hits = r2.search("忻州今年要新认定多少家高新技术企业？", 10)
        assert hits and all(h.doc != doc for h in hits)
        r2.close()
    finally:
        client.close()


def test_a_server_that_is_down_or_stalled_is_a_clear_error_not_a_hang(milvus_available, tmp_path):
    from rag.deploy.milvus_server import MilvusLocal, _free_ports
    from rag.search.vectors import MilvusStore

    # nothing listens there
    nobody = f"http://127.0.0.1:{_free_ports(1)[0]}"
    settings = Settings(index_dir=tmp_path, vectors=VectorSettings(store="milvus", milvus_uri=nobody, milvus_timeout=3))
    with pytest.raises(RagError, match="cannot open the Milvus store at " + nobody) as err:
        _within(HANG, MilvusStore, settings, 8, "gov_report_chunks_x")
    assert "\n" not in str(err.value)

    x = np.eye(8, dtype=np.float32)
    with MilvusLocal(tmp_path / "milvus") as server:
        settings = Settings(
            index_dir=tmp_path, vectors=VectorSettings(store="milvus", milvus_uri=server.uri, milvus_timeout=3)
        )
        store = MilvusStore(settings, 8, "gov_report_chunks_x", create=True)
        store.upsert(list(range(8)), x)
        assert store.count() == 8 and store.search(x[3], 1)[1].tolist() == [3]
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)  # stalled: connections open, nothing answers
        try:
            with pytest.raises(RagError, match="could not search") as err:
                _within(HANG, store.search, x[3], 1)
            assert "\n" not in str(err.value)
            with pytest.raises(RagError, match="Milvus (store at|server at) .*(cannot|could not) open"):
                _within(HANG, MilvusStore, settings, 8, "gov_report_chunks_x")
        finally:
            os.kill(server.pid, signal.SIGCONT)
    # stopped: the open store's next search fails at once
    with pytest.raises(RagError, match="the Milvus server at .* could not search"):
        _within(HANG, store.search, x[3], 1)
    store.close()


def test_the_server_dies_with_the_process_that_started_it(milvus_available, tmp_path):
    """An owner killed outright (no `stop`, no atexit) takes its server with it: no orphan."""
    code = (
        "import os, sys\n"
        "from rag.deploy.milvus_server import MilvusLocal\n"
        f"m = MilvusLocal({str(tmp_path / 'milvus')!r}).start()\n"
        "print(m.pid, flush=True)\n"
        "sys.stdin.read()\n"  # until the test kills it
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert owner.stdout is not None
        line = _within(HANG, owner.stdout.readline)
        pid = int(line)
        assert _alive(pid)
        owner.kill()
        owner.wait(timeout=30)
        for _ in range(300):  # the kernel's SIGKILL is immediate; give the reaper up to 30 s
            if not _alive(pid):
                break
            time.sleep(0.1)
        assert not _alive(pid), f"the Milvus server {pid} outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_server_that_cannot_start_is_one_line_with_its_log_tail(milvus_available, tmp_path, monkeypatch):
    from rag.deploy.milvus_server import MilvusLocal

    fake = tmp_path / "milvus"
    fake.write_text("#!/bin/sh\necho 'starting'\necho 'panic: 甲市 cannot listen' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(MilvusLocal, "_binaries", lambda self: fake)
    server = MilvusLocal(tmp_path / "data", start_timeout=60)
    with pytest.raises(RagError) as err:
        server.start()
    msg = str(err.value)
    assert "exited while starting (exit code 3)" in msg and "panic: 甲市 cannot listen" in msg, msg
    assert "\n" not in msg
    assert not server.running and server.pid is None


def test_a_missing_milvus_package_is_a_one_line_error(tmp_path, monkeypatch):
    from rag.deploy.milvus_server import MilvusLocal

    monkeypatch.setitem(sys.modules, "milvus", None)  # import milvus → ImportError
    with pytest.raises(RagError, match=r"needs the milvus package \(pip install milvus==2.3.5"):
        MilvusLocal(tmp_path).start()


def test_the_configuration_pins_loopback_and_rejects_unknown_keys():
    from rag.deploy.milvus_server import render

    template = "etcd:\n  endpoints: localhost:{{ etcd_port(int): 2379 }}\nproxy:\n  ip: # first address\n  port: 1\n"
    text = render(template, {"etcd_port": "4001"}, {"proxy.port": "4002", "etcd.config.path": "/x/etcd.yaml"})
    assert "endpoints: localhost:4001" in text and "  ip: 127.0.0.1" in text and "  port: 4002" in text
    assert "  config:\n    path: /x/etcd.yaml" in text
    with pytest.raises(RagError, match="no key proxy.nothing"):
        render(template, {}, {"proxy.nothing": "1"})


def test_a_build_is_published_once_the_server_has_indexed_every_row(milvus_server, tmp_path):
    """A server indexes in the background after a flush; `persist` returns once it is done, so a
    published collection is never searched without its index."""
    from rag.search.vectors import MilvusStore

    settings = Settings(
        index_dir=tmp_path,
        vectors=_server_vectors(milvus_server, milvus_index_type="hnsw", milvus_collection_prefix="indexed"),
    )
    n = 5000  # above the 1024 rows from which Milvus builds a segment's index
    x = np.random.default_rng(1).standard_normal((n, 16)).astype(np.float32)
    store = MilvusStore.create(settings, 16, n, "20261207_000000")
    try:
        store.upsert(list(range(n)), x)
        store.persist(tmp_path)
        got = store.client.describe_index(store.collection, "vector")
        assert (got["indexed_rows"], got["pending_index_rows"]) == (n, 0), got
        assert store.search(x[42], 1)[1].tolist() == [42]
    finally:
        store.drop()
        store.close()


def test_a_published_collection_opens_and_searches_at_once_after_a_server_restart(milvus_available, tmp_path):
    """After a restart a server reloads its segments, but a Strong (or Bounded) read then waits until
    its query node catches up with the server's clock (~20 s at 10^6 vectors). The load check counts
    at Eventually and searches read at Eventually: what `persist` published is in sealed segments, so
    both agree at once; only a count that disagrees is asked again at Strong."""
    from rag.deploy.milvus_server import MilvusLocal
    from rag.search.vectors import MilvusStore

    n = 3000
    x = np.random.default_rng(2).standard_normal((n, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with MilvusLocal(tmp_path / "milvus") as server:
        settings = Settings(index_dir=tmp_path, vectors=_server_vectors(server, milvus_index_type="hnsw"))
        store = MilvusStore.create(settings, 16, n, "20261207_000001")
        store.upsert(list(range(n)), x)
        manifest = {"dim": 16, **store.persist(tmp_path), "index_type": "hnsw"}
        store.close()
        server.stop()
        server.start()
        settings = Settings(index_dir=tmp_path, vectors=_server_vectors(server, milvus_index_type="hnsw"))
        store = MilvusStore.open(settings, {**manifest, "milvus_uri": server.uri}, tmp_path)
        asked: list[str] = []
        count = store.count
        store.count = lambda consistency="Strong": asked.append(consistency) or count(consistency)  # type: ignore[method-assign]
        try:
            assert store.holds(n) and asked == ["Eventually"]
            assert [i for i in (store.search(x[i], 1)[1].tolist()[0] for i in range(0, n, 300))] == list(
                range(0, n, 300)
            )
            asked.clear()
            assert not store.holds(n + 1) and asked == ["Eventually", "Strong"]
        finally:
            store.close()
