"""`GET /v1/models`: the configured LLMs under the ids clients send (OpenAI list format)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.dependencies import get_services, require_ready
from api.errors import COMMON_ERRORS
from api.services import Services

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_ready)])


class ModelCard(BaseModel):
    id: str = Field(description="The id to send as `model`.")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time the weights were installed (0 when not fetched).")
    owned_by: str = "gov-report-rag"
    name: str = Field(description="Extension: the pipeline's name for it (`default` or `small`, also accepted "
                                  "as `model`).")
    file: str = Field(description="Extension: the GGUF file.")
    available: bool = Field(description="Extension: fetched and verified on this server.")
    loaded: bool = Field(description="Extension: in memory now.")
    default: bool = Field(description="Extension: answers requests that name no model.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models", response_model=ModelList, responses=COMMON_ERRORS, summary="The configured models")
async def list_models(services: Services = Depends(get_services)) -> ModelList:
    catalog = services.models()
    loaded = set(services.loaded_models())
    return ModelList(data=[ModelCard(id=m.id, created=m.created, name=m.name, file=m.file, available=m.available,
                                     loaded=m.name in loaded, default=m.name == catalog.default)
                           for m in catalog.models])
