"""Words of a text for keyword matching: the one tokenizer that BM25, query analysis, context
selection and citation checking share, so that a question and a passage are cut the same way.

jieba in search mode with the report vocabulary (``rag/data/vocab.txt``), figures kept together
with their units (「1.8万人」 is one token as well as its parts), function words dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from rag.search.words import STOP_WORDS

_NUM_UNIT = re.compile(r"\d+(?:\.\d+)?(?:%|[万亿千百]?[元个家所座项人户亩吨件辆公里千瓦时次场名条块万亿%]*)")


@lru_cache(maxsize=1)
def _tokenizer():
    """A private jieba tokenizer with the report vocabulary added (no words added to the global
    tokenizer). It starts from a copy of the global tokenizer's dictionary, which part-of-speech
    tagging of questions loads anyway: a second load from disk would cost ~0.6 s per process."""
    import jieba

    jieba.dt.initialize()
    tok = jieba.Tokenizer()
    tok.FREQ, tok.total, tok.initialized = dict(jieba.dt.FREQ), jieba.dt.total, True
    vocab = Path(__file__).resolve().parent.parent / "data" / "vocab.txt"
    if vocab.exists():
        for line in vocab.read_text(encoding="utf-8").splitlines():
            word = line.strip()
            if word and not word.startswith("#"):
                tok.add_word(word, freq=20000)
    return tok


def tokenize(text: str) -> list[str]:
    """jieba search-mode words of normalised text, with figures kept together with their units."""
    tokens = [t for t in _tokenizer().cut_for_search(text) if t.strip() and (t.isalnum() or len(t) > 1)]
    tokens = [t.lower() for t in tokens if t not in STOP_WORDS]
    tokens += [m.group(0) for m in _NUM_UNIT.finditer(text) if not m.group(0).isdigit() or len(m.group(0)) > 1]
    return tokens
