"""`POST /v1/search`: the fused retrieval results of `rag search --json`, without the model.

Search runs in the thread pool, not in the answer queue, so it stays fast while an answer is being
generated."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import get_retriever, get_services, require_ready
from api.errors import COMMON_ERRORS, ApiError, ErrorResponse
from api.questions import check_question
from api.schemas import SearchResult, TopK
from api.scope import ScopeRequest, check_scope
from api.services import Services
from api.settings import PIPELINE_MAX_QUESTION_CHARS
from rag.search.retrieve import Retriever

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[Depends(require_ready)])


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"question": "甲市今年要新认定多少家高新技术企业？", "k": 3}]}
    )

    question: str = Field(
        strict=True,
        description="The question or search words, in Chinese (either script) or "
        f"English; 1 to {PIPELINE_MAX_QUESTION_CHARS} characters.",
    )
    k: TopK = Field(10, description="How many results (like `rag search -k`).")
    scope: ScopeRequest | None = Field(None, description="Search only these reports (default: the whole library).")


@router.post(
    "/search",
    response_model=list[SearchResult],
    summary="Ranked passages for a question",
    response_model_exclude_unset=True,  # the pipeline's objects, validated, with exactly their fields
    responses={**COMMON_ERRORS, 400: {"model": ErrorResponse, "description": "Empty or over-long question."}},
)
async def search(
    body: SearchRequest, services: Services = Depends(get_services), retriever: Retriever = Depends(get_retriever)
) -> list[dict]:
    question = check_question(services, body.question, "question")
    if "k" not in body.model_fields_set:  # the default, as the document gives it, is within the server's max_k
        body.k = min(body.k, services.api.max_k)
    if body.k > services.api.max_k:
        raise ApiError(422, f"k must be between 1 and {services.api.max_k}", param="k", code="k_out_of_range")
    scope = check_scope(retriever, body.scope)
    results = await run_in_threadpool(retriever.search, question, body.k, scope=scope)
    return [r.to_dict() for r in results]
