"""English normalisation shared by the CC-CEDICT lexicon and by questions: words split, plurals and
-ed folded, function and generic words named, so that a dictionary definition and a question's
phrase reduce to the same key ('industries' meets 'industry').
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_FUNCTION_TEXT = """
a about above after again against all also am an and any are as at be been before being below
between both but by can could did do does doing done during each either for from had has have
having he her here hers him his how i if in into is it its itself just let me more most much
my no nor not of off on once only or other our ours out over own same she should so some
such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom whose why will with within would
you your yours s t many
"""
_GENERIC_TEXT = """
total number amount figure figures level levels target targets goal goals plan plans planned
planning year years annual annually report reports reported work government governments
according mention mentioned say said says stated aim aims aimed expect expected set sets
achieve achieved reach reached compare compared last next previous current whole respectively
approximately around roughly nearly percent percentage cent time times
"""
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:'[A-Za-z]+)*(?:\.[0-9]+)?|[0-9]+[A-Za-z][A-Za-z0-9]*")


_NO_FOLD = frozenset(
    "news series species means this thus does yes has was its plus minus always perhaps lens canvas whereas".split()
)


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Plural and -ed folding so that 'jobs', 'industries', 'registered' meet their dictionary
    forms. Deliberately crude: the same rule is applied to the index and to the question."""
    w = word
    if len(w) <= 3 or not w.isalpha() or w in _NO_FOLD:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ous")):
        return w[:-1]
    if w.endswith("ied") and len(w) > 5:
        return w[:-3] + "y"
    if w.endswith("ed") and len(w) > 5:
        stem = w[:-2]
        if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "ls":
            stem = stem[:-1]  # planned → plan
        return stem
    return w


FUNCTION_WORDS = frozenset(w for raw in _FUNCTION_TEXT.split() for w in (raw, fold(raw)))
"""English function and question words: no phrase starts or ends with one."""
GENERIC_WORDS = frozenset(w for raw in _GENERIC_TEXT.split() for w in (raw, fold(raw)))
"""Words every question about a report uses (year, plan, target, total…): alone they name no
indicator, but a phrase may hold them ('five-year plan', 'total output')."""
STOP_WORDS = FUNCTION_WORDS | GENERIC_WORDS


def english_words(text: str) -> list[str]:
    """Latin words of `text` in their written case: hyphens split words ('fixed-asset' → fixed,
    asset), a possessive 's goes ("Jiashi's" → Jiashi), pinyin apostrophes stay ("Jia'an");
    'PM2.5' and '5G' stay whole."""
    words = _WORD_RE.findall(text.replace("’", "'"))
    return [w[:-2] if w[-2:].lower() == "'s" else w for w in words]


def phrase_key(words: Iterable[str]) -> str:
    """The index key of a word sequence: lowercased, folded, space-joined."""
    return " ".join(fold(w.lower().replace("'", "")) for w in words)
