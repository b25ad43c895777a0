"""Settings of the HTTP service (``RAG_API_<NAME>``), next to the pipeline's own `rag.settings.Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.settings import Settings

# The longest question the pipeline answers by default (`Settings.max_question_chars`; longer ones are
# refused there). The API reads it only here: as the bound of `max_question_chars` and in the request
# descriptions (api/ask, api/search).
PIPELINE_MAX_QUESTION_CHARS: int = Settings.model_fields["max_question_chars"].default


class ApiSettings(BaseSettings):
    """Where the service listens, who may call it and how much work it accepts at once."""

    model_config = SettingsConfigDict(env_prefix="RAG_API_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless deliberately changed.")
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = Field(
        None, description="When set, every endpoint except /healthz and /readyz needs `Authorization: Bearer <key>`."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; empty = CORS off.")
    max_queue: int = Field(
        4,
        ge=1,
        description="Answering requests admitted at once (one runs, the others wait); "
        "the next one gets 503 with Retry-After.",
    )
    max_wait_s: float = Field(
        60,
        gt=0,
        description="A question that has not started after this long in the queue "
        "gets 503 with Retry-After instead of waiting on.",
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with a 503.")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest JSON request body.")
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest header block (names and values together); larger requests get 431."
    )
    max_upload_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest uploaded report.")
    max_question_chars: int = Field(
        PIPELINE_MAX_QUESTION_CHARS,
        ge=1,
        le=PIPELINE_MAX_QUESTION_CHARS,
        description=f"Longest question (the pipeline's own limit is {PIPELINE_MAX_QUESTION_CHARS}).",
    )
    max_history: int = Field(20, ge=0, description="Earlier questions considered for a follow-up.")
    max_messages: int = Field(64, ge=1, description="Messages accepted in one chat-completions request.")
    max_k: int = Field(50, ge=1, description="Largest number of passages a request may ask for.")
    preload: bool = Field(True, description="Load the index and the default model at start (else on first use).")
    model_alias: str = Field(
        "gov-report-rag",
        description="Model id listed by /v1/models for the default LLM; `<alias>-small` is the small one.",
    )
