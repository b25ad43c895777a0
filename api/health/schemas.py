"""What the probes answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(description="`ok`.")


class Ready(BaseModel):
    ready: bool = Field(description="True when questions can be answered.")
    index: bool = Field(description="The chunk store and the search indexes are in memory.")
    models: dict[str, bool] = Field(description="LLMs loaded, by pipeline name.")
    documents: int = Field(description="Documents being served.")
    chunks: int = Field(description="Indexed chunks being served.")
    queue: dict = Field(description="Answering requests admitted now, the bound, and counts since start.")
    error: str | None = Field(None, description="Why loading failed, if it did.")
    ready_s: float | None = Field(None, description="Seconds the service took to become ready.")
