"""English → Chinese search terms from the real CC-CEDICT (rag/search/translate.py): no mocks.

Phrases are chosen so that a wrong dictionary reading, a lost plural, a dropped place name or a
stop word let through makes a test fail. Invented places (甲市, 乙县 …) test the pinyin rules;
real ones the CEDICT names."""

from __future__ import annotations

import pytest

from rag.search import translate
from rag.search.translate import Translator, place_aliases, split_place


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("translate")


@pytest.fixture(scope="module")
def tr(cache_dir) -> Translator:
    return Translator.load(cache_dir)


# --- dictionary translations (no corpus vocabulary) --------------------------------------------------
@pytest.mark.parametrize(
    "question, expected",
    [
        ("How large was the deficit?", "赤字"),  # CEDICT '(financial) deficit'
        ("What was the output?", "产量"),
        ("What is the forest coverage?", "森林"),
        ("What is the forest coverage?", "覆盖率"),
        ("How much were the bonds?", "债券"),
        ("What did the State Council decide?", "国务院"),
        ("What did Inner Mongolia achieve?", "内蒙古"),
        ("What was the poverty rate?", "贫困率"),
        ("How many people were lifted out of poverty?", "脱贫"),  # 'to lift oneself out of poverty'
        ("What was the tourism revenue?", "旅游"),
        ("What was the tourism revenue?", "收入"),
        ("What was the GDP?", "国内生产总值"),  # acronym in parentheses: 'gross domestic product (GDP)'
        ("How much did the CPI rise?", "居民消费价格指数"),  # trailing acronym: 'consumer price index CPI'
        ("What was the disposable income per capita?", "可支配收入"),
        ("What was the disposable income per capita?", "人均"),
        ("How many kindergartens were built?", "幼儿园"),  # plural folded
        ("What was the unemployment rate?", "失业率"),
        ("What about Hebei's industries?", "河北"),  # possessive dropped, proper noun kept
        ("What about Hebei's industries?", "工业"),
        ("What is the plan for Baoding?", "保定"),
    ],
)
def test_dictionary_translation(tr, question, expected):
    assert expected in tr.terms(question)


@pytest.mark.parametrize(
    "question, expected",
    [  # rag/data/report_terms_en.tsv
        ("What is the deficit ratio?", "赤字率"),
        ("What is the deficit-to-GDP ratio?", "赤字率"),
        ("How many special-purpose bonds were issued?", "专项债券"),
        ("How many special bonds were issued?", "专项债券"),
        ("What was the grain output?", "粮食产量"),
        ("How many new urban jobs were created?", "城镇新增就业"),
        ("What was the surveyed urban unemployment rate?", "城镇调查失业率"),
        ("How many high-tech enterprises are there?", "高新技术企业"),
        ("How much did fixed-asset investment grow?", "固定资产投资"),
        ("What was the growth of retail sales of consumer goods?", "社会消费品零售总额"),  # a 5-word phrase
    ],
)
def test_curated_report_terms(tr, question, expected):
    assert expected in tr.terms(question)


def test_state_council_comes_first(tr):
    assert tr.terms("What did the State Council announce?")[0] == "国务院"


def test_lowercase_word_gets_no_personal_name(tr):
    terms = tr.terms("how many jobs")
    assert "乔布斯" not in terms  # 'Jobs (name)'
    assert terms[0] == "就业"


def test_acronyms_kept_as_reports_write_them(tr):
    terms = tr.terms("What was the PM2.5 concentration?")
    assert terms[0] == "PM2.5" and "细颗粒物" in terms and "浓度" in terms
    assert "5G" in tr.terms("How many 5G base stations were built?")
    assert "基站" in tr.terms("How many 5G base stations were built?")


def test_longest_phrase_first(tr):
    terms = tr.terms("What was the economic growth of Baoding?")
    assert terms.index("经济增长") < terms.index("保定")


def test_generic_words_inside_a_phrase(tr):
    # 'plan' and 'year' give nothing alone, but 'five-year plan' is a phrase; 'five' alone (五)
    # is a single character and never a term
    assert tr.terms("What did the Five-Year Plan say?") == ["五年计划"]
    assert tr.terms("What was the five?") == []


def test_places_can_be_left_to_the_caller(tr):
    q = "What was the GDP of Inner Mongolia and Baoding?"
    assert {"内蒙古", "保定"} <= set(tr.terms(q))
    without = tr.terms(q, places=False)
    assert "生产总值" in without
    assert not any("蒙" in t or "保定" in t for t in without)  # nor 'inner' or 'mongolia' word by word


