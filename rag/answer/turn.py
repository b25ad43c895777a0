"""The objects one question travels in: the `Turn` the stages read and add to, and the `Answer`
it ends as (kept apart from the `Assistant` so the stages import them without importing it)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.answer.context import Passage
from rag.answer.llm import LLM
from rag.chunk.quote import Citation
from rag.search.query import QueryAnalysis
from rag.search.retrieve import Result

Event = Callable[[str, object], None]


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    retrieved: list[dict]
    timings: dict
    extractive: bool = False
    verified: bool = True
    model: str = ""
    standalone_question: str = ""
    notes: list[str] = field(default_factory=list)
    # the first prompt sent to the model (empty when none was needed): benchmarks replay it
    messages: list[dict] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": self.retrieved,
            "timings": self.timings,
            "extractive": self.extractive,
            "verified": self.verified,
            "model": self.model,
            "standalone_question": self.standalone_question or self.question,
            "notes": self.notes,
        }


@dataclass
class Turn:
    """One question on its way through the stages: its plan, what retrieval found for it, what
    was said to the model and what was ruled out. The stages read and add to it instead of
    passing a dozen arguments along; nothing downstream reads the question again."""

    question: str
    plan: QueryAnalysis
    emit: Event
    t0: float
    cancel: threading.Event | None = None
    timings: dict = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    retrieved: list[dict] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # the evidence for the whole question
    notes: list[str] = field(default_factory=list)
    ruled_out: set[tuple[str, int]] = field(default_factory=set)  # sentences found to answer something else
    llm: LLM | None = None
    messages: list[dict] = field(default_factory=list)  # the first prompt sent to the model
    budget_s: float = math.inf  # no further generation starts after this long (settings.answer_budget_s)

    def spent(self, what: str) -> bool:
        """Whether the time budget is spent, so that `what` (a further generation) is skipped; says
        so in the notes once. A wall-time budget: the slowest questions end with what they have."""
        elapsed = time.perf_counter() - self.t0
        if elapsed < self.budget_s:
            return False
        self.timings["budget_spent"] = True
        self.notes.append(f"time budget of {self.budget_s:g} s spent after {elapsed:.1f} s; {what} skipped")
        return True

    @property
    def used_model(self) -> bool:
        """Whether the model already ran for this turn (an answer, a part, a translation): the
        first generation of a later stage is then budgeted like any other."""
        return bool(self.timings.get("generations")) or "translate_s" in self.timings

    @property
    def english(self) -> bool:
        return self.plan.english

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    @property
    def model(self) -> LLM:
        """The model answering this turn (chosen before anything is generated)."""
        if self.llm is None:
            raise RuntimeError("no model chosen for this turn")
        return self.llm
