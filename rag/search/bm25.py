"""Keyword scoring: BM25 over the shared tokenizer's words (`rag.search.text.tokenize`) of each chunk's
Simplified-normalised text, and the term weights (idf) that query analysis and context selection
read off the same index, so that every stage weighs a word the way retrieval does.

The index itself is bm25s, saved into the build folder and memory-mapped on load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rag.search.text import tokenize


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` highest scores, best first, without sorting the whole array (BM25
    over 10^6 documents: scoring + full sort 13.4 ms, scoring + this 4.2 ms; eval/bench_retrieval.py)."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n < len(scores):
        part = np.argpartition(-scores, n - 1)[:n]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


class Idf(Mapping):
    """A read-only token → idf mapping over the BM25 vocabulary, computed per look-up (no second
    copy of a vocabulary that grows with the corpus); ``top`` is the weight of a term no chunk has."""

    def __init__(self, vocab: dict[str, int], df: np.ndarray, n: int):
        self.vocab, self.df, self.n = vocab, df, max(1, n)
        held = df[df > 0]
        self.top = math.log((self.n + 1) / ((int(held.min()) if len(held) else 0) + 0.5))

    def __getitem__(self, token: str) -> float:
        col = self.vocab[token]
        return math.log((self.n + 1) / (int(self.df[col]) + 0.5))

    def __contains__(self, token: object) -> bool:
        return token in self.vocab

    def __iter__(self):
        return iter(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)


def top_weight(idf: Mapping[str, float] | None) -> float:
    """The largest weight of a token → idf mapping (the weight of an unseen term)."""
    if not idf:
        return 1.0
    return float(getattr(idf, "top", None) or max(idf.values()))


class BM25Index:
    """bm25s over jieba tokens of the Simplified-normalised chunk text."""

    def __init__(self, retriever=None):
        self.retriever = retriever

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        import bm25s

        r = bm25s.BM25()
        r.index([tokenize(t) or ["∅"] for t in texts], show_progress=False)
        return cls(r)

    def scores(self, query: str, extra_tokens: list[str] | None = None) -> np.ndarray:
        vocab = self.retriever.vocab_dict
        toks = [t for t in tokenize(" ".join([query, *(extra_tokens or [])])) if t in vocab]
        if not toks:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.retriever.get_scores(toks), dtype=np.float32)

    @property
    def num_docs(self) -> int:
        return int(self.retriever.scores["num_docs"])

    def idf(self) -> Idf:
        """Token → inverse document frequency over the indexed chunks, read off the index itself
        (a token's column in the score matrix holds one entry per chunk that has it)."""
        df = np.diff(np.asarray(self.retriever.scores["indptr"]))
        return Idf(self.retriever.vocab_dict, df, self.num_docs)

    def persist(self, path: Path) -> None:
        self.retriever.save(str(path))

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        import bm25s

        # memory-mapped: a service starts without reading the whole score matrix (5 s at 10^6
        # chunks from a cold disk) and shares its pages with other processes on the same index
        return cls(bm25s.BM25.load(str(path), mmap=True))
