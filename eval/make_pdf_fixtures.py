"""Make the small PDF fixtures under tests/data/pdf/ (and, with --full DIR, full PDFs of every
corpus report for the benchmark and the retrieval check; those are not committed).

Needs LibreOffice (`soffice`), python-docx, pypdf and Pillow with a CJK font (fonts-noto-cjk);
CI has none of them, so the outputs are committed. Word-like PDFs are what offices publish, so
every text fixture is a DOCX converted by LibreOffice, not a PDF drawn by hand.

    python eval/make_pdf_fixtures.py                 # tests/data/pdf/*.pdf + the source .txt of each
    python eval/make_pdf_fixtures.py --full /tmp/pdfs  # all 14 reports as PDF (and .txt next to them)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docx
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "pdf"
REPORTS = ROOT / "eval" / "corpus" / "reports"
FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"

# invented places and phrases only: the fixtures stand for reports never seen
_SUBJECTS = ["甲市", "乙县", "丙区", "全市", "各乡镇", "市政府"]
_VERBS = ["推进", "完成", "落实", "加快", "深化", "提升"]
_OBJECTS = ["城乡道路改造", "老旧小区更新", "乡村振兴示范", "营商环境优化", "公共服务均衡", "生态保护修复",
            "数字政府建设", "科技创新平台"]
_TAILS = ["取得明显成效", "超额完成年度任务", "群众满意度持续提高", "形成一批可复制经验", "总体进展顺利"]


def _sentence(rng: random.Random) -> str:
    n = rng.randint(10, 99)
    return (f"{rng.choice(_SUBJECTS)}{rng.choice(_VERBS)}{rng.choice(_OBJECTS)}，"
            f"全年投入资金{n}.{rng.randint(1, 9)}亿元，{rng.choice(_TAILS)}。")


def synthetic_paragraphs(seed: int, n: int, with_headings: bool = True) -> list[str]:
    """Body paragraphs of 3–7 sentences, with 一、/（一） headings now and then."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(n):
        if with_headings and i % 5 == 0:
            out.append(f"{'一二三四五六七八九十'[i // 5 % 10]}、{rng.choice(_VERBS)}{rng.choice(_OBJECTS)}")
        out.append("".join(_sentence(rng) for _ in range(rng.randint(3, 7))))
    return out


def _field(paragraph, instr: str) -> None:
    """Append a simple field (PAGE, NUMPAGES) that Word and LibreOffice fill in per page."""
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), instr)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    fld.append(run)
    paragraph._p.append(fld)


def _pattern(paragraph, pattern: str) -> None:
    """Write `pattern` into a header/footer paragraph, {P} and {N} as PAGE and NUMPAGES fields."""
    rest = pattern
    while rest:
        cut = min((rest.find(k) for k in ("{P}", "{N}") if k in rest), default=-1)
        if cut < 0:
            paragraph.add_run(rest)
            break
        if cut:
            paragraph.add_run(rest[:cut])
        _field(paragraph, "PAGE" if rest[cut + 1] == "P" else "NUMPAGES")
        rest = rest[cut + 3:]


def _new_doc(size: float = 14, indent: bool = True) -> docx.Document:
    d = docx.Document()
    style = d.styles["Normal"]
    style.font.size = Pt(size)
    style.font.name = "Noto Serif CJK SC"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Serif CJK SC")
    fmt = style.paragraph_format
    fmt.space_after = Pt(0)
    fmt.line_spacing = 1.2
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    return d


def _heading(d: docx.Document, text: str, size: float = 18) -> None:
    p = d.add_paragraph()
    p.paragraph_format.first_line_indent = Pt(0)
    run = p.add_run(text)
    run.bold = True
    run.font.size = Pt(size)


def _convert(src: Path, outdir: Path) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(outdir), str(src)],
                   check=True, capture_output=True, timeout=300)
    return outdir / (src.stem + ".pdf")


def _save(d: docx.Document, name: str, tmp: Path, paragraphs: list[str]) -> None:
    src = tmp / f"{name}.docx"
    d.save(src)
    shutil.copy(_convert(src, tmp), OUT / f"{name}.pdf")
    (OUT / f"{name}.txt").write_text("\n".join(paragraphs) + "\n", encoding="utf-8")


def running_heads(tmp: Path) -> None:
    """Three pages each with a running header and a page-number footer, one file per numbering
    style; the header of the last one carries the page number too."""
    styles = {
        "footer_emdash": ("甲市人民政府工作报告", "— {P} —"),
        "footer_hyphen": ("甲市人民政府工作报告", "- {P} -"),
        "footer_di_ye": ("乙县政府工作报告（2025年）", "第{P}页"),
        "footer_of_total": ("丙区政府工作报告", "第 {P} 页 共 {N} 页"),
        "footer_bare": ("乙县人民政府 第{P}页", "{P}"),
    }
    for i, (name, (head, foot)) in enumerate(styles.items()):
        d = _new_doc()
        sec = d.sections[0]
        _pattern(sec.header.paragraphs[0], head)
        fp = sec.footer.paragraphs[0]
        fp.alignment = 1
        _pattern(fp, foot)
        paras = synthetic_paragraphs(100 + i, 10)
        _heading(d, "甲市2025年政府工作报告")
        for text in paras:
            d.add_paragraph(text)
        _save(d, name, tmp, ["甲市2025年政府工作报告"] + paras)


