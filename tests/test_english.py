"""English normalisation (rag/search/english.py): one key for a dictionary definition and a question."""

from __future__ import annotations

from rag.search.english import FUNCTION_WORDS, GENERIC_WORDS, STOP_WORDS, english_words, fold, phrase_key


def test_fold():
    words = ["jobs", "enterprises", "industries", "registered", "planned", "bonds", "news", "gas"]
    assert [fold(w) for w in words] == ["job", "enterprise", "industry", "register", "plan", "bond", "news", "gas"]


def test_english_words_split_hyphens_and_drop_possessives():
    assert english_words("Jiashi's fixed-asset investment") == ["Jiashi", "fixed", "asset", "investment"]
    assert english_words("Jia’an and PM2.5 and 5G") == ["Jia'an", "and", "PM2.5", "and", "5G"]  # kept whole
    assert english_words("甲市2024年") == []


def test_phrase_key_meets_the_dictionary_form():
    assert phrase_key(english_words("Industries Planned")) == "industry plan"
    assert phrase_key(["Jia'an", "county"]) == "jiaan county"
    assert phrase_key([]) == ""


def test_stop_words_hold_both_written_and_folded_forms():
    assert {"the", "which", "whose"} <= FUNCTION_WORDS
    assert {"year", "years", "target", "targets", "plan"} <= GENERIC_WORDS
    assert STOP_WORDS == FUNCTION_WORDS | GENERIC_WORDS
    assert "investment" not in STOP_WORDS and "county" not in STOP_WORDS
