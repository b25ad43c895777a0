"""Cleaning: the normalised search text, its map back to the original, page markers, mojibake.

Contract (ingestion issue): the original text is never modified; a normalised search text is
derived from it (NFKC, Traditional→Simplified, no spaces inside Chinese text but spaces kept
between Latin words, no markdown markup, `PM_{2.5}` → `PM2.5`) with a map back to original
character offsets. Page-continuation markers are found wherever they sit. Every rule is checked on
small texts written here and on the real seeds in seeds/.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from pathlib import Path

import pytest

from rag.chunk.clean import find_garbled, find_markers, norm, normalize, to_simplified, to_traditional

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = Path(os.environ.get("RAG_SEEDS_DIR", str(REPO_ROOT / "seeds")))
SEED = {
    "000": "000_e75e043d3f4bed66.txt",
    "001": "001_cdd563ffef68d5a8.txt",
    "002": "002_6444904a722c13e8.txt",
    "003": "003_4ca470a0a2d501aa.txt",
    "004": "004_d43a798d97625b5b.txt",
}


def seed_text(key: str) -> str:
    path = SEEDS_DIR / SEED[key]
    if not path.exists():
        pytest.fail(f"seed file {path} is missing (RAG_SEEDS_DIR={SEEDS_DIR})")
    return path.read_text(encoding="utf-8-sig")


def derived_from(ch: str, src_char: str) -> bool:
    """Whether search character `ch` can come from original character `src_char`: NFKC, then
    Traditional→Simplified, possibly after folding the two Simplified spellings of one Traditional
    character (着/著) together."""
    src = unicodedata.normalize("NFKC", src_char)
    return ch in src or ch in to_simplified(src) or ch in to_simplified(to_traditional(src))


def first_diffs(a: str, b: str, n: int = 5) -> list[tuple[str, str]]:
    """A few differing places between two strings, with a little context, for failure messages."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            out.append((a[max(0, i1 - 4) : i2 + 4], b[max(0, j1 - 4) : j2 + 4]))
        if len(out) >= n:
            break
    return out


# --- normalisation: small texts -------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, expected",
    [
        # NFKC: full-width Latin letters, digits and punctuation become ASCII
        ("ＰＭ２．５浓度", "PM2.5浓度"),
        ("增长１０．５％以上", "增长10.5%以上"),
        ("“承诺制＋标准地＋全代办”改革", "“承诺制+标准地+全代办”改革"),
        # Traditional -> Simplified
        ("經濟發展穩中向好", "经济发展稳中向好"),
        ("朔州市第七屆人民代表大會第四次會議", "朔州市第七届人民代表大会第四次会议"),
        ("全力滿足人民群眾對美好生活的嚮往", "全力满足人民群众对美好生活的向往"),
        # spaces inside Chinese text (letter-spaced newspaper lines) disappear
        ("人 口 人 均 纯 收 入 达 15869 元", "人口人均纯收入达15869元"),
        ("“承诺制”项目 116个", "“承诺制”项目116个"),
        ("施 ，确 保 民 营 企 业 公 平 参 与 市 场 竞", "施,确保民营企业公平参与市场竞"),
        ("建成 13 座智能化煤矿", "建成13座智能化煤矿"),
        ("加快 10GW垂直一体化", "加快10GW垂直一体化"),
        ("高质量发展 and全方位转型", "高质量发展and全方位转型"),
        # ... but spaces between Latin words are kept (once)
        ("Belt and Road Initiative", "Belt and Road Initiative"),
        ("the  Belt   and Road", "the Belt and Road"),
        # markdown markup is stripped
        ("## 三、全面提升政府治理现代化水平", "三、全面提升政府治理现代化水平"),
        ("### (七)千方百计保障和改善民生", "(七)千方百计保障和改善民生"),
        ("# 政府工作报告", "政府工作报告"),
        ("**社会保障更加有力。**完成全县参保任务", "社会保障更加有力。完成全县参保任务"),
        ("- 获评中国气候宜居城市", "获评中国气候宜居城市"),
        # LaTeX-like artefacts
        ("力争PM_{2.5}平均浓度降至40微克/立方米以下", "力争PM2.5平均浓度降至40微克/立方米以下"),
        ("CO_{2}排放", "CO2排放"),
        ("每立方米m^{3}", "每立方米m3"),
    ],
    ids=[
        "nfkc-fullwidth-latin",
        "nfkc-fullwidth-digits",
        "nfkc-fullwidth-plus",
        "t2s-words",
        "t2s-meeting",
        "t2s-xiangwang",
        "spaces-letter-spaced",
        "spaces-before-number",
        "spaces-letter-spaced-2",
        "spaces-around-number",
        "spaces-before-latin",
        "spaces-latin-inside-chinese",
        "latin-words-kept",
        "latin-words-collapsed",
        "md-h2",
        "md-h3",
        "md-h1",
        "md-bold",
        "md-bullet",
        "latex-pm25",
        "latex-co2",
        "latex-superscript",
    ],
)
def test_normalize_small_texts(raw: str, expected: str) -> None:
    got = norm(raw)
    assert got == expected, f"normalize({raw!r}).text should be {expected!r}, got {got!r}"


