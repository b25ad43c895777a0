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

# The slow part of the suite, marked `slow` here: `pytest -m slow` runs it, `pytest -m "not slow"` the
# rest, `make test` both. End-to-end tests (real servers: uvicorn, PostgreSQL, Milvus; processes killed
# and restarted; the browser; every test of the LLM, which answers at a few tokens a second on two
# cores) and the few others over half a minute. The seconds are from one `pytest -m "not llm"
# --durations` run on a two-core machine under a load of about 10 (fixtures included).
SLOW_MODULES = {
    "test_api_schema.py": 315,  # schemathesis: every check of the OpenAPI contract against the app
    "test_library_shared.py": 208,  # PostgreSQL and Milvus servers, two replicas, one killed
    "test_api_hostile_docs.py": 197,  # hostile uploads through the service; a 256 KB line embeds ~300 chunks
    "test_vectors_milvus_server.py": 152,  # a Milvus standalone server
    "test_web.py": 46,  # headless Chromium
    "test_store_pg.py": 28,  # a PostgreSQL server
    "test_web_indicators.py": 9,  # headless Chromium
}
SLOW_TESTS = {
    "test_index.py::test_a_build_killed_at_any_step_leaves_an_index_that_answers_as_before": 282,
    "test_api_faults.py::test_an_upload_killed_mid_write_is_undone_or_finished_at_the_restart": 208,
    "test_index.py::test_a_full_disk_is_one_line_and_the_old_index_stays": 126,
    "test_vectors.py::test_the_seed_index_is_built_updated_by_diff_and_searched_through_each_store": 60,
    "test_index.py::test_the_search_command_prints_the_same_after_a_killed_build": 60,
    "test_index.py::test_damaged_files_are_reported_by_the_commands_and_rebuilt": 54,
    "test_index.py::test_leftovers_of_a_dead_build_are_removed_at_the_next_ingest": 38,
    "test_lexicon.py::test_corrupt_or_stale_cache_is_rebuilt": 35,
    "test_retrieval_eval.py::test_corpus_question_set_hit_at_5": 32,
}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        if item.path.name in SLOW_MODULES or name in SLOW_TESTS or item.get_closest_marker("llm"):
            item.add_marker(pytest.mark.slow)


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
