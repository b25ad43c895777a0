"""Probes: `/healthz` says the process is up; `/readyz` says the index and the models are loaded.
Neither needs the API key (load balancers and supervisors call them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

router = APIRouter(tags=["health"])


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


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, summary="Readiness",
            responses={503: {"model": Ready, "description": "Still loading, or loading failed."}})
async def readyz(request: Request) -> JSONResponse:
    services = getattr(request.app.state, "services", None)
    if services is None:
        body = Ready(ready=False, index=False, models={}, documents=0, chunks=0, queue={}, error="not started")
        return JSONResponse(body.model_dump(), status_code=503)
    r = services.readiness
    a = services.current
    body = Ready(ready=services.ready, index=r.index, models={n: True for n in services.loaded_models()},
                 documents=len(a.retriever.documents) if a else 0, chunks=a.retriever.count if a else 0,
                 queue={"admitted": services.queue.admitted, "limit": services.queue.limit,
                        **dict(services.queue.stats)},
                 error=r.error, ready_s=r.ready_s)
    return JSONResponse(body.model_dump(), status_code=200 if services.ready else 503)
