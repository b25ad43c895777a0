"""Turning a request into a standalone question for the answer queue (shared by /v1/ask and the
OpenAI-compatible endpoint), with the same follow-up rewriting as `rag chat`."""

from __future__ import annotations

import re
from collections.abc import Callable

from api.answering import AnswerJob
from api.errors import ApiError
from api.scope import ScopeRequest, check_scope
from api.services import Services
from rag.answer.followup import rewrite
from rag.search.retrieve import Retriever


def check_question(services: Services, question: str, param: str) -> str:
    """The question stripped, or 400. The limit counts the characters as sent (the OpenAPI
    `maxLength`), and blank means no `\\S` character (its `pattern`), so both agree with the document."""
    if not re.search(r"\S", question):
        raise ApiError(400, "the question is empty", param=param, code="empty_question")
    limit = services.api.max_question_chars
    if len(question) > limit:
        raise ApiError(
            400,
            f"the question is too long ({len(question)} characters; at most {limit})",
            param=param,
            code="question_too_long",
        )
    return question.strip()


def standalone(
    question: str,
    history: list[str],
    limit: int,
    place_aliases: dict[str, str],
    unknown_places: Callable[[str], list[str]] | None = None,
) -> str:
    """Replay the conversation as `rag chat` does: each earlier question is rewritten against the
    ones before it, then the new one against them all (`rag.answer.followup.rewrite`, with the places of the
    index being served). Entries too long to have been asked are skipped."""
    done: list[str] = []
    for h in history:
        h = (h or "").strip()
        if h and len(h) <= limit:
            done.append(rewrite(h, done, place_aliases, unknown_places))
    return rewrite(question, done, place_aliases, unknown_places)


def make_job(
    services: Services,
    retriever: Retriever,
    question: str,
    history: list[str],
    *,
    k: int | None,
    model: str | None,
    max_tokens: int | None = None,
    question_param: str = "question",
    scope: ScopeRequest | None = None,
) -> tuple[AnswerJob, str]:
    """The job to queue and the public id of the model that will answer; `retriever` is the index of
    the assistant that will answer (its places rewrite a follow-up, its library checks the scope)."""
    q = check_question(services, question, question_param)
    if k is not None and not 1 <= k <= services.api.max_k:
        raise ApiError(422, f"k must be between 1 and {services.api.max_k}", param="k", code="k_out_of_range")
    info = services.models().resolve(model)
    checked = check_scope(retriever, scope)
    history = history[-services.api.max_history :] if services.api.max_history else []
    limit = services.api.max_question_chars
    s = standalone(q, history, limit, retriever.place_aliases, retriever.unknown_places)
    if len(s) > limit:  # a rewritten follow-up can grow past the limit: answer the question as asked
        s = q
    return AnswerJob(question=q, standalone=s, model=info.name, k=k, max_tokens=max_tokens, scope=checked), info.id
