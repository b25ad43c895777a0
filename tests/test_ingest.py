"""Ingestion of the five real seed reports, reading edge cases, sidecar metadata and the CLI.

The seeds are real and noisy: 000 interleaves a work report with a union work review and repeats
paragraphs; 001 is Traditional with mojibake headings; 002 is a report abstract followed by news
and bullet boxes; 003 is 001's report in narrow newspaper columns with page markers; 004 is a
county report with **bold** lead-ins. Each fact asserted here was checked against the files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections import OrderedDict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.chunk.clean import compact, find_garbled, normalize, to_simplified
from rag.chunk.document import Document
from rag.errors import RagError
from rag.ingest import ingest_paths, read_report
from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = Path(os.environ.get("RAG_SEEDS_DIR", str(REPO_ROOT / "seeds")))
SEED = {
    "000": "000_e75e043d3f4bed66",
    "001": "001_cdd563ffef68d5a8",
    "002": "002_6444904a722c13e8",
    "003": "003_4ca470a0a2d501aa",
    "004": "004_d43a798d97625b5b",
}
SENTENCE_END_RE = re.compile(r"[。！？!?][”’」』）)]*$")
MARKER_TEXTS = {
    "000": ["(上接第二版)"],
    "001": [],
    "002": ["（上接第3版）"],
    "003": ["（上接第1版）", "（下转第3版）"],
    "004": ["(上接第一版)", "(下转第三版)"],
}


# --- fixtures -------------------------------------------------------------------------------------
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seed_hashes() -> dict[str, str]:
    return {k: _sha(SEEDS_DIR / f"{v}.txt") for k, v in SEED.items()}


@pytest.fixture(scope="module")
def docs(seed_hashes) -> dict[str, Document]:
    """The five seeds ingested once (a few seconds)."""
    for stem in SEED.values():
        assert (SEEDS_DIR / f"{stem}.txt").exists(), f"seed {stem}.txt missing from {SEEDS_DIR}"
    ingested = ingest_paths([Path(SEEDS_DIR)], Settings(), progress=False)
    by_key = {d.id[:3]: d for d in ingested}
    assert sorted(by_key) == sorted(SEED), f"expected the five seeds, got {[d.id for d in ingested]}"
    return by_key


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {k: (SEEDS_DIR / f"{v}.txt").read_text(encoding="utf-8-sig") for k, v in SEED.items()}


# --- helpers --------------------------------------------------------------------------------------
def walk(nodes: list[dict], depth: int = 0):
    for n in nodes:
        yield depth, n
        yield from walk(n["children"], depth + 1)


def article(doc: Document, index: int) -> dict:
    return next(a for a in doc.articles if a["index"] == index)


def article_tree(doc: Document, index: int) -> list[dict]:
    return next(t for t in doc.sections if t["article"] == index)["children"]


def title_of(node: dict) -> str:
    return node.get("clean_title") or node["title"]


def chunks_with(doc: Document, needle: str, kinds=("body", "bullet")) -> list:
    key = compact(needle)
    return [c for c in doc.chunks if c.kind in kinds and key in compact(c.text)]


def the_chunk(doc: Document, needle: str, kinds=("body", "bullet")):
    found = chunks_with(doc, needle, kinds)
    assert len(found) == 1, f"{doc.id}: expected exactly one chunk containing {needle!r}, got {[c.id for c in found]}"
    return found[0]


def paragraphs(doc: Document) -> list[tuple[tuple[str, ...], str]]:
    out: OrderedDict = OrderedDict()
    for c in doc.chunks:
        if c.kind in ("body", "bullet"):
            key = (c.article, c.section_path, c.paragraph)
            out.setdefault(key, [tuple(compact(s) for s in c.section), ""])[1] += compact(c.text)
    return [tuple(v) for v in out.values()]


def grams(s: str, n: int = 4) -> set[str]:
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


# --- reading --------------------------------------------------------------------------------------
def test_read_report_handles_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff一、总体要求\n全市经济运行稳中向好。\n".encode("utf-8"))
    text = read_report(path)
    assert text == "一、总体要求\n全市经济运行稳中向好。\n", f"the BOM must be dropped, got {text!r}"


def test_bom_file_offsets_point_into_the_decoded_text(tmp_path: Path) -> None:
    body = "# 政府工作报告\n\n一、总体要求\n\n全市经济运行稳中向好，地区生产总值增长5%。\n"
    path = tmp_path / "bom.txt"
    path.write_bytes(("\ufeff" + body).encode("utf-8"))
    (doc,) = ingest_paths([path], Settings(), progress=False)
    for c in doc.chunks:
        assert "".join(body[s:e] for s, e in c.spans) == c.text, f"{c.id}: offsets are shifted by the BOM"


@pytest.mark.parametrize(
    "name, data",
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"),
        ("archive.md", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
    ],
    ids=["nul-bytes", "zip-md"],
)
def test_read_report_rejects_non_text_with_the_file_name(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(RagError) as info:
        read_report(path)
    assert name in str(info.value), f"the error must name the file: {info.value}"


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", "\ufeff".encode("utf-8")], ids=["empty", "blank", "bom-only"])
def test_read_report_empty_is_none(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    assert read_report(path) is None


def test_ingest_skips_empty_file_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a_empty.txt").write_bytes(b"")
    (tmp_path / "b_report.txt").write_text(
        "一、总体要求\n\n全市经济运行稳中向好，地区生产总值增长5%。\n", encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING):
        got = ingest_paths([tmp_path], Settings(), progress=False)
    assert [d.id for d in got] == ["b_report"], "the empty file is skipped, the other one ingested"
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING and "a_empty.txt" in r.getMessage()]
    assert warned, f"a warning naming the empty file is expected; log: {[r.getMessage() for r in caplog.records]}"


def test_ingest_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a_report.txt").write_text("一、总体要求\n\n全市经济运行稳中向好。\n", encoding="utf-8")
    (tmp_path / "b_scan.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(RagError) as info:
        ingest_paths([tmp_path], Settings(), progress=False)
    assert "b_scan.txt" in str(info.value)


def test_ingestion_never_modifies_the_originals(docs, texts, seed_hashes) -> None:
    for key, stem in SEED.items():
        path = SEEDS_DIR / f"{stem}.txt"
        assert _sha(path) == seed_hashes[key], f"{path.name} was modified by ingestion"
        assert docs[key].sha256 == hashlib.sha256(texts[key].encode("utf-8")).hexdigest()
        assert docs[key].chars == len(texts[key])


# --- nothing lost, nothing invented ---------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(SEED))
def test_every_character_is_in_exactly_one_place(docs, texts, key: str) -> None:
    doc, text = docs[key], texts[key]
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
        assert same, f"{c.id}: chunk text is not the original at its spans:\n {c.text[:50]!r}\n {joined[:50]!r}"
        assert (c.start, c.end) == (c.spans[0][0], c.spans[-1][1]), f"{c.id}: start/end disagree with spans"
        for s, e in c.spans:
            for i in range(s, e):
                assert i not in owner, f"{key}: character {i} {text[i]!r} is in {owner[i]} and in {c.id}"
                owner[i] = c.id
    markers = {i for m in doc.markers for i in range(m["start"], m["end"])}
    dups = {i for c in doc.chunks for loc in c.locations[1:] for i in range(loc["start"], loc["end"])}
    # markdown marks (「## 」, the 「**」 of a bold lead-in) are read as structure and kept out of the text
    marks = {i for m in re.finditer(r"(?m)^#{1,6}[ \t]|\*\*", text) for i in range(m.start(), m.end())}
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and i not in owner and i not in markers | dups | marks]
    assert not lost, (
        f"{key}: {len(lost)} characters in no chunk/marker/duplicate, e.g. {text[lost[0] : lost[0] + 30]!r}"
    )
    for c in doc.chunks:
        assert c.search_text == normalize(c.text).text, f"{c.id}: search_text is not normalize(text)"


# --- metadata -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, place, level, year, kind",
    [
        ("000", "忻州市", "prefecture", 2024, "政府工作报告"),
        ("001", "朔州市", "prefecture", 2024, "政府工作报告"),
        ("002", "太原市", "prefecture", 2024, "政府工作报告（摘要）"),
        ("003", "朔州市", "prefecture", 2024, "政府工作报告"),
        ("004", "代县", "county", 2024, "政府工作报告"),
    ],
)
def test_document_metadata(docs, key: str, place: str, level: str, year: int, kind: str) -> None:
    m = docs[key].meta
    assert (m.place, m.level, m.year, m.kind) == (place, level, year, kind), f"{key}: {m}"
    for c in docs[key].chunks:
        assert c.place == place, f"{c.id}: chunk place {c.place!r}"


def test_date_and_meeting_where_stated(docs) -> None:
    assert (docs["000"].meta.date, docs["000"].meta.meeting) == ("2024-03-27", "忻州市第五届人民代表大会第四次会议")
    assert (docs["001"].meta.date, docs["001"].meta.meeting) == ("2024-02-27", "朔州市第七届人民代表大会第四次会议"), (
        f"001's Traditional meeting line should be normalised: {docs['001'].meta}"
    )
    assert docs["001"].meta.script == "traditional" and docs["003"].meta.script == "simplified"
    assert docs["003"].meta.meeting == "" and docs["004"].meta.meeting == "", "no meeting line in 003/004"


def test_sidecar_overrides_derived_metadata(tmp_path: Path, texts) -> None:
    report = tmp_path / "foo.txt"
    report.write_text(texts["004"], encoding="utf-8")
    (tmp_path / "foo.txt.meta.toml").write_text('place = "某市"\nyear = 2023\n', encoding="utf-8")
    got = ingest_paths([tmp_path], Settings(), progress=False)
    assert [d.id for d in got] == ["foo"], "the sidecar is not a report"
    doc = got[0]
    assert doc.meta.place == "某市" and doc.meta.year == 2023, doc.meta
    assert doc.meta.kind == "政府工作报告", "fields not in the sidecar keep their derived value"
    assert all(c.place == "某市" for c in doc.chunks)
    assert all(c.breadcrumb.startswith("某市 · ") for c in doc.chunks), doc.chunks[0].breadcrumb


# --- articles -------------------------------------------------------------------------------------
def test_000_holds_a_report_and_a_union_review(docs) -> None:
    doc = docs["000"]
    arts = [(a["kind"], a["year"]) for a in doc.articles]
    assert arts == [("政府工作报告", 2024), ("综述", 2023)], doc.articles
    assert (
        doc.articles[1]["title"] == "唱响新时代“劳动者之歌”" and "2023年全市工会工作综述" in doc.articles[1]["subtitle"]
    )
    report = [title_of(n) for _, n in walk(article_tree(doc, 1))]
    prefixes = ["(七)", "(八)", "三、", "(五)", "(六)"]
    assert [t[:3] if t.startswith("(") else t[:2] for t in report] == prefixes, f"report sections: {report}"
    union = [title_of(n) for _, n in walk(article_tree(doc, 2))]
    assert union == [
        "用心用情 展现帮扶作为",
        "思想领航 凝聚奋进力量",
        "服务大局 彰显责任担当",
        "大抓基层 激发组织活力",
    ], union


@pytest.mark.parametrize(
    "needle",
    [
        "2023年,市总工会在全省率先建立起维护劳动领域政治安全部门联动机制",
        "这一年,智慧工会建设实现“弯道超车”",
        "这一年,市县职工文化阵地建设取得突破性进展",
        "2023年,全市各级工会把贯彻落实习近平总书记重要讲话精神",
        "竭诚服务职工群众,是工会一切工作的出发点和落脚点",
        "工和工会干部中,面对面讲授参加党的二十大的亲身经历和感受",
        "合抱之木,生于毫末",
    ],
    ids=["political-security", "smart-union", "culture-venues", "13520", "serve-workers", "lecture", "grassroots"],
)
def test_000_union_paragraphs_belong_to_the_union_review(docs, needle: str) -> None:
    c = the_chunk(docs["000"], needle)
    assert article(docs["000"], c.article)["kind"] == "综述", f"{c.id} ({needle[:12]}…) is in {c.title}"
    assert not any(s.startswith(("(五)", "(六)", "(七)", "(八)", "三、")) for s in c.section), (
        f"{c.id}: a union paragraph must not sit under a report heading: {c.section}"
    )


@pytest.mark.parametrize(
    "needle, section_prefix",
    [
        ("新认定高新技术企业53家以上", "(五)"),
        ("确保规模以上工业企业研发经费投入增长11.5%以上", "(五)"),
        ("以严控PM2.5为重点", "(六)"),
        ("多措并举促进就业增收", "(七)"),
        ("毫不放松抓好风险防范化解", "(八)"),
        ("坚持依法行政,强化法治建设", "三、"),
    ],
    ids=["hightech", "rnd", "pm25", "jobs", "risk", "rule-of-law"],
)
def test_000_report_paragraphs_stay_in_the_report(docs, needle: str, section_prefix: str) -> None:
    c = the_chunk(docs["000"], needle)
    assert article(docs["000"], c.article)["kind"] == "政府工作报告", f"{c.id} is in {c.title}"
    assert c.section and c.section[-1].startswith(section_prefix), (
        f"{c.id} should be under {section_prefix}…: {c.section}"
    )


def test_002_abstract_news_and_boxes(docs) -> None:
    doc = docs["002"]
    arts = [(a["title"], a["kind"]) for a in doc.articles]
    assert arts == [
        ("2024年政府工作报告（摘要）", "政府工作报告（摘要）"),
        ("去年12件民生实事全部兑现", "news"),
        ("今年全力办好10件民生实事", "news"),
        ("2023 高光时刻", "box"),
        ("2024 循光前行", "box"),
    ], arts
    sections = [title_of(n) for _, n in walk(article_tree(doc, 1))]
    assert sections == [
        "大力改善生态环境 厚植高质量发展绿色本底",
        "不断深化改革开放 激发高质量发展动力活力",
        "持续增进民生福祉 让人民群众共享高质量发展成果",
        "树牢安全发展理念 坚决守住高质量发展底线",
        "全面加强政府自身建设 努力建设人民满意的服务型政府",
    ], sections
    expect = {
        "强化工作落实。认真贯彻落实习近平总书记“四个抓落实”重要要求": 1,
        "市政府去年承诺办好的12件民生实事已全部兑现": 2,
        "西华苑小学迎来首批新生": 2,
        "市政府今年在承接好省民生实事的基础上": 3,
        "群众想的盼的，就是我们要干的": 3,
        "太钢超超超纯铁素体材料填补国内空白": 4,
        "清徐县杨房村入选中国美丽乡村": 4,
        "积极创建国家儿童友好城市": 5,
        "全力创建国家食品安全示范城市": 5,
    }
    for needle, index in expect.items():
        c = the_chunk(doc, needle)
        assert c.article == index, (
            f"{needle[:12]}… should be in article {index} ({article(doc, index)['title']}), got {c.title}"
        )
    box = the_chunk(doc, "晋祠文旅体验综合项目入选全国十佳文化遗")
    assert box.kind == "bullet"
    assert "晋祠文旅体验综合项目入选全国十佳文化遗产旅游案例" in box.search_text, (
        "a list item broken by a blank line is one item"
    )


def test_every_chunk_belongs_to_a_known_article(docs) -> None:
    for doc in docs.values():
        known = {a["index"]: a for a in doc.articles}
        for c in doc.chunks:
            assert c.article in known, f"{c.id}: unknown article {c.article}"
            assert c.title == known[c.article]["display"], f"{c.id}: title {c.title!r} != article display"


# --- page markers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(SEED))
def test_markers_are_kept_as_metadata(docs, texts, key: str) -> None:
    got = [m["text"] for m in docs[key].markers]
    assert got == MARKER_TEXTS[key], f"{key}: markers should be {MARKER_TEXTS[key]}, got {got}"
    for m in docs[key].markers:
        assert texts[key][m["start"] : m["end"]] == m["text"]


@pytest.mark.parametrize("key", sorted(SEED))
def test_markers_are_removed_from_chunks(docs, key: str) -> None:
    for c in docs[key].chunks:
        for marker in MARKER_TEXTS[key]:
            assert marker not in c.text, f"{c.id} still contains the page marker {marker}: …{c.text[-30:]!r}"


@pytest.mark.parametrize("key", sorted(SEED))
def test_no_chunk_is_joined_across_a_page_cut(docs, key: str) -> None:
    for m in docs[key].markers:
        for c in docs[key].chunks:
            assert not (c.start < m["start"] and c.end > m["end"]), f"{c.id} {c.spans} joins text across {m['text']}"


def test_marker_at_the_start_or_end_of_a_paragraph(docs) -> None:
    c = the_chunk(docs["004"], "人民群众的获得感、幸福感、安全感进一步增强。")
    assert c.text == "人民群众的获得感、幸福感、安全感进一步增强。", repr(c.text)
    last = the_chunk(docs["004"], "运用“啄木鸟”工作机制")
    assert last.text.endswith("运用“啄木鸟”工作机制,"), (
        f"(下转第三版) must be cut from the paragraph: {last.text[-20:]!r}"
    )
    first = the_chunk(docs["003"], "一年来，我们全力以赴抓改革、促")
    assert first.text.startswith("一年来"), repr(first.text[:20])
    end = the_chunk(docs["003"], "不折不扣抓好国务院安委办督导组反馈")
    assert end.text.endswith("问题整改。"), f"（下转第3版） must be cut from the paragraph: {end.text[-20:]!r}"


# --- paragraphs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, joined",
    [
        ("000", "落实免试就近入学全覆盖和“公民同招”政策"),
        ("000", "落实新时代党的建设总要求"),
        ("002", "多措并举推动脱贫人口稳定增收"),
        ("002", "开展土壤污染源头防控行动"),
        ("002", "是政府一定要办好的事实"),
        ("002", "加快构建“高效办成一件事”常态化推进机制"),
        ("002", "推动拖欠农民工工资动态清零"),
        ("002", "坚决守住不发生系统性风险底线"),
        ("002", "坚持“公开为常态、不公开为例外”原则"),
        ("003", "各位代表,过去一年取得的成绩,根本在于"),
        ("003", "特别是省委、省政府明确提出支持朔州“积极推动中煤平朔煤制烯烃重大项目建设”"),
        ("003", "年产120万吨及以上煤矿"),
        ("003", "全年计划实施项目1193个"),
        ("003", "新建改造肉羊标准化养殖场10—20个"),
        ("003", "确保民营企业公平参与市场竞争"),
        ("003", "脱贫人口人均纯收入达15869元"),
    ],
    ids=[
        "000-gongmin",
        "000-xinshidai",
        "002-zengshou",
        "002-xingdong",
        "002-shishi",
        "002-gaoxiaoban",
        "002-nongmingong",
        "002-shouzhu",
        "002-gongkai",
        "003-genben",
        "003-jiji",
        "003-120wan",
        "003-1193",
        "003-10-20",
        "003-letter-spaced",
        "003-15869",
    ],
)
def test_paragraphs_broken_across_lines_are_rebuilt(docs, key: str, joined: str) -> None:
    hits = [c for c in docs[key].chunks if joined in c.search_text]
    assert len(hits) == 1, (
        f"{key}: {joined!r} should be found in exactly one chunk's search text, got {[c.id for c in hits]}"
    )


def test_003_short_line_ending_a_sentence_ends_the_paragraph(docs) -> None:
    a = the_chunk(docs["003"], "完成煤电机组“三改联动”80万千瓦。")
    b = the_chunk(docs["003"], "发展壮大新兴产业。加快推进新型工业化")
    assert a.id != b.id and a.text.endswith("80万千瓦。") and b.text.startswith("发展壮大新兴产业。")


def test_003_paragraphs_match_001_one_to_one(docs) -> None:
    """003 is 001's report in narrow columns: from 「一年来，我们全力以赴抓改革」 to the end of (八)
    the two must cut into the same paragraphs (mojibake in 001 changes a few characters only)."""
    p1 = [p for _, p in paragraphs(docs["001"])]
    p3 = [p for _, p in paragraphs(docs["003"])]
    i = next(k for k, p in enumerate(p1) if p.startswith("一年来我们全力以赴抓改革"))
    j = next(k for k, p in enumerate(p1) if p.startswith("毫不松懈抓好安全生产"))
    p1 = p1[i : j + 1]
    assert len(p3) == len(p1), f"003 has {len(p3)} paragraphs, 001 has {len(p1)} in the same stretch"
    for a, b in zip(p1, p3):
        assert a[:12] == b[:12] and abs(len(a) - len(b)) <= 3, (
            f"paragraphs differ:\n 001: {a[:30]}…{a[-12:]} ({len(a)})\n 003: {b[:30]}…{b[-12:]} ({len(b)})"
        )


# --- sections -------------------------------------------------------------------------------------
SECTIONS_003 = [
    "（一）以能源革命综合改革为牵引，全力构建现代化产业体系",
    "（二）以供需两端发力为支撑，全力巩固增强经济回升向好态势",
    "（三）以科技创新引领为抓手，全力提升创新驱动效能",
    "（四）以深化改革开放为引擎，全力激发高质量发展动力活力",
    "（五）以城乡融合发展为方向，全力开创城乡区域协调发展新局面",
    "（六）以协同推进减污降碳扩绿增长为导向，全力打造高质量发展生态优势",
    "（七）以补齐民生短板为根本，全力满足人民群众对美好生活的向往",
    "（八）以防范化解风险为重点，全力营造和谐稳定发展环境",
]


def test_003_wrapped_headings(docs) -> None:
    top = article_tree(docs["003"], 1)
    assert [n["title"] for n in top] == ["二、2024年重点工作"], [n["title"] for n in top]
    kids = top[0]["children"]
    assert [n["title"] for n in kids] == SECTIONS_003, [n["title"] for n in kids]
    assert [n["number"] for n in kids] == list(range(1, 9))
    heads = [c for c in docs["003"].chunks if c.kind == "heading" and c.text.startswith("（")]
    assert len(heads) == 8 and all(len(c.spans) >= 2 for c in heads), "each heading is wrapped over 2–3 lines"
    assert len(next(c for c in heads if c.text.startswith("（六）")).spans) == 3


def test_003_no_false_heading_after_a_wrap(docs) -> None:
    titles = [title_of(n) for t in docs["003"].sections for _, n in walk(t["children"])]
    assert not any(t.startswith(("（市", "(市")) for t in titles), titles
    c = the_chunk(docs["003"], "做大做强县域经济。支持各县（市、区）立足资源禀赋")
    assert c.section[-1].startswith("（五）"), c.section
    assert c.text.endswith("实现良性互动、竞相发展。"), "the whole paragraph is one chunk"


def test_001_garbled_headings_are_recognised(docs) -> None:
    top = article_tree(docs["001"], 1)
    assert [n["title"] for n in top][:3] == ["一、2023年工作回顧", "二、2024年重點工作", "三、加強政府自身建設"]
    kids = top[1]["children"]
    assert [(n["style"], n["number"]) for n in kids] == [("paren", k) for k in range(1, 9)], (
        f"(一)…(八) under 二、: {[(n['title'], n['number']) for n in kids]}"
    )
    assert sum(n["garbled"] for n in kids) == 7, "7 of the 8 headings are damaged"
    heads = [
        c
        for c in docs["001"].chunks
        if c.kind == "heading" and len(c.section) == 2 and c.section[0] == "二、2024年重點工作"
    ]
    assert len(heads) == 8
    assert sum("garbled" in c.flags for c in heads) == 7, [(c.text[:10], c.flags) for c in heads]
    kids3 = top[2]["children"]
    assert [n["number"] for n in kids3] == [1, 2, 3, 4], "the four inline headings of 三、 (three damaged)"


def test_001_damaged_headings_get_their_titles_from_the_twin(docs) -> None:
    kids = article_tree(docs["001"], 1)[1]["children"]
    got = [compact(title_of(n)) for n in kids]
    assert got == [compact(t) for t in SECTIONS_003], (
        f"001 section titles after twin repair: {[title_of(n) for n in kids]}"
    )
    c = the_chunk(docs["001"], "提高就業質量水平。突出就業優先導向")
    assert compact(c.section[-1]) == compact(SECTIONS_003[6]), c.section


def test_garbled_runs_are_flagged_on_their_chunks(docs, texts) -> None:
    doc, text = docs["001"], texts["001"]
    for run in find_garbled(text):
        holders = [c for c in doc.chunks if any(s <= run.start < e for s, e in c.spans)]
        assert len(holders) == 1, f"garbled run {run.text!r} at {run.start} is in {len(holders)} chunks"
        assert "garbled" in holders[0].flags, f"{holders[0].id} holds garbled {run.text!r} but is not flagged"
    for key in ("000", "002", "003", "004"):
        assert not [c.id for c in docs[key].chunks if "garbled" in c.flags], f"{key} is clean"


def test_004_bold_lead_ins_and_numbered_sections(docs) -> None:
    tree = article_tree(docs["004"], 1)
    top = [n["title"] for n in tree]
    assert top[:8] == [
        "社会保障更加有力",
        "群众就业更加充分",
        "看病就医更加便捷",
        "教育事业更加普惠",
        "文体事业更加繁荣",
        "清廉政府建设常抓不懈",
        "法治政府建设不断深化",
        "干事创业氛围更加浓厚",
    ], top
    plan = next(n for n in tree if n["title"] == "2024年工作安排")
    assert [n["title"] for n in plan["children"]] == [
        "(一)聚力产业转型升级,构建现代化产业体系",
        "(二)狠抓项目建设,夯实高质量发展支撑",
        "(三)深化改革开放,激发高质量发展活力",
    ]
    assert [n["title"] for n in plan["children"][0]["children"]] == [
        "加快传统产业转型升级",
        "推进代州黄酒专业镇提质增效",
        "加快文旅产业提档升级",
        "加快发展新能源产业",
        "加快发展数字经济",
    ]
    c = the_chunk(docs["004"], "重点推动总投资约91.5亿元的黄草院1400MW抽水蓄能电站")
    assert c.section == ["2024年工作安排", "(一)聚力产业转型升级,构建现代化产业体系", "加快发展新能源产业"], c.section


# --- chunks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, sentence",
    [
        (
            "004",
            "今年经济社会发展主要预期指标是:地区生产总值增长5%左右;固定资产投资增长13%左右;社会消费品零售总额增长5.5%左右;"
            "一般公共预算收入增长3%左右;城镇居民人均可支配收入与经济增长基本同步,农村居民人均可支配收入增长8%以上;"
            "城镇新增就业人数3100人;居民消费价格指数控制在3%左右。",
        ),
        (
            "003",
            "今年经济社会发展主要预期目标是:地区生产总值增长5%以上,在实际工作中尽可能争取更好结果;固定资产投资增长10.5%以上,"
            "社会消费品零售总额增长5.5%以上,一般公共预算收入增长3%以上,城镇居民人均可支配收入增速与经济增长基本同步,"
            "农村居民人均可支配收入增速高于经济增长水平。",
        ),
        (
            "001",
            "今年经济社会发展主要预期目标是:地区生产总值增长5%以上,在实际工作中尽可能争取更好结果;固定资产投资增长10.5%以上,"
            "社会消费品零售总额增长5.5%以上,一般公共预算收入增长3%以上,城镇居民人均可支配收入增速与经济增长基本同步,"
            "农村居民人均可支配收入增速高于经济增长水平。",
        ),
    ],
)
def test_list_of_targets_is_kept_in_one_chunk(docs, key: str, sentence: str) -> None:
    hits = [c.id for c in docs[key].chunks if sentence in c.search_text]
    assert len(hits) == 1, f"{key}: the 主要预期指标/目标 sentence must be whole in one chunk, found in {hits}"


@pytest.mark.parametrize("key", sorted(SEED))
def test_long_paragraphs_are_split_at_sentence_ends(docs, key: str) -> None:
    target = Settings().chunk_target_chars
    groups: dict = {}
    for c in docs[key].chunks:
        if c.kind in ("body", "bullet"):
            groups.setdefault((c.article, c.section_path, c.paragraph), []).append(c)
    for parts in groups.values():
        if len(parts) == 1:
            assert parts[0].part == 0, f"{parts[0].id}: a whole paragraph has part 0"
            continue
        assert [c.part for c in parts] == list(range(1, len(parts) + 1)), [c.id for c in parts]
        for c in parts[:-1]:
            if c.kind == "bullet":
                nxt = parts[parts.index(c) + 1].text
                assert re.match(r"\s*[-*+•]\s", nxt), f"{c.id}: a list is split between items only"
            else:
                assert SENTENCE_END_RE.search(c.text), f"{c.id} is cut inside a sentence: …{c.text[-15:]!r}"
    for c in docs[key].chunks:
        size = len(re.sub(r"\s", "", c.text))  # letter-spaced copies count like clean ones
        if c.kind == "body" and size > 1.6 * target:
            inner = SENTENCE_END_RE.pattern.rstrip("$")
            assert len(re.findall(inner, c.text[:-1])) == 0, f"{c.id}: {size} characters but it could be split"


@pytest.mark.parametrize(
    "key, figure",
    [
        ("003", "年产120万吨"),
        ("003", "1193个"),
        ("003", "837.48亿元"),
        ("003", "10—20个"),
        ("003", "15869元"),
        ("001", "2.33億噸"),
        ("000", "164.7226万元"),
        ("004", "1156.78万元"),
    ],
)
def test_a_figure_is_never_separated_from_its_unit(docs, key: str, figure: str) -> None:
    key_s = normalize(figure).text
    hits = [c.id for c in docs[key].chunks if key_s in c.search_text]
    assert hits, f"{key}: {figure!r} should be whole in some chunk's search text"


def test_ids_are_unique_and_carry_doc_section_and_paragraph(docs) -> None:
    ids = [c.id for d in docs.values() for c in d.chunks]
    assert len(ids) == len(set(ids)), "chunk ids must be unique across the corpus"
    for d in docs.values():
        for c in d.chunks:
            assert c.doc == d.id and c.id.startswith(d.id + "/")
            if c.kind in ("body", "bullet"):
                expected = f"{d.id}/a{c.article}/s{c.section_path}/p{c.paragraph}" + (f".{c.part}" if c.part else "")
                assert c.id == expected, f"id {c.id} != {expected}"
                assert c.paragraph >= 1


@pytest.mark.parametrize("key", sorted(SEED))
def test_paragraph_numbers_run_from_one_within_each_section(docs, key: str) -> None:
    numbers: dict = {}
    for c in docs[key].chunks:
        if c.kind in ("body", "bullet"):
            numbers.setdefault((c.article, c.section_path), set()).add(c.paragraph)
    bad = {f"a{a}/s{s}": sorted(v) for (a, s), v in numbers.items() if sorted(v) != list(range(1, len(v) + 1))}
    assert not bad, f"{key}: paragraph numbers in a section should be 1..n, got {bad}"


def test_ids_are_stable_across_runs(docs, tmp_path: Path) -> None:
    for key in ("002", "004"):
        shutil.copy(SEEDS_DIR / f"{SEED[key]}.txt", tmp_path / f"{SEED[key]}.txt")
    again = {d.id[:3]: d for d in ingest_paths([tmp_path], Settings(), progress=False)}
    for key in ("002", "004"):
        assert [c.id for c in again[key].chunks] == [c.id for c in docs[key].chunks], f"{key}: ids changed between runs"
        assert [c.spans for c in again[key].chunks] == [c.spans for c in docs[key].chunks]


@pytest.mark.parametrize("key", sorted(SEED))
def test_breadcrumbs(docs, key: str) -> None:
    for c in docs[key].chunks:
        expected = f"{c.place} · {c.title}" + "".join(f" › {s}" for s in c.section)
        assert c.breadcrumb == expected, f"{c.id}: breadcrumb {c.breadcrumb!r} != {expected!r}"


def test_breadcrumb_example_from_the_issue(docs) -> None:
    c = the_chunk(docs["003"], "提高就业质量水平。突出就业优先导向")
    assert c.breadcrumb == (
        "朔州市 · 2024年政府工作报告 › 二、2024年重点工作 › "
        "（七）以补齐民生短板为根本，全力满足人民群众对美好生活的向往"
    ), c.breadcrumb
    t = the_chunk(docs["001"], "提高就業質量水平。突出就業優先導向")
    assert to_simplified(t.breadcrumb).startswith("朔州市 · 2024年政府工作报告 › 二、2024年重点工作 › （七）"), (
        t.breadcrumb
    )


# --- duplicates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "needle",
    [
        "竭诚服务职工群众,是工会一切工作的出发点和落脚点",
        "实施职工暖心关爱服务工程,筹措资金164.7226万元",
        "聚焦高质量发展这个首要任务,组织职工群众建功立业",
    ],
    ids=["serve", "care", "focus"],
)
def test_000_duplicates_are_collapsed_keeping_every_location(docs, texts, needle: str) -> None:
    doc, text = docs["000"], texts["000"]
    occurrences = [m.start() for m in re.finditer(re.escape(needle), text)]
    assert len(occurrences) == 2, f"fixture drift: {needle[:10]}… should occur twice in 000"
    c = the_chunk(doc, needle)
    for pos in occurrences:
        assert any(loc["start"] <= pos < loc["end"] for loc in c.locations), (
            f"{c.id}: the occurrence at {pos} is not among its locations {c.locations}"
        )
    assert "duplicates-collapsed" in c.flags


# --- twins ----------------------------------------------------------------------------------------
def test_twin_reports_are_detected(docs) -> None:
    assert docs["001"].twin_of == [docs["003"].id] and docs["003"].twin_of == [docs["001"].id]
    for key in ("000", "002", "004"):
        assert docs[key].twin_of == [], f"{key} has no twin"
    assert len([c for c in docs["001"].chunks if c.kind == "body"]) > 40
    assert len([c for c in docs["003"].chunks if c.kind == "body"]) > 40, "both twins stay indexed"


def test_twin_links_are_reciprocal_and_between_matching_paragraphs(docs) -> None:
    by_id = {c.id: c for d in docs.values() for c in d.chunks}
    bad = []
    for key in ("001", "003"):
        for c in docs[key].chunks:
            for t in c.twins:
                o = by_id.get(t)
                assert o is not None, f"{c.id} links to unknown chunk {t}"
                assert c.id in o.twins, f"twin link {c.id} -> {t} is not reciprocal"
                x, y = compact(c.text), compact(o.text)
                gx, gy = grams(x), grams(y)
                share = len(gx & gy) / min(len(gx), len(gy))
                ratio = min(len(x), len(y)) / max(len(x), len(y))
                if share < 0.5 or ratio < 0.25:
                    bad.append((c.id, t, x[:12], y[:12], round(share, 2), round(ratio, 2)))
    assert not bad, f"twin links between chunks that are not the same paragraph: {bad}"


def test_every_paragraph_of_003_is_linked_to_001(docs) -> None:
    missing = [(c.id, c.text[:20]) for c in docs["003"].chunks if c.kind == "body" and not c.twins]
    assert not missing, f"003 body chunks without a twin in 001: {missing}"


@pytest.mark.parametrize(
    "garbled, clean",
    [
        ("?v深推進", "纵深推进“承诺制＋标准地＋全代办”改革"),
        ("?茖W開展國土綠化", "科学开展国土绿化"),
        ("參;颊呖床【歪t負擔", "减轻参保患者看病就医负担"),
    ],
    ids=["zongshen", "kexue", "kanbing"],
)
def test_garbled_passage_is_matched_to_its_clean_twin(docs, garbled: str, clean: str) -> None:
    g = [c for c in docs["001"].chunks if garbled in c.text]
    assert len(g) == 1, f"fixture drift: {garbled!r} should be in one chunk of 001"
    g = g[0]
    assert "garbled" in g.flags, f"{g.id} holds {garbled!r} but is not flagged"
    by_id = {c.id: c for c in docs["003"].chunks}
    twins = [by_id[t] for t in g.twins if t in by_id]
    assert any(clean in t.text for t in twins), (
        f"{g.id} should be linked to the 003 chunk with {clean!r}; twins: {g.twins}"
    )


# --- command line ---------------------------------------------------------------------------------
REPORT_A = (
    "# 政府工作报告\n\n## ——2024年1月10日在青山市第一届人民代表大会第二次会议上\n\n一、2023年工作回顾\n\n"
    "全市经济运行稳中向好，地区生产总值增长5%，规上工业增加值增长4%。\n\n二、2024年重点工作\n\n"
    "（一）坚持创新驱动，加快产业升级\n\n新建市级技术创新中心2家，新认定高新技术企业53家以上。\n"
)
REPORT_B = (
    "2024年政府工作报告（摘要）\n\n大力改善生态环境 厚植高质量发展绿色本底\n\n"
    "加快绿色低碳转型。持续深化能源革命综合改革，年内新能源装机容量达到180万千瓦。\n"
)
REQUIRED_KEYS = {
    "id",
    "doc",
    "title",
    "place",
    "year",
    "section",
    "paragraph",
    "text",
    "search_text",
    "start",
    "end",
    "locations",
    "flags",
}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.txt").write_bytes(("\ufeff" + REPORT_A).encode("utf-8"))
    (reports / "b.md").write_text(REPORT_B, encoding="utf-8")
    index = tmp_path / "index"
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(reports))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return {"reports": reports, "index": index}


def _run(args: list[str]):
    from rag.cli.main import app

    return CliRunner().invoke(app, args)


def _flat(output: str) -> str:
    """CLI output without whitespace: rich wraps long messages at the terminal width."""
    return "".join(output.split())


def _json_lines(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def test_cli_ingest_then_chunks_json(cli_env) -> None:
    res = _run(["ingest", str(cli_env["reports"])])
    assert res.exit_code == 0, f"rag ingest failed: {res.output}"
    assert (cli_env["index"] / "chunks.sqlite").exists(), "the chunk store goes to RAG_INDEX_DIR"
    res = _run(["chunks", "--json"])
    assert res.exit_code == 0, res.output
    records = _json_lines(res.stdout)
    assert records, "rag chunks --json printed nothing"
    for rec in records:
        missing = REQUIRED_KEYS - set(rec)
        assert not missing, f"chunk record {rec.get('id')} lacks {missing}"
        assert (
            isinstance(rec["section"], list) and isinstance(rec["locations"], list) and isinstance(rec["flags"], list)
        )
        assert isinstance(rec["paragraph"], int) and isinstance(rec["start"], int) and isinstance(rec["end"], int)
    assert {r["doc"] for r in records} == {"a", "b"}
    hit = [r for r in records if "新认定高新技术企业53家以上" in r["text"]]
    assert len(hit) == 1
    r = hit[0]
    assert r["place"] == "青山市" and r["year"] == 2024, r
    assert r["section"] == ["二、2024年重点工作", "（一）坚持创新驱动，加快产业升级"], r["section"]
    assert r["paragraph"] == 1 and r["search_text"] == normalize(r["text"]).text
    assert REPORT_A[r["start"] : r["end"]] == r["text"], "offsets refer to the decoded text (BOM dropped)"
    res = _run(["chunks", "--json", "--doc", "b.md"])
    assert res.exit_code == 0 and {x["doc"] for x in _json_lines(res.stdout)} == {"b"}


def test_cli_ingest_defaults_to_the_seeds_dir_from_the_environment(cli_env) -> None:
    res = _run(["ingest"])
    assert res.exit_code == 0, res.output
    from rag.search.store import ChunkStore

    store = ChunkStore(cli_env["index"])
    assert sorted(d["id"] for d in store.documents()) == ["a", "b"]
    store.close()


def test_cli_binary_file_is_a_clear_error(cli_env) -> None:
    (cli_env["reports"] / "scan.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    res = _run(["ingest", str(cli_env["reports"])])
    assert res.exit_code == 1, f"exit code {res.exit_code}; output {res.output!r}"
    assert "scan.txt" in _flat(res.output), f"the message must name the file: {res.output!r}"
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert not (cli_env["index"] / "chunks.sqlite").exists(), "nothing is written when ingestion fails"


def test_cli_empty_file_is_skipped(cli_env) -> None:
    (cli_env["reports"] / "empty.txt").write_bytes(b"")
    res = _run(["ingest", str(cli_env["reports"])])
    assert res.exit_code == 0, res.output
    res = _run(["chunks", "--json"])
    assert res.exit_code == 0
    assert {r["doc"] for r in _json_lines(res.stdout)} == {"a", "b"}, "the empty file is skipped"


def test_cli_chunks_without_a_store_is_a_clear_error(cli_env) -> None:
    res = _run(["chunks", "--json"])
    assert res.exit_code == 1 and "ragingest" in _flat(res.output) and "Traceback" not in res.output, res.output


# --- other formats through the command line ------------------------------------------------------
def _docx_bytes(text: str) -> bytes:
    import io

    from docx import Document as WordDocument

    d = WordDocument()
    for line in text.splitlines():
        if line.strip():
            d.add_paragraph(line.strip().lstrip("#").strip())
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
    return buf.getvalue()


def test_cli_mixed_formats_in_one_folder(cli_env) -> None:
    """A Word file and a web page beside the text files: each read by its own reader, one document each."""
    (cli_env["reports"] / "c.docx").write_bytes(_docx_bytes(REPORT_A.replace("青山市", "白水县")))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>政府工作报告</title>"
        "<script>document.write('不是内容')</script></head><body><ul><li><a href='/'>首页</a></li>"
        "<li><a href='/x'>政务公开</a></li></ul><h1>政府工作报告</h1>"
        + "".join(
            f"<p>{ln}</p>" for ln in REPORT_A.replace("青山市", "黄河区").replace("#", "").splitlines() if ln.strip()
        )
        + "<iframe src='https://example.invalid/'></iframe><div>版权所有 甲ICP备123号</div></body></html>"
    )
    (cli_env["reports"] / "d.html").write_text(page, encoding="utf-8")
    shutil.copy(Path(__file__).parent / "data" / "pdf" / "upload_report.pdf", cli_env["reports"] / "e.pdf")
    res = _run(["ingest", str(cli_env["reports"]), "--json"])
    assert res.exit_code == 0, res.output
    docs = {d["id"]: d for d in _json_lines(res.stdout)}
    assert {k: d["format"] for k, d in docs.items()} == {"a": "text", "b": "text", "c": "docx", "d": "html", "e": "pdf"}
    res = _run(["chunks", "--json"])
    records = _json_lines(res.stdout)
    parks = [r for r in records if r["doc"] == "e" and "口袋公园64个" in r["text"]]
    assert len(parks) == 1 and parks[0]["pages"][0][1] == 2 and parks[0]["place"] == "青禾市", parks
    assert all(r["pages"] == [] for r in records if r["doc"] != "e")
    for doc, place in (("c", "白水县"), ("d", "黄河区")):
        hit = [r for r in records if r["doc"] == doc and "新认定高新技术企业53家以上" in r["text"]]
        assert len(hit) == 1 and hit[0]["place"] == place, hit
        assert hit[0]["section"][-1] == "（一）坚持创新驱动，加快产业升级", hit[0]["section"]
    assert not any("不是内容" in r["text"] or "ICP" in r["text"] for r in records if r["doc"] == "d")


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("renamed.docx", _zip_bytes({"data.xml": b"<x/>"}), "not a Word document"),
        (
            "bomb.docx",
            _zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (40 << 20)}),
            "not a normal .docx",
        ),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "password-protected"),
        (
            "menu.html",
            (
                "<html><body>"
                + "".join(f"<a href='/{i}'>栏目{i}</a> " for i in range(50))
                + "<script>alert(1)</script></body></html>"
            ).encode(),
            "no report text",
        ),
        ("locked.pdf", (Path(__file__).parent / "data" / "pdf" / "encrypted.pdf").read_bytes(), "encrypted"),
        ("scan.pdf", (Path(__file__).parent / "data" / "pdf" / "scanned.pdf").read_bytes(), "run OCR first"),
        ("cut.pdf", (Path(__file__).parent / "data" / "pdf" / "upload_report.pdf").read_bytes()[:9000], "truncated"),
        ("junk.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", "damaged"),
    ],
)
def test_cli_bad_files_of_other_formats_are_a_clear_error(cli_env, name, data, reason) -> None:
    (cli_env["reports"] / name).write_bytes(data)
    res = _run(["ingest", str(cli_env["reports"])])
    assert res.exit_code == 1, f"exit code {res.exit_code}; output {res.output!r}"
    assert name in _flat(res.output) and "".join(reason.split()) in _flat(res.output), res.output
    assert "Traceback" not in res.output
    assert not (cli_env["index"] / "chunks.sqlite").exists(), "nothing is written when ingestion fails"
