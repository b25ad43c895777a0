"""The contract every vector store keeps, and the filter a search can be limited to.

The store owns its life cycle (the txtai pattern: one class per backend behind a base class): a
build asks it to `create` a new store or `reuse` the previous one for an update by diff, a reader
to `open` the one a manifest names, and a published build to `drop_previous` what it replaced.
Vectors are keyed by the chunk's stable 63-bit id and carry the fields a search can be limited to
(document, place, level, year). An index update is a diff: the ids a build adds are upserted, the
ids it drops are deleted; readers map the ids they get back through their own manifest and skip
ids they do not know, so a reader never sees a chunk its store does not hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from rag.settings import Settings


@dataclass(frozen=True)
class VectorFilter:
    """What a search can be limited to; a field left empty does not limit."""

    docs: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    years: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.docs or self.places or self.levels or self.years)


class VectorStore(ABC):
    """What indexing and retrieval need from a vector engine."""

    name: ClassVar[str]  # what the manifest's "vector_store" says
    # the vectors are files of the build folder, checked before a build updates them
    in_build_folder: ClassVar[bool] = False
    kind: str  # flat | hnsw (faiss), or the Milvus index type
    remote: bool = False  # searched by another process (a server): a search is mostly waiting

    @classmethod
    @abstractmethod
    def create(cls, settings: Settings, dim: int, n: int, stamp: str) -> VectorStore:
        """A new empty store for a build of `n` vectors (`stamp` names the build)."""

    @classmethod
    @abstractmethod
    def open(cls, settings: Settings, manifest: dict, build_dir: Path) -> VectorStore:
        """The store a published manifest names, as it was built."""

    @classmethod
    @abstractmethod
    def reuse(cls, settings: Settings, manifest: dict, dim: int, n: int) -> VectorStore | None:
        """The previous build's store, to be updated by diff to `n` vectors; None when it cannot
        be (another index type, or a store this version cannot update)."""

    @classmethod
    def drop_previous(cls, settings: Settings, old: dict, new: dict) -> None:
        """Once the build of manifest `new` is published: remove the store of manifest `old` when it
        is kept outside the build folders (best effort)."""
        return None  # the default: nothing to do

    @abstractmethod
    def upsert(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None: ...

    @abstractmethod
    def delete(self, ids: list[int]) -> None: ...

    @abstractmethod
    def search(self, query: np.ndarray, k: int, where: VectorFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the `k` nearest vectors, best first (fewer when fewer are admitted)."""

    @abstractmethod
    def count(self) -> int: ...

    def __len__(self) -> int:
        return self.count()

    def holds(self, n: int) -> bool:
        """Whether the store holds exactly `n` vectors: the check an index load makes against its
        manifest. A store whose exact count is slow to get answers a cheap count first."""
        return self.count() == n

    @abstractmethod
    def persist(self, build_dir: Path) -> dict:
        """Write what this build needs; the manifest entries that open it again."""

    def drop(self) -> None:
        """Remove a store this build created and will not publish (nothing when it lives in memory)."""
        return None  # the default: nothing to do

    def close(self) -> None:
        """Release the store's connection or files."""
        return None  # the default: nothing to do


def best_first(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hits best first, equal scores in id order. Chunks with the same vector (a paragraph that
    two reports share) tie exactly, and each engine orders ties its own way (faiss by insertion,
    Milvus by segment); in id order every store ranks them alike, and so fuses them alike."""
    scores, ids = np.asarray(scores, dtype=np.float32), np.asarray(ids, dtype=np.int64)
    order = np.lexsort((ids, -scores))
    return scores[order], ids[order]


def meta_of(meta: list[dict] | None, n: int) -> list[dict]:
    keep = ("doc", "place", "level", "year")
    return [{k: m.get(k) for k in keep} for m in meta] if meta is not None else [{} for _ in range(n)]
