"""The dependencies routes declare with `Depends`, in one place. Each one is a plain function that
a test or an embedding application can replace with `app.dependency_overrides[function] = ...`:

* `get_services`: the app's service container (503 until the app's lifespan has started it);
* `require_ready`: 503 with Retry-After until the index and the default model are in memory (every
  `/v1` router declares it; a failed load is a 503 with the reason);
* `get_assistant`: the current `Assistant`; a request takes it once and keeps it to its end, so an
  upload published meanwhile does not change the index under it;
* `get_retriever`: that assistant's index (search, documents, follow-up rewriting);
* `get_readiness`: what `/readyz` reports;
* `require_api_key` (defined in `api.security`, the same function object): the bearer key, declared
  once for all the data routers by `create_app`.

Dependencies are cached per request: `get_assistant` and `get_retriever` in one request give the
same snapshot, and `require_ready` runs once however many of them ask for it.
"""

from __future__ import annotations

from fastapi import Depends, Request

from api.errors import UNAVAILABLE, ApiError
from api.health.schemas import Ready
from api.security import require_api_key
from api.services import Services
from rag.answer.assistant import Assistant
from rag.search.retrieve import Retriever

__all__ = ["get_services", "require_ready", "get_assistant", "get_retriever", "get_readiness", "require_api_key"]


def started_services(request: Request) -> Services | None:
    """The app's service container, or None before the lifespan has started it (for the probes)."""
    return getattr(request.app.state, "services", None)


async def get_services(request: Request) -> Services:
    """The app's service container."""
    services = started_services(request)
    if services is None:
        raise ApiError(503, "the service is not started", UNAVAILABLE, code="not_ready")
    return services


async def require_ready(services: Services = Depends(get_services)) -> Services:
    """503 while the index and the models load (see `Services.ensure_ready`); the services otherwise."""
    services.ensure_ready()
    return services


async def get_assistant(services: Services = Depends(require_ready)) -> Assistant:
    """The assistant answering now, taken once for the whole request."""
    return services.assistant


async def get_retriever(assistant: Assistant = Depends(get_assistant)) -> Retriever:
    """The index of this request's assistant."""
    return assistant.retriever


async def get_readiness(request: Request) -> Ready:
    """What `/readyz` reports: 200 when `ready`, 503 otherwise (not started, loading, or failed)."""
    services = started_services(request)
    if services is None:
        return Ready(ready=False, index=False, models={}, documents=0, chunks=0, queue={}, error="not started")
    r = services.readiness
    a = services.current
    return Ready(
        ready=services.ready,
        index=r.index,
        models={n: True for n in services.loaded_models()},
        documents=len(a.retriever.documents) if a else 0,
        chunks=a.retriever.count if a else 0,
        queue={"admitted": services.queue.admitted, "limit": services.queue.limit, **dict(services.queue.stats)},
        error=r.error,
        ready_s=r.ready_s,
    )
