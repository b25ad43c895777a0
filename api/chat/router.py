"""`POST /v1/chat/completions`: OpenAI-compatible chat, so any OpenAI client gets cited answers.

Citations travel in extension fields that clients which do not know them simply ignore:
`choices[0].message.citations` without streaming, and in the last chunk (the one with
`finish_reason: "stop"`) as `choices[0].delta.citations` when streaming.

Streaming and the checked answer: tokens are streamed as the model writes them, and the pipeline
then checks the answer. Usually the checked answer is the streamed text plus its [n] markers, and
only the markers follow. When checking changed it (a retry with a stricter prompt, an unverifiable
answer replaced by the quoted source sentence, a script conversion), a line `---` follows the
streamed text and then the checked answer in full; the last chunk's `delta.answer` always holds the
checked answer alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from api.chat.schemas import AssistantMessage, ChatCompletion, ChatCompletionRequest, ChatMessage, Choice, Usage
from api.dependencies import get_assistant, get_retriever, get_services, require_ready
from api.errors import ANSWER_ERRORS, ApiError, stream_error
from api.questions import check_question, make_job
from api.services import Services
from rag.answer.assistant import Assistant
from rag.answer.turn import Answer
from rag.search.retrieve import Retriever

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_ready)])

SEPARATOR = "\n\n---\n"
# One server-sent event (OpenAPI 3.1: the schema of a stream describes each event): `data` is a
# `chat.completion.chunk` as JSON, an `{"error": ...}` object, or `[DONE]`.
SSE_CHUNK = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A chat.completion.chunk (JSON), an error object, or [DONE]."}
    },
}


def _user_text(services: Services, m: ChatMessage, index: int) -> str:
    """The question a user message holds: a string, or a list of exactly one text part (the OpenAPI
    `UserMessage`); 400 otherwise, so that the document and the server agree."""
    param = f"messages.{index}.content"
    content = m.content
    if isinstance(content, list):
        texts = [p.text for p in content if p.type == "text" and p.text is not None]
        if not texts:
            raise ApiError(400, "the user message has no text part (the question)", param=param, code="empty_question")
        if len(content) != 1:
            raise ApiError(
                400,
                "a user message's content is a string or a list of one text part (other parts are not read)",
                param=param,
                code="unsupported_content",
            )
        content = texts[0]
    if content is None:
        raise ApiError(400, "a user message needs content (the question)", param=param, code="empty_question")
    return check_question(services, content, param)


def _conversation(services: Services, messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """The question (the last user message) and the history (the earlier user messages). Every user
    message must hold a question (the OpenAPI `UserMessage`) and there is at least one (its `contains`);
    messages after the last user message (an assistant's prefill, a tool result) are accepted and
    ignored, as JSON Schema cannot name an array's last item."""
    if len(messages) > services.api.max_messages:
        raise ApiError(
            400,
            f"too many messages ({len(messages)}; at most {services.api.max_messages})",
            param="messages",
            code="too_many_messages",
        )
    texts = [_user_text(services, m, i) for i, m in enumerate(messages) if m.role == "user"]
    return texts[-1], texts[:-1]


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **ANSWER_ERRORS,
        200: {
            "description": "A chat completion, or `chat.completion.chunk` server-sent events.",
            "content": {"text/event-stream": {"schema": SSE_CHUNK}},
        },
    },
    summary="OpenAI-compatible chat completion with citations",
    description=__doc__,
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    services: Services = Depends(get_services),
    assistant: Assistant = Depends(get_assistant),
    retriever: Retriever = Depends(get_retriever),
) -> ChatCompletion | Response:
    question, history = _conversation(services, body.messages)
    max_tokens = body.max_completion_tokens or body.max_tokens
    job, model_id = make_job(
        services,
        retriever,
        question,
        history,
        k=None,
        model=body.model,
        max_tokens=max_tokens,
        question_param=f"messages.{len(body.messages) - 1}.content",
        scope=body.scope,
    )
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = await services.queue.stream(request, assistant, job)
        if events is None:
            return Response(status_code=499)
        return StreamingResponse(
            _chunks(events, cid, created, model_id, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    ans = await services.queue.answer(request, assistant, job)
    if ans is None:
        return Response(status_code=499)
    return ChatCompletion(
        id=cid,
        created=created,
        model=model_id,
        usage=Usage(**_usage(ans)),
        choices=[Choice(message=AssistantMessage(content=ans.answer, **_extension(ans)))],
    )


def _extension(ans: Answer) -> dict:
    return {
        "citations": [c.to_dict() for c in ans.citations],
        "refused": ans.refused,
        "verified": ans.verified,
        "standalone_question": ans.standalone_question or ans.question,
    }


def _usage(ans: Answer) -> dict:
    p = int(ans.timings.get("prompt_tokens", 0) or 0)
    c = int(ans.timings.get("completion_tokens", 0) or 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


async def _chunks(
    events: AsyncIterator[tuple[str, object]], cid: str, created: int, model: str, include_usage: bool
) -> AsyncIterator[str]:
    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = ""  # what the client has been shown
    pending = ""  # trailing whitespace held back until more text comes
    final = None
    async for kind, data in events:
        if kind == "evidence":
            yield chunk({"evidence": data})
        elif kind == "token":
            text = pending + str(data)
            if not sent:
                text = text.lstrip()
            body = text.rstrip()
            pending = text[len(body) :]
            if body:
                sent += body
                yield chunk({"content": body})
        elif kind == "answer":
            final = str(data)
            if not sent:
                rest = final
            elif final.startswith(sent):
                rest = final[len(sent) :]
            else:
                rest = SEPARATOR + final
            if rest:
                yield chunk({"content": rest})
        elif kind == "result":
            ans = cast(Answer, data)
            yield chunk({"answer": final if final is not None else ans.answer, **_extension(ans)}, "stop")
            if include_usage:
                obj = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": _usage(ans),
                }
                yield f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
        elif kind == "error":
            yield f"data: {json.dumps(stream_error(cast(BaseException, data)), ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
