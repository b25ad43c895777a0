"""Replicas that share one library: two `rag serve` processes on one PostgreSQL chunk store and one
Milvus server (real servers on loopback, the real embedder and jieba; the deterministic mock LLM,
as these tests are about sharing the library, not about the model — eval/bench_cluster.py runs the
same scenario with a real LLM server).

Also: a local library copied to the servers (`rag copy-library`) searches as it did.
A missing PostgreSQL or Milvus package skips these tests locally and fails them when `CI` is set.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from sample_report import Q_UPLOAD, REPORT

from rag.errors import RagError

REPO = Path(__file__).resolve().parent.parent
LARGE = REPO / "eval" / "corpus" / "reports" / "01_national_2015.txt"
PATIENCE = 120  # longest wait for a change to reach the other replica: a bound on hanging, not a speed target


def _need(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"the shared-library tests must run in CI: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(PostgreSQL URL, Milvus URI) of throw-away servers for this module."""
    try:
        from rag.deploy.milvus_server import MilvusLocal
        from rag.deploy.postgres_server import PostgresLocal

        work = tmp_path_factory.mktemp("servers")
        with MilvusLocal(work / "milvus") as milvus, PostgresLocal(work / "postgres") as pg:
            yield pg, milvus
    except RagError as exc:
        if "not installed" in str(exc) or "install" in str(exc):
            _need(str(exc))
        raise


def _settings(seed_index, pg_url: str, milvus_uri: str, index_dir: Path):
    from rag.deploy.migrate import shared_settings
    from rag.settings import LLMSettings

    index_dir.mkdir(parents=True, exist_ok=True)
    if (seed_index.index_dir / "cache").exists() and not (index_dir / "cache").exists():
        shutil.copytree(seed_index.index_dir / "cache", index_dir / "cache")  # embeddings: not computed again
    s = shared_settings(seed_index, pg_url, milvus_uri)
    return s.model_copy(update={"index_dir": index_dir, "llm": LLMSettings(backend="mock")})


def _env(settings) -> dict[str, str]:
    from rag.deploy.replicas import shared_env

    env = shared_env(store_url=settings.store.url, milvus_uri=settings.vectors.milvus_uri, index_dir=settings.index_dir)
    env.update({"RAG_LLM__BACKEND": "mock", "RAG_SEEDS_DIR": str(settings.seeds_dir), "RAG_STORE__POLL_S": "0.5"})
    return env


def _docs(url: str) -> set[str]:
    return {d["id"] for d in httpx.get(f"{url}/v1/documents", timeout=30).json()}


