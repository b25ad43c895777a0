"""The reversed CC-CEDICT lexicon and its pickled cache (rag/search/lexicon.py), from the real dictionary:
no mocks. Invented places (甲县, 乙壮族自治区) for the sense parsing, real entries for the index."""

from __future__ import annotations

import pickle

import pytest

from rag.search import lexicon
from rag.search.lexicon import CACHE_NAME, Lexicon, _acronyms, _clean_definition, _names_place, _place_names


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("lexicon")


@pytest.fixture(scope="module")
def lex(cache_dir) -> Lexicon:
    return Lexicon.load(cache_dir)


# --- reading a definition -------------------------------------------------------------------------------
def test_clean_definition():
    assert _clean_definition("to lift oneself out of poverty") == "lift oneself out of poverty"
    assert _clean_definition("(financial) deficit") == "deficit"
    assert _clean_definition("abbr. for 甲乙自治区") == ""  # only a cross-reference
    assert _clean_definition("the Five-Year Plan (etc)") == "five-year plan"


def test_acronyms_spelled_out_by_a_sense():
    assert _acronyms("gross domestic product (GDP)") == ["gdp"]
    assert _acronyms("consumer price index CPI") == ["cpi"]
    assert _acronyms("fine particle (PM 2.5)") == ["pm2.5"]
    assert _acronyms("bond; debenture") == []


def test_place_senses():
    assert _names_place("Jia county in Bing province") and _names_place("abbr. for 甲乙自治区")
    assert not _names_place("bond")
    assert _place_names("Jia county in Bing") == ["jia", "jia county"]
    assert _place_names("Yi Zhuang Autonomous Region, abbr. to 乙") == [
        "yi zhuang",
        "yi zhuang autonomous region",
        "yi",
    ]
    assert _place_names("lowercase sense") == []


# --- the index -------------------------------------------------------------------------------------------
def test_candidates_carry_what_ranking_needs(lex):
    deficit = {c.term: c for c in lex.candidates("deficit")}
    assert "赤字" in deficit and deficit["赤字"].whole and not deficit["赤字"].proper
    curated = lex.candidates("deficit ratio")
    assert [c.term for c in curated if c.curated] == ["赤字率"]  # rag/data/report_terms_en.tsv
    baoding = [c for c in lex.candidates("baoding") if c.term == "保定"]
    assert baoding and baoding[0].proper and baoding[0].place
    assert lex.candidates("no such english phrase") == []


def test_report_terms_have_no_place_names(lex):
    pairs = lexicon._report_terms(lexicon.REPORT_TERMS)
    assert 20 <= len(pairs) <= 100
    for en, zh in pairs:
        assert zh not in lex.names, zh  # not a place CEDICT knows
        assert not any(c.place for c in lex.candidates(en)), en  # nor an English place name


def test_old_hand_glossary_is_not_read():
    assert "en_zh" not in lexicon.REPORT_TERMS.name


# --- the pickled index ---------------------------------------------------------------------------------
def test_cache_written_and_reused(lex, cache_dir, monkeypatch):
    path = cache_dir / CACHE_NAME
    assert path.exists()

    def no_build(*args):
        raise AssertionError("the lexicon was built again instead of read from its cache")

    monkeypatch.setattr(Lexicon, "build", classmethod(no_build))
    again = Lexicon.load(cache_dir)
    assert again.index == lex.index and again.heads == lex.heads
    assert not list(cache_dir.glob(".*"))  # no temporary file left behind


def test_corrupt_or_stale_cache_is_rebuilt(tmp_path):
    (tmp_path / CACHE_NAME).write_bytes(b"not a pickle")
    first = Lexicon.load(tmp_path)
    assert "国务院" in [c.term for c in first.candidates("state council")]
    with (tmp_path / CACHE_NAME).open("wb") as f:
        pickle.dump({"stamp": "old", "data": {}}, f)
    assert "国务院" in [c.term for c in Lexicon.load(tmp_path).candidates("state council")]
    with (tmp_path / CACHE_NAME).open("rb") as f:
        assert pickle.load(f)["stamp"] != "old"


def test_a_folder_that_cannot_be_written_only_costs_a_rebuild(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("甲市", encoding="utf-8")  # the cache folder is a file: nothing can be saved in it
    lex = Lexicon.load(blocked)
    assert "国务院" in [c.term for c in lex.candidates("state council")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]
