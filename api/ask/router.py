"""`POST /v1/ask`: the native answer endpoint, the object of `rag ask --json` or a stream of events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.answering import AnswerJob
from api.dependencies import get_assistant, get_retriever, get_services, require_ready
from api.errors import ANSWER_ERRORS, stream_error
from api.questions import make_job
from api.schemas import AskResponse, TopK
from api.scope import ScopeRequest
from api.services import Services
from api.settings import PIPELINE_MAX_QUESTION_CHARS
from rag.answer.assistant import Assistant
from rag.answer.turn import Answer
from rag.search.retrieve import Retriever

router = APIRouter(prefix="/v1", tags=["answers"], dependencies=[Depends(require_ready)])


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "甲市今年要新认定多少家高新技术企业？"},
                {"question": "那乙市呢？", "history": ["甲市今年要新认定多少家高新技术企业？"], "stream": True},
            ]
        },
    )

    question: str = Field(
        strict=True,
        description="The question, in Chinese (either script) or English; "
        f"1 to {PIPELINE_MAX_QUESTION_CHARS} characters (the server "
        "may set a lower limit).",
    )
    history: list[str] = Field(
        default_factory=list,
        strict=True,
        max_length=100,
        description="Earlier questions of the conversation, oldest first. A follow-up such "
        "as 「那乙市呢？」 is rewritten into a standalone question with them, as "
        "in `rag chat`; the rewrite is returned as `standalone_question`.",
    )
    k: TopK | None = Field(None, description="Passages to retrieve (default: the server's RAG_TOP_K).")
    model: str | None = Field(
        None,
        strict=True,
        description="Model id from /v1/models, or `default` / `small` (default: the server's RAG_LLM).",
    )
    stream: bool = Field(False, strict=True, description="Send server-sent events instead of one JSON object.")
    scope: ScopeRequest | None = Field(
        None,
        description="Answer only from these reports (default: the whole "
        "library); applies to the follow-up as rewritten.",
    )


# One server-sent event as a client parses it (OpenAPI 3.1: the schema of a stream describes each event).
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {
            "type": "string",
            "enum": ["question", "evidence", "token", "retry", "retry_token", "answer", "citations", "done", "error"],
        },
        "data": {"type": "string", "description": "JSON (see the table)."},
    },
}

STREAM_DOC = """With `stream: true` the response is `text/event-stream`; every event's `data` is JSON:

| event | data |
| --- | --- |
| `question` | `{question, standalone_question}`: what was asked and the question actually answered (a follow-up rewritten with `history`), first |
| `evidence` | the strongest supporting sentence as a citation object, before the model runs |
| `token` | a piece of the answer as it is generated (a string) |
| `retry` | why the first answer was rejected (a string); `retry_token` events follow |
| `answer` | the final, checked answer text (a string); it replaces the streamed tokens |
| `citations` | the verified citations (a list of citation objects) |
| `done` | `{timings, refused, verified, extractive, model, question, standalone_question, notes}`, always last |
| `error` | `{"error": {...}}` when answering failed after the stream started |
"""


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        **ANSWER_ERRORS,
        200: {
            "description": "The answer (JSON), or a stream of events with `stream: true`.",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
    },
    summary="Answer a question with verified citations",
    description=STREAM_DOC,
    response_model_exclude_unset=True,
)  # the pipeline's object, validated, with exactly the fields it set
async def ask(
    body: AskRequest,
    request: Request,
    services: Services = Depends(get_services),
    assistant: Assistant = Depends(get_assistant),
    retriever: Retriever = Depends(get_retriever),
) -> dict | Response:
    job, _ = make_job(services, retriever, body.question, body.history, k=body.k, model=body.model, scope=body.scope)
    if body.stream:
        events = await services.queue.stream(request, assistant, job)
        if events is None:
            return Response(status_code=499)
        return StreamingResponse(
            _sse(events, job),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    ans = await services.queue.answer(request, assistant, job)
    if ans is None:
        return Response(status_code=499)
    return ans.to_dict()


def _event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(events: AsyncIterator[tuple[str, object]], job: AnswerJob) -> AsyncIterator[str]:
    yield _event("question", {"question": job.question, "standalone_question": job.standalone})
    async for kind, data in events:
        if kind == "result":
            d = cast(Answer, data).to_dict()
            yield _event(
                "done",
                {
                    k: d[k]
                    for k in (
                        "timings",
                        "refused",
                        "verified",
                        "extractive",
                        "model",
                        "question",
                        "standalone_question",
                        "notes",
                    )
                },
            )
        elif kind == "error":
            yield _event("error", stream_error(cast(BaseException, data)))
        else:
            yield _event(kind, data)
