"""Speed of the Word reader: the two corpus .docx reports and a built 20,000-paragraph document.

Run from the repository root: ``python eval/bench_read_docx.py`` (prints ms per file and
paragraphs per second; no model is loaded)."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docx  # noqa: E402

from rag.read.docx import read_docx  # noqa: E402


def big_document(n: int = 20_000) -> bytes:
    d = docx.Document()
    for i in range(n):
        if i % 50 == 0:
            d.add_paragraph(f"第{i // 50 + 1}部分", style="Heading 1")
        p = d.add_paragraph()
        p.add_run("甲市着力扩大内需。").bold = True
        p.add_run("全年地区生产总值增长5%，社会消费品零售总额增长6%，乙县城乡居民收入稳步提高。")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def timed(raw: bytes, name: str, repeat: int) -> None:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        st = read_docx(raw, name)[0]
        best = min(best, time.perf_counter() - t0)
    n = len(st.source_map)
    print(f"{name}: {best * 1000:.0f} ms, {n} lines, {n / best:,.0f} lines/s, {len(raw) >> 10} KB")


if __name__ == "__main__":
    for path in sorted((ROOT / "eval" / "corpus" / "reports").glob("*.docx")):
        timed(path.read_bytes(), path.name, 5)
    timed(big_document(), "built-20000-paragraphs.docx", 2)