def test_normalize_keeps_the_original_string_and_maps_every_character_back() -> None:
    raw = "脫貧人 口 人 均 純 收 入 達 15869 元，**增長**PM_{2.5}"
    before = str(raw)
    n = normalize(raw)
    assert raw == before, "normalize must not modify its input"
    assert n.text == "脱贫人口人均纯收入达15869元,增长PM2.5", f"unexpected search text {n.text!r}"
    assert len(n.offsets) == len(n.text), "one original offset per normalised character"
    assert n.offsets == sorted(n.offsets), "offsets must follow the original order"
    # each search-text character comes from the original character it points at
    for ch, off in zip(n.text, n.offsets):
        assert derived_from(ch, raw[off]), f"{ch!r} mapped to original {raw[off]!r} at {off}"
    # a span of the search text maps back to the original (Traditional, letter-spaced) text
    i = n.text.index("人口人均纯收入达15869元")
    s, e = n.source_span(i, i + len("人口人均纯收入达15869元"))
    assert raw[s:e] == "人 口 人 均 純 收 入 達 15869 元", f"source_span gave {raw[s:e]!r}"


@pytest.mark.parametrize(
    "simplified",
    [
        "全市经济运行稳中向好，地区生产总值增长5%。",
        "人民群众对美好生活的向往，就是我们的奋斗目标。",
        "防范化解风险，协同推进减污降碳扩绿增长。",
        "干部群众勠力同心，里应外合，发展壮大新兴产业。",
        "着力推动高质量发展，着力加强科技创新。",
        "着力构建新型电力系统，着力纠治形式主义。",
    ],
    ids=["plain", "xiangwang", "fanhua", "gan-li", "zhuoli-1", "zhuoli-2"],
)
def test_traditional_copy_gives_the_same_search_text_small(simplified: str) -> None:
    """Issue: a Traditional copy (opencc s2tw of a Simplified text) yields the same search text."""
    traditional = to_traditional(simplified)
    assert traditional != simplified or simplified.isascii(), "the test text should change under s2tw"
    a, b = norm(simplified), norm(traditional)
    assert a == b, (
        f"norm(s2tw(x)) != norm(x) for x={simplified!r}: s2tw gave {traditional!r}, "
        f"search texts differ at {first_diffs(a, b)}"
    )


@pytest.mark.parametrize("key", ["000", "002", "003", "004"])
def test_traditional_copy_gives_the_same_search_text_seeds(key: str) -> None:
    text = seed_text(key)
    a, b = norm(text), norm(to_traditional(text))
    assert a == b, (
        f"seed {key}: the s2tw copy normalises differently from the Simplified original; "
        f"first differences (simplified, traditional): {first_diffs(a, b)}"
    )


