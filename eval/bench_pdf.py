"""Which PDF library to read reports with: speed and CJK quality against the text each PDF was made from.

For each library (pypdf, pdfplumber, PyMuPDF, pypdfium2's plain text, and our reader
`rag.read.pdf`, which is pypdfium2 plus the layout rules) and each PDF that has its source text
next to it (tests/data/pdf/*.pdf + .txt, and the full reports made by
``eval/make_pdf_fixtures.py --full DIR`` in DIR/*.pdf + DIR/text/*.txt) it prints:

- pages/s: median of --runs runs over all PDFs (text extraction only, files already in memory);
- ratio: difflib ratio of the extracted CJK characters against the source's (1.0 = the same);
- missing/extra: CJK characters of the source not extracted / extracted but not in the source (%);
- order: source paragraphs (≥ 20 CJK characters) not found whole and in one piece in the
  extraction's CJK stream (a paragraph broken by a page number, a running head, columns read
  across, or characters dropped or swapped);
- kangxi: Kangxi radicals / CJK radicals (U+2E80–U+2FDF) left in the text;
- lines: for our reader only, source paragraphs that come out as exactly one output line.

    python eval/bench_pdf.py --full /tmp/pdfs [--runs 3] [--out eval/results/DATE-bench-pdf.txt]
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\u2e80-\u2fdf\uf900-\ufaff]")
_KANGXI = re.compile(r"[\u2e80-\u2fdf]")


def _pypdf(raw: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(raw)).pages]


def _pdfplumber(raw: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(raw)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def _pymupdf(raw: bytes) -> list[str]:
    import pymupdf

    with pymupdf.open(stream=raw, filetype="pdf") as doc:
        return [p.get_text() for p in doc]


def _pdfium(raw: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(raw)
    out = []
    for page in doc:
        out.append(page.get_textpage().get_text_range())
    doc.close()
    return out


def _ours(raw: bytes) -> list[str]:
    from rag.read.pdf import read_pdf

    return [read_pdf(raw, "bench.pdf")[0].text]


LIBRARIES = {"pypdf": _pypdf, "pdfplumber": _pdfplumber, "pymupdf": _pymupdf, "pypdfium2": _pdfium,
             "rag.read.pdf": _ours}


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"rag.read.pdf": "pypdfium2"}.get(name, name))
    except PackageNotFoundError:
        return "not installed"


def _cjk(text: str) -> str:
    return "".join(_CJK.findall(text))


def quality(extracted: str, source: str) -> dict:
    """CJK-only comparison of one file's extraction with its source text."""
    source = fold(source)  # the truth is the unified ideograph (the kangxi fixture's DOCX has radicals)
    a, b = _cjk(source), _cjk(extracted)
    ca, cb = Counter(a), Counter(b)
    paras = [_cjk(p) for p in source.split("\n")]
    paras = [p for p in paras if len(p) >= 20]
    return {
        "ratio": difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a else 0.0,
        "missing": sum((ca - cb).values()) / max(1, len(a)),
        "extra": sum((cb - ca).values()) / max(1, len(a)),
        "order": sum(1 for p in paras if p not in b),
        "paras": len(paras),
        "kangxi": len(_KANGXI.findall(extracted)),
    }


def _pairs(full: Path | None) -> list[tuple[str, bytes, str]]:
    out = []
    fixtures = ROOT / "tests" / "data" / "pdf"
    for pdf in sorted(fixtures.glob("*.pdf")):
        txt = pdf.with_suffix(".txt")
        if txt.exists():
            out.append((f"fixture/{pdf.name}", pdf.read_bytes(), txt.read_text(encoding="utf-8")))
    if full:
        for pdf in sorted(full.glob("*.pdf")):
            txt = full / "text" / f"{pdf.stem}.txt"
            if txt.exists():
                out.append((f"full/{pdf.name}", pdf.read_bytes(), txt.read_text(encoding="utf-8")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", type=Path, help="folder of full report PDFs (with text/<stem>.txt)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBRARIES))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    pairs = _pairs(args.full)
    import pypdfium2 as pdfium

    pages = sum(len(pdfium.PdfDocument(raw)) for _, raw, _ in pairs)
    lines = [f"# PDF library benchmark, {time.strftime('%Y-%m-%d %H:%M')}",
             f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};"
             f" load average {os.getloadavg()[0]:.1f} (busy unless ~0)",
             f"# {len(pairs)} PDFs, {pages} pages; pages/s = median of {args.runs} runs over all of them", ""]
    header = f"{'library':<14}{'version':<11}{'pages/s':>8}{'ratio':>8}{'miss%':>7}{'extra%':>7}{'order':>9}{'kangxi':>7}"
    lines.append(header)
    detail: list[str] = []
    for name in args.libs.split(","):
        fn = LIBRARIES[name]
        try:
            fn(pairs[0][1])
        except ImportError:
            lines.append(f"{name:<14}not installed")
            continue
        times, texts = [], {}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for label, raw, _ in pairs:
                texts[label] = "\n".join(fn(raw))
            times.append(time.perf_counter() - t0)
        qs = {label: quality(texts[label], src) for label, _, src in pairs}
        n_chars = {label: len(_cjk(src)) for label, _, src in pairs}
        total = sum(n_chars.values())
        ratio = sum(q["ratio"] * n_chars[k] for k, q in qs.items()) / total
        miss = sum(q["missing"] * n_chars[k] for k, q in qs.items()) / total
        extra = sum(q["extra"] * n_chars[k] for k, q in qs.items()) / total
        order = sum(q["order"] for q in qs.values())
        paras = sum(q["paras"] for q in qs.values())
        kangxi = sum(q["kangxi"] for q in qs.values())
        lines.append(f"{name:<14}{_version(name):<11}{pages / statistics.median(times):>8.1f}{ratio:>8.4f}"
                     f"{100 * miss:>7.2f}{100 * extra:>7.2f}{f'{order}/{paras}':>9}{kangxi:>7}")
        for label, q in qs.items():
            detail.append(f"  {name:<14}{label:<44} ratio {q['ratio']:.4f} miss {100 * q['missing']:.2f}% "
                          f"extra {100 * q['extra']:.2f}% order {q['order']}/{q['paras']} kangxi {q['kangxi']}")
        if name == "rag.read.pdf":
            whole = sum(sum(1 for p in src.split("\n") if len(_cjk(p)) >= 20 and
                            re.sub(r"\s", "", fold(p)) in {re.sub(r"\s", "", ln) for ln in texts[label].split("\n")})
                        for label, _, src in pairs)
            lines.append(f"{'':<14}source paragraphs read as exactly one line: {whole}/{paras}")
    out = "\n".join(lines + ["", "# per file"] + detail) + "\n"
    print(out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(out, encoding="utf-8")


def fold(text: str) -> str:
    from rag.read.pdf_layout import fold_compat

    return fold_compat(text)


if __name__ == "__main__":
    main()
