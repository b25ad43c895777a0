"""Which store class serves a vector store name: the one place that knows every backend."""

from __future__ import annotations

from pathlib import Path

from rag.errors import RagError
from rag.search.vectors.base import VectorStore
from rag.search.vectors.faiss_store import FaissStore
from rag.search.vectors.milvus_store import MilvusStore
from rag.settings import Settings, VectorStoreName


def store_class(name: VectorStoreName | str) -> type[VectorStore]:
    """The store class of `name`: the setting ``vectors.store``, or a manifest's ``vector_store``
    (which may come from another version, hence the error)."""
    match name:
        case "faiss":
            return FaissStore
        case "milvus":
            return MilvusStore
    raise RagError(f"the index names an unknown vector store {name!r}; run `rag index --rebuild`")


def open_store(settings: Settings, manifest: dict, build_dir: Path) -> VectorStore:
    """The vector store a published manifest names (faiss for manifests from before the choice)."""
    return store_class(manifest.get("vector_store", "faiss")).open(settings, manifest, build_dir)
