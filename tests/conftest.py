"""Shared fixtures. The seed index is built once per test session into a temporary folder, with
the real embedder; the repository's embedding cache (filled by `make setup`) is copied in first
so the build only embeds what changed."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOLD_S = 300  # how long `hold_worker` holds at most: a hang guard, its block releases it


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory):
    """Settings pointing at a fresh index of the five seed reports (ingested and indexed)."""
    from rag.ingest import ingest_paths
    from rag.search.index import build
    from rag.search.store import write_store
    from rag.settings import Settings

    index_dir = tmp_path_factory.mktemp("index")
    cache = REPO / "index" / "cache"
    if cache.exists():
        shutil.copytree(cache, index_dir / "cache")
    settings = Settings(index_dir=index_dir, seeds_dir=REPO / "seeds")
    write_store(ingest_paths([settings.seeds_dir], settings, progress=False), settings)
    build(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory):
    """Settings pointing at a fresh index of the development corpus (eval/corpus/reports). Its
    embeddings are kept in index/corpus-cache, so only the first session on a machine embeds them."""
    from rag.ingest import ingest_paths
    from rag.search.index import build
    from rag.search.store import write_store
    from rag.settings import Settings

    index_dir = tmp_path_factory.mktemp("corpus-index")
    keep = REPO / "index" / "corpus-cache"
    if keep.exists():
        shutil.copytree(keep, index_dir / "cache")
    settings = Settings(index_dir=index_dir, seeds_dir=REPO / "eval" / "corpus" / "reports")
    write_store(ingest_paths([settings.seeds_dir], settings, progress=False), settings)
    build(settings, progress=False)
    shutil.copytree(index_dir / "cache", keep, dirs_exist_ok=True)
    return settings


@pytest.fixture(scope="session")
def corpus_retriever(corpus_index):
    from rag.search.retrieve import Retriever

    return Retriever(corpus_index)


@pytest.fixture(scope="session")
def retriever(seed_index):
    from rag.search.retrieve import Retriever

    return Retriever(seed_index)


@pytest.fixture
def hold_worker():
    """A context manager that occupies the answer queue's one worker (plus `queued` more places in
    the queue) until its block ends, so queue behaviour is tested deterministically, without a model.
    It gives the holding job's future: `not held.done()` after a call proves the call did not wait
    for the worker, whatever the machine's load."""

    @contextmanager
    def hold(queue, queued: int = 0):
        release, started = threading.Event(), threading.Event()
        tickets = [queue.admit() for _ in range(1 + queued)]

        def block() -> None:
            started.set()
            release.wait(HOLD_S)

        fut = queue.executor.submit(block)
        try:
            assert started.wait(HOLD_S), "the worker did not pick up the holding job"
            yield fut
        finally:
            release.set()
            fut.result(timeout=HOLD_S)
            for t in tickets:
                t.release()

    return hold
