"""The OpenAI chat-completions schema, as far as this server uses it, plus the citation extension.

Fields a client sends that are not listed here (`user`, `seed`, `tools`, ...) are accepted and ignored,
so that any OpenAI client works unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Citation, OneChoice, TokenCount
from api.scope import ScopeRequest


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Part type; only `text` parts are read.")
    text: str | None = Field(None, description="The text of a `text` part.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"] = Field(
        description="Author. The last `user` message is the question (messages after it are ignored). Earlier `user` messages are "
        "the history that a follow-up is rewritten with; other roles are accepted and ignored "
        "(the server has its own instructions)."
    )
    content: str | list[ContentPart] | None = Field(None, description="Text, or a list of content parts.")
    name: str | None = Field(None, description="Accepted and ignored.")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(False, strict=True, description="Send a last chunk with token usage before `[DONE]`.")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "gov-report-rag",
                    "messages": [
                        {"role": "user", "content": "甲市今年要新认定多少家高新技术企业？"},
                        {"role": "assistant", "content": "甲市今年要新认定高新技术企业20家以上。[1]"},
                        {"role": "user", "content": "那乙市呢？"},
                    ],
                }
            ]
        },
    )

    model: str | None = Field(
        None,
        description="Model id from /v1/models (`default` and `small` work too); "
        "default: the server's RAG_LLM. Unknown ids get 404.",
    )
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation, oldest first.")
    stream: bool = Field(
        False,
        strict=True,
        description="Stream `chat.completion.chunk` objects as server-sent events, ending with `data: [DONE]`.",
    )
    max_tokens: TokenCount | None = Field(
        None,
        description="Upper bound on generated tokens; the server's RAG_MAX_ANSWER_TOKENS "
        "caps it. An answer cut short fails verification and is replaced "
        "by a quoted sentence.",
    )
    max_completion_tokens: TokenCount | None = Field(
        None, description="Same as max_tokens (newer clients send this one)."
    )
    temperature: float | None = Field(
        None,
        strict=True,
        ge=0,
        le=2,
        description="Accepted for compatibility; decoding is greedy so that answers are reproducible.",
    )
    top_p: float | None = Field(None, strict=True, ge=0, le=1, description="Accepted and ignored (greedy decoding).")
    n: OneChoice | None = Field(None, description="Only 1 choice is produced.")
    stream_options: StreamOptions | None = Field(None, description="`include_usage` is honoured.")
    scope: ScopeRequest | None = Field(
        None,
        description="Extension: answer only from these reports (default: the "
        "whole library); OpenAI clients send it in `extra_body`.",
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The checked answer with [n] markers (or the refusal).")
    citations: list[Citation] = Field(description="Extension: the verified citations the [n] markers refer to.")
    refused: bool = Field(description="Extension: true when the reports do not answer the question.")
    verified: bool = Field(description="Extension: true when every figure of the answer was found in the cited text.")
    standalone_question: str = Field(description="Extension: the question answered after follow-up rewriting.")


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str = Field(description="`chatcmpl-...`")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix time.")
    model: str = Field(description="The model id that answered.")
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