def _wait(check, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {PATIENCE} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def replicas(servers, seed_index, tmp_path_factory):
    """Replicas A and B of one shared library (A indexes the seeds into it at its start)."""
    from rag.deploy.replicas import start_replica

    pg, milvus = servers
    work = tmp_path_factory.mktemp("replicas")
    db = pg.create_database("replicas") if hasattr(pg, "create_database") else pg.url
    made = {n: _settings(seed_index, db, milvus.uri, work / n / "index") for n in ("A", "B")}
    procs = []
    try:
        a = start_replica("A", _env(made["A"]), work / "logs")
        procs.append(a)
        a.wait("/readyz", 900)
        b = start_replica("B", _env(made["B"]), work / "logs")
        procs.append(b)
        b.wait("/readyz", 900)
        yield {"A": a, "B": b, "settings": made, "work": work, "procs": procs}
    finally:
        for p in procs:
            p.stop()


def test_an_upload_through_one_replica_is_answered_through_the_other(replicas):
    a, b = replicas["A"], replicas["B"]
    assert _docs(a.url) == _docs(b.url), "the replicas serve different libraries"
    r = httpx.post(f"{a.url}/v1/documents", files={"file": ("阳泉.txt", REPORT.encode())}, timeout=600)
    assert r.status_code == 201, r.text
    doc = r.json()["document"]["id"]
    _wait(lambda: doc in _docs(b.url), "the upload through A reaching B")
    body = httpx.post(f"{b.url}/v1/ask", json={"question": Q_UPLOAD}, timeout=120).json()
    assert "37" in body["answer"], body
    assert any(c["doc"] == doc and "37" in c["quote"] for c in body["citations"]), body["citations"]
    original = httpx.get(f"{b.url}/v1/documents/{doc}/file", timeout=30)
    assert original.status_code == 200 and original.content == REPORT.encode(), "B cannot serve the original file"

    r = httpx.delete(f"{b.url}/v1/documents/{doc}", timeout=600)
    assert r.status_code == 200, r.text
    _wait(lambda: doc not in _docs(a.url), "the deletion through B reaching A")
    hits = httpx.post(f"{a.url}/v1/search", json={"question": Q_UPLOAD, "k": 10}, timeout=30).json()
    assert all(h["doc"] != doc for h in hits), "A still finds the deleted report"


def test_a_replica_killed_during_an_upload_leaves_the_library_whole(replicas, seed_index):
    from rag.deploy.replicas import start_replica
    from rag.search import shared_index
    from rag.search.stores import open_chunk_store

    a, b = replicas["A"], replicas["B"]
    before = _docs(b.url)
    result: dict = {}

    def upload() -> None:
        try:
            result["r"] = httpx.post(
                f"{a.url}/v1/documents", files={"file": (LARGE.name, LARGE.read_bytes())}, timeout=600
            )
        except httpx.HTTPError as exc:
            result["error"] = exc

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(3)  # the large report is being cut and embedded: several hundred chunks
    a.kill()
    thread.join(60)
    assert "r" not in result, "the upload finished before the kill: use a larger report"
    body = httpx.post(f"{b.url}/v1/ask", json={"question": "忻州今年要新认定多少家高新技术企业？"}, timeout=120).json()
    assert "53" in body["answer"] and body["citations"], body
    assert _docs(b.url) == before, "the killed upload changed the library"

    settings = replicas["settings"]["B"]
    store = open_chunk_store(settings)
    try:
        assert store.verify() == len(before)
        manifest = shared_index.read_shared_manifest(store)
        assert manifest is not None and manifest["store_generation"] == store.generation
        assert manifest["chunk_count"] == store.count(searchable_only=True)
        assert set(store.uploads()) <= before, "an upload row without its document"
    finally:
        store.close()

    again = start_replica("A2", _env(replicas["settings"]["A"]), replicas["work"] / "logs")
    replicas["procs"].append(again)
    again.wait("/readyz", 900)
    assert _docs(again.url) == before
    # the next change through the restarted replica finishes what the killed one left in Milvus
    r = httpx.post(f"{again.url}/v1/documents", files={"file": ("阳泉.txt", REPORT.encode())}, timeout=600)
    assert r.status_code == 201, r.text
    doc = r.json()["document"]["id"]
    _wait(lambda: doc in _docs(b.url), "the upload through the restarted replica reaching B")
    store = open_chunk_store(settings)
    try:
        assert store.meta_get(shared_index.SYNC_KEY) in (None, "[]"), "a vector change was left unfinished"
    finally:
        store.close()


def test_a_local_library_copied_to_the_servers_searches_as_before(servers, seed_index, tmp_path):
    """`rag copy-library`: the same documents, chunks and search results, nothing embedded again."""
    from rag.deploy.migrate import copy_library, shared_settings
    from rag.search.retrieve import Retriever

    pg, milvus = servers
    local = seed_index.model_copy(update={"index_dir": tmp_path / "index"})
    shutil.copytree(seed_index.index_dir, local.index_dir)
    db = pg.create_database("copied") if hasattr(pg, "create_database") else pg.url
    target = shared_settings(local, db, milvus.uri).model_copy(
        update={"vectors": local.vectors.model_copy(update={"store": "milvus", "milvus_uri": milvus.uri})}
    )
    target = target.model_copy(
        update={"vectors": target.vectors.model_copy(update={"milvus_collection_prefix": "copied"})}
    )
    done = copy_library(local, target)
    assert done.embedded == 0 and done.documents == 5
    before, after = Retriever(local), Retriever(target)

    def passages(retriever, q: str) -> list[frozenset]:
        """The passages found, in order (a paragraph two reports share may come from either: the two
        engines break a tie of equal similarities in their own ways)."""
        return [frozenset([r.id, *(t["id"] for t in r.also)]) for r in retriever.search(q, 5)]

    try:
        for q in ("忻州今年要新认定多少家高新技术企业？", "今年的主要预期目标是什么？", "GDP增长目标"):
            assert passages(before, q) == passages(after, q), q
    finally:
        before.close()
        after.close()
    with pytest.raises(RagError, match="not empty"):
        copy_library(local, target)
