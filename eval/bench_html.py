"""Main-content extraction from portal pages: trafilatura, readability-lxml and jusText compared,
and the product's reader (`rag.read.html`, trafilatura with its options and post-processing).

    .venv/bin/python eval/bench_html.py [--repeat 3] [--out eval/results/DATE-bench-html.txt]

Pages: full corpus reports wrapped in make-believe portal chrome in every layout of
``eval/make_html_fixtures.py`` (generated into a temporary folder, never committed). Per library:

- recall: share of the report's paragraphs (and its title) found, whitespace ignored, in the text
  the library extracted;
- precision: share of the extracted characters that are report text rather than chrome (a line
  counts as report text when it occurs in the report, whitespace ignored);
- ms/page: median extraction time (the libraries get the decoded page; the reader gets the bytes
  and includes decoding, parsing and cleaning).

Libraries that are not installed are skipped with a note. Timings are of one machine at one time:
rerun on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

import make_html_fixtures as mk  # noqa: E402
from rag.read.html import read_html  # noqa: E402
from rag.read.html_page import decode_page  # noqa: E402

BENCH_REPORTS = ["11_prefecture_baoding_2021.txt", "13_county_gaoyang_2018.txt", "02_national_2020.txt",
                 "05_national_2024.txt", "09_province_beijing_2026.csv"]
_WS = re.compile(r"\s+")
_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "td", "th", "table", "section",
               "article", "blockquote", "pre", "ul", "ol", "dd", "dt", "br", "hr", "center", "font"}


def compact(s: str) -> str:
    return _WS.sub("", s)


def html_lines(fragment: str) -> list[str]:
    """Lines of an HTML fragment: a break at every block element and <br>."""
    import lxml.html

    root = lxml.html.fromstring(fragment)
    parts: list[str] = []

    def walk(el) -> None:
        block = isinstance(el.tag, str) and el.tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if isinstance(el.tag, str) and el.tag not in ("script", "style"):
            parts.append(el.text or "")
            for c in el:
                walk(c)
        if block:
            parts.append("\n")
        parts.append(el.tail or "")

    walk(root)
    return [t.strip() for t in "".join(parts).split("\n") if t.strip()]


# --- the candidates ----------------------------------------------------------------------------------
def trafilatura_default(raw: bytes, text: str) -> list[str]:
    import trafilatura

    return (trafilatura.extract(text) or "").split("\n")


def trafilatura_recall(raw: bytes, text: str) -> list[str]:
    import trafilatura

    out = trafilatura.extract(text, output_format="html", favor_recall=True, include_tables=True,
                              include_comments=False)
    return html_lines(out) if out else []


def readability(raw: bytes, text: str) -> list[str]:
    from readability import Document

    return html_lines(Document(text).summary(html_partial=True))


def justext_(raw: bytes, text: str) -> list[str]:
    import justext

    # no Chinese stoplist ships with jusText: its documented language-independent mode is an
    # empty stoplist with both stopword thresholds at 0 (length and link density decide)
    paras = justext.justext(text.encode("utf-8"), frozenset(), stopwords_low=0, stopwords_high=0,
                            encoding="utf-8")
    return [p.text for p in paras if not p.is_boilerplate]


def reader(raw: bytes, text: str) -> list[str]:
    out = read_html(raw, "page.html")[0].text
    return [re.sub(r"^#{1,4} ", "", line) for line in out.split("\n")]


CANDIDATES: list[tuple[str, str, Callable[[bytes, str], list[str]]]] = [
    ("trafilatura (defaults, txt)", "trafilatura", trafilatura_default),
    ("trafilatura (favor_recall, tables, html)", "trafilatura", trafilatura_recall),
    ("readability-lxml (summary)", "readability", readability),
    ("jusText (no stoplist)", "justext", justext_),
    ("rag.read.html (trafilatura xml + edges)", "trafilatura", reader),
]


def score(lines: list[str], side: dict) -> tuple[float, float]:
    report = compact(side["title"] + "".join(side["paragraphs"]) + "".join(c for r in side["table_rows"] for c in r))
    got = compact("".join(lines))
    wanted = [side["title"]] + side["paragraphs"]
    recall = sum(1 for p in wanted if compact(p) in got) / len(wanted)
    total = good = 0
    for line in lines:
        for piece in line.strip().strip("|").split("|"):  # table cells, in the reader's and markdown's form
            c = compact(piece)
            total += len(c)
            good += len(c) if c and c in report else 0
    return recall, (good / total if total else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per page (median)")
    ap.add_argument("--out", type=Path, help="also write the report to this file")
    args = ap.parse_args()
    pages: list[tuple[str, bytes, str, dict]] = []
    for report_file in BENCH_REPORTS:
        title, paras = mk.report(mk.REPORTS / report_file)
        for layout in mk.LAYOUTS:
            raw, side = mk.page(title, paras, layout)
            text, _ = decode_page(raw, "page.html")
            pages.append((f"{Path(report_file).stem}/{layout}", raw, text, side))
    lines_out = [f"pages: {len(pages)} ({len(BENCH_REPORTS)} full reports x {len(mk.LAYOUTS)} layouts: "
                 f"{', '.join(mk.LAYOUTS)}); timings: median of {args.repeat} runs per page", ""]
    header = f"{'library':44} {'recall':>7} {'min':>6} {'precision':>9} {'min':>6} {'ms/page':>8}"
    lines_out += [header, "-" * len(header)]
    notes: list[str] = []
    by_layout: dict[str, dict[str, list[float]]] = {}
    for label, module, fn in CANDIDATES:
        try:
            __import__(module)
        except ImportError:
            notes.append(f"{label}: not installed, skipped")
            continue
        recalls, precisions, times = [], [], []
        for pname, raw, text, side in pages:
            fn(raw, text)  # warm-up (imports, caches)
            ts = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                lines = fn(raw, text)
                ts.append((time.perf_counter() - t) * 1000)
            r, p = score(lines, side)
            recalls.append(r)
            precisions.append(p)
            times.append(statistics.median(ts))
            by_layout.setdefault(label, {}).setdefault(pname.split("/")[1], []).append(r * p)
        lines_out.append(f"{label:44} {statistics.mean(recalls):7.3f} {min(recalls):6.3f} "
                         f"{statistics.mean(precisions):9.3f} {min(precisions):6.3f} {statistics.median(times):8.1f}")
    lines_out += ["", "recall x precision by layout (mean over reports):",
                  f"{'library':44} " + " ".join(f"{lay:>14}" for lay in mk.LAYOUTS)]
    for label, layouts in by_layout.items():
        lines_out.append(f"{label:44} " + " ".join(f"{statistics.mean(layouts[lay]):14.3f}" for lay in mk.LAYOUTS))
    lines_out += [""] + notes
    text = "\n".join(lines_out).rstrip() + "\n"
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
