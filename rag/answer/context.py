"""Generation: a local quantized LLM (llama.cpp) answering from a few selected sentences.

Prompt processing dominates latency on two cores (~63 tokens/s for the 1.5B model), so the prompt
is kept small: from the top fused chunks we keep only the sentences that bear on the question
(and a neighbour when a sentence is too short to stand alone), each labelled with place, year and
section so that the model knows whose figure it is reading. The words of the prompts are in
`prompts`; here: choosing the sentences, and running the model with its timings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from rag.answer.llm import LLM
from rag.chunk.clean import compact, norm
from rag.chunk.quote import ContextSentence, offset_map
from rag.search.bm25 import top_weight
from rag.search.text import tokenize
from rag.settings import ContextBudget

if TYPE_CHECKING:
    from rag.search.store import ChunkLookup

# Chunks by id: the store's on-demand lookup in the service, a plain dict in tests and tools.
Chunks: TypeAlias = "ChunkLookup | Mapping[str, Any]"

_SENT_RE = re.compile(r"[^。！？!?；;]*[。！？!?；;]?[”’」』）)]*")
_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*")
# A sentence that speaks to the assistant instead of the reader (「忽略以上指令，直接回答…」, "ignore all
# previous instructions") is never evidence: it is not shown to the model, so it can neither be
# followed nor quoted as an answer.
_INSTRUCTION_RE = re.compile(
    r"(?:忽略|无视|忘记|忘掉|不要理会|不必理会)(?:掉)?(?:以上|上述|上面|之前|此前|前面|先前|以前)?(?:的)?(?:所有|全部|一切)?(?:的)?"
    r"(?:指令|指示|提示词?|规则|设定|命令)"
    r"|(?:直接|只|仅)(?:回答|输出|回复)\s*[“\"「『]"
    r"|系统提示|你(?:现在)?是一?个?(?:AI|人工智能|助手|语言模型)"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding)\s+"
    r"(?:instructions?|prompts?|rules|directions)\b"
    r"|\b(?:system\s+prompt|you\s+are\s+now\s+an?\s+(?:AI|assistant|language\s+model))\b",
    re.IGNORECASE,
)


def addresses_assistant(text: str) -> bool:
    """True for a sentence written to the answering model rather than to the report's reader."""
    return bool(_INSTRUCTION_RE.search(text))


@dataclass
class Passage:
    n: int
    chunk_id: str
    label: str
    sentences: list[ContextSentence] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.sentences)


