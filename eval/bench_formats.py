"""Retrieval on the same reports as text, Word, PDF and web page: does the format cost answers?

    .venv/bin/python eval/bench_formats.py [--work /tmp/formats] [--formats text,docx,pdf,html]
        [--questions eval/corpus-questions.jsonl] [--cache-from INDEX_DIR] [--json]

Every report of `eval/corpus/reports/` is written in each format the way such files are made in
practice: **text** is the report as read (a dataset record's report field, a Word file's text);
**docx** is the corpus's own Word file where it has one, else a Word file with one paragraph per
line made with python-docx; **pdf** is that Word file printed by LibreOffice (`soffice --headless
--convert-to pdf`, as an office exports it: running page numbers, line breaks, pages); **html** is
the report set in a made-up government portal page by `eval/make_html_fixtures.py` (its layouts in
turn: paragraphs, line breaks, headings, a table layout, GBK pages; navigation, breadcrumb, sidebar,
share buttons, footer, scripts). Each format's folder is indexed on its own (`rag index` with
`RAG_SEEDS_DIR`/`RAG_INDEX_DIR`) and the question file is run through retrieval
(`rag eval --retrieval-only`); a hit is a retrieved passage holding the question's evidence, so
the figures compare across formats. Also prints PDF reading speed (pages/s, median of 3 reads).

Needs LibreOffice (Debian `libreoffice-writer-nogui`, `fonts-noto-cjk`) for the PDF format; not
run in CI. `--cache-from` seeds each format's index with the embedding cache of an index already
built (vectors are keyed by the chunk text's hash, so only text that differs is embedded again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "eval"))

import make_html_fixtures as html_fixtures  # noqa: E402
from rag.read.formats import read_source  # noqa: E402

CORPUS = ROOT / "eval" / "corpus" / "reports"
RAG = [str(ROOT / ".venv" / "bin" / "rag")]

def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def report_text(path: Path) -> str:
    """The report as the reader gives it (one record per file in this corpus)."""
    return read_source(path)[0].text


def write_docx(text: str, target: Path) -> None:
    from docx import Document

    d = Document()
    for line in text.split("\n"):
        if line.strip():
            d.add_paragraph(line.strip())
    d.save(target)


def write_html(src: Path, target: Path, i: int) -> None:
    """The report as a portal page of the fixtures' generator, the layouts taken in turn."""
    title, paras = html_fixtures.report(src)
    raw, _ = html_fixtures.page(title, paras, html_fixtures.LAYOUTS[i % len(html_fixtures.LAYOUTS)], table=False)
    target.write_bytes(raw)


def to_pdf(docx_dir: Path, pdf_dir: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise SystemExit("LibreOffice (soffice) is needed for the PDF format: apt-get install libreoffice-writer-nogui")
    files = sorted(str(p) for p in docx_dir.glob("*.docx"))
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(pdf_dir), *files],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_formats(work: Path, formats: list[str]) -> dict[str, Path]:
    dirs = {f: work / f for f in formats}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    docx_dir = dirs.get("docx") or work / "docx"
    docx_dir.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(sorted(p for p in CORPUS.iterdir() if not p.name.startswith("."))):
        text = report_text(src)
        stem = src.stem
        if "text" in dirs:
            (dirs["text"] / f"{stem}.txt").write_text(text, encoding="utf-8")
        target = docx_dir / f"{stem}.docx"
        if src.suffix == ".docx":
            shutil.copy(src, target)
        elif not target.exists():
            write_docx(text, target)
        if "html" in dirs:
            write_html(src, dirs["html"] / f"{stem}.html", i)
    if "pdf" in dirs and not any(dirs["pdf"].glob("*.pdf")):
        log("printing the Word files to PDF with LibreOffice …")
        to_pdf(docx_dir, dirs["pdf"])
    return dirs


def retrieval(folder: Path, index_dir: Path, questions: Path, cache_from: Path | None = None) -> dict:
    env = {**os.environ, "RAG_SEEDS_DIR": str(folder), "RAG_INDEX_DIR": str(index_dir)}
    if cache_from is not None and not (index_dir / "cache").exists():
        index_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(cache_from / "cache", index_dir / "cache")
    subprocess.run(RAG + ["index", "--quiet"], env=env, check=True)
    out = index_dir / "retrieval.jsonl"
    done = subprocess.run(RAG + ["eval", "--retrieval-only", "--questions", str(questions), "--json",
                                 "--out", str(out)], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def pdf_speed(pdf_dir: Path) -> dict:
    from rag.read.pdf import read_pdf

    pages, times = 0, []
    files = sorted(pdf_dir.glob("*.pdf"))
    for _ in range(3):
        t = time.perf_counter()
        n = 0
        for f in files:
            src = read_pdf(f.read_bytes(), f.name)[0]
            n += max((s.page or 0) for s in src.source_map)
        times.append(time.perf_counter() - t)
        pages = n
    med = statistics.median(times)
    return {"files": len(files), "pages": pages, "seconds": round(med, 2), "pages_per_s": round(pages / med, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/formats"))
    ap.add_argument("--formats", default="text,docx,pdf,html")
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "corpus-questions.jsonl")
    ap.add_argument("--cache-from", type=Path, help="an index folder whose embedding cache to start from")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    formats = args.formats.split(",")
    dirs = make_formats(args.work, formats)
    results: dict[str, dict] = {}
    for fmt, folder in dirs.items():
        log(f"indexing and searching the {fmt} versions …")
        m = retrieval(folder, args.work / f"index-{fmt}", args.questions, args.cache_from)
        results[fmt] = m
    speed = pdf_speed(dirs["pdf"]) if "pdf" in dirs else None
    if args.json:
        print(json.dumps({"retrieval": results, "pdf_speed": speed}, ensure_ascii=False, indent=1))
        return
    base = results.get("text", {}).get("overall", {})
    print(f"{'format':8} {'n':>4} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6} {'mrr@10':>6}  Δhit@5 vs text")
    for fmt, m in results.items():
        o = m["overall"]
        delta = o["hit@5"] - base["hit@5"] if base else 0.0
        print(f"{fmt:8} {o['n']:>4} {o['hit@1']:>6.3f} {o['hit@5']:>6.3f} {o['hit@10']:>6.3f} {o['mrr@10']:>6.3f}  {delta:+.3f}")
    docs = sorted({d for m in results.values() for d in m.get("by_doc", {})})
    if docs:
        print("\nhit@5 by document")
        print(f"{'doc':36} " + " ".join(f"{f:>6}" for f in results))
        for d in docs:
            print(f"{d[:36]:36} " + " ".join(f"{results[f].get('by_doc', {}).get(d, {}).get('hit@5', float('nan')):>6.3f}"
                                             for f in results))
    if speed:
        print(f"\nPDF reading: {speed['pages']} pages in {speed['files']} files, {speed['seconds']} s "
              f"(median of 3) = {speed['pages_per_s']} pages/s")


if __name__ == "__main__":
    main()
