"""Chat: follow-up questions rewritten into standalone ones before retrieval.

「那乙市呢？」 after 「甲市今年要新认定多少家高新技术企业？」 becomes
「乙市今年要新认定多少家高新技术企业？」; 「去年呢？」 swaps the time words. The rewrite is done
in code (place and time substitution on the previous standalone question): it is instant,
deterministic and shown to the user, where an LLM rewrite would cost seconds on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.chunk.clean import norm
from rag.search.question import TIME_WORDS as _TIME_WORDS

_FOLLOW_UP = re.compile(
    r"^(?:那么?|那末|还有|再问|又|而|and|what about|how about)?\s*(.{0,16}?)\s*(?:呢|怎么样|如何|情况呢|的呢)?\s*[？?。.!！]*$",
    re.I,
)
_YEAR = re.compile(r"(20\d{2})\s*年")


@dataclass
class ChatState:
    """The conversation so far: standalone questions asked, and the last answer's citations."""

    history: list[str] = field(default_factory=list)
    last_citations: list[dict] = field(default_factory=list)


def _find_place(text: str, aliases: dict[str, str]) -> str | None:
    hits = [a for a in aliases if a in text]
    return max(hits, key=len) if hits else None


def _time_word(text: str) -> str | None:
    t = text.lower()
    for w in sorted(_TIME_WORDS, key=len, reverse=True):
        if w in t:
            return w
    m = _YEAR.search(text)
    return m.group(0) if m else None


def rewrite(
    question: str,
    history: list[str],
    place_aliases: dict[str, str],
    unknown_places: Callable[[str], list[str]] | None = None,
) -> str:
    """A standalone version of `question` given the previous standalone questions.

    `place_aliases` are the indexed places as questions write them and `unknown_places` finds the
    place names no report covers (both from the query-analysis stage), so that 「那丙市呢？」 is
    rewritten to a question about 丙市 — which the refusal gate then answers honestly."""
    q = question.strip()
    if not history:
        return q
    prev = history[-1]
    nq = norm(q)
    new_place = _find_place(nq, place_aliases) or _find_place(q, place_aliases)
    if new_place is None and unknown_places is not None:
        new_place = next(iter(unknown_places(nq)), None)
    new_time = _time_word(q)
    residual = q
    for w in [new_place, new_time, *place_aliases]:
        if w:
            residual = residual.replace(w, "")
    residual = re.sub(r"[\s，,。？?！!]|呢|吗|那么|那|的|它|其|该市|该县|又|还有|怎么样|如何|情况", "", residual)
    short = len(re.sub(r"[\s，,。？?！!呢吗那么]", "", q)) <= 10
    is_follow = bool(_FOLLOW_UP.match(q)) and short and len(residual) < 2
    if short and len(residual) >= 2 and not new_place:
        # a new topic about the same place: 「它的5G基站呢？」 → 「甲市的5G基站呢？」
        old_place = _find_place(norm(prev), place_aliases) or _find_place(prev, place_aliases)
        if old_place:
            if re.search(r"它|其|该市|该县", q):
                return re.sub(r"它|其|该市|该县", old_place, q, count=1)
            return old_place + re.sub(r"^(那么?|那)", "", q)
        return q
    if not is_follow:
        # a full question without a place inherits the previous one's place
        if not new_place:
            old_place = _find_place(norm(prev), place_aliases)
            if old_place and not re.search(r"[A-Za-z]{3,}", q) and re.search(r"(它|其|该市|该县|那里|这里|当地)", q):
                return re.sub(r"(它|其|该市|该县|那里|这里|当地)", old_place, q, count=1)
        return q
    out = prev
    if new_place:
        old_place = _find_place(norm(prev), place_aliases) or _find_place(prev, place_aliases)
        if old_place and old_place in out:
            out = out.replace(old_place, new_place, 1)
        else:
            out = new_place + out
    if new_time:
        old_time = _time_word(prev)
        target = _TIME_WORDS.get(new_time.lower(), new_time)
        if old_time and old_time in out:
            out = out.replace(old_time, target, 1)
        else:
            place = _find_place(out, place_aliases)
            out = out.replace(place, place + target, 1) if place else target + out
    return out
