"""Answering: retrieval → gate → context selection → generation → verified citations.

This module is the orchestration only: the checks that decide whether the reports answer live in
`gate`, the words said to the model and to the user in `prompts`, passage selection in `generate`,
figure checks and citations in `cite`. Every way out of `ask` goes through `Assistant._finish`.

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
from dataclasses import dataclass, field
from typing import Callable

from .cite import Citation, Verdict, answer_figures, assign, check, citation_for, misattributed, supported_value, values
from .errors import RagError
from .gate import Gate, asks_one_year, asks_quantity, gives_figure
from .generate import Passage, best_sentence, select_context, timed_stream
from .llm import LLM, Capped, make_llm
from .parts import first_value, join_replies, part_remarks
from .prompts import (REFUSAL_ZH, answer_to_english, build_messages, is_refusal, match_script, question_to_chinese,
                      quoted_answer, refusal_text)
from .query import QueryAnalysis, states_plan, wants_actual
from .retrieve import Retriever
from .settings import Settings

log = logging.getLogger(__name__)

Event = Callable[[str, object], None]
@dataclass
class _Attempt:
    """What one try at an answer gave: a verified text with its citations, or why not."""
    text: str
    citations: list
    messages: list[dict]
    reason: str = ""
    cancelled: bool = False


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
            "question": self.question, "answer": self.answer, "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations], "retrieved": self.retrieved,
            "timings": self.timings, "extractive": self.extractive, "verified": self.verified,
            "model": self.model, "standalone_question": self.standalone_question or self.question,
            "notes": self.notes,
        }


class Assistant:
    """Retriever plus LLMs, loaded once per process; answers are produced one at a time per model."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None, preload: str | None = None):
        """`preload`: a model choice to load and warm in a background thread while the index loads
        (a new `rag ask` process pays for the two side by side, not one after the other)."""
        self.settings = settings
        self._llms: dict[str, LLM] = {}
        self._load_lock = threading.Lock()
        self._preloading: threading.Thread | None = None
        if preload and settings.llm_backend == "llamacpp":
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

    def with_retriever(self, retriever: Retriever) -> "Assistant":
        """A new assistant over another index that shares this one's loaded models (no reload)."""
        other = Assistant(self.settings, retriever)
        other._llms = self._llms
        other._load_lock = self._load_lock
        return other

    @property
    def loaded_models(self) -> list[str]:
        return sorted(self._llms)

    def llm(self, name: str | None = None) -> LLM:
        name = name or self.settings.llm
        if name not in ("default", "small"):
            raise RagError(f"unknown model '{name}'; choose default or small")
        with self._load_lock:
            if name not in self._llms:
                self._llms[name] = make_llm(self.settings, name)
            return self._llms[name]

    def warm(self, name: str | None = None) -> LLM:
        """Load a model and bring the answer prompt's fixed prefix into its memory (from the
        prefix file when there is one), so the first question costs what later ones do."""
        llm = self.llm(name)
        llm.warm(build_messages("", []))
        return llm

    # --- the main job ----------------------------------------------------------------------------
    def ask(self, question: str, *, k: int | None = None, model: str | None = None,
            on_event: Event | None = None, cancel: threading.Event | None = None,
            max_tokens: int | None = None) -> Answer:
        """Answer one standalone question with verified citations (or refuse); `max_tokens` caps
        this answer's generations below the configured budget."""
        emit = self._after_preload(on_event) if on_event else (lambda kind, data: None)
        question = (question or "").strip()
        if not question:
            raise RagError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise RagError(f"the question is too long (at most {self.settings.max_question_chars} characters)")
        t0 = time.perf_counter()
        timings: dict = {}
        k = k or self.settings.top_k
        q = self.retriever.analyse(question)
        results = self.retriever.search(question, k, timings)
        retrieved = [r.to_dict() for r in results]
        english = q.english
        chunks = self.retriever.by_id
        passages = select_context(question if q.english else q.content, results, chunks, self.retriever.idf,
                                  extra_terms=q.english_terms, budget=self.settings.context, parts=q.part_contents)
        if passages:
            emit("evidence", citation_for(best_sentence(passages), 1, chunks).to_dict())
        timings["evidence_s"] = round(time.perf_counter() - t0, 3)

        reason = self.gate.precheck(q, question, results)
        if reason is not None or not passages:
            return self._finish(self._refusal(question, english, passages, retrieved, timings,
                                              reason or "no relevant sentence"), emit, t0)

        llm = self.llm(model)
        if max_tokens:
            llm = Capped(llm, max_tokens)
        topic_list = self.gate.topic_terms(q, question)
        allowed = self.gate.fitting_chunks(q, results)
        fitting = [Passage(p.n, p.chunk_id, p.label, p.sentences) for p in passages if p.chunk_id in allowed]
        notes: list[str] = []
        first_messages: list[dict] = []
        ruled_out: set[tuple[str, int]] = set()  # sentences found to answer something else
        reason = "the model found no answer"
        # An English question is first put to the model as it is; when that gives no verified answer
        # it is translated and answered in Chinese (the model reads Chinese questions about Chinese
        # text far better), and the verified answer is translated back.
        routes = ["direct", "chinese"] if english and self.settings.english_via_chinese else ["direct"]
        for route in routes:
            qm, mq, context = q, question, passages
            if route == "chinese":
                zh = self._question_in_chinese(llm, q, timings)
                if not zh:
                    break
                qm, mq = self.retriever.analyse(zh), zh
                context = select_context(qm.content, results, chunks, self.retriever.idf, extra_terms=q.english_terms,
                                         budget=self.settings.context, parts=qm.part_contents) or passages
                notes.append(f"{reason}; answering in Chinese as 「{zh}」, then translating")
                emit("retry", notes[-1])
            att = self._attempt(llm, q, qm, mq, context, topic_list, allowed, results, timings, t0, emit, cancel,
                                notes, ruled_out, via_chinese=route == "chinese")
            first_messages = first_messages or att.messages
            if att.cancelled:  # the client has gone: nothing more is reported
                return self._finish(Answer(question, att.text, False, [], retrieved, timings, verified=False,
                                           model=llm.name, notes=["cancelled"], messages=first_messages),
                                    emit, t0, report=False)
            if att.citations:
                return self._finish(Answer(question, match_script(question, att.text, english), False, att.citations,
                                           retrieved, timings, model=llm.name, notes=notes, messages=first_messages),
                                    emit, t0)
            reason = att.reason

        # No verified answer: quote the one sentence that plainly answers, or refuse.
        best = self.gate.plain_answer(q, question, topic_list, fitting, ruled_out)
        if best is None:
            ans = self._refusal(question, english, passages, retrieved, timings, reason)
            ans.notes = notes + ans.notes
        else:
            notes.append(f"{reason}; showing the sentence of the reports that answers it")
            ans = Answer(question, quoted_answer(question, english, best), False, [citation_for(best, 1, chunks)],
                         retrieved, timings, extractive=True, verified=False, notes=notes)
        ans.model, ans.messages = llm.name, first_messages
        return self._finish(ans, emit, t0)

    def _attempt(self, llm: LLM, q: QueryAnalysis, qm: QueryAnalysis, mq: str, passages: list[Passage],
                 topic_list: list[str], allowed: set[str], results: list, timings: dict, t0: float, emit: Event,
                 cancel: threading.Event | None, notes: list[str], ruled_out: set,
                 via_chinese: bool = False) -> _Attempt:
        """One try at a verified answer: generate (part by part), check every figure against the
        passages, retry once with a stricter prompt, assign citations. `qm`/`mq` are the analysis and
        wording put to the model (the Chinese translation of an English question, or the question)."""
        chunks = self.retriever.by_id
        stream_kind = "retry_token" if via_chinese else "token"
        asks = qm.parts if len(qm.parts) > 1 else [mq]
        messages = build_messages(asks[0], passages)
        if not via_chinese:
            timings["prompt_tokens"] = llm.count_tokens(messages)
        replies = self._ask_parts(llm, qm, messages, timings, t0, emit, cancel, kind=None if via_chinese else "token")
        if cancel is not None and cancel.is_set():
            return _Attempt(join_replies(replies), [], messages, cancelled=True)
        if all(is_refusal(r) for r in replies):
            return _Attempt("", [], messages, reason="the model found no answer")
        topic = set(topic_list) | (set(self.gate.topic_terms(qm, mq)) if via_chinese else set())
        topical = self.gate.topical_chunks(q, topic_list, passages)
        part_q = [self.retriever.analyse(a) for a in asks] if len(asks) > 1 else [qm]
        fits = self.gate.part_fitting(q, part_q, allowed, results)
        verdicts = [self._check_part(r, a, passages, topic, f, topical) for r, a, f in zip(replies, asks, fits)]
        failed = [v for v in verdicts if v is not None and not v.ok]
        if failed:
            figs = [f for v in failed for f in v.unsupported_figures]
            notes.append(f"unsupported figure(s) {', '.join(figs)}; retried with a stricter prompt")
            emit("retry", notes[-1])
            strict = build_messages(asks[0], passages, strict=True)
            # parts already verified keep their reply (it is the context of the later parts, as shown)
            keep = [r if v is not None and v.ok else None for r, v in zip(replies, verdicts)]
            again = self._ask_parts(llm, qm, strict, timings, t0, emit, cancel,
                                    kind=None if via_chinese else "retry_token", given=keep)
            for i, (r, a, f) in enumerate(zip(again, asks, fits)):
                if verdicts[i] is not None and verdicts[i].ok:
                    continue
                v = self._check_part(r, a, passages, topic, f, topical)
                if v is not None or len(asks) == 1:
                    replies[i], verdicts[i] = r, v
        for a, pa, v, r in zip(asks, part_q, verdicts, replies):
            # a verified figure can still answer something else: a plan for an outcome, the contrasting
            # indicator, an average over years for one year; and a verified phrase without a figure
            # does not answer a question that asks how much
            if v is None or not v.ok:
                continue
            asks_outcome = qm.wants_actual if len(asks) == 1 else wants_actual(a)
            one_year = asks_one_year(pa)
            if asks_quantity(a) and not gives_figure(r):
                notes.append("the passages give no figure for what the question asks how much of")
            elif asks_outcome and any(sup and all(states_plan(c.text) for c in sup) for _, sup in v.sentences):
                notes.append("the passages give a planned figure; the question asks for an outcome")
            elif any(sup and all(misattributed(a, sent, c.text, one_year) for c in sup) for sent, sup in v.sentences):
                notes.append("the passages give the figure for another indicator or for a span of years")
            else:
                continue
            v.ok = False
            ruled_out.update((c.chunk_id, c.start) for _, sup in v.sentences for c in sup)
        seen: list[tuple] = []
        for i, v in enumerate(verdicts):
            if v is None or not v.ok:
                continue
            # two parts ask different things: the same figure from the same sentence cannot answer both
            key = (first_value(replies[i]), {(c.chunk_id, c.start) for _, sup in v.sentences for c in sup})
            if key in seen:
                notes.append(f"part {i + 1} repeated the answer to an earlier part")
                v.ok = False
            seen.append(key)
        ok = [v for v in verdicts if v is not None and v.ok]
        replies = [r if v is not None and v.ok else REFUSAL_ZH for r, v in zip(replies, verdicts)]
        citations: list[Citation] = []
        if ok:
            answer_text, citations = assign(Verdict(True, [s for v in ok for s in v.sentences]), chunks)
        if not citations:
            return _Attempt("", [], messages, reason="the answer could not be verified against the passages"
                            if any(p.chunk_id in allowed for p in passages)
                            else "no passage for the place and year asked about supports an answer")
        answer_text += part_remarks(qm, replies)
        if via_chinese:
            answer_text = self._in_english(llm, answer_text, timings, t0, emit, cancel, notes, stream_kind)
        return _Attempt(answer_text, citations, messages)

    @staticmethod
    def _check_part(reply: str, ask: str, passages: list[Passage], topic: set[str], fitting: set[str],
                    topical: set[str]) -> Verdict | None:
        """The verdict on one part's reply (None when the model said the reports do not answer it)."""
        if is_refusal(reply):
            return None
        return check(join_replies([reply]), passages, ask, topic, fitting, topical)

    def _question_in_chinese(self, llm: LLM, q: QueryAnalysis, timings: dict) -> str:
        """The English question in Chinese, by the model ("" when it gives no usable translation).

        A place the translation spells wrongly (a transliteration the reports do not have) is
        replaced by the place the English question names, as query analysis read it."""
        t = time.perf_counter()
        text = "".join(llm.stream(question_to_chinese(q.question), max_tokens=80)).strip()
        timings["translate_s"] = round(time.perf_counter() - t, 3)
        text = text.splitlines()[0].strip() if text else ""
        if not re.search(r"[\u4e00-\u9fff]{2}", text) or len(text) > 160:
            return ""
        if len(q.places) == 1:
            place = next(iter(q.places))
            for wrong in self.retriever.analyse(text).unknown_places:
                text = text.replace(wrong, place)
            text = re.sub(re.escape(place) + "[省市县区旗]", place, text) if place[-1] in "省市县区旗" else text
        return text

    def _in_english(self, llm: LLM, answer: str, timings: dict, t0: float, emit: Event,
                    cancel: threading.Event | None, notes: list[str], kind: str = "token") -> str:
        """The verified Chinese answer in English, streamed; the Chinese one when the rendering
        loses or changes a figure (the figures are what was verified)."""
        body = re.sub(r"\s*\[\d+\]", "", answer).strip()
        marks = "".join(dict.fromkeys(re.findall(r"\[\d+\]", answer)))
        parts: list[str] = []
        for tok in timed_stream(llm, answer_to_english(body), {}, cancel=cancel):
            if "first_token_s" not in timings:
                timings["first_token_s"] = round(time.perf_counter() - t0, 3)
            parts.append(tok)
            emit(kind, tok)
        english = " ".join("".join(parts).split())
        pool = values(english, english=True) | values(english)
        need = [float(f) * (m or 1.0) for f, m in answer_figures(re.sub(r"(?:19|20)\d{2}\s*年", "", body))]
        if not english or not all(supported_value(v, pool) for v in need):
            notes.append("the English rendering changed a figure; the verified Chinese answer is shown")
            return answer
        return f"{english} {marks}".strip()

    @staticmethod
    def _finish(ans: Answer, emit: Event, t0: float, report: bool = True) -> Answer:
        """The one way out of `ask`: the total time, then (unless the client has gone) the answer,
        its citations and the timings, reported in that order."""
        ans.timings["total_s"] = round(time.perf_counter() - t0, 3)
        if report:
            emit("answer", ans.answer)
            emit("citations", [c.to_dict() for c in ans.citations])
            emit("done", ans.timings)
        return ans

    def _ask_parts(self, llm: LLM, q: QueryAnalysis, messages: list[dict], timings: dict, t0: float, emit: Event,
                   cancel: threading.Event | None, kind: str | None = "token",
                   given: list[str | None] | None = None) -> list[str]:
        """The model's reply to each part of the question (one reply for a question in one part).

        Later parts are follow-ups in the same conversation, so they share the passages (and the
        cached prompt) and may leave out what the first part said (「今年的目标又是多少？」). A part
        with a reply in `given` is not asked again: that reply stands in the conversation."""
        replies: list[str] = []
        parts = q.parts if len(q.parts) > 1 else [q.question]
        for i, part in enumerate(parts):
            if i:
                if cancel is not None and cancel.is_set():
                    break
                messages = [*messages, {"role": "assistant", "content": replies[-1]},
                            {"role": "user", "content": f"问题：{part}"}]
            if given and i < len(given) and given[i] is not None:
                replies.append(given[i])
                continue
            if i and kind:
                emit(kind, "\n")
            replies.append(self._generate(llm, messages, timings, t0, emit, cancel, first=kind == "token" and i == 0,
                                          kind=kind or ""))
        return replies

    def _generate(self, llm: LLM, messages: list[dict], timings: dict, t0: float, emit: Event,
                  cancel: threading.Event | None, first: bool = True, kind: str | None = None) -> str:
        parts: list[str] = []
        sub: dict = {}
        kind = ("token" if first else "retry_token") if kind is None else kind  # "": not streamed
        for tok in timed_stream(llm, messages, sub, cancel=cancel):
            if first and "first_token_s" not in timings:
                timings["first_token_s"] = round(time.perf_counter() - t0, 3)
            parts.append(tok)
            if kind:
                emit(kind, tok)
        timings["completion_tokens"] = timings.get("completion_tokens", 0) + sub.get("completion_tokens", 0)
        timings["generations"] = timings.get("generations", 0) + 1
        if first:
            timings["prompt_eval_s"] = sub.get("first_token_s")
            if "decode_tok_s" in sub:
                timings["decode_tok_s"] = sub["decode_tok_s"]
        return "".join(parts).strip()

    def _refusal(self, question: str, english: bool, passages: list[Passage], retrieved: list[dict],
                 timings: dict, reason: str) -> Answer:
        """「资料中未提及」 plus what the reports do say nearby, cited."""
        chunks = self.retriever.by_id
        best = best_sentence(passages) if passages else None
        text = refusal_text(question, english, best, chunks[best.chunk_id] if best else None)
        citations = [citation_for(best, 1, chunks)] if best else []
        return Answer(question, text, True, citations, retrieved, timings, notes=[f"refused: {reason}"])
