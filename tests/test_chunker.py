"""Chunking on small texts written here (plus re-wrapped copies of a real seed).

Contract (ingestion issue): paragraphs are rebuilt when broken across lines (also across blank
lines in mid-sentence and in narrow newspaper columns of 15–18 characters where blank lines mean
nothing); page markers are removed wherever they sit, kept as metadata, and text is never joined
across a page cut; every heading style is detected (markdown, 一、, （一）/(一) also wrapped over
2–3 lines, inline, **bold** lead-ins, two-phrase titles, news headlines, box titles), false headings
such as 「（市、区）」 after a wrap are rejected and mojibake headings are still recognised; chunks are
paragraph-level with stable ids, original offsets and breadcrumbs, split at sentence ends only;
duplicates are collapsed keeping every location; nothing is lost and nothing invented.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path

import pytest

from rag.chunk.clean import compact, normalize
from rag.chunk.document import Document
from rag.ingest import ingest_paths
from rag.read.chars import ends_sentence
from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = Path(os.environ.get("RAG_SEEDS_DIR", str(REPO_ROOT / "seeds")))
SEED_001 = SEEDS_DIR / "001_cdd563ffef68d5a8.txt"

SENTENCE_END_RE = re.compile(r"[。！？!?][”’」』）)]*$")


# --- helpers --------------------------------------------------------------------------------------
def build(tmp_path: Path, text: str, name: str = "report.txt", **settings) -> Document:
    """Write `text` to a file and ingest it (reading, cutting, duplicates, twins) like the CLI does."""
    folder = tmp_path / f"in_{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / name
    path.write_text(text, encoding="utf-8")
    docs = ingest_paths([path], Settings(**settings), progress=False)
    assert len(docs) == 1, f"expected one document from {name}, got {len(docs)}"
    return docs[0]


def walk(nodes: list[dict], depth: int = 0):
    for n in nodes:
        yield depth, n
        yield from walk(n["children"], depth + 1)


def section_titles(doc: Document) -> list[str]:
    return [n.get("clean_title") or n["title"] for tree in doc.sections for _, n in walk(tree["children"])]


def section_outline(doc: Document) -> list[tuple[int, int, str]]:
    """(article, depth, compact title) for every section, in document order."""
    return [
        (tree["article"], d, compact(n.get("clean_title") or n["title"]))
        for tree in doc.sections
        for d, n in walk(tree["children"])
    ]


def paragraphs(doc: Document) -> list[tuple[int, tuple[str, ...], str]]:
    """Body and list paragraphs (split parts joined): (article, compact section path, compact text)."""
    out: OrderedDict = OrderedDict()
    for c in doc.chunks:
        if c.kind not in ("body", "bullet"):
            continue
        key = (c.article, c.section_path, c.paragraph)
        if key not in out:
            out[key] = [c.article, tuple(compact(s) for s in c.section), ""]
        out[key][2] += compact(c.text)
    return [tuple(v) for v in out.values()]


def paragraph_diff(expected: list, got: list) -> str:
    """A readable account of how two paragraph lists differ (for assertion messages)."""
    exp = [p[2] if isinstance(p, tuple) else p for p in expected]
    out = [p[2] if isinstance(p, tuple) else p for p in got]
    lost = [p[:28] for p in exp if p not in out]
    new = [p[:28] for p in out if p not in exp]
    moved = [
        (a[2][:20], a[1], b[1])
        for a, b in zip(expected, got)
        if isinstance(a, tuple) and isinstance(b, tuple) and a[2] == b[2] and a[1] != b[1]
    ]
    return (
        f"{len(exp)} paragraphs expected, {len(out)} found; missing or changed: {lost}; "
        f"unexpected: {new}; under another section: {moved[:3]}"
    )


def chunks_with(doc: Document, needle: str) -> list:
    """Chunks whose (compact, normalised) text contains `needle` (compared in compact form)."""
    key = compact(needle)
    return [c for c in doc.chunks if key in compact(c.text)]


def the_chunk(doc: Document, needle: str):
    found = chunks_with(doc, needle)
    assert len(found) == 1, f"expected exactly one chunk containing {needle!r}, got {[c.id for c in found]}"
    return found[0]


def assert_nothing_lost(doc: Document, text: str) -> None:
    """Every non-whitespace character is in exactly one chunk's spans, or in a page marker, or in a
    collapsed duplicate's location; chunk spans never overlap; chunk text is the original at its spans
    (a list may use a newline where the original has another whitespace between its lines)."""
    owner: dict[int, str] = {}
    for c in doc.chunks:
        joined = "".join(text[s:e] for s, e in c.spans)
        same = (
            c.text == joined
            or c.text.replace("\n", "") == joined
            or (
                len(c.text) == len(joined)
                and all(a == b or (a == "\n" and b.isspace()) for a, b in zip(c.text, joined))
            )
        )
        assert same, f"{c.id}: text {c.text[:60]!r} is not the original at its spans {joined[:60]!r}"
        assert c.spans and c.start == c.spans[0][0] and c.end == c.spans[-1][1], (
            f"{c.id}: start/end disagree with spans"
        )
        for s, e in c.spans:
            assert 0 <= s < e <= len(text), f"{c.id}: span {(s, e)} outside the text"
            for i in range(s, e):
                assert i not in owner, f"character {i} {text[i]!r} is in two chunks: {owner[i]} and {c.id}"
                owner[i] = c.id
    markers = {i for m in doc.markers for i in range(m["start"], m["end"])}
    dups = {i for c in doc.chunks for loc in c.locations[1:] for i in range(loc["start"], loc["end"])}
    # markdown marks (「## 」, the 「**」 of a bold lead-in) are structure, read by the chunker, not text
    marks = {i for m in re.finditer(r"(?m)^#{1,6}[ \t]|\*\*", text) for i in range(m.start(), m.end())}
    lost = [
        i
        for i, ch in enumerate(text)
        if not ch.isspace() and i not in owner and i not in markers and i not in dups and i not in marks
    ]
    if lost:
        runs, start = [], lost[0]
        for a, b in zip(lost, lost[1:] + [None]):
            if b != a + 1:
                runs.append(text[start : a + 1])
                start = b
        pytest.fail(f"{len(lost)} characters are in no chunk, marker or duplicate location: {runs[:5]}")


def garble(s: str) -> str:
    """GBK bytes read one byte out of step (how the headings of seed 001 were damaged)."""
    return (b"\xa1" + s.encode("gbk")).decode("gbk", errors="replace")


def rewrap(text: str, width: int = 16) -> str:
    """Re-set a one-paragraph-per-line report as a narrow newspaper column: lines of `width`
    characters, a blank line between paragraphs and stray blank lines inside long paragraphs
    (never right after a sentence end, where a blank would honestly end the paragraph)."""
    out: list[str] = []
    n = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        pieces = [line[i : i + width] for i in range(0, len(line), width)]
        for k, piece in enumerate(pieces):
            out.append(piece)
            n += 1
            if len(line) > 64 and k < len(pieces) - 1 and n % 3 == 0 and not ends_sentence(piece, "：:；;"):
                out.append("")
        out.append("")
    return "\n".join(out)


# --- texts ----------------------------------------------------------------------------------------
P_REVIEW_1 = (
    "一年来，我们全力以赴稳增长、促发展，经济回升态势加快巩固。全年生产原煤2.33亿吨，增长7.2%，"
    "产量排名全省第一。发电量679.9亿千瓦时，增长7.6%，有力支撑了全市经济稳定增长。"
)
P_REVIEW_2 = (
    "一年来，我们全力以赴补短板、提品质，城乡融合发展加快推进。建成长城一号旅游公路127公里、"
    "“四好农村路”193公里。改造老旧小区34个，改造雨污合流管网70公里。"
)
P_TARGETS = (
    "今年经济社会发展主要预期目标是：地区生产总值增长5%以上，在实际工作中尽可能争取更好结果；"
    "固定资产投资增长10.5%以上，社会消费品零售总额增长5.5%以上，一般公共预算收入增长3%以上，"
    "城镇居民人均可支配收入增速与经济增长基本同步。"
)
P_ENERGY = (
    "改造提升能源产业。因地制宜推广绿色开采技术，建成13座智能化煤矿，年产120万吨及以上煤矿"
    "实现智能化全覆盖，不断提高煤炭先进产能占比。推动煤炭清洁高效利用。"
)
P_INDUSTRY = (
    "发展壮大新兴产业。加快推进新型工业化和制造业振兴升级，梯度培育“链主＋链核＋专精特新”企业，"
    "发展壮大低碳硅芯、新材料、高端陶瓷等产业，形成集链成群、聚群成势规模效应。"
)
P_INVEST = (
    "扩大有效益的投资。全年计划实施项目1193个，年度计划投资837.48亿元，是上年全市固定资产投资"
    "总额的2倍以上；其中产业项目519个，年度计划投资473.37亿元。"
)
P_COUNTY = (
    "进一步做大做强县域经济。支持各县（市、区）立足资源禀赋、区位条件、产业基础，充分发挥比较优势，"
    "培育壮大特色优势主导产业，全面增强县域经济综合实力。"
)
P_ECO = (
    "持续改善环境质量。落实国家空气质量持续改善行动计划，实施秋冬季大气污染综合治理，"
    "强化多污染物协同控制和区域污染协同治理，深化工业企业颗粒物无组织排放治理。"
)
P_CLOSE = "各位代表，人不负青山，青山定不负人。我们一定要深入践行“两山”理念，让大地更加美丽宜居！"

PLAIN_REPORT = (
    "\n".join(
        [
            "各位代表：",
            "现在，我代表市人民政府向大会报告工作，请予审议，并请市政协委员和其他列席人员提出意见。",
            "一、2023年工作回顾",
            P_REVIEW_1,
            P_REVIEW_2,
            "二、2024年重点工作",
            P_TARGETS,
            "（一）以能源革命综合改革为牵引，全力构建现代化产业体系",
            P_ENERGY,
            P_INDUSTRY,
            "（二）以供需两端发力为支撑，全力巩固增强经济回升向好态势",
            P_INVEST,
            P_COUNTY,
            "（三）以协同推进减污降碳扩绿增长为导向，全力打造高质量发展生态优势",
            P_ECO,
            P_CLOSE,
        ]
    )
    + "\n"
)

EXPECTED_SECTIONS = [
    "一、2023年工作回顾",
    "二、2024年重点工作",
    "（一）以能源革命综合改革为牵引，全力构建现代化产业体系",
    "（二）以供需两端发力为支撑，全力巩固增强经济回升向好态势",
    "（三）以协同推进减污降碳扩绿增长为导向，全力打造高质量发展生态优势",
]


# --- paragraphs -----------------------------------------------------------------------------------
def test_one_line_per_paragraph_report(tmp_path: Path) -> None:
    doc = build(tmp_path, PLAIN_REPORT)
    assert not doc.narrow, "a one-paragraph-per-line report is not a narrow column"
    assert [compact(t) for t in section_titles(doc)] == [compact(t) for t in EXPECTED_SECTIONS]
    texts = [p[2] for p in paragraphs(doc)]
    for para in (P_REVIEW_1, P_TARGETS, P_ENERGY, P_INDUSTRY, P_INVEST, P_COUNTY, P_ECO, P_CLOSE):
        assert compact(para) in texts, f"paragraph {para[:20]}… should be one paragraph of its own"
    assert_nothing_lost(doc, PLAIN_REPORT)


def test_blank_line_in_mid_sentence_is_joined(tmp_path: Path) -> None:
    text = (
        "一、总体要求\n\n全面推进乡村振兴，坚持农业农村优先发展，加快建设农业强市，持续巩固拓展脱贫攻坚成果\n\n"
        "同乡村振兴有效衔接，确保不发生规模性返贫。\n\n做强乡村特色产业。培育提升省级以上农业产业化龙头企业68个。\n"
    )
    doc = build(tmp_path, text)
    c = the_chunk(doc, "持续巩固拓展脱贫攻坚成果同乡村振兴有效衔接")
    assert "page-cut" not in c.flags
    assert compact("做强乡村特色产业") not in compact(c.text), (
        "a finished sentence followed by a new line ends the paragraph"
    )
    the_chunk(doc, "做强乡村特色产业。培育提升省级以上农业产业化龙头企业68个。")
    assert_nothing_lost(doc, text)


def test_line_break_in_mid_sentence_is_joined(tmp_path: Path) -> None:
    # as in seed 000: 「…落实免试就近入学全覆盖和“公民同\n\n招”政策,做好随迁子女就学工作。…」
    text = (
        "统筹兼顾发展教育事业。大力发展职业教育，推进产教融合、校企合作。落实免试就近入学全覆盖和“公民同\n"
        "招”政策，做好随迁子女就学工作。巩固拓展“双减”成果。\n"
        "全面提升保障救助水平。实施全民参保计划，健全多层次社会保障体系。\n"
    )
    doc = build(tmp_path, text)
    c = the_chunk(doc, "“公民同招”政策")
    assert "落实免试就近入学全覆盖和“公民同招”政策,做好随迁子女就学工作。" in c.search_text, c.search_text
    assert "全面提升保障救助水平" not in c.text, "a finished sentence followed by a new line ends the paragraph"
    assert_nothing_lost(doc, text)


def test_sentence_end_then_new_line_starts_a_new_paragraph(tmp_path: Path) -> None:
    text = f"{P_ENERGY}\n{P_INDUSTRY}\n{P_INVEST}\n"
    doc = build(tmp_path, text)
    assert [p[2] for p in paragraphs(doc)] == [compact(P_ENERGY), compact(P_INDUSTRY), compact(P_INVEST)]


# --- narrow newspaper columns ---------------------------------------------------------------------
def test_rewrapped_report_has_the_same_sections_and_paragraphs(tmp_path: Path) -> None:
    narrow_text = rewrap(PLAIN_REPORT, 16)
    assert max(len(x) for x in narrow_text.split("\n")) <= 16
    wide = build(tmp_path, PLAIN_REPORT, "wide.txt")
    narrow = build(tmp_path, narrow_text, "narrow.txt")
    assert narrow.narrow, "16-character lines should be detected as a narrow newspaper column"
    assert section_outline(narrow) == section_outline(wide), (
        f"sections differ:\n wide:   {section_titles(wide)}\n narrow: {section_titles(narrow)}"
    )
    pw, pn = paragraphs(wide), paragraphs(narrow)
    assert pn == pw, "paragraphs differ after re-wrapping: " + paragraph_diff(pw, pn)
    assert_nothing_lost(narrow, narrow_text)


@pytest.mark.parametrize("width", [15, 17, 18])
def test_rewrapped_report_other_column_widths(tmp_path: Path, width: int) -> None:
    narrow_text = rewrap(PLAIN_REPORT, width)
    wide = build(tmp_path, PLAIN_REPORT, "wide.txt")
    narrow = build(tmp_path, narrow_text, f"narrow{width}.txt")
    assert narrow.narrow, f"{width}-character lines should be detected as a narrow column"
    assert section_outline(narrow) == section_outline(wide), f"width {width}: sections differ: {section_titles(narrow)}"
    pw, pn = paragraphs(wide), paragraphs(narrow)
    assert pn == pw, f"width {width}: paragraphs differ: " + paragraph_diff(pw, pn)


def _seed_001_wide_and_narrow(tmp_path: Path) -> tuple[Document, Document, str]:
    """The issue's example on a real report: seed 001 (one paragraph per line, Traditional, with
    mojibake) re-set as 16-character lines with stray blank lines, the way seed 003 is printed.
    The subtitle and speaker lines stay as they are; everything from 「各位代表」 on is re-wrapped."""
    lines = SEED_001.read_text(encoding="utf-8-sig").split("\n")
    narrow_text = "\n".join(lines[:2]) + "\n" + rewrap("\n".join(lines[2:]), 16)
    wide = build(tmp_path, "\n".join(lines), "wide.txt")
    narrow = build(tmp_path, narrow_text, "narrow.txt")
    assert narrow.narrow, "seed 001 re-set in 16-character lines should be detected as a narrow column"
    return wide, narrow, narrow_text


def test_rewrapped_seed_001_has_the_same_sections(tmp_path: Path) -> None:
    wide, narrow, _ = _seed_001_wide_and_narrow(tmp_path)
    sw, sn = section_titles(wide), section_titles(narrow)
    assert [compact(t) for t in sn] == [compact(t) for t in sw], (
        "sections differ after re-wrapping seed 001; lost:\n"
        + "\n".join(f"  - {t}" for t in sw if t not in sn)
        + "\n  new:\n"
        + "\n".join(f"  + {t}" for t in sn if t not in sw)
    )
    assert section_outline(narrow) == section_outline(wide), "same titles but a different nesting"


def test_rewrapped_seed_001_has_the_same_paragraphs(tmp_path: Path) -> None:
    wide, narrow, narrow_text = _seed_001_wide_and_narrow(tmp_path)
    pw, pn = [p[2] for p in paragraphs(wide)], [p[2] for p in paragraphs(narrow)]
    assert pn == pw, "paragraphs differ after re-wrapping seed 001: " + paragraph_diff(pw, pn)
    assert_nothing_lost(narrow, narrow_text)


def test_rewrapped_report_with_a_mojibake_heading(tmp_path: Path) -> None:
    heading = "（一）以能源革命综合改革为牵引，全力构建现代化产业体系"
    damaged = PLAIN_REPORT.replace(heading, garble(heading))
    assert damaged != PLAIN_REPORT
    wide = build(tmp_path, damaged, "wide.txt")
    narrow = build(tmp_path, rewrap(damaged, 16), "narrow.txt")
    assert narrow.narrow
    kids_w = [(n["style"], n["number"]) for _, n in walk(wide.sections[0]["children"])]
    kids_n = [(n["style"], n["number"]) for _, n in walk(narrow.sections[0]["children"])]
    assert kids_w == [("cn", 1), ("cn", 2), ("paren", 1), ("paren", 2), ("paren", 3)], kids_w
    assert kids_n == kids_w, (
        f"a damaged heading wrapped over two narrow lines is not recognised: {section_titles(narrow)}"
    )
    pw, pn = paragraphs(wide), paragraphs(narrow)
    assert pn == pw, "paragraphs differ: " + paragraph_diff(pw, pn)


def test_narrow_line_starting_with_a_dash_is_not_a_subtitle(tmp_path: Path) -> None:
    # a figure range 「10—20个」 cut after 「10」: the next line starts with the dash
    tail = (
        "推进乡村全面振兴。支持古城乳业创新发展，建设肉羊产业追溯系统，新建改造肉羊标准化养殖场10\n"
        "—20个。学习践行“千万工程”经\n验，实施农村人居环境整治提升行动。\n"
    )
    text = rewrap(PLAIN_REPORT, 16) + "\n" + tail
    doc = build(tmp_path, text)
    assert doc.narrow
    c = the_chunk(doc, "新建改造肉羊标准化养殖场10—20个")
    assert c.kind == "body", f"the dash line became a {c.kind}"
    assert compact("学习践行千万工程经验实施农村人居环境整治提升行动") in compact(c.text), c.text
    assert not [x.id for x in doc.chunks if x.kind == "title" and "20个" in x.text], "「—20个…」 is not a subtitle"


def test_narrow_heading_wrapped_over_three_lines(tmp_path: Path) -> None:
    narrow_text = rewrap(PLAIN_REPORT, 16)
    heading = "（三）以协同推进减污降碳扩绿增长为导向，全力打造高质量发展生态优势"
    wrapped = [heading[i : i + 16] for i in range(0, len(heading), 16)]
    assert len(wrapped) == 3 and "\n".join(wrapped) in narrow_text, "fixture: the heading should wrap over 3 lines"
    doc = build(tmp_path, narrow_text)
    assert heading in section_titles(doc), f"wrapped heading not recognised; sections: {section_titles(doc)}"
    c = the_chunk(doc, P_ECO)
    assert c.section[-1] == heading, f"{P_ECO[:10]}… should sit under {heading}, got {c.section}"


def test_narrow_wrap_does_not_make_a_false_heading(tmp_path: Path) -> None:
    narrow_text = rewrap(PLAIN_REPORT, 16)
    assert re.search(r"支持各县\n+（市、区）立足", narrow_text), (
        "fixture: 「（市、区）」 must start a line after the wrap"
    )
    doc = build(tmp_path, narrow_text)
    titles = section_titles(doc)
    assert not any(t.startswith(("（市", "(市")) for t in titles), f"「（市、区）…」 became a heading: {titles}"
    c = the_chunk(doc, "支持各县（市、区）立足资源禀赋")
    assert c.section[-1] == "（二）以供需两端发力为支撑，全力巩固增强经济回升向好态势", c.section
    assert compact(P_COUNTY) == compact(c.text), "the county paragraph should be one whole chunk"


def test_wide_text_does_not_make_a_false_heading_after_a_line_break(tmp_path: Path) -> None:
    text = (
        "（一）做大做强县域经济\n\n进一步做大做强县域经济。支持各县\n（市、区）立足资源禀赋、区位条件、产业基础，"
        "充分发挥比较优势，培育壮大特色优势主导产业。\n"
    )
    doc = build(tmp_path, text)
    assert section_titles(doc) == ["（一）做大做强县域经济"], section_titles(doc)
    the_chunk(doc, "支持各县（市、区）立足资源禀赋")


def test_narrow_short_line_ending_a_sentence_ends_the_paragraph(tmp_path: Path) -> None:
    # as in seed 003: 「…完成煤电机组\n\n“三改联动”80万千瓦。\n发展壮大新兴产业。加快推进新\n\n型工业化…」
    body = rewrap(PLAIN_REPORT, 16).rstrip("\n")
    tail = (
        "新能源装机825万千瓦。完成煤电机组\n\n“三改联动”80万千瓦。\n打造低碳硅芯全产业链。推进三一集\n\n"
        "团单晶硅拉晶、硅片、光伏电池、光伏\n组件、支架等项目建设，加快垂直一体\n\n化光伏全产业链项目建设。\n"
    )
    text = body + "\n\n" + tail
    doc = build(tmp_path, text)
    assert doc.narrow
    a = the_chunk(doc, "完成煤电机组“三改联动”80万千瓦。")
    b = the_chunk(doc, "打造低碳硅芯全产业链。推进三一集团单晶硅拉晶")
    assert a.id != b.id, "「“三改联动”80万千瓦。」 is a short line ending a sentence: the paragraph ends there"
    assert (
        "打造低碳硅芯全产业链。推进三一集团单晶硅拉晶、硅片、光伏电池、光伏组件、支架等项目建设,加快垂直一体化光伏全产业链项目建设。"
        == b.search_text
    ), b.search_text


def test_figure_wrapped_from_its_unit_is_rejoined_in_narrow_text(tmp_path: Path) -> None:
    text = (
        rewrap(PLAIN_REPORT, 16)
        + "\n今年计划新开工项目 2468\n个，年度计划投资 951.36亿元，是 2023\n年全市新开工项目投资额的 3倍以上。\n"
    )
    doc = build(tmp_path, text)
    c = the_chunk(doc, "今年计划新开工项目2468个")
    assert c.search_text == "今年计划新开工项目2468个,年度计划投资951.36亿元,是2023年全市新开工项目投资额的3倍以上。", (
        c.search_text
    )


# --- page markers ---------------------------------------------------------------------------------
PAGE_1 = "全面推进乡村振兴，坚持农业农村优先发展，加快建设农业强市，持续巩固拓展脱贫攻坚成果"
PAGE_2 = "同乡村振兴有效衔接，确保不发生规模性返贫，牢牢守住不发生规模性返贫底线。"


@pytest.mark.parametrize(
    "layout, marker",
    [
        ("{a}\n\n{m}\n\n{b}", "（上接第1版）"),
        ("{a}\n{m}\n{b}", "(上接第二版)"),
        ("{a}{m}\n\n{b}", "（下转第3版）"),
        ("{a} {m}\n{b}", "(下转第三版)"),
        ("{a}\n\n{m}{b}", "（上接第1版）"),
        ("{a}{m}{b}", "（下转第2版）"),
    ],
    ids=[
        "own-line-blank",
        "own-line",
        "end-of-paragraph",
        "end-of-paragraph-halfwidth",
        "start-of-paragraph",
        "mid-line",
    ],
)
def test_marker_is_removed_kept_as_metadata_and_never_joins_pages(tmp_path: Path, layout: str, marker: str) -> None:
    text = "一、总体要求\n\n" + layout.format(a=PAGE_1, b=PAGE_2, m=marker) + "\n\n这是另一段，内容完整。\n"
    doc = build(tmp_path, text)
    assert [m["text"] for m in doc.markers] == [marker], (
        f"marker {marker} should be kept as metadata, got {doc.markers}"
    )
    m = doc.markers[0]
    assert text[m["start"] : m["end"]] == marker
    with_marker = [c.id for c in doc.chunks if compact(marker) in compact(c.text) or "版" in c.text]
    assert not with_marker, f"the marker {marker} must be removed from chunk text, found in {with_marker}"
    a, b = compact(PAGE_1), compact(PAGE_2)
    for c in doc.chunks:
        t = compact(c.text)
        assert not (a[-6:] in t and b[:6] in t), f"{c.id} joins the two pages across {marker}: {c.text!r}"
    assert chunks_with(doc, PAGE_1) and chunks_with(doc, PAGE_2), "both page halves must still be in chunks"
    assert_nothing_lost(doc, text)


def test_markers_in_a_narrow_column_are_removed(tmp_path: Path) -> None:
    text = " （上接第1版）\n" + rewrap(PLAIN_REPORT, 16).rstrip("\n") + " （下转第3版）\n "
    doc = build(tmp_path, text)
    assert [m["text"] for m in doc.markers] == ["（上接第1版）", "（下转第3版）"], doc.markers
    assert not [c.id for c in doc.chunks if "版）" in c.text], "markers must not stay in chunk text"
    last = the_chunk(doc, P_CLOSE)
    assert last.text.endswith("美丽宜居！"), f"the last paragraph should end before the marker: {last.text[-20:]!r}"


# --- headings -------------------------------------------------------------------------------------
MD_REPORT = f"""# 政府工作报告

