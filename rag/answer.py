"""Answering: retrieval → refusal check → context selection → generation → verified citations.

`Assistant` is the one service object the CLI, the chat loop and the HTTP API share: it holds the
retriever and the loaded LLM(s) for the life of the process. `ask()` reports progress through an
optional callback (evidence first, then tokens, then the verified answer), which the terminal
and the server turn into streaming output.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .cite import Citation, assign, check, citation_for
from .clean import norm, to_simplified, to_traditional
from .errors import RagError
from .generate import (
    LLM,
    Passage,
    best_sentence,
    build_messages,
    is_refusal,
    select_context,
    timed_stream,
)
from .index import tokenize
from .metadata import detect_script
from .query import QUESTION_WORDS, QueryAnalysis
from .retrieve import Retriever
from .settings import Settings

Event = Callable[[str, object], None]
# A question that asks for a quantity: a quoted answer must then hold a figure.
_QUANTITY = re.compile(r"多少|几[个项家座所条万亿%]|多大|多高|多长|多快|比例|比重|增速|增幅|降幅")
# The unit a question asks its figure in (「多少亿元」「多少万人」): a quoted answer must use it.
_ASKED_UNIT = re.compile(r"多少\s*(万亿元|亿元|万元|亿|万人|万户|万亩|人次|人|个|家|亩|公里|千米|吨|千瓦|倍|所|座|项|户|件|天)")
_ASKED_ATTR = re.compile(r"([\u4e00-\u9fff]{2,10}?)(?:是|为|有|达到|达|完成|了)?多少")
_QUANTITY_EN = re.compile(r"\bhow (?:many|much|fast|long|large|big|high)\b|\bwhat (?:share|percentage|rate|target)\b",
                          re.I)

REFUSAL_ZH = "资料中未提及"
REFUSAL_EN = "The reports do not say."
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

    def __init__(self, settings: Settings, retriever: Retriever | None = None):
        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self._llms: dict[str, LLM] = {}
        self._load_lock = threading.Lock()

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
                self._llms[name] = LLM(self.settings, name)
            return self._llms[name]

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
            on_event: Event | None = None, cancel: threading.Event | None = None) -> Answer:
        """Answer one standalone question with verified citations (or refuse)."""
        emit = on_event or (lambda kind, data: None)
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
                                  extra_terms=q.english_terms)
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
        messages = build_messages(question, passages)
        timings["prompt_tokens"] = llm.count_tokens(messages)
        text = self._generate(llm, messages, timings, t0, emit, cancel)
        notes: list[str] = []
        if cancel is not None and cancel.is_set():
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            return Answer(question, text, False, [], retrieved, timings, verified=False, model=llm.name,
                          notes=["cancelled"], messages=messages)
        topic_list = self.topic_terms(q, question)
        topic = set(topic_list)
        allowed = self.fitting_chunks(q, results)
        fitting = [Passage(p.n, p.chunk_id, p.label, p.sentences) for p in passages if p.chunk_id in allowed]

        def fallback(reason: str) -> Answer:
            """No verified answer: quote the one sentence that plainly answers, or refuse."""
            best = self.plain_answer(q, question, topic_list, fitting)
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
            ans.model, ans.messages = llm.name, messages
            return self._emit_answer(ans, emit)

        if is_refusal(text):
            return fallback("the model found no answer")
        topical = self.topical_chunks(q, topic_list, passages)
        verdict = check(text, passages, question, topic, allowed, topical)
        if not verdict.ok:
            notes.append(f"unsupported figure(s) {', '.join(verdict.unsupported_figures)}; retried with a stricter prompt")
            emit("retry", notes[-1])
            strict = build_messages(question, passages, strict=True)
            text = self._generate(llm, strict, timings, t0, emit, cancel, first=False)
            if is_refusal(text):
                return fallback("the model found no answer")
            verdict = check(text, passages, question, topic, allowed, topical)
        if verdict.ok:
            answer_text, citations = assign(verdict, chunks)
            if not citations:
                verdict.ok = False
        if not verdict.ok:
            return fallback("the answer could not be verified against the passages" if fitting else
                            "no passage for the place and year asked about supports an answer")
        answer_text = self._match_script(question, answer_text, english)
        timings["total_s"] = round(time.perf_counter() - t0, 3)
        ans = Answer(question, answer_text, False, citations, retrieved, timings, model=llm.name, notes=notes,
                     messages=messages)
        return self._emit_answer(ans, emit)

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

    def plain_answer(self, q: QueryAnalysis, question: str, topic: list[str], fitting: list[Passage]):
        """The sentence of a passage that fits the question's report and year and plainly answers
        it: nearly all its key terms (in the sentence or its paragraph), and a figure when the
        question asks how much. None when no sentence does: then the honest answer is a refusal."""
        if not topic or not fitting:
            return None
        wants_figure = bool(_QUANTITY.search(q.text) or _QUANTITY_EN.search(question))
        unit = m.group(1) if (m := _ASKED_UNIT.search(q.text)) else ""
        # the attribute asked for (「总投资是多少」「金额是多少」) must be in the sentence itself
        attr = ""
        if m := _ASKED_ATTR.search(q.content):
            words = [w for w in tokenize(m.group(1)) if len(w) > 1 and w not in QUESTION_WORDS]
            attr = words[-1] if words else ""
        best, best_cov = None, 0.0
        for p in fitting:
            c = self.retriever.by_id[p.chunk_id]
            para = norm(" ".join(c.section) + " " + c.text)
            for s in p.sentences:
                sent = norm(s.text)
                if wants_figure and not re.search(r"\d", sent) or unit and not re.search(rf"\d\s*{unit}", sent):
                    continue
                if attr and attr not in sent:
                    continue
                cov = min(1.0, 0.7 * self.topic_coverage(topic, sent) + 0.3 * self.topic_coverage(topic, para))
                if cov > best_cov:
                    best, best_cov = s, cov
        return best if best_cov >= 0.6 else None

    def _generate(self, llm: LLM, messages: list[dict], timings: dict, t0: float, emit: Event,
                  cancel: threading.Event | None, first: bool = True) -> str:
        parts: list[str] = []
        sub: dict = {}
        for tok in timed_stream(llm, messages, sub, cancel=cancel):
            if first and "first_token_s" not in timings:
                timings["first_token_s"] = round(time.perf_counter() - t0, 3)
            parts.append(tok)
            emit("token" if first else "retry_token", tok)
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
