"""English questions through Chinese: the question translated by the model (places it spells
wrongly put right), and the verified Chinese answer rendered back in English, kept only when
every verified figure survives the rendering."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from rag.answer.context import timed_stream
from rag.answer.figures import answer_figures, supported_value, values
from rag.answer.prompts import answer_to_english, question_to_chinese
from rag.answer.turn import Turn

if TYPE_CHECKING:
    from rag.answer.assistant import Assistant


def question_in_chinese(a: Assistant, turn: Turn) -> str:
    """The English question in Chinese, by the model ("" when it gives no usable translation).

    A place the translation spells wrongly (a transliteration the reports do not have) is
    replaced by the place the English question names, as query analysis read it."""
    q = turn.plan
    t = time.perf_counter()
    names = a.retriever.analyzer.places.latin_names(q.question)
    text = "".join(turn.model.stream(question_to_chinese(q.question, names), max_tokens=80)).strip()
    turn.timings["translate_s"] = round(time.perf_counter() - t, 3)
    text = text.splitlines()[0].strip() if text else ""
    if not re.search(r"[\u4e00-\u9fff]{2}", text) or len(text) > 160:
        return ""
    if len(q.places) == 1:
        place = next(iter(q.places))
        for wrong in a.retriever.unknown_places(text):
            text = text.replace(wrong, place)
        text = re.sub(re.escape(place) + "[省市县区旗]", place, text) if place[-1] in "省市县区旗" else text
    return text


def in_english(a: Assistant, turn: Turn, answer: str) -> str:
    """The verified Chinese answer in English, streamed; the Chinese one when the rendering
    loses or changes a figure (the figures are what was verified)."""
    body = re.sub(r"\s*\[\d+\]", "", answer).strip()
    marks = "".join(dict.fromkeys(re.findall(r"\[\d+\]", answer)))
    parts: list[str] = []
    kind = "retry_token" if any(n.startswith("the model found no answer") for n in turn.notes) else "token"
    for tok in timed_stream(turn.model, answer_to_english(body), {}, cancel=turn.cancel):
        if "first_token_s" not in turn.timings:
            turn.timings["first_token_s"] = round(time.perf_counter() - turn.t0, 3)
        parts.append(tok)
        turn.emit(kind, tok)
    english = " ".join("".join(parts).split())
    pool = values(english, english=True) | values(english)
    need = [float(f) * (m or 1.0) for f, m in answer_figures(re.sub(r"(?:19|20)\d{2}\s*年", "", body))]
    if not english or not all(supported_value(v, pool) for v in need):
        turn.notes.append("the English rendering changed a figure; the verified Chinese answer is shown")
        return answer
    return f"{english} {marks}".strip()
