"""Shared fixtures. The seed index is built once per test session into a temporary folder, with
the real embedder; the repository's embedding cache (filled by `make setup`) is copied in first
so the build only embeds what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory):
    """Settings pointing at a fresh index of the five seed reports (ingested and indexed)."""
    from rag.index import build
    from rag.ingest import ingest_paths, write_store
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
def retriever(seed_index):
    from rag.retrieve import Retriever

    return Retriever(seed_index)