## ——2024年2月20日在某某市第三届人民代表大会第二次会议上

各位代表：

## 一、2023年工作回顾

{P_REVIEW_1}

### （一）能源保供坚实有力

{P_REVIEW_2}

## 二、2024年重点工作

{P_TARGETS}

### (一)以能源革命综合改革为牵引，全力构建现代化产业体系

{P_ENERGY}

**发展壮大新兴产业。**加快推进新型工业化和制造业振兴升级，发展壮大低碳硅芯、新材料、高端陶瓷等产业。

**提升高端陶瓷产业能级。**聚焦陶瓷省级特色专业镇建设，加强陶瓷专业镇公共服务平台建设。

（二）坚持依法行政。深入践行法治思想，推动重点领域立法，推进法律法规有效实施，确保政府各项工作在法治轨道上运行。
"""


def test_markdown_numbered_and_inline_headings(tmp_path: Path) -> None:
    doc = build(tmp_path, MD_REPORT)
    titles = section_titles(doc)
    for expected in (
        "一、2023年工作回顾",
        "（一）能源保供坚实有力",
        "二、2024年重点工作",
        "(一)以能源革命综合改革为牵引，全力构建现代化产业体系",
        "发展壮大新兴产业",
        "提升高端陶瓷产业能级",
        "（二）坚持依法行政",
    ):
        assert expected in titles, f"heading {expected!r} not detected; sections: {titles}"
    assert doc.articles[0]["title"] == "政府工作报告"
    assert doc.meta.date == "2024-02-20" and doc.meta.meeting == "某某市第三届人民代表大会第二次会议", doc.meta
    assert doc.meta.place == "某某市", doc.meta

    def path_of(needle: str) -> list[str]:
        return the_chunk(doc, needle).section

    assert path_of(P_REVIEW_1) == ["一、2023年工作回顾"]
    assert path_of(P_REVIEW_2) == ["一、2023年工作回顾", "（一）能源保供坚实有力"]
    assert path_of(P_TARGETS) == ["二、2024年重点工作"]
    assert path_of(P_ENERGY) == ["二、2024年重点工作", "(一)以能源革命综合改革为牵引，全力构建现代化产业体系"]
    assert path_of("加快推进新型工业化和制造业振兴升级")[-1] == "发展壮大新兴产业"
    assert path_of("加快推进新型工业化和制造业振兴升级")[:2] == path_of(P_ENERGY)
    assert path_of("加强陶瓷专业镇公共服务平台建设")[-1] == "提升高端陶瓷产业能级"
    inline = path_of("深入践行法治思想")
    assert inline == ["二、2024年重点工作", "（二）坚持依法行政"], f"inline heading opens its own section: {inline}"
    # the marks are structure: no chunk shows them, and a lead-in chunk maps back around them
    assert not [c.id for c in doc.chunks if "**" in c.text or c.text.startswith("#")]
    lead = the_chunk(doc, "加快推进新型工业化和制造业振兴升级")
    assert lead.text.startswith("发展壮大新兴产业。加快推进"), lead.text
    assert "".join(MD_REPORT[s:e] for s, e in lead.spans) == lead.text
    assert MD_REPORT[lead.start : lead.start + 2] == "发展" and MD_REPORT[lead.start - 2 : lead.start] == "**"
    assert [c.text for c in doc.chunks if c.kind == "heading" and "重点工作" in c.text] == ["二、2024年重点工作"]
    crumb = the_chunk(doc, P_ENERGY).breadcrumb
    assert (
        crumb
        == "某某市 · 2024年政府工作报告 › 二、2024年重点工作 › (一)以能源革命综合改革为牵引，全力构建现代化产业体系"
    ), crumb
    assert_nothing_lost(doc, MD_REPORT)


def test_short_two_phrase_title_lines(tmp_path: Path) -> None:
    text = (
        f"2024年政府工作报告（摘要）\n\n{P_ENERGY}\n\n大力改善生态环境 厚植高质量发展绿色本底\n\n{P_ECO}\n\n"
        f"不断深化改革开放 激发高质量发展动力活力\n\n{P_INVEST}\n"
    )
    doc = build(tmp_path, text)
    assert section_titles(doc) == [
        "大力改善生态环境 厚植高质量发展绿色本底",
        "不断深化改革开放 激发高质量发展动力活力",
    ], section_titles(doc)
    assert the_chunk(doc, P_ECO).section == ["大力改善生态环境 厚植高质量发展绿色本底"]
    assert the_chunk(doc, P_INVEST).section == ["不断深化改革开放 激发高质量发展动力活力"]
    assert doc.articles[0]["kind"].startswith("政府工作报告") and "摘要" in doc.articles[0]["kind"], doc.articles


def test_news_headline_and_box_title_open_articles(tmp_path: Path) -> None:
    text = (
        f"2024年政府工作报告（摘要）\n\n{P_ENERGY}\n\n{P_INDUSTRY}\n\n"
        "今年全力办好10件民生实事\n\n本报讯 2月27日，记者从市十五届人大四次会议上获悉，市政府今年将再全力办好10件民生实事。\n\n"
        f"{P_COUNTY}\n\n（李俊华、陈嘉欣）\n\n"
        "2024 循光前行\n\n- 高标准建设国家“无废城市”\n- 推动晋祠泉早日实现稳定复流\n- 加快国家二手车出口试点城市建设\n"
    )
    doc = build(tmp_path, text)
    arts = {a["index"]: a for a in doc.articles}
    by_title = {a["title"]: a for a in doc.articles}
    assert "今年全力办好10件民生实事" in by_title, f"news headline should open an article: {doc.articles}"
    assert "2024 循光前行" in by_title, f"box title should open an article: {doc.articles}"
    assert by_title["今年全力办好10件民生实事"]["kind"] == "news"
    assert by_title["2024 循光前行"]["kind"] == "box"
    assert arts[the_chunk(doc, P_ENERGY).article]["title"] == "2024年政府工作报告（摘要）"
    assert arts[the_chunk(doc, "本报讯 2月27日").article]["title"] == "今年全力办好10件民生实事"
    assert arts[the_chunk(doc, P_COUNTY).article]["title"] == "今年全力办好10件民生实事"
    box = the_chunk(doc, "推动晋祠泉早日实现稳定复流")
    assert arts[box.article]["title"] == "2024 循光前行"
    assert box.kind == "bullet" and box.text.count("\n") == 2, f"the three bullets are one list chunk: {box.text!r}"
    assert_nothing_lost(doc, text)


def test_mojibake_headings_are_still_headings(tmp_path: Path) -> None:
    h1 = garble("（一）以能源革命综合改革为牵引，全力构建现代化产业体系")
    h2 = "。ǘ┮怨┬緝啥税l力為支撐,全力鞏固增強經濟回升向好態勢"  # verbatim from seed 001
    h3 = garble("（三）以科技创新引领为抓手，全力提升创新驱动效能")
    assert h1.startswith("。") and h3.startswith("。")
    text = f"二、2024年重点工作\n\n{P_TARGETS}\n\n{h1}\n\n{P_ENERGY}\n\n{h2}\n\n{P_INVEST}\n\n{h3}\n\n{P_ECO}\n"
    doc = build(tmp_path, text)
    top = doc.sections[0]["children"]
    assert [n["title"] for n in top] == ["二、2024年重点工作"], top
    kids = top[0]["children"]
    assert [(n["style"], n["number"]) for n in kids] == [("paren", 1), ("paren", 2), ("paren", 3)], (
        f"the damaged （一）（二）（三） should be numbered headings under 二、: {[(n['title'], n['number']) for n in kids]}"
    )
    assert all(n["garbled"] for n in kids), "each damaged heading is marked garbled"
    for needle, _h in ((P_ENERGY, h1), (P_INVEST, h2), (P_ECO, h3)):
        c = the_chunk(doc, needle)
        assert len(c.section) == 2 and c.section[0] == "二、2024年重点工作", f"{needle[:8]}… section {c.section}"
    heads = [c for c in doc.chunks if c.kind == "heading" and c.text in (h1, h2, h3)]
    assert len(heads) == 3, [c.text for c in doc.chunks if c.kind == "heading"]
    for c in heads:
        assert "garbled" in c.flags and c.garbled, f"{c.id}: the garbled run should be flagged on the chunk"
    assert_nothing_lost(doc, text)


def test_garbled_run_in_body_is_flagged_on_its_chunk(tmp_path: Path) -> None:
    damaged = "有力支撐了我市經濟穩定增長，彰顯了朔州保供政治擔當;萜笳呷媛鋵崱p稅降費、退稅緩費12億元。"
    text = f"一、2023年工作回顧\n\n{damaged}\n\n{P_REVIEW_2}\n"
    doc = build(tmp_path, text)
    c = the_chunk(doc, "彰顯了朔州保供政治擔當")
    assert "garbled" in c.flags, f"chunk with mojibake should carry the garbled flag: {c.flags}"
    assert any("萜笳呷" in g["text"] for g in c.garbled), c.garbled
    clean = the_chunk(doc, P_REVIEW_2)
    assert "garbled" not in clean.flags


# --- articles -------------------------------------------------------------------------------------
def test_two_articles_in_one_file(tmp_path: Path) -> None:
    text = (
        f"# 政府工作报告\n\n## ——2024年3月27日在某某市第五届人民代表大会第四次会议上\n\n"
        f"### （七）千方百计保障和改善民生\n\n{P_REVIEW_1}\n\n{P_INVEST}\n\n"
        "# 唱响新时代“劳动者之歌”\n\n## ——2023年全市工会工作综述\n\n"
        "### 思想领航 凝聚奋进力量\n\n市总工会把党的创新理论宣讲工作摆在突出位置，不断丰富教育载体，持续深化引导职工群众听党话、跟党走。\n\n"
        "### 服务大局 彰显责任担当\n\n全市工会大力开展行业性、区域性劳动竞赛，层层发动，参赛职工10万余人。\n"
    )
    doc = build(tmp_path, text)
    arts = {a["index"]: a for a in doc.articles}
    assert len(arts) == 2, doc.articles
    union = the_chunk(doc, "参赛职工10万余人")
    report = the_chunk(doc, P_INVEST)
    assert arts[report.article]["kind"] == "政府工作报告" and arts[report.article]["year"] == 2024, arts[report.article]
    assert arts[union.article]["kind"] == "综述" and arts[union.article]["year"] == 2023, arts[union.article]
    assert union.section == ["服务大局 彰显责任担当"], union.section
    assert report.section == ["（七）千方百计保障和改善民生"], report.section
    assert union.title != report.title and "劳动者之歌" in union.title


# --- chunks ---------------------------------------------------------------------------------------
LONG_PARA = (
    "持续打造交通强市。加快集大原高铁建设，力争年底通车，同步建成东综合客运枢纽。推进应县罗庄至东榆林段改扩建工程，"
    "开工王家堡至薛家堡段公路改扩建工程。建成长城一号旅游公路214.2公里、“四好农村路”183.5公里。"
    "加快推进应繁高速、元朔高速西影寺段改线工程前期工作，力争年内开工。做好至太原高速公路、国道241县城过境改线工程前期工作。"
    "今年经济社会发展主要预期指标是：地区生产总值增长5%左右；固定资产投资增长13%左右；社会消费品零售总额增长5.5%左右；"
    "一般公共预算收入增长3%左右；城镇居民人均可支配收入与经济增长基本同步，农村居民人均可支配收入增长8%以上；"
    "城镇新增就业人数3100人；居民消费价格指数控制在3%左右。实施城市更新行动。启动城市体检，改造老旧小区15个，"
    "改造5条道路雨污合流管网。推进城市生活垃圾分类。通过国家园林城市复查。"
)


def test_long_paragraph_is_split_at_sentence_ends_only(tmp_path: Path) -> None:
    text = f"一、重点工作\n\n{LONG_PARA}\n\n{P_CLOSE}\n"
    doc = build(tmp_path, text, chunk_target_chars=100)
    parts = [c for c in doc.chunks if c.kind == "body" and compact(c.text) in compact(LONG_PARA)]
    assert len(parts) >= 3, (
        f"a {len(LONG_PARA)}-character paragraph with target 100 should be split, got {len(parts)} part(s)"
    )
    assert "".join(c.text for c in parts) == LONG_PARA, "the parts together are exactly the paragraph"
    assert [c.part for c in parts] == list(range(1, len(parts) + 1)), [c.id for c in parts]
    assert len({(c.section_path, c.paragraph) for c in parts}) == 1, "parts share one paragraph number"
    for c in parts[:-1]:
        assert SENTENCE_END_RE.search(c.text), f"{c.id} is cut inside a sentence: …{c.text[-15:]!r}"
    for c in parts:
        assert len(c.text) <= 300, f"{c.id}: {len(c.text)} characters is far above the target of 100"
    for figure in ("214.2公里", "183.5公里", "增长5.5%左右", "3100人", "国道241县城", "改造老旧小区15个"):
        holders = [c.id for c in parts if figure in c.text]
        assert len(holders) == 1, f"figure {figure!r} must stay whole in one chunk, found in {holders}"
    targets = LONG_PARA[LONG_PARA.index("今年经济社会发展主要预期指标是") : LONG_PARA.index("实施城市更新行动")]
    assert len(targets) > 100, "fixture: the list of targets is longer than the target size"
    holders = [c.id for c in parts if targets in c.text]
    assert len(holders) == 1, f"the list of targets (主要预期指标) must be kept intact in one chunk, got {holders}"
    assert the_chunk(doc, P_CLOSE).part == 0, "a short paragraph is kept whole"
    assert_nothing_lost(doc, text)


def test_default_target_keeps_ordinary_paragraphs_whole(tmp_path: Path) -> None:
    doc = build(tmp_path, PLAIN_REPORT)
    for c in doc.chunks:
        if c.kind == "body":
            assert c.part == 0, f"{c.id}: a paragraph of {len(c.text)} characters should not be split"


def test_ids_are_stable_unique_and_carry_section_and_paragraph(tmp_path: Path) -> None:
    a = build(tmp_path, MD_REPORT, "report.txt")
    b = build(tmp_path, MD_REPORT, "report.txt")
    assert [c.id for c in a.chunks] == [c.id for c in b.chunks], "ids must not change between runs"
    ids = [c.id for c in a.chunks]
    assert len(ids) == len(set(ids)), "ids must be unique"
    for c in a.chunks:
        assert c.id.startswith(f"{a.id}/"), f"{c.id} does not start with the document id {a.id}"
        if c.kind in ("body", "bullet"):
            expected = f"{a.id}/a{c.article}/s{c.section_path}/p{c.paragraph}" + (f".{c.part}" if c.part else "")
            assert c.id == expected, f"id {c.id} should be {expected}"
    numbers = [c.paragraph for c in a.chunks if c.kind == "body" and c.section == ["一、2023年工作回顾"]]
    assert numbers == [1], numbers
    crumbs = {c.breadcrumb for c in a.chunks}
    assert all(x.startswith("某某市 · 2024年政府工作报告") for x in crumbs), crumbs


# --- duplicates -----------------------------------------------------------------------------------
DUP = "竭诚服务职工群众，是工会一切工作的出发点和落脚点。市总工会不断加强服务阵地建设，健全服务职工体系，创新服务方式。"
NEAR = (
    "竭诚服务职工群众，是工会一切工作的出发点和落脚点。市总工会不断加强服务阵地建设，健全服务职工体系，创新服务方法。"
)


def test_identical_and_near_identical_paragraphs_are_collapsed(tmp_path: Path) -> None:
    text = (
        f"### 用心用情 展现帮扶作为\n\n{DUP}\n\n{P_REVIEW_1}\n\n### 思想领航 凝聚奋进力量\n\n{DUP}\n\n"
        f"{P_REVIEW_2}\n\n{NEAR}\n"
    )
    doc = build(tmp_path, text)
    holders = chunks_with(doc, "竭诚服务职工群众")
    assert len(holders) == 1, f"identical/near-identical paragraphs must be one chunk, got {[c.id for c in holders]}"
    c = holders[0]
    starts = sorted(m.start() for m in re.finditer("竭诚服务职工群众", text))
    assert len(starts) == 3
    locs = sorted(loc["start"] for loc in c.locations)
    assert locs == starts, f"every source location must be kept: locations {c.locations}, occurrences at {starts}"
    for loc in c.locations:
        assert compact(text[loc["start"] : loc["end"]]) in (compact(DUP), compact(NEAR)), loc
        assert loc["doc"] == doc.id
    assert "duplicates-collapsed" in c.flags
    assert doc.duplicates_collapsed == 2
    assert_nothing_lost(doc, text)


def test_different_paragraphs_are_not_collapsed(tmp_path: Path) -> None:
    text = f"{P_REVIEW_1}\n\n{P_REVIEW_2}\n\n{P_ENERGY}\n\n{P_INDUSTRY}\n"
    doc = build(tmp_path, text)
    assert doc.duplicates_collapsed == 0
    assert all(len(c.locations) == 1 for c in doc.chunks)
    assert len([c for c in doc.chunks if c.kind == "body"]) == 4


# --- nothing lost, nothing invented ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["plain", "narrow", "markdown"])
def test_nothing_lost_nothing_invented_small_texts(tmp_path: Path, name: str) -> None:
    text = {"plain": PLAIN_REPORT, "narrow": rewrap(PLAIN_REPORT, 16), "markdown": MD_REPORT}[name]
    doc = build(tmp_path, text)
    assert_nothing_lost(doc, text)
    for c in doc.chunks:
        assert c.search_text == normalize(c.text).text, f"{c.id}: search text is not derived from the chunk text"
        assert "\n" not in c.search_text, f"{c.id}: search text keeps a line break"


# --- hostile layouts (tests/hostile_docs.py) --------------------------------------------------------------------
@pytest.mark.parametrize("punctuated", [True, False])
def test_a_report_on_one_line_gives_bounded_chunks_in_linear_work(tmp_path, punctuated):
    import hostile_docs as h
    from work_bounds import assert_linear

    docs: dict[int, Document] = {}

    def ingest(size: int) -> None:
        docs[size] = build(tmp_path, h.single_line(size, punctuated=punctuated).decode("utf-8"))

    assert_linear(ingest, 128 << 10)  # a 256 KB line costs twice the calls of a 128 KB one, not four times
    text = h.single_line(256 << 10, punctuated=punctuated).decode("utf-8")
    doc = docs[256 << 10]
    lengths = [len(c.text) for c in doc.chunks]
    assert max(lengths) <= 3 * 300 and len(doc.chunks) > 100
    for c in doc.chunks:  # every chunk is its own stretch of the original
        assert text[c.start : c.end] == c.text
    if not punctuated:  # cut between figures, never inside one
        assert all(
            not re.search(r"\d$", c.text) or not re.match(r"[\d.]", n.text) for c, n in zip(doc.chunks, doc.chunks[1:])
        )


def test_a_hundred_thousand_tiny_lines_give_bounded_chunks(tmp_path):
    import hostile_docs as h

    doc = build(tmp_path, h.tiny_lines(100_000).decode("utf-8"))
    assert max(len(c.text) for c in doc.chunks) <= 3 * 300


def test_duplicates_among_thousands_of_paragraphs_are_found_in_linear_work(tmp_path):
    from work_bounds import assert_linear

    repeated = "甲市全年新建改造城镇老旧小区5个，完成投资5.5亿元，惠及居民三万户。"
    docs: dict[int, Document] = {}

    def ingest(n: int) -> None:
        paras = [f"第{i}段：甲市全年新建改造城镇老旧小区{i % 997}个，完成投资{i % 89}.{i % 7}亿元。" for i in range(n)]
        half = n // 2
        text = "甲市2024年政府工作报告\n\n" + "\n\n".join(paras[:half] + [repeated] + paras[half:] + [repeated]) + "\n"
        docs[n] = build(tmp_path, text)

    # past rag.chunk.duplicates.ALL_PAIRS_UP_TO (2,000) paragraphs are not compared pair by pair
    assert_linear(ingest, 2500)
    doc = docs[5000]
    assert doc.duplicates_collapsed >= 1
    assert sum(1 for c in doc.chunks if repeated in c.text) == 1