def test_limit(tr):
    q = "What were GDP, grain output, forest coverage, tourism revenue and fixed-asset investment?"
    assert len(tr.terms(q)) > 4
    assert len(tr.terms(q, limit=4)) == 4


# --- the corpus decides ----------------------------------------------------------------------------------
def test_vocabulary_picks_the_corpus_word(tr):
    assert {"产量", "产出", "输出"} <= set(tr.rank("output"))
    assert tr.terms("What was the output?", {"产出": 4.0})[0] == "产出"
    assert tr.terms("What was the output?", {"输出": 4.0}) == ["输出"]  # absent readings dropped
    assert tr.terms("What was the output?", {"产量": 4.0})[0] == "产量"


def test_vocabulary_joins_adjacent_words(tr):
    vocab = {"森林": 3.0, "覆盖率": 4.0, "森林覆盖率": 5.0}
    terms = tr.terms("What is the forest coverage?", vocab)
    assert terms[0] == "森林覆盖率" and {"森林", "覆盖率"} <= set(terms)


def test_phrase_unknown_to_the_corpus_falls_back_to_words(tr):
    # 'tree planting' → 植苗 in CEDICT; a corpus without 植苗 gets the word 'tree' instead
    assert "植苗" in tr.terms("What about tree planting?")
    terms = tr.terms("What about tree planting?", {"树木": 3.0})
    assert terms == ["树木"]


def test_vocabulary_without_any_translation_keeps_dictionary_terms(tr):
    assert "债券" in tr.terms("How much were the bonds?", {"无关": 1.0})


# --- what gives nothing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "今年城镇新增就业多少？",
        "2024年？",
        "???",
        "How many did the plan say this year?",
        "What was it in the report of the government last year?",
    ],
)
def test_no_terms(tr, question):
    assert tr.terms(question) == []
    assert tr.terms(question, {"就业": 1.0}) == []


# --- place names -----------------------------------------------------------------------------------------
def test_split_place():
    assert split_place("甲市") == ("甲", "市", "city")
    assert split_place("乙丙回族自治县") == ("乙丙", "自治县", "autonomous county")
    assert split_place("丁戊土家族苗族自治州") == ("丁戊", "自治州", "autonomous prefecture")
    assert split_place("庚辛") == ("庚辛", "", "")


def test_place_aliases_invented(tr):
    a = tr.place_aliases("甲市")
    assert {"jia city", "jiashi"} <= a and "jia" not in a  # under 4 letters
    assert {"yi county", "yixian"} <= tr.place_aliases("乙县")
    assert {"bingding", "bingding district", "bingdingqu"} <= tr.place_aliases("丙丁区")
    assert {"wuji", "wuji autonomous prefecture"} <= tr.place_aliases("戊己回族自治州")
    assert all(x == x.lower() for x in a)


def test_place_aliases_real(tr):
    assert {"baoding", "baoding city"} <= tr.place_aliases("保定市")
    assert {"gaoyang", "gaoyang county", "gaoyangxian"} <= tr.place_aliases("高阳县")
    assert {"hailaer", "hailaer district", "hailar", "hailar district"} <= tr.place_aliases(
        "海拉尔区"
    )  # CEDICT 'Hailar'
    assert {"inner mongolia", "neimenggu"} <= tr.place_aliases("内蒙古自治区")
    assert "inner mongolia" in tr.place_aliases("內蒙古")  # Traditional script
    assert {"hebei", "hebei province"} <= tr.place_aliases("河北省")
    assert "ningxia" in tr.place_aliases("宁夏回族自治区")
    assert {"lvchun", "luchun"} <= tr.place_aliases("绿春县")  # ü both ways
    assert tr.place_aliases("Baoding") == set() and tr.place_aliases("") == set()


def test_module_functions_share_the_cached_translator(tr, cache_dir):
    assert "baoding" in place_aliases("保定市", cache_dir=cache_dir)
    assert translate.terms("What did the State Council say?", cache_dir=cache_dir)[0] == "国务院"


# --- a translator is a lexicon, cached the same way -------------------------------------------------------
def test_translator_loads_from_the_lexicon_cache(tr, cache_dir):
    from rag.search.lexicon import CACHE_NAME, Lexicon

    assert (cache_dir / CACHE_NAME).exists()
    lex = Lexicon.load(cache_dir)
    assert type(lex) is Lexicon and lex.index == tr.index
    assert tr.candidates("deficit") == lex.candidates("deficit")