@pytest.mark.parametrize("key", sorted(SEED))
def test_normalize_offsets_point_at_the_source_character_on_seeds(key: str) -> None:
    text = seed_text(key)
    n = normalize(text)
    assert len(n.offsets) == len(n.text)
    assert all(a <= b for a, b in zip(n.offsets, n.offsets[1:])), f"seed {key}: offsets go backwards"
    bad = []
    for ch, off in zip(n.text, n.offsets):
        if not (derived_from(ch, text[off]) or (ch == " " and text[off].isspace())):
            bad.append((ch, text[max(0, off - 3) : off + 3]))
    assert not bad, f"seed {key}: search characters not derived from the original at their offset: {bad[:5]}"
    assert "\n" not in n.text and "  " not in n.text, f"seed {key}: whitespace survived normalisation"


def test_letter_spaced_line_in_seed_003_normalises() -> None:
    text = seed_text("003")
    raw = "人 口 人 均 纯 收 入 达 15869 元"
    assert raw in text, "fixture drift: the letter-spaced line is no longer in seed 003"
    n = normalize(text)
    target = "人口人均纯收入达15869元"
    assert target in n.text, f"{target!r} not found in the normalised text of seed 003"
    i = n.text.index(target)
    s, e = n.source_span(i, i + len(target))
    assert text[s:e] == raw, f"source_span must give back the original letter-spaced text, got {text[s:e]!r}"


def test_simplified_query_maps_to_the_traditional_original_in_seed_001() -> None:
    text = seed_text("001")
    n = normalize(text)
    target = "脱贫人口人均纯收入达15869元"
    assert target in n.text, "the Traditional report 001 should be searchable in Simplified"
    i = n.text.index(target)
    s, e = n.source_span(i, i + len(target))
    assert text[s:e] == "脫貧人口人均純收入達15869元", f"quoted original should be in its own script, got {text[s:e]!r}"


def test_latex_artefact_in_seed_002() -> None:
    text = seed_text("002")
    assert "PM_{2.5}" in text, "fixture drift: PM_{2.5} is no longer in seed 002"
    n = norm(text)
    assert "力争PM2.5平均浓度降至40微克" in n and "PM_{" not in n and "{2.5}" not in n


def test_markdown_markup_stripped_from_seed_004() -> None:
    n = norm(seed_text("004"))
    assert "**" not in n, "bold markers must not reach the search text"
    assert "#" not in n, "markdown heading marks must not reach the search text"
    assert "社会保障更加有力。完成全县城乡居民养老保险" in n


# --- page markers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, marker, direction, page",
    [
        ("（上接第1版）一年来，我们全力以赴。", "（上接第1版）", "from", "1"),
        ("(上接第二版)\n大力推动科技创新。", "(上接第二版)", "from", "二"),
        ("(上接第一版)人民群众的获得感进一步增强。", "(上接第一版)", "from", "一"),
        ("不折不扣抓好问题整改。 （下转第3版）\n", "（下转第3版）", "to", "3"),
        ("运用“啄木鸟”工作机制, (下转第三版)", "(下转第三版)", "to", "三"),
        ("持续巩固拓展（下转第2版）脱贫攻坚成果。", "（下转第2版）", "to", "2"),
        ("加快构建（转第4版）", "（转第4版）", "to", "4"),
    ],
    ids=[
        "from-start-of-paragraph",
        "from-own-line",
        "from-halfwidth-start",
        "to-end-of-paragraph",
        "to-halfwidth-end",
        "to-mid-paragraph",
        "to-short-form",
    ],
)
def test_find_markers_small_texts(text: str, marker: str, direction: str, page: str) -> None:
    found = find_markers(text)
    assert [m.text for m in found] == [marker], f"find_markers({text!r}) should find exactly {marker!r}, got {found}"
    m = found[0]
    assert text[m.start : m.end] == marker, "marker offsets must point at the marker in the original"
    assert m.direction == direction, f"{marker}: direction should be {direction!r}, got {m.direction!r}"
    assert m.page == page, f"{marker}: page should be {page!r}, got {m.page!r}"


def test_find_markers_ignores_ordinary_brackets() -> None:
    text = "开展四次“三个一批”活动（试行）。黄河国家文化公园(忻州段)建设。中国（山西）自由贸易试验区。第3版"
    assert find_markers(text) == [], "ordinary parentheses are not page markers"