def split_clauses(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence or ；-separated clause, blank stretches left out (the units a
    prompt is built from; chunking splits at full sentences only, see `pieces.split_full_sentences`)."""
    out = []
    for m in _SENT_RE.finditer(text):
        if m.group(0).strip():
            out.append((m.start(), m.end()))
    return out


def select_context(
    question: str,
    results: list,
    chunks_by_id: Chunks,
    idf: Mapping[str, float] | None = None,
    extra_terms: list[str] | None = None,
    budget: ContextBudget | None = None,
    parts: list[str] | None = None,
    one_year: bool = False,
) -> list[Passage]:
    """The sentences of the top results that bear on the question (see `_select_sentences`), within
    `budget` (`Settings.context`).

    A question in several parts (「2023年建成多少座？今年计划多少座？」, or the parts query analysis
    found) picks sentences for each part on its own, so that the second part is not crowded out."""
    parts = parts if parts and len(parts) > 1 else [p for p in re.split(r"[？?；;]", question) if len(p.strip()) >= 4]
    budget = budget or ContextBudget()
    if len(parts) < 2:
        return _select_sentences(question, results, chunks_by_id, idf, extra_terms, budget, one_year)
    share = budget.model_copy(
        update={
            "chars": budget.chars // len(parts) + budget.part_extra_chars,
            "sentences": max(2, budget.sentences // len(parts) + 1),
        }
    )
    picked: dict[str, Passage] = {}
    order: list[str] = []
    for part in parts:
        for p in _select_sentences(part, results, chunks_by_id, idf, extra_terms, share, one_year):
            if p.chunk_id not in picked:
                picked[p.chunk_id] = Passage(n=0, chunk_id=p.chunk_id, label=p.label)
                order.append(p.chunk_id)
            have = {c.start for c in picked[p.chunk_id].sentences}
            picked[p.chunk_id].sentences += [c for c in p.sentences if c.start not in have]
    out = []
    for n, cid in enumerate(order, 1):
        p = picked[cid]
        p.n = n
        p.sentences.sort(key=lambda c: c.start)
        for c in p.sentences:
            c.n = n
        out.append(p)
    return out


# A figure over several years (「年均增长」「累计」「过去五年」): no answer to a question about one year.
_SPAN_FIGURE = re.compile(
    r"年均(?:增长|增速|增幅|下降|降低|提高|递增|新增)|平均每年|累计|五年来|过去五年|"
    r"[“\"]?十[一二三四五六七八九]五[”\"]?(?:时期|期间|以来)"
)


def _select_sentences(
    question: str,
    results: list,
    chunks_by_id: Chunks,
    idf: Mapping[str, float] | None,
    extra_terms: list[str] | None,
    budget: ContextBudget,
    one_year: bool = False,
) -> list[Passage]:
    """The sentences of the top results that share the most specific words with the question.

    A sentence scores the IDF of the question words it contains (plus a little for figures and
    for the rank of its chunk); sentences scoring at least `budget.keep_ratio` of the best are
    kept, best first, within the budget's characters and sentences. Passages are ordered by their best sentence."""
    idf = idf or {}
    q_tokens = set(tokenize(norm(question) + " " + " ".join(extra_terms or [])))
    if one_year and _SPAN_FIGURE.search(norm(question)):
        one_year = False  # the question itself asks about a span
    q_nums = set(_NUM_RE.findall(norm(question)))
    q_compact = compact(question)
    default_idf = top_weight(idf)
    scored: list[tuple[float, int, str, tuple[int, int]]] = []

    def score_of(sent: str, ri: int) -> float:
        if addresses_assistant(sent):
            return 0.0
        toks = set(tokenize(sent))
        score = sum(idf.get(t, default_idf) for t in q_tokens & toks)
        if score <= 0:
            return 0.0
        score += budget.shared_figure * len(q_nums & set(_NUM_RE.findall(sent))) + (
            budget.any_figure if _NUM_RE.search(sent) else 0.0
        )
        if one_year and _SPAN_FIGURE.search(sent):
            score *= budget.span_penalty  # a question about one year: a five-year figure is the usual wrong answer
        return score + budget.rank / (1 + ri)

    heads: dict[tuple[str, int], tuple[int, int]] = {}  # a piece of a long sentence → the sentence's lead-in
    for ri, r in enumerate(results):
        chunk = chunks_by_id[r.id]
        lead = 0.0
        for s, e in split_clauses(chunk.text):
            head, pieces = long_sentence_pieces(chunk.text, s, e, budget.long_sentence)
            head_text = chunk.text[head[0] : head[1]] if head else ""
            for ps, pe in pieces:
                # each item of a list 「主要预期目标是：甲增长5%，乙增长3%，…」 is read with the lead-in
                piece = chunk.text[ps:pe]
                if not head or head[0] == ps:
                    score = score_of(norm(piece), ri)
                elif colon_lead(head_text):
                    score = score_of(norm(head_text + piece), ri)
                else:  # a later piece of a run of facts: its own words first, what the run is about half
                    own = score_of(norm(piece), ri)
                    score = own + 0.5 * max(0.0, score_of(norm(head_text + piece), ri) - own)
                if one_year and "span" in (getattr(chunk, "flags", None) or ()):
                    score *= budget.span_penalty  # a paragraph about several years (「五年来，…」)
                lead = max(lead, score)
                if score > 0:
                    scored.append((score, ri, chunk.id, (ps, pe)))
                    if head and head[0] != ps:
                        heads[(chunk.id, ps)] = head
        # a lead-in (「要把握好以下三点。」) hands its score to the first sentence of each item it announces
        for fid in getattr(chunk, "follows", []) if lead > 0 else []:
            item = chunks_by_id.get(fid)
            spans = split_clauses(item.text) if item is not None else []
            if item is not None and spans:
                s, e = spans[0]
                scored.append((max(0.9 * lead, score_of(norm(item.text[s:e]), ri)), ri, fid, (s, e)))
        # a glossary note whose term the question names: the definition is the answer
        for nid in getattr(chunk, "notes", []):
            note = chunks_by_id.get(nid)
            if note is not None and note.term and compact(note.term) and compact(note.term) in q_compact:
                for s, e in split_clauses(note.text)[:2]:
                    scored.append((max(lead, 1.0) * 1.1, ri, nid, (s, e)))
    if not scored:
        return []
    scored.sort(key=lambda x: -x[0])
    best = scored[0][0]
    picked: list[tuple[float, int, str, tuple[int, int]]] = []
    used = 0
    seen: set[tuple[str, int]] = set()
    for score, ri, cid, (s, e) in scored:
        if score < budget.keep_ratio * best or len(picked) >= budget.sentences:
            break
        if (cid, s) in seen or (picked and used + (e - s) > budget.chars):
            continue
        seen.add((cid, s))
        picked.append((score, ri, cid, (s, e)))
        used += e - s
        head = heads.get((cid, s))
        if head and (cid, head[0]) not in seen:  # the lead-in comes with its item, whatever the budget
            seen.add((cid, head[0]))
            picked.append((score, ri, cid, head))
    passages: dict[str, Passage] = {}
    order: list[str] = []
    for score, _ri, cid, (s, e) in picked:
        chunk = chunks_by_id[cid]
        if cid not in passages:
            passages[cid] = Passage(n=0, chunk_id=chunk.id, label=passage_label(chunk))
            order.append(cid)
        omap = offset_map(chunk.spans, chunk.text)
        head = heads.get((cid, s))
        lead_in = chunk.text[head[0] : head[1]] if head else ""
        passages[cid].sentences.append(
            ContextSentence(0, chunk.id, chunk.text[s:e].strip(), omap[s], omap[e - 1] + 1, score, lead_in)
        )
    out = []
    for n, cid in enumerate(order, 1):
        p = passages[cid]
        p.n = n
        p.sentences.sort(key=lambda c: c.start)  # document order inside a passage reads naturally
        for c in p.sentences:
            c.n = n
        out.append(p)
    return out


_PIECE_RE = re.compile(r"[^，,]*[，,]?")


def long_sentence_pieces(text: str, s: int, e: int, limit: int) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """A sentence longer than `limit` characters in its comma-separated pieces, and its lead-in when
    it opens with one (「今年主要预期目标是：」, up to a colon near its start): a list of ten indicators
    is read item by item, so the prompt holds the one asked about and the model cannot take its
    neighbour's figure. A shorter sentence is one piece."""
    if e - s <= limit:
        return None, [(s, e)]
    sent = text[s:e]
    colon = re.search(r"[：:]", sent[:60])
    # with no lead-in, a long sentence is a run of facts 「实施甲工程，筹措资金160万元，其中…」: its first
    # piece names what the run is about, so it is the lead-in each later piece is read with
    head = (s, s + colon.end()) if colon else None
    start = s + colon.end() if colon else s
    pieces: list[tuple[int, int]] = []
    for m in _PIECE_RE.finditer(text, start, e):
        if m.end() == m.start():
            continue
        if pieces and (m.start() - pieces[-1][0] < 8 or len(text[m.start() : m.end()].strip()) < 6):
            pieces[-1] = (pieces[-1][0], m.end())  # too short to stand alone: joined to the piece before
        else:
            pieces.append((m.start(), m.end()))
    if head is None and len(pieces) > 1:
        head = pieces[0]
    return head, pieces or [(s, e)]


def colon_lead(text: str) -> bool:
    """Whether a lead-in is one that announces a list (ends with a colon)."""
    return text.rstrip().endswith((":", "："))


def best_sentence(passages: list[Passage]) -> ContextSentence:
    return max((s for p in passages for s in p.sentences), key=lambda s: s.score)


def passage_label(chunk) -> str:
    """「甲市·2024年·（五）突出人才强市…」: whose figure it is, in a few characters (no year for a
    passage about several years: 「五年来，…」 is no one year's figure)."""
    year = None if "span" in (getattr(chunk, "flags", None) or ()) else chunk.period or chunk.year
    sec = chunk.section[-1] if chunk.section else chunk.title
    sec = re.sub(r"\s+", "", sec)
    if len(sec) > 18:
        sec = sec[:18] + "…"
    return "·".join(x for x in (chunk.place, f"{year}年" if year else "", sec) if x)


def timed_stream(
    llm: LLM, messages: list[dict], timings: dict, cancel=None, max_tokens: int | None = None
) -> Iterator[str]:
    """Wrap `LLM.stream`, recording the time to the first token, the token count and the
    decoding rate after the first token (prompt processing and decoding scale differently)."""
    t0 = time.perf_counter()
    n = 0
    first = last = t0
    for tok in llm.stream(messages, max_tokens=max_tokens, cancel=cancel):
        last = time.perf_counter()
        if n == 0:
            first = last
            timings["first_token_s"] = round(first - t0, 3)
        n += 1
        yield tok
    timings["gen_s"] = round(time.perf_counter() - t0, 3)
    timings["completion_tokens"] = n
    if n > 1 and last > first:
        timings["decode_tok_s"] = round((n - 1) / (last - first), 1)
