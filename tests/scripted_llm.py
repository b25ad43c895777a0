"""A scripted stand-in for the model: it says the replies it is given, in order, and keeps the
prompts it was sent. Tests of the answering branches (parts, retries, comparisons, English) use it
to reach every branch without weights; the real small model keeps its end-to-end tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from rag.answer.prompts import REFUSAL_ZH


class ScriptedLLM:
    def __init__(self, replies: list[str], name: str = "default"):
        self.replies = list(replies)
        self.name = name
        self.max_tokens = 160
        self.prompts: list[list[dict]] = []

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else REFUSAL_ZH + "。"
        for ch in reply:  # a character is a token here
            if cancel is not None and cancel.is_set():
                return
            yield ch

    def count_tokens(self, messages: list[dict]) -> int:
        return len(messages[-1]["content"])

    def warm(self, messages: list[dict]) -> None:
        """Nothing to warm."""


def scripted(assistant, replies: list[str], name: str = "default") -> ScriptedLLM:
    """Put a scripted model in `assistant`'s place for `name`; returns it (its prompts can be read)."""
    llm = ScriptedLLM(replies, name)
    assistant._llms[name] = llm
    return llm
