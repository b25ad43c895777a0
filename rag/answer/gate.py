"""The gate: what decides, around the model, whether the reports answer a question.

Before generation, `precheck` refuses when that is clear without the model (a place no report
covers, no passage on the topic for the report and year asked about). After it, the passages that
fit the question's report, year and topic bound which verified figures may answer it, and when the
model gives no verified answer `plain_answer` looks for the one sentence that plainly does. All of
it is cheap, general and independent of any one report: key terms weighted by the index's IDF.
"""

from __future__ import annotations

import re

from rag.answer.context import Passage
from rag.answer.figures import ASKED_UNIT, asks_quantity
from rag.answer.verify import said_of
from rag.chunk.clean import norm
from rag.search.plan import NEGATION_RE, states_plan
from rag.search.query import QueryAnalysis, with_everyday_words
from rag.search.retrieve import Retriever
from rag.search.text import tokenize
from rag.search.words import QUESTION_WORDS

# A rate asked for by its measure word: a sentence answers it with any rate, whatever verb it uses.
# (Nouns only: a verb asked, 「增长了多少」, is written in the sentence that answers.)
_RATE_WORDS = {"增速", "增幅", "涨幅", "降幅", "跌幅", "增长率", "增长速度"}
_ASKED_ATTR = re.compile(r"([\u4e00-\u9fff]{2,10}?)(?:是|为|有|达到|达|完成|了)?多少")


class Gate:
    """The checks that need the index (its IDF, its chunks, its place names), one per retriever."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self.margins = retriever.settings.gate

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
            return self.topic_coverage(topic, t, q.synonyms)

        on_topic = (
            [r for r, t in zip(results, texts) if coverage(t) >= self.margins.on_topic] if topic else list(results)
        )
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
        source = (
            (" ".join(q.english_terms) + " " + chinese) if q.english else q.content + " " + " ".join(q.english_terms)
        )
        aliases = self.retriever.place_aliases
        return [
            t
            for t in dict.fromkeys(tokenize(source))
            if t not in QUESTION_WORDS and not t.isdigit() and len(t) > 1 and not any(a in t for a in aliases)
        ]

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
            if (
                self.topic_coverage(topic, norm(" ".join(c.section) + " " + c.text), q.synonyms)
                >= self.margins.topical_paragraph
            ):
                out.update([c.id, *c.follows, *c.notes])
        return out

    def topic_coverage(self, topic: list[str], text: str, synonyms: dict[str, list[str]] | None = None) -> float:
        """IDF-weighted share of the question's key terms that `text` contains (a term in Latin
        letters in any case; an acronym also as any of the terms it stands for)."""
        idf, top = self.retriever.idf, self.retriever.max_idf
        weight = {w: idf.get(w, top) for w in topic}
        total = sum(weight.values())
        low = text.lower()
        synonyms = synonyms or {}
        return (
            sum(
                v
                for w, v in weight.items()
                if w in text or w in low or any(s in text or s in low for s in synonyms.get(w, ()))
            )
            / total
            if total
            else 0.0
        )

    def denial(self, q: QueryAnalysis, topic: list[str], fitting: list[Passage]):
        """For a yes/no question: the sentence of a fitting passage that says no to it — a denial
        (没有, 未, 不再 …) with nearly all of its key terms — or None."""
        best, best_cov = None, 0.0
        for p in fitting:
            for s in p.sentences:
                sent = norm(s.text)
                if not NEGATION_RE.search(sent):
                    continue
                cov = self.topic_coverage(topic, sent, with_everyday_words(q.synonyms))
                if cov > best_cov:
                    best, best_cov = s, cov
        return best if best_cov >= self.margins.quote else None

    def plain_answer(
        self, q: QueryAnalysis, question: str, topic: list[str], fitting: list[Passage], ruled_out: set | None = None
    ):
        """The sentence of a passage that fits the question's report and year and plainly answers
        it: nearly all its key terms (in the sentence or its paragraph), and a figure when the
        question asks how much. None when no sentence does: then the honest answer is a refusal.
        `ruled_out` holds the (chunk, start) of sentences found to answer something else."""
        if not topic or not fitting:
            return None
        wants_figure = asks_quantity(q.text) or asks_quantity(question)
        unit = m.group(1) if (m := ASKED_UNIT.search(q.text)) else ""
        # the attribute asked for (「总投资是多少」「金额是多少」) must be in the sentence itself
        attr = ""
        before = ""
        if m := _ASKED_ATTR.search(q.content):
            # 「甲和乙各是多少」: the last of the things asked, with what stands before it back to the 和
            seg = re.split(r"[和与及、]", m.group(1))[-1]
            words = [w for w in tokenize(seg) if len(w) > 1 and w not in QUESTION_WORDS]
            attr = words[-1] if words else ""
            # what the attribute is asked of, named before it (「生产总值增长了多少」: the growth of the output)
            if attr and seg != m.group(1):
                before = seg[: seg.rfind(attr)]
            elif attr:
                before = q.content[: q.content.rfind(attr, 0, m.end())]
        subject = {t for t in topic if t in before and attr not in t and t not in attr}
        best, best_cov = None, 0.0
        own, around = self.margins.quote_sentence_weight, self.margins.quote_paragraph_weight
        for p in fitting:
            c = self.retriever.by_id[p.chunk_id]
            para = norm(" ".join(c.section) + " " + c.text)
            for s in p.sentences:
                sent = norm(s.text)
                if (
                    wants_figure
                    and not re.search(r"\d", sent)
                    or unit
                    and not re.search(rf"\d\s*(?:万亿|亿|万|千)?\s*{unit}", sent)
                ):
                    continue
                if attr in _RATE_WORDS:  # 「涨幅是多少」 of 「CPI微降0.1%」: any rate answers
                    attr_missing = not re.search(r"\d\s*(?:%|％|个百分点)", sent)
                else:
                    attr_missing = bool(attr) and (
                        attr not in sent or bool(subject) and not said_of(sent, attr, subject)
                    )
                if (
                    attr_missing
                    or (q.wants_actual or q.attribute == "result")
                    and states_plan(norm(s.lead) + sent)
                    or (s.chunk_id, s.start) in (ruled_out or ())
                ):
                    continue
                cov = min(
                    1.0,
                    own * self.topic_coverage(topic, sent, q.synonyms)
                    + around * self.topic_coverage(topic, para, q.synonyms),
                )
                if cov > best_cov:
                    best, best_cov = s, cov
        return best if best_cov >= self.margins.quote else None
