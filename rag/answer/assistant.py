"""Answering: plan → retrieval → gate → context selection → generation → verified citations.

This module is the orchestration only: the question is read once into a plan (`rag.search.query`), and
one `Turn` carries it and everything found for it down the stages: retrieval (`rag.search.retrieve`),
the checks that decide whether the reports answer (`rag.answer.gate`), generation with every figure
checked (`rag.answer.attempt`), and the answer composed in code for questions in several parts
(`rag.answer.compose`). Every way out of `ask` goes through `Assistant._finish`.

`Assistant` is the one service object the CLI, the chat loop and the HTTP API share: it holds the
retriever and the loaded LLM(s) for the life of the process. `ask()` reports progress through an
optional callback (evidence first, then tokens, then the verified answer), which the terminal
and the server turn into streaming output.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

from rag.answer import attempt
from rag.answer.context import Passage, best_sentence, select_context
from rag.answer.gate import Gate
from rag.answer.llm import LLM, Capped, make_llm
from rag.answer.prompts import build_messages, match_script, quoted_answer, refusal_text
from rag.answer.turn import Answer, Event, Turn
from rag.answer.verify import asks_one_year
from rag.chunk.quote import Citation, citation_for
from rag.errors import RagError
from rag.scope import Scope
from rag.search.query import QueryAnalysis
from rag.search.retrieve import Result, Retriever
from rag.settings import Settings

log = logging.getLogger(__name__)

# Words of the lines that say who gave a report, and when and where (a question about the report
# itself shares none of its own words with them: 「…是谁作的？」).
_WHO_WORDS = ("主席", "省长", "市长", "县长", "区长", "旗长", "州长", "总理")
_WHEN_WORDS = ("代表大会", "会议", "月", "日")


def meta_words(text: str) -> tuple[str, ...]:
    """The words that find the line a question about the report itself asks for."""
    return _WHO_WORDS if re.search(r"谁|哪位|何人|什么人|作报告的", text) else _WHEN_WORDS


class Assistant:
    """Retriever plus LLMs, loaded once per process; answers are produced one at a time per model."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None, preload: str | None = None):
        """`preload`: a model choice to load and warm in a background thread while the index loads
        (a new `rag ask` process pays for the two side by side, not one after the other)."""
        self.settings = settings
        self._llms: dict[str, LLM] = {}
        self._load_lock = threading.Lock()
        self._preloading: threading.Thread | None = None
        if preload and settings.llm.backend == "llamacpp":
            # not a daemon: a process that exits early waits for the load rather than tearing it down
            self._preloading = threading.Thread(target=self._preload, args=(preload,), name="preload-llm")
            self._preloading.start()
        # (warming the retriever meanwhile was measured: it slowed the model's load as much as it saved)
        self.retriever = retriever or Retriever(settings)
        self.gate = Gate(self.retriever)

    def _preload(self, name: str) -> None:
        """Load and warm a model; a failure is left for the question to meet (and report) again.

        While loading, llama.cpp calls back into Python (its log hook) for every line it logs, and
        each call waits for the interpreter lock, which the thread loading the index holds for the
        whole switch interval (5 ms by default): measured, the load took ~4 s beside the index
        instead of ~1 s alone. A short interval for the duration of the load lets the calls through."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, 0.0002))
        try:
            self.warm(name)
        except Exception as exc:  # noqa: BLE001 - the asking thread raises it with its own message
            log.debug("preloading model %s failed: %s", name, exc)
        finally:
            sys.setswitchinterval(interval)

    def _after_preload(self, emit: Event) -> Event:
        """`emit`, holding its first event until a background load has finished: llama-cpp-python
        points the process's stdout and stderr at /dev/null while it loads a model, so whatever
        a caller printed meanwhile (the evidence line of `rag ask`) would be lost."""
        loading = self._preloading
        if loading is None or not loading.is_alive():
            return emit

        def held(kind: str, data) -> None:
            loading.join()
            emit(kind, data)

        return held

    def with_retriever(self, retriever: Retriever) -> Assistant:
        """A new assistant over another index that shares this one's loaded models (no reload)."""
        other = Assistant(self.settings, retriever)
        other._llms = self._llms
        other._load_lock = self._load_lock
        return other

    @property
    def loaded_models(self) -> list[str]:
        return sorted(self._llms)

    def llm(self, name: str | None = None) -> LLM:
        name = name or self.settings.llm.choice
        if name not in ("default", "small"):
            raise RagError(f"unknown model '{name}'; choose default or small")
        with self._load_lock:
            if name not in self._llms:
                self._llms[name] = make_llm(self.settings, name)
            return self._llms[name]

    def check_model(self, name: str | None = None) -> None:
        """Before a question starts: a model on an LLM server is asked whether it is there, so that
        a server that is down, slow or failing is an `LLMUnavailable` before anything is shown or
        streamed (the API answers 503 instead of breaking a stream off after its evidence). A model
        in this process needs no asking (nor loading, for a question the gate may refuse)."""
        if self.settings.llm.backend == "openai":
            check = getattr(self.llm(name), "check", None)
            if check is not None:
                check()

    def warm(self, name: str | None = None) -> LLM:
        """Load a model and bring the answer prompt's fixed prefix into its memory (from the
        prefix file when there is one), so the first question costs what later ones do."""
        llm = self.llm(name)
        llm.warm(build_messages("", []))
        return llm

    # --- the main job ----------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        model: str | None = None,
        on_event: Event | None = None,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        """Answer one standalone question with verified citations (or refuse); `max_tokens` caps
        this answer's generations below the configured budget; `scope` limits the reports it is
        answered from (a `RagError` when it names what the library does not hold)."""
        emit = self._after_preload(on_event) if on_event else (lambda kind, data: None)
        question = (question or "").strip()
        if not question:
            raise RagError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise RagError(f"the question is too long (at most {self.settings.max_question_chars} characters)")
        t0 = time.perf_counter()
        turn = Turn(question, self.retriever.analyse(question, scope), emit, t0, cancel)
        turn.budget_s = self.settings.answer_budget_s
        self._retrieve(turn, k or self.settings.top_k)

        # a question in parts is checked part by part (one part's place may be missing, the other's not)
        reason = None if turn.plan.part_plans else self.gate.precheck(turn.plan, question, turn.results)
        if reason is not None or not turn.passages:
            return self._finish(self.refusal(turn, reason or "no relevant sentence"), turn)
        llm = self.llm(model)
        turn.llm = Capped(llm, max_tokens) if max_tokens else llm
        if turn.english and self.settings.english_via_chinese and attempt.needs_parts(turn.plan):
            # an English question in several parts is planned in Chinese: the parts, their reports
            # and the comparison are read from the translation, the answer translated back
            planned = attempt.plan_in_chinese(self, turn)
            if planned is not None:
                return self._finish(planned, turn)
        if turn.plan.part_plans:
            return self._finish(attempt.answer_parts(self, turn), turn)
        return self._finish(attempt.answer_one(self, turn), turn)

    def _retrieve(self, turn: Turn, k: int) -> None:
        """Retrieval for the plan, and the sentences that bear on the question (the strongest of
        them is reported at once, before any model runs)."""
        q = turn.plan
        turn.results = self.retriever.search(q, k, turn.timings)
        turn.retrieved = [r.to_dict() for r in turn.results]
        turn.passages = self.context(q, turn.results)
        if turn.passages:
            turn.emit("evidence", citation_for(best_sentence(turn.passages), 1, self.retriever.by_id).to_dict())
        turn.timings["evidence_s"] = round(time.perf_counter() - turn.t0, 3)

    def context(self, q: QueryAnalysis, results: list[Result], *, parts: bool = True) -> list[Passage]:
        """The sentences of `results` that bear on a plan (each part's own when it has parts)."""
        extra = q.search_terms + (list(meta_words(q.text)) if q.asks_meta else [])
        return select_context(
            q.question if q.english else q.content,
            results,
            self.retriever.by_id,
            self.retriever.idf,
            extra_terms=extra,
            budget=self.settings.context,
            parts=q.part_contents if parts else None,
            one_year=asks_one_year(q),
        )

    @staticmethod
    def _finish(ans: Answer, turn: Turn, report: bool = True) -> Answer:
        """The one way out of `ask`: the total time, then (unless the client has gone) the answer,
        its citations and the timings, reported in that order."""
        ans.timings["total_s"] = round(time.perf_counter() - turn.t0, 3)
        if turn.cancelled and not ans.refused and ans.notes[-1:] == ["cancelled"]:
            report = False
        if report:
            turn.emit("answer", ans.answer)
            turn.emit("citations", [c.to_dict() for c in ans.citations])
            turn.emit("done", ans.timings)
        return ans

    def answer(self, turn: Turn, text: str, citations: list[Citation], **extra) -> Answer:
        """A verified answer, in the script of the question."""
        return Answer(
            turn.question,
            match_script(turn.question, text, turn.english),
            False,
            citations,
            turn.retrieved,
            turn.timings,
            model=turn.llm.name if turn.llm else "",
            notes=turn.notes,
            messages=turn.messages,
            **extra,
        )

    def quoted(self, turn: Turn, sentence, note: str) -> Answer:
        """The extractive answer: the one sentence of the reports that plainly answers, cited."""
        turn.notes.append(note)
        return Answer(
            turn.question,
            quoted_answer(turn.question, turn.english, sentence),
            False,
            [citation_for(sentence, 1, self.retriever.by_id)],
            turn.retrieved,
            turn.timings,
            extractive=True,
            verified=False,
            notes=turn.notes,
            model=turn.llm.name if turn.llm else "",
            messages=turn.messages,
        )

    def refusal(self, turn: Turn, reason: str) -> Answer:
        """「资料中未提及」 plus what the reports do say nearby, cited."""
        chunks = self.retriever.by_id
        best = best_sentence(turn.passages) if turn.passages else None
        text = refusal_text(turn.question, turn.english, best, chunks[best.chunk_id] if best else None)
        citations = [citation_for(best, 1, chunks)] if best else []
        return Answer(
            turn.question,
            text,
            True,
            citations,
            turn.retrieved,
            turn.timings,
            notes=[*turn.notes, f"refused: {reason}"],
            model=turn.llm.name if turn.llm else "",
            messages=turn.messages,
        )