def two_columns(tmp: Path) -> None:
    """One page set in two columns (a section property, as Word writes it)."""
    d = _new_doc(size=11)
    cols = d.sections[0]._sectPr.xpath("./w:cols")
    col = cols[0] if cols else OxmlElement("w:cols")
    col.set(qn("w:num"), "2")
    col.set(qn("w:space"), "720")
    if not cols:
        d.sections[0]._sectPr.append(col)
    paras = synthetic_paragraphs(7, 11, with_headings=False)
    for text in paras:
        d.add_paragraph(text)
    _save(d, "two_columns", tmp, paras)


def kangxi(tmp: Path) -> None:
    """Text whose PDF text layer carries Kangxi radicals and compatibility ideographs, as some
    fonts' ToUnicode maps do: ⽇ (U+2F47) for 日, ⾏ (U+2F8F) for 行, 﨑 (U+FA11)."""
    d = _new_doc()
    paras = ["⼀、总体要求",
             "今年全市⽣产总值增长5.5%左右，⽇均⾏政审批时限压缩⾄3个⼯作⽇，“放管服”改⾰持续深化。",
             "甲市﨑⼭片区建设加快推进，全年新增就业2.3万⼈。"]
    for text in paras:
        d.add_paragraph(text)
    _save(d, "kangxi", tmp, paras)


def word_report(tmp: Path, src: Path, name: str, keep: int) -> None:
    """The first `keep` paragraphs of a real corpus DOCX, converted as Word-made PDF pages."""
    d = docx.Document(str(src))
    body = d.element.body
    paras = [p for p in body if p.tag == qn("w:p")]
    for p in paras[keep:]:
        body.remove(p)
    for t in body.findall(qn("w:tbl")):
        body.remove(t)
    kept = [p.text for p in d.paragraphs]
    _save(d, name, tmp, kept)


def scanned() -> None:
    """A page that is only an image of text: no text layer, as a scanner makes."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi, grey
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 36)
    for i, line in enumerate(synthetic_paragraphs(3, 4, with_headings=False)):
        draw.text((120, 150 + i * 90), line[:28], fill=0, font=font)
    img.convert("1").save(OUT / "scanned.pdf", "PDF", resolution=150)


def encrypted() -> None:
    """kangxi.pdf locked with a user password (an empty password does not open it)."""
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(OUT / "kangxi.pdf"))
    w.encrypt(user_password="甲市2025", owner_password="owner", algorithm="AES-128")
    with open(OUT / "encrypted.pdf", "wb") as fh:
        w.write(fh)


def full(outdir: Path) -> None:
    """Every corpus report as a PDF (txt via LibreOffice; CSV/JSONL records' report field first
    written to .txt; DOCX converted directly), for the benchmark and the retrieval check."""
    sys.path.insert(0, str(ROOT))
    from rag.read.formats import read_source

    outdir.mkdir(parents=True, exist_ok=True)
    text_dir = outdir / "text"
    text_dir.mkdir(exist_ok=True)
    for src in sorted(REPORTS.iterdir()):
        if src.suffix == ".docx":
            _convert(src, outdir)
            d = docx.Document(str(src))
            (text_dir / f"{src.stem}.txt").write_text("\n".join(p.text for p in d.paragraphs), encoding="utf-8")
            continue
        items = read_source(src)
        for item in items:
            stem = src.stem + (f"-{item.suffix_id}" if item.suffix_id else "")
            txt = text_dir / f"{stem}.txt"
            txt.write_text(item.text, encoding="utf-8")
            _convert(txt, outdir)
    (outdir / "manifest.json").write_text(json.dumps(sorted(p.name for p in outdir.glob("*.pdf"))), encoding="utf-8")


UPLOAD_REPORT = [  # a made-up two-page report for the upload-and-answer test: the answer is on page 2
    "青禾市2025年政府工作报告",
    "——2025年1月18日在青禾市第九届人民代表大会第三次会议上",
    "各位代表：",
    "现在，我代表市人民政府，向大会报告工作，请予审议。",
    "一、2024年工作回顾",
    "过去一年，全市地区生产总值增长5.4%，一般公共预算收入增长3.8%。",
    "PAGEBREAK",
    "二、2025年主要任务",
    "（一）建设宜居城市",
    "今年全市新建口袋公园64个，改造农贸市场23个，新增停车泊位5200个。",
]


def upload_report(tmp: Path) -> None:
    from docx.enum.text import WD_BREAK

    d = _new_doc()
    paras = []
    for text in UPLOAD_REPORT:
        if text == "PAGEBREAK":
            d.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
            continue
        d.add_paragraph(text)
        paras.append(text)
    _save(d, "upload_report", tmp, paras)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", type=Path, help="also write full PDFs of every corpus report here")
    args = ap.parse_args()
    if args.full:
        full(args.full)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        running_heads(tmp)
        two_columns(tmp)
        kangxi(tmp)
        word_report(tmp, REPORTS / "07_province_guangdong_2025.docx", "word_07", 9)
        word_report(tmp, REPORTS / "08_province_ningxia_2025.docx", "word_08", 8)
        upload_report(tmp)
    scanned()
    encrypted()
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:>8}  {p.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
