"""Answering: retrieval → refusal check → context selection → generation → verified citations.

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
from dataclasses import dataclass, field, replace
from typing import Callable

from .cite import (Citation, Verdict, answer_figures, assign, check, citation_for, misattributed, said_of, supported_value,
                   values)
from .clean import norm, to_simplified, to_traditional
from .errors import RagError
from .generate import (
    REFUSAL_EN,
    REFUSAL_ZH,
    Passage,
    answer_to_english,
    best_sentence,
    build_messages,
    is_refusal,
    question_to_chinese,
    select_context,
    timed_stream,
)
from .text import tokenize
from .llm import LLM, Capped, make_llm
from .metadata import detect_script
from .parts import first_value, join_replies, part_remarks
from .query import QUESTION_WORDS, QueryAnalysis, states_plan, wants_actual
from .retrieve import Retriever
from .settings import Settings

log = logging.getLogger(__name__)

Event = Callable[[str, object], None]
# A question that asks for a quantity: a quoted answer must then hold a figure.
_QUANTITY = re.compile(r"多少|几[个项家座所条万亿%]|多大|多高|多长|多快|比例|比重|增速|增幅|降幅")
# The unit a question asks its figure in (「多少亿元」「多少万人」): a quoted answer must use it.
_ASKED_UNIT = re.compile(r"多少\s*(万亿元|亿元|万元|亿|万人|万户|万亩|人次|人|个|家|亩|公里|千米|吨|千瓦|倍|所|座|项|户|件|天)")
_ASKED_ATTR = re.compile(r"([\u4e00-\u9fff]{2,10}?)(?:是|为|有|达到|达|完成|了)?多少")
_QUANTITY_EN = re.compile(r"\bhow (?:many|much|fast|long|large|big|high)\b|\bwhat (?:share|percentage|rate|target)\b",
                          re.I)
# A figure in a reply: digits, a counted Chinese numeral (「三个」「两成」「翻一番」), a spelled-out English one.
_FIGURE = re.compile(r"\d|[零〇一二两三四五六七八九十百千万]+(?:个|项|家|座|所|条|件|万|亿|倍|成|番|人|户|亩|公里|吨|%|％)|百分之|"
                     r"一半|持平|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
                     r"half|double|doubled|tripled)\b", re.I)
# What a reply can repeat of the question without giving a figure: a year, a plan's name (「十四五」).
_NOT_FIGURE = re.compile(r"(?:19|20)\d{2}\s*年?|十[一二三四五六七八九]五|\[\d+\]")


def gives_figure(reply: str) -> bool:
    """Whether a reply states a quantity: 「超额完成国家任务」 answers no 「目标是多少」."""
    return bool(_FIGURE.search(_NOT_FIGURE.sub(" ", reply)))


def asks_quantity(question: str) -> bool:
    return bool(_QUANTITY.search(question) or _QUANTITY_EN.search(question))


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

    # --- refusal before generation -----------------------------------------------------------
    def precheck(self, q: QueryAnalysis, question: str, results: list) -> str | None:
        """Why the reports cannot answer, when that is clear without the model; else None.

        Cheap, general checks: a place the question names that no report covers; no passage on
        the question's topic for the report and year it names; none of its key terms present."""
        if not results:
            return "no passage was retrieved"
        texts = [norm(r.text) for r in results]
        for place in q.unknown_places:
            if not any(place in t for t in texts):
                return f"the reports say nothing about {place}"
        topic = self.topic_terms(q, question)

        def coverage(t: str) -> float:
            return self.topic_coverage(topic, t)

        on_topic = [r for r, t in zip(results, texts) if coverage(t) >= 0.5] if topic else list(results)
        if topic and not q.english and not q.asks_meta and not any(coverage(t) > 0 for t in texts):
            # (an English question's terms are translations, too uncertain to refuse on)
            return "none of the question's key terms occurs in the retrieved passages"
        if q.docs and on_topic:
            on_topic = [r for r in on_topic if r.doc in q.docs]
            if not on_topic:
                return "no passage on this topic in the report the question names"
        if on_topic and any(q.targets(r.year) for r in on_topic):
            if not any(q.fits_year(r.period, r.year, norm(r.text)) for r in on_topic):
                years = sorted({y for r in on_topic for y in q.targets(r.year)})
                return f"no passage on this topic for {'、'.join(map(str, years))}"
        return None

    def topic_terms(self, q: QueryAnalysis, question: str) -> list[str]:
        """The question's key terms: no question words, figures, places, years or report words."""
        # an English question's own Chinese words (a quoted term such as 「甲乙」) count as well
        chinese = " ".join(re.findall(r"[\u4e00-\u9fff]+", q.text))
        source = (" ".join(q.english_terms) + " " + chinese) if q.english else q.content + " " + " ".join(q.english_terms)
        aliases = self.retriever.place_aliases
        return [t for t in dict.fromkeys(tokenize(source))
                if t not in QUESTION_WORDS and not t.isdigit() and len(t) > 1
                and not any(a in t for a in aliases)]

    def fitting_chunks(self, q: QueryAnalysis, results: list) -> set[str]:
        """Chunks whose report and year fit the question (all of them when it names neither).

        A question can name several years (「2023年建成多少座？今年计划多少座？」): any of them fits.
        Notes and glossary sections (注释, 名词解释) explain terms and belong to no year."""
        out = set()
        for r in results:
            if q.docs and r.doc not in q.docs:
                continue
            timeless = any(w in s for s in r.section for w in ("注释", "註釋", "注解", "名词解释", "名詞解釋"))
            if not timeless and not q.fits_year(r.period, r.year, norm(r.text)):
                continue
            out.add(r.id)
            c = self.retriever.by_id.get(r.id)
            if c is not None:  # the items a lead-in announces and the notes it points to fit with it
                out.update(c.follows)
                out.update(c.notes)
        return out

    def topical_chunks(self, q: QueryAnalysis, topic: list[str], passages: list[Passage]) -> set[str]:
        """Passages whose paragraph is about the question's topic (at least half of its key terms by
        weight): a figure in a paragraph about something else does not answer it. English
        questions are not filtered (their key terms are translations)."""
        if not topic or q.english:
            return {p.chunk_id for p in passages}
        out: set[str] = set()
        for p in passages:
            c = self.retriever.by_id[p.chunk_id]
            # a paragraph's topic includes its headings (「“十三五”时期回顾」 › 「城镇新增就业50.2万人」)
            if self.topic_coverage(topic, norm(" ".join(c.section) + " " + c.text)) >= 0.4:
                out.update([c.id, *c.follows, *c.notes])
        return out

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
        if len(question) > 500:
            raise RagError("the question is too long (at most 500 characters)")
        t0 = time.perf_counter()
        timings: dict = {}
        k = k or self.settings.top_k
        q = self.retriever.analyse(question)
        results = self.retriever.search(question, k, timings)
        retrieved = [r.to_dict() for r in results]
        english = q.english
        chunks = self.retriever.by_id
        passages = select_context(question if q.english else q.content, results, chunks, self.retriever.idf,
                                  extra_terms=q.english_terms, parts=q.part_contents)
        if passages:
            emit("evidence", citation_for(best_sentence(passages), 1, chunks).to_dict())
        timings["evidence_s"] = round(time.perf_counter() - t0, 3)

        reason = self.precheck(q, question, results)
        if reason is not None or not passages:
            ans = self._refusal(question, english, passages, chunks, retrieved, timings, t0,
                                reason or "no relevant sentence")
            emit("answer", ans.answer)
            emit("citations", [c.to_dict() for c in ans.citations])
            emit("done", ans.timings)
            return ans

        llm = self.llm(model)
        if max_tokens:
            llm = Capped(llm, max_tokens)
        topic_list = self.topic_terms(q, question)
        allowed = self.fitting_chunks(q, results)
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
                                         parts=qm.part_contents) or passages
                notes.append(f"{reason}; answering in Chinese as 「{zh}」, then translating")
                emit("retry", notes[-1])
            att = self._attempt(llm, q, qm, mq, context, topic_list, allowed, results, timings, t0, emit, cancel,
                                notes, ruled_out, via_chinese=route == "chinese")
            first_messages = first_messages or att.messages
            if att.cancelled:
                timings["total_s"] = round(time.perf_counter() - t0, 3)
                return Answer(question, att.text, False, [], retrieved, timings, verified=False, model=llm.name,
                              notes=["cancelled"], messages=first_messages)
            if att.citations:
                answer_text = self._match_script(question, att.text, english)
                timings["total_s"] = round(time.perf_counter() - t0, 3)
                ans = Answer(question, answer_text, False, att.citations, retrieved, timings, model=llm.name,
                             notes=notes, messages=first_messages)
                return self._emit_answer(ans, emit)
            reason = att.reason

        # No verified answer: quote the one sentence that plainly answers, or refuse.
        best = self.plain_answer(q, question, topic_list, fitting, ruled_out)
        if best is None:
            ans = self._refusal(question, english, passages, chunks, retrieved, timings, t0, reason)
            ans.notes = notes + ans.notes
        else:
            notes.append(f"{reason}; showing the sentence of the reports that answers it")
            text = f"The reports say: 「{best.text}」[1]" if english else f"据报告：「{best.text}」[1]"
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            ans = Answer(question, self._match_script(question, text, english), False,
                         [citation_for(best, 1, chunks)], retrieved, timings, extractive=True, verified=False,
                         notes=notes)
        ans.model, ans.messages = llm.name, first_messages
        return self._emit_answer(ans, emit)

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
        topic = set(topic_list) | (set(self.topic_terms(qm, mq)) if via_chinese else set())
        topical = self.topical_chunks(q, topic_list, passages)
        part_q = [self.retriever.analyse(a) for a in asks] if len(asks) > 1 else [qm]
        fits = self.part_fitting(q, part_q, allowed, results)
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

    def part_fitting(self, q: QueryAnalysis, part_q: list[QueryAnalysis], allowed: set[str],
                     results: list) -> list[set[str]]:
        """The chunks that fit each part of the question (`part_q`: each part analysed on its own): a
        part that names its own year (「2014年新增就业多少？2015年的目标又是多少？」) or its own place
        is answered from passages about that year or that place only."""
        if len(part_q) == 1:
            return [allowed]
        out = []
        for pa in part_q:
            if pa.years or pa.relative or pa.docs and pa.docs != q.docs:
                when = (pa.years, pa.relative) if pa.years or pa.relative else (q.years, q.relative)
                out.append(self.fitting_chunks(replace(q, years=when[0], relative=when[1], docs=pa.docs or q.docs),
                                               results))
            else:
                out.append(allowed)
        return out

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
    def _emit_answer(ans: Answer, emit: Event) -> Answer:
        emit("answer", ans.answer)
        emit("citations", [c.to_dict() for c in ans.citations])
        emit("done", ans.timings)
        return ans

    def topic_coverage(self, topic: list[str], text: str) -> float:
        """IDF-weighted share of the question's key terms that `text` contains."""
        idf, top = self.retriever.idf, self.retriever.max_idf
        weight = {w: idf.get(w, top) for w in topic}
        total = sum(weight.values())
        return sum(v for w, v in weight.items() if w in text) / total if total else 0.0

    def plain_answer(self, q: QueryAnalysis, question: str, topic: list[str], fitting: list[Passage],
                     ruled_out: set | None = None):
        """The sentence of a passage that fits the question's report and year and plainly answers
        it: nearly all its key terms (in the sentence or its paragraph), and a figure when the
        question asks how much. None when no sentence does: then the honest answer is a refusal.
        `ruled_out` holds the (chunk, start) of sentences found to answer something else."""
        if not topic or not fitting:
            return None
        wants_figure = asks_quantity(q.text) or asks_quantity(question)
        unit = m.group(1) if (m := _ASKED_UNIT.search(q.text)) else ""
        # the attribute asked for (「总投资是多少」「金额是多少」) must be in the sentence itself
        attr = ""
        if m := _ASKED_ATTR.search(q.content):
            words = [w for w in tokenize(m.group(1)) if len(w) > 1 and w not in QUESTION_WORDS]
            attr = words[-1] if words else ""
        # what the attribute is asked of, named before it (「生产总值增长了多少」: the growth of the output)
        before = q.content[: q.content.rfind(attr, 0, m.end())] if attr and m else ""
        subject = {t for t in topic if t in before and attr not in t and t not in attr}
        best, best_cov = None, 0.0
        for p in fitting:
            c = self.retriever.by_id[p.chunk_id]
            para = norm(" ".join(c.section) + " " + c.text)
            for s in p.sentences:
                sent = norm(s.text)
                if wants_figure and not re.search(r"\d", sent) or unit and not re.search(rf"\d\s*{unit}", sent):
                    continue
                if (attr and (attr not in sent or subject and not said_of(sent, attr, subject))
                        or q.wants_actual and states_plan(sent)
                        or (s.chunk_id, s.start) in (ruled_out or ())):
                    continue
                cov = min(1.0, 0.7 * self.topic_coverage(topic, sent) + 0.3 * self.topic_coverage(topic, para))
                if cov > best_cov:
                    best, best_cov = s, cov
        return best if best_cov >= 0.6 else None

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

    @staticmethod
    def _match_script(question: str, answer: str, english: bool) -> str:
        """Answer in the script of the question; quotes inside 「」 stay as the source wrote them."""
        if english:
            return answer
        convert = to_traditional if detect_script(question) == "traditional" else to_simplified
        pieces = re.split(r"(「[^」]*」)", answer)
        return "".join(p if p.startswith("「") else convert(p) for p in pieces)

    def _refusal(self, question: str, english: bool, passages: list[Passage], chunks: dict, retrieved: list[dict],
                 timings: dict, t0: float, reason: str) -> Answer:
        """「资料中未提及」 plus what the reports do say nearby, cited."""
        citations: list[Citation] = []
        if passages:
            best = best_sentence(passages)
            citations = [citation_for(best, 1, chunks)]
            c = chunks[best.chunk_id]
            where = "·".join(x for x in (c.place, f"{c.period or c.year}年" if (c.period or c.year) else "") if x)
            if english:
                text = f"{REFUSAL_EN} Nearby, the reports say ({where}): 「{best.text}」[1]"
            else:
                text = f"{REFUSAL_ZH}。报告中相关的内容（{where}）：「{best.text}」[1]"
        else:
            text = REFUSAL_EN if english else REFUSAL_ZH + "。"
        text = self._match_script(question, text, english)
        timings["total_s"] = round(time.perf_counter() - t0, 3)
        return Answer(question, text, True, citations, retrieved, timings, notes=[f"refused: {reason}"])


def asks_one_year(q: QueryAnalysis) -> bool:
    """Whether a (Chinese) question asks about a single year (「2020年」「去年」), not a span of years."""
    return not q.english and (len(q.years) == 1 or not q.years and len(q.relative) == 1)