@pytest.mark.parametrize(
    "key, expected",
    [
        ("000", ["(上接第二版)"]),
        ("001", []),
        ("002", ["（上接第3版）"]),
        ("003", ["（上接第1版）", "（下转第3版）"]),
        ("004", ["(上接第一版)", "(下转第三版)"]),
    ],
)
def test_find_markers_on_seeds(key: str, expected: list[str]) -> None:
    text = seed_text(key)
    for m in expected:
        assert m in text, f"fixture drift: {m} not in seed {key}"
    got = [m.text for m in find_markers(text)]
    assert got == expected, f"seed {key}: markers should be {expected}, got {got}"


# --- mojibake -------------------------------------------------------------------------------------
def garble(s: str) -> str:
    """GBK bytes read one byte out of step (how the headings of seed 001 were damaged)."""
    return (b"\xa1" + s.encode("gbk")).decode("gbk", errors="replace")


@pytest.mark.parametrize(
    "line",
    [
        "。ㄒ唬┮阅茉锤锩C合改革為牽引,全力構建現代化產業體系",  # verbatim from seed 001
        garble("（一）以能源革命综合改革为牵引，全力构建现代化产业体系"),
        garble("（三）以科技创新引领为抓手，全力提升创新驱动效能"),
    ],
    ids=["seed-001-line", "generated-1", "generated-3"],
)
def test_find_garbled_flags_a_damaged_heading_start(line: str) -> None:
    runs = find_garbled(line)
    assert runs, f"no garbled run found in {line!r}"
    assert runs[0].start == 0, f"the damage starts the line; first run is {runs[0]}"
    assert line[runs[0].start : runs[0].end] == runs[0].text


@pytest.mark.parametrize(
    "text",
    [
        "全市经济运行稳中向好，地区生产总值增长5%，规上工业增加值增长4%。",
        "开工怀仁王家堡至山阴薛圐圙段公路改扩建、省道宁应线铺龙湾至陈家堡段改建工程。",
        "建成省级乡村e镇4个，跨境电商B2B直接出口业务落地，推进中煤平朔600MW离网制氢项目。",
    ],
    ids=["figures", "rare-place-names", "latin-inside-chinese"],
)
def test_find_garbled_leaves_clean_text_alone(text: str) -> None:
    assert find_garbled(text) == [], f"clean text flagged as garbled: {find_garbled(text)}"


@pytest.mark.parametrize("key", ["000", "002", "003", "004"])
def test_no_garbled_runs_in_clean_seeds(key: str) -> None:
    runs = find_garbled(seed_text(key))
    assert runs == [], f"seed {key} is clean, but find_garbled reports {[r.text for r in runs][:10]}"


def test_garbled_runs_found_in_seed_001() -> None:
    text = seed_text("001")
    runs = find_garbled(text)
    found = {r.text for r in runs}
    for damaged in ("萜笳呷媛鋵崱", "缇畴娚藼", "。ㄒ唬┮"):
        assert any(damaged in r or r in damaged for r in found), (
            f"{damaged!r} should be inside a garbled run; runs: {sorted(found)}"
        )
    for r in runs:
        assert text[r.start : r.end] == r.text


def test_invisible_characters_inside_figures_and_words_leave_the_search_text():
    """Zero-width characters, a BOM, a soft hyphen, direction overrides and control characters
    inside numbers and words (tests/hostile_docs.py); full-width digits mixed with ASCII."""
    import hostile_docs as h

    text = h.invisible_report()
    n = normalize(text)
    for figure in ("增长5.2%", "86.4亿元", "2023年工作回顾", "城镇老旧小区128个"):
        assert figure in n.text, figure
        s, e = n.source_span(n.text.index(figure), n.text.index(figure) + len(figure))
        # the span maps back to the original, invisible characters and all
        assert normalize(text[s:e]).text == figure
        assert len(text[s:e]) > len(figure) or figure == "2023年工作回顾"
    assert not any(unicodedata.category(c) in ("Cf", "Cc") and c != "\n" for c in n.text)
    assert normalize("乙县\u200b\u200b").text == "乙县" and normalize("\u202e").text == ""
