"""Generation with every figure checked: one question (`answer_one`) or a question in parts, each
part with its own passages (`answer_parts`), and English questions through Chinese.

A reply is kept only when each of its figures is found in a passage that fits the part's report,
year and topic (`cite.check`) and it answers what was asked (a plan is no outcome, a five-year
average no year's figure, the contrasting indicator not the one asked). A reply that fails is
tried once more with a stricter prompt, unless what failed is a thing a retry cannot mend, or an
English question still has its route through Chinese (on both question sets no English retry
gave a correct answer the route through Chinese did not). No further generation starts once the
question's time budget is spent (`Turn.spent`): what is verified so far, or the reports' own
sentence, is the answer.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from rag.answer.cite import assign
from rag.answer.compose import asked_verdict, contradiction, figures_of, join_replies, main_figure, part_label, relate
from rag.answer.context import Passage, timed_stream
from rag.answer.prompts import REFUSAL_ZH, REPEAT_HINT, build_messages, is_refusal, user_message
from rag.answer.translation import in_english, question_in_chinese
from rag.answer.turn import Answer, Turn
from rag.answer.verify import Verdict, check, denies, reject_reason, retry_can_mend, spelled_out
from rag.search.plan import NEGATION_RE
from rag.search.query import QueryAnalysis

if TYPE_CHECKING:
    from rag.answer.assistant import Assistant


# --- one question -------------------------------------------------------------------------------------
def answer_one(a: Assistant, turn: Turn) -> Answer:
    """A question in one part: the model's verified reply; for an English question that gets none,
    the same through a Chinese translation; else the sentence that plainly answers, or a refusal."""
    q = turn.plan
    topic = a.gate.topic_terms(q, turn.question)
    allowed = a.gate.fitting_chunks(q, turn.results)
    reason = "the model found no answer"
    routes = english_routes(q) if turn.english and a.settings.english_via_chinese else ["direct"]
    for n, route in enumerate(routes):
        plan, context = q, turn.passages
        if (n or turn.used_model) and turn.spent(f"the {route} route"):
            break
        if route == "chinese":
            zh = question_in_chinese(a, turn)
            if not zh:
                continue
            plan = a.retriever.analyse(zh, q.scope)
            plan.english_terms = q.english_terms  # the English words' Chinese terms still pick sentences
            context = a.context(plan, turn.results) or turn.passages
            why = reason if n else "the dictionary has no Chinese term for the question's words"
            turn.notes.append(f"{why}; answering in Chinese as 「{zh}」, then translating")
            turn.emit("retry", turn.notes[-1])
        retry = "chinese" not in routes[n + 1 :]  # an English reply is mended through Chinese, not retried
        got = _verified_reply(
            a, turn, plan, context, topic, allowed, stream=route == "direct", first=n == 0, retry=retry
        )
        if turn.cancelled:
            return _cancelled(a, turn, got if isinstance(got, str) else got[0])
        if isinstance(got, str):
            reason = got
            continue
        text, citations = got
        text = _settle_yes_no(turn, plan, text, [c.quote for c in citations])
        if route == "chinese":
            text = in_english(a, turn, text)
        return a.answer(turn, text, citations)
    fitting = [Passage(p.n, p.chunk_id, p.label, p.sentences) for p in turn.passages if p.chunk_id in allowed]
    best = a.gate.plain_answer(q, turn.question, topic, fitting, turn.ruled_out)
    denial = a.gate.denial(q, topic, fitting) if q.yes_no else None
    if denial is not None and (best is None or best is denial or NEGATION_RE.search(best.text)):
        # 「是否提出了增长目标？」 of 「我们没有提出全年经济增速具体目标」: the reports say no
        ans = a.quoted(turn, denial, f"{reason}; the reports say no")
        ans.answer = "否。" + ans.answer
        return ans
    if best is None:
        return a.refusal(turn, reason)
    ans = a.quoted(turn, best, f"{reason}; showing the sentence of the reports that answers it")
    settled = _settle_yes_no(turn, q, best.text, [best.text])
    if settled != best.text:  # 「是否超过5%」 of a quoted 「…增长4.5%—5%」 is settled all the same
        ans.answer = settled[: settled.index(best.text)] + ans.answer
    return ans


def _verified_reply(
    a: Assistant,
    turn: Turn,
    plan: QueryAnalysis,
    passages: list[Passage],
    topic: list[str],
    allowed: set[str],
    *,
    stream: bool,
    first: bool,
    retry: bool = True,
):
    """(answer text with citation markers, citations), or why there is none (a string). `retry`:
    a reply with a figure the passages do not hold may be asked for once more."""
    ask = plan.ask or plan.question
    messages = build_messages(ask, passages)
    if first:
        turn.messages = turn.messages or messages
        turn.timings["prompt_tokens"] = turn.model.count_tokens(messages)
    reply = _generate(turn, messages, kind="token" if stream else "", first=first)
    if turn.cancelled:
        return reply
    if is_refusal(reply):
        return "the model found no answer"
    topic_set = (
        set(topic)
        | (set(a.gate.topic_terms(plan, plan.question)) if plan is not turn.plan else set())
        | spelled_out(plan)
    )
    topical = a.gate.topical_chunks(turn.plan, topic, passages)
    verdict = check(join_replies([reply]), passages, ask, topic_set, allowed, topical)
    mendable = not verdict.ok and retry_can_mend(verdict, passages, allowed)
    if mendable and not retry:
        figs = ", ".join(verdict.unsupported_figures)
        turn.notes.append(f"unsupported figure(s) {figs}; not retried (the question is asked again through Chinese)")
    elif mendable and not turn.spent("the retry"):
        figs = ", ".join(verdict.unsupported_figures)
        turn.notes.append(f"unsupported figure(s) {figs}; retried with a stricter prompt")
        turn.emit("retry", turn.notes[-1])
        reply = _generate(
            turn, build_messages(ask, passages, strict=True), kind="retry_token" if stream else "", first=False
        )
        if is_refusal(reply):
            return "the model found no answer"
        verdict = check(join_replies([reply]), passages, ask, topic_set, allowed, topical)
    if not verdict.ok or not _answers_what_was_asked(turn, plan, ask, reply, verdict, single=True):
        return (
            "the answer could not be verified against the passages"
            if any(p.chunk_id in allowed for p in passages)
            else "no passage for the place and year asked about supports an answer"
        )
    text, citations = assign(Verdict(True, verdict.sentences), a.retriever.by_id)
    if not citations:
        return "the answer could not be verified against the passages"
    return text, citations


def _answers_what_was_asked(
    turn: Turn, plan: QueryAnalysis, ask: str, reply: str, verdict: Verdict, single: bool
) -> bool:
    """Whether a verified reply answers what was asked; when not, the reason is noted and the
    sentences it used are ruled out for the sentence that plainly answers."""
    reason = reject_reason(plan, ask, reply, verdict, single)
    if reason is None:
        return True
    turn.notes.append(reason)
    turn.ruled_out.update((c.chunk_id, c.start) for _, sup in verdict.sentences for c in sup)
    return False


def _settle_yes_no(turn: Turn, plan: QueryAnalysis, text: str, quotes: list[str]) -> str:
    """A yes/no question's answer checked against the passage: 「是否超过5%」 is answered by comparing
    the cited figure with 5% in code; a 「是」 whose cited sentence states another figure than the
    one asked (「延长三年」 asked as 「五年」) becomes 「否」."""
    if not plan.yes_no or plan.english:
        return text
    if plan.asked and plan.ask != plan.question:
        stated = main_figure(re.sub(r"\[\d+\]", "", text), plan.measure)
        asked = main_figure(plan.asked[1])
        verdict = asked_verdict(plan.asked[0], asked, stated) if stated and asked else None
        if verdict is not None:
            return ("是。" if verdict else "否。") + text
        return text
    if (said := contradiction(plan.text, quotes)) and not denies(text):
        turn.notes.append(f"the cited sentence says {said}, not what the question states")
        return f"否。报告中是{said}：" + text
    return text


# --- a question in parts --------------------------------------------------------------------------------
def answer_parts(a: Assistant, turn: Turn) -> Answer:
    """Each part answered from its own passages (the parts are turns of one conversation, so the
    model keeps what earlier parts said and the shared prompt prefix stays cached), each reply
    checked against its part's report, year and topic; a part the reports do not cover is said
    to be missing; what relates the parts is computed in code (`compose.relate`)."""
    q = turn.plan
    chunks = a.retriever.by_id
    replies: list[str] = []
    verdicts: list[Verdict | None] = []
    conversation: list[dict] = []
    shown: list[Passage] = []  # every passage the model has read so far in this conversation
    for i, part in enumerate(q.part_plans):
        if turn.cancelled:
            break
        verdict, reply = None, REFUSAL_ZH
        if part.missing:
            turn.notes.append(f"part {i + 1}: no report of {part.unknown_places[0]} in the library")
        else:
            results = [r for r in turn.results if i in r.parts] or turn.results
            # the model reads the passages of the part's report and year first (a 2026 target beside
            # the 2025 result it asks for is the figure it would take)
            fitting = a.gate.fitting_chunks(part, results)
            passages = a.context(part, [r for r in results if r.id in fitting]) or a.context(part, results)
            reason = a.gate.precheck(part, part.question, results) if passages else "no relevant sentence"
            if reason is not None:
                turn.notes.append(f"part {i + 1}: {reason}")
            elif (i or turn.used_model) and turn.spent(f"generating part {i + 1}"):
                reply, verdict = _quoted_part(
                    a, turn, part, [p for p in passages if p.chunk_id in fitting], i, verdicts
                )
            else:
                if i and replies and conversation:
                    turn.emit("token", "\n")
                before = conversation
                reply, verdict, conversation = _answer_part(a, turn, part, passages, conversation, i, shown)
                repeated = verdict is not None and _repeats(reply, verdict, replies, verdicts)
                if repeated and not turn.spent(f"asking part {i + 1} again"):
                    # two parts ask different things: the same figure from the same sentence cannot
                    # answer both; asked once more, told so
                    turn.notes.append(f"part {i + 1} repeated the answer to an earlier part; asked again")
                    reply, verdict, conversation = _answer_part(a, turn, part, passages, before, i, shown, again=True)
                    repeated = verdict is not None and _repeats(reply, verdict, replies, verdicts)
                if repeated:
                    verdict, conversation = None, before
                if verdict is None and not turn.cancelled:
                    reply, verdict = _quoted_part(
                        a, turn, part, [p for p in passages if p.chunk_id in fitting], i, verdicts
                    )
        replies.append(reply if verdict is not None else REFUSAL_ZH)
        verdicts.append(verdict)
    if turn.cancelled:
        return _cancelled(a, turn, join_replies(replies))
    ok = [v for v in verdicts if v is not None]
    if not ok:
        return a.refusal(turn, "no part of the question could be answered from the passages")
    text, citations = assign(Verdict(True, [s for v in ok for s in v.sentences]), chunks, between=_part_breaks(ok))
    lead, tail = relate(q, replies)
    return a.answer(turn, lead + text + ("\n" + tail if tail else ""), citations)


def _quoted_part(
    a: Assistant, turn: Turn, part: QueryAnalysis, fitting: list[Passage], i: int, verdicts: list[Verdict | None]
) -> tuple[str, Verdict | None]:
    """A part the model left unanswered, answered by the sentence of its own report and year that
    plainly answers it (as `answer_one` does for a whole question): the reports' words, quoted
    and cited, rather than 「资料中未提及」 beside a passage that holds the figure. Never a sentence
    an earlier part was answered from."""
    topic = a.gate.topic_terms(part, part.question)
    best = a.gate.plain_answer(part, part.question, topic, fitting, turn.ruled_out)
    used = {(c.chunk_id, c.start) for v in verdicts if v is not None for _, sup in v.sentences for c in sup}
    if best is None or (best.chunk_id, best.start) in used:
        return REFUSAL_ZH, None
    turn.notes.append(f"part {i + 1}: showing the sentence of its report that answers it")
    reply = f"{part_label(turn.plan, part, i)}：据报告「{best.text.rstrip('。；;，, ')}」"
    return reply, Verdict(True, [(reply, [best])])


def _repeats(reply: str, verdict: Verdict, replies: list[str], verdicts: list[Verdict | None]) -> bool:
    """Whether a part's reply gives only an earlier part's figures, from the same sentences."""

    def figures(r: str) -> set[tuple[float, float, str]]:
        return {(f.low, f.high, f.unit) for f in figures_of(r)}

    def support(v: Verdict) -> set[tuple[str, int]]:
        return {(c.chunk_id, c.start) for _, sup in v.sentences for c in sup}

    mine = figures(reply)
    return bool(mine) and any(
        mine <= figures(r) and support(verdict) <= support(v) for r, v in zip(replies, verdicts) if v is not None
    )


def _part_breaks(verdicts: list[Verdict]) -> set[int]:
    """The answer sentences after which a new part begins (each part on a line of its own)."""
    out, n = set(), 0
    for v in verdicts[:-1]:
        n += len(v.sentences)
        out.add(n - 1)
    return out


def _answer_part(
    a: Assistant,
    turn: Turn,
    part: QueryAnalysis,
    passages: list[Passage],
    conversation: list[dict],
    i: int,
    shown: list[Passage],
    again: bool = False,
) -> tuple[str, Verdict | None, list[dict]]:
    """One part's verified reply (with its verdict), and the conversation it leaves for the next
    part; (refusal, None, conversation unchanged) when it has none.

    A reply is checked against every passage the conversation has shown (a later part may be
    answered from a passage an earlier part brought), as long as the passage fits this part's
    report, year and topic."""
    ask = part.ask or part.question
    user = {"role": "user", "content": user_message(ask, passages) + (REPEAT_HINT if again else "")}
    messages = [*conversation, user] if conversation else build_messages(ask, passages)
    if not turn.messages:
        turn.messages = messages
        turn.timings["prompt_tokens"] = turn.model.count_tokens(messages)
    reply = _generate(turn, messages, kind="token", first=not conversation)
    if turn.cancelled or is_refusal(reply):
        return REFUSAL_ZH, None, conversation
    seen = {p.chunk_id for p in passages}
    shown.extend(p for p in passages if p.chunk_id not in {s.chunk_id for s in shown})
    pool = passages + [p for p in shown if p.chunk_id not in seen]
    topic = a.gate.topic_terms(part, part.question)
    allowed = a.gate.fitting_chunks(part, turn.results)
    topical = a.gate.topical_chunks(part, topic, pool)
    topic_set = set(topic) | spelled_out(part)
    verdict = check(join_replies([reply]), pool, ask, topic_set, allowed, topical)
    if not verdict.ok and retry_can_mend(verdict, pool, allowed) and not turn.spent(f"the retry of part {i + 1}"):
        turn.notes.append(
            f"part {i + 1}: unsupported figure(s) {', '.join(verdict.unsupported_figures)}; "
            "retried with a stricter prompt"
        )
        turn.emit("retry", turn.notes[-1])
        strict = build_messages(ask, passages, strict=True)
        if conversation:  # the earlier parts stay as they were said
            strict = [strict[0], *conversation[len(build_messages("", [])) - 1 :], user]
        reply = _generate(turn, strict, kind="retry_token", first=False)
        if is_refusal(reply):
            return REFUSAL_ZH, None, conversation
        verdict = check(join_replies([reply]), pool, ask, topic_set, allowed, topical)
    if not verdict.ok or not _answers_what_was_asked(turn, part, ask, reply, verdict, single=False):
        turn.notes.append(f"part {i + 1}: the reply could not be verified against its passages")
        return REFUSAL_ZH, None, conversation
    return reply, verdict, [*messages, {"role": "assistant", "content": reply}]


# --- English --------------------------------------------------------------------------------------------
_EN_PARTS = re.compile(r",?\s+and\s+(?:how|what|which|when|where|who|by how|did|does|is|was)\b|\?\s*\S", re.I)


def english_routes(q: QueryAnalysis) -> list[str]:
    """The order an English question is tried in: in its own words first, then through Chinese;
    through Chinese first when the dictionary finds no Chinese term for its words (the passages
    are Chinese: a model given no term to match them by finds no answer in English)."""
    return ["direct", "chinese"] if q.english_terms else ["chinese", "direct"]


def needs_parts(q: QueryAnalysis) -> bool:
    """Whether an English question asks several things (two places, two years, a target and its
    result, a comparison, or two questions joined by "and")."""
    years = q.years | ({q.report_year} if q.report_year else set())
    return bool(q.relation or len(q.places) >= 2 or len(years) >= 2 or _EN_PARTS.search(q.question.strip()))


def plan_in_chinese(a: Assistant, turn: Turn) -> Answer | None:
    """An English question in several parts, answered through its Chinese translation: planned,
    answered part by part and composed in Chinese, then rendered in English (None when the
    translation gives no plan in parts: the question is then answered as one)."""
    zh = question_in_chinese(a, turn)
    if not zh:
        return None
    plan = a.retriever.analyse(zh, turn.plan.scope)
    if not plan.part_plans:
        return None
    turn.notes.append(f"answered in Chinese as 「{zh}」, then translated")
    english, turn.plan = turn.plan, plan
    a._retrieve(turn, max(len(turn.results), a.settings.top_k))
    k = len(turn.results)
    ans = answer_parts(a, turn)
    turn.plan = english
    if ans.notes[-1:] == ["cancelled"]:
        return ans
    if ans.refused:
        # no part found through the translation (「total grain output」 rendered 「总产量」 loses 粮食):
        # the question is answered as one, from its own words
        turn.notes.append("no part answered through the translation; answering the question as one")
        a._retrieve(turn, k)
        return None
    ans.answer = in_english(a, turn, ans.answer)
    return ans


# --- the model ----------------------------------------------------------------------------------------------
def _generate(turn: Turn, messages: list[dict], kind: str = "token", first: bool = True) -> str:
    """One generation, streamed as `kind` events ("" streams nothing), with its timings."""
    parts: list[str] = []
    sub: dict = {}
    for tok in timed_stream(turn.model, messages, sub, cancel=turn.cancel):
        if first and "first_token_s" not in turn.timings:
            turn.timings["first_token_s"] = round(time.perf_counter() - turn.t0, 3)
        parts.append(tok)
        if kind:
            turn.emit(kind, tok)
    turn.timings["completion_tokens"] = turn.timings.get("completion_tokens", 0) + sub.get("completion_tokens", 0)
    turn.timings["generations"] = turn.timings.get("generations", 0) + 1
    if first and "prompt_eval_s" not in turn.timings:
        turn.timings["prompt_eval_s"] = sub.get("first_token_s")
        if "decode_tok_s" in sub:
            turn.timings["decode_tok_s"] = sub["decode_tok_s"]
    return "".join(parts).strip()


def _cancelled(a: Assistant, turn: Turn, text: str) -> Answer:

    return Answer(
        turn.question,
        text,
        False,
        [],
        turn.retrieved,
        turn.timings,
        verified=False,
        model=turn.model.name if turn.llm else "",
        notes=["cancelled"],
        messages=turn.messages,
    )
