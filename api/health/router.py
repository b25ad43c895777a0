"""Probes: `/healthz` says the process is up; `/readyz` says the index and the models are loaded.
Neither needs the API key (load balancers and supervisors call them). What `/readyz` reports comes
from the `get_readiness` dependency, so a test or an embedding application can replace it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.dependencies import get_readiness
from api.health.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness",
    responses={503: {"model": Ready, "description": "Still loading, or loading failed."}},
)
async def readyz(response: Response, ready: Ready = Depends(get_readiness)) -> Ready:
    if not ready.ready:
        response.status_code = 503
    return ready
