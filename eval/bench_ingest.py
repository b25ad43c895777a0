"""Ingestion throughput: how long the real `rag index` pipeline takes per stage, on the seeds and on
a synthetic corpus recombined from them.

    .venv/bin/python eval/bench_ingest.py [--docs 1000] [--repeat 3] [--synthetic-repeat 1] [--json] [--verbose]
    .venv/bin/python eval/bench_ingest.py --hostile [--repeat 3] [--json]

Every figure comes from the library's own functions, run on temporary index folders (the
repository's index/ is never touched):

- ingest: `ingest_paths` + `write_store` (read, clean, chunk, collapse duplicates, link twins, write
  the chunk store) — what `rag ingest` does. chunks/s counts every chunk of the store.
- embed: the embedding time that `rag.search.index.build` reports for a fresh folder, i.e. a cold
  `EmbeddingCache`: every indexed chunk (headings excluded) goes through the embedder.
- index write: the rest of that build (load the store, FAISS add, BM25 build, persist, cache save,
  manifest) = build seconds - embed seconds.
- total: ingest + cold build (median of each).
- warm: a second `build` over the same folder, so every vector comes from the embedding cache;
  cold/warm is the ratio of the two build times, measured pairwise in this process.

The embedder is loaded once (its load time is printed apart) and passed to `build`, as the API
does. One untimed warm-up (seed ingestion, tokenizer, first embedding) runs first. Medians of
`--repeat` runs; the synthetic corpus's builds run `--synthetic-repeat` times (default 1, since
embedding thousands of chunks takes minutes on two cores; 0 skips them). Synthetic documents
reuse the seeds' headings and paragraphs under a made-up place name, year and perturbed figures,
so no two produce the same embedding text and the cache cannot make them cheap. They do share
paragraphs, so ingestion links many of them as twin reports (the count is printed); twin detection
compares every pair of documents, which makes synthetic ingestion grow faster than linearly.

`--hostile` times the hostile documents of tests/hostile_docs.py instead (a report on one line, 100,000
tiny lines, thousands of paragraphs with duplicates, a page nested 50,000 deep, Word zip bombs, a PDF
of 100,000 pages or with a stream bomb, an upload of one 256 KB line with its chunks embedded) and the
translation lexicon's build against its cached load. The tests bound the work of each (function calls,
bytes inflated, pages loaded, chunks embedded), which holds on a busy machine; these are the times,
each beside the limit the tests once asserted. Rerun on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunk.clean import to_traditional  # noqa: E402
from rag.chunk.document import Document  # noqa: E402
from rag.search.embed import embed_text, get_embedder  # noqa: E402
from rag.search.index import build  # noqa: E402
from rag.ingest import ingest_paths  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.search.store import write_store  # noqa: E402
from rag.search.text import tokenize  # noqa: E402

POOL = "安宁平和清远新华丰东临永嘉兴泰昌德隆云阳川江河湖明光盛庆福寿长乐春秋金玉松柏桃梅兰竹青白丹"
_NUM = re.compile(r"\d+(?:\.\d+)?")
_YEAR = re.compile(r"(?<!\d)20\d{2}(?!\d)")


def num(x: float | None) -> str:
    """A rate with about three significant digits."""
    return "-" if x is None else f"{x:.3g}" if x < 100 else f"{x:.0f}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- synthetic corpus -------------------------------------------------------------------------------
def seed_material(docs: list[Document]) -> list[dict]:
    """Per seed: place, year, script and its sections as (heading lines, paragraphs), in reading order."""
    out = []
    for d in docs:
        heads: dict[tuple[int, str], str] = {}
        paras: dict[tuple[int, str], list[str]] = defaultdict(list)
        for c in d.chunks:
            key = (c.article, c.section_path)
            if c.kind == "heading":
                heads[key] = c.text
            elif c.kind in ("body", "bullet"):
                if c.part > 1 and paras[key]:
                    paras[key][-1] += c.text  # the parts of a split paragraph make the paragraph again
                else:
                    paras[key].append(c.text)
        sections = []
        for (art, path), ps in paras.items():
            bits = path.split(".")
            prefixes = [(art, ".".join(bits[:i])) for i in range(1, len(bits) + 1)]
            lines = [heads[p] for p in prefixes if p in heads]
            if lines:
                sections.append((lines, ps))
        if sections:
            out.append({"place": d.meta.place, "year": d.meta.year, "trad": d.meta.script == "traditional",
                        "sections": sections})
    return out


def make_corpus(material: list[dict], n: int, paras_per_doc: int, rng: random.Random, out: Path) -> list[dict]:
    """Write `n` report-like files to `out`; returns what each was generated with (place, year, seed)."""
    out.mkdir(parents=True, exist_ok=True)
    width = 2 if n < 1500 else 3
    used = {m["place"] for m in material}
    made = []
    for i in range(n):
        place = "".join(rng.choice(POOL) for _ in range(width)) + "州市"
        while place in used:
            place = "".join(rng.choice(POOL) for _ in range(width)) + "州市"
        used.add(place)
        seed = rng.randrange(len(material))
        m = material[seed]
        year = rng.randint(2019, 2025)
        shift = year - (m["year"] or year)
        secs = sorted(rng.sample(range(len(m["sections"])), rng.randint(1, min(3, paras_per_doc, len(m["sections"])))))
        quota = [1] * len(secs)
        for _ in range(paras_per_doc - len(secs)):
            quota[rng.randrange(len(secs))] += 1
        head = ["# 政府工作报告", f"## ——{year}年{rng.randint(1, 3)}月{rng.randint(1, 28)}日在{place}第"
                f"{rng.choice('三四五六七八九')}届人民代表大会第{rng.choice('一二三四五')}次会议上"]
        lines = [to_traditional(h) for h in head] if m["trad"] else head
        old, stem = m["place"], m["place"][:-1]

        def recast(p: str) -> str:
            if old:
                p = p.replace(old, place)
                if len(stem) >= 2:
                    p = p.replace(stem, place[:-1])
            return _NUM.sub(lambda x: x.group(0) if _YEAR.fullmatch(x.group(0)) else
                            "".join(str(rng.randint(0 if k else 1, 9)) if ch.isdigit() else ch
                                    for k, ch in enumerate(x.group(0))), p)

        seen_heads: set[str] = set()
        for s, q in zip(secs, quota):
            hl, ps = m["sections"][s]
            for h in hl:
                if h not in seen_heads:
                    seen_heads.add(h)
                    lines.append(_YEAR.sub(lambda x: str(int(x.group(0)) + shift), h))
            picks = sorted(rng.sample(range(len(ps)), min(q, len(ps))))
            lines += [recast(ps[k]) for k in picks]
        (out / f"syn{i:05d}.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        made.append({"place": place, "year": year, "seed": seed})
    return made


def describe(docs: list[Document], made: list[dict]) -> None:
    """--verbose: how the synthetic documents were cut (sample and distribution) on stderr."""
    for d in docs[:3]:
        kinds = Counter(c.kind for c in d.chunks)
        secs = sorted({" › ".join(c.section) for c in d.chunks if c.section})
        log(f"  {d.id}: place {d.meta.place} year {d.meta.year} · {dict(kinds)} · sections {secs}")
        for c in d.chunks:
            log(f"    [{c.kind:7s}] {c.id}  {c.text[:50]}")
    per = [len(d.chunks) for d in docs]
    idx = [sum(c.searchable for c in d.chunks) for d in docs]
    texts = [embed_text(c) for d in docs for c in d.chunks if c.searchable]
    wrong = sum(1 for d, g in zip(docs, made) if d.meta.place != g["place"] or d.meta.year != g["year"])
    log(f"  chunks/doc min {min(per)} median {statistics.median(per)} max {max(per)}; indexed/doc median "
        f"{statistics.median(idx)}; docs with sections {sum(any(c.section for c in d.chunks) for d in docs)}/{len(docs)}; "
        f"twin-linked {sum(bool(d.twin_of) for d in docs)}; collapsed duplicates "
        f"{sum(d.duplicates_collapsed for d in docs)}; place/year not recovered {wrong}; "
        f"distinct embed texts {len(set(texts))}/{len(texts)}")


# --- stages -----------------------------------------------------------------------------------------
def bench(name: str, paths: list[Path], tmp: Path, embedder, repeat: int, builds: int) -> dict:
    """Median seconds per stage for one corpus, with the run lists."""
    ingest_s: list[float] = []
    for r in range(repeat):
        s = Settings(index_dir=tmp / f"{name}-ingest-{r}")
        t = time.perf_counter()
        docs = ingest_paths(paths, s, progress=False)
        write_store(docs, s)
        ingest_s.append(time.perf_counter() - t)
        shutil.rmtree(s.index_dir, ignore_errors=True)
        log(f"{name}: ingest run {r + 1}/{repeat} {ingest_s[-1]:.2f} s")
    res = {"docs": len(docs), "chunks": sum(len(d.chunks) for d in docs), "ingest_runs": ingest_s,
           "twin_linked": sum(bool(d.twin_of) for d in docs),
           "cold_runs": [], "embed_runs": [], "warm_runs": [], "embedded_cold": [], "embedded_warm": []}
    for r in range(builds):
        s = Settings(index_dir=tmp / f"{name}-build-{r}")
        write_store(docs, s)
        cold = build(s, progress=False, embedder=embedder)
        warm = build(s, progress=False, embedder=embedder)
        shutil.rmtree(s.index_dir, ignore_errors=True)
        res["indexed"] = cold.chunks
        for k, v in (("cold_runs", cold.seconds), ("embed_runs", cold.embed_seconds), ("warm_runs", warm.seconds),
                     ("embedded_cold", cold.embedded), ("embedded_warm", warm.embedded)):
            res[k].append(v)
        log(f"{name}: build run {r + 1}/{builds} cold {cold.seconds:.1f} s (embed {cold.embed_seconds:.1f} s, "
            f"{cold.embedded} embedded), warm {warm.seconds:.2f} s ({warm.embedded} embedded)")
    med = statistics.median
    n, c, k = res["docs"], res["chunks"], res.get("indexed", 0)
    stages = {"ingest": (med(ingest_s), len(ingest_s), c)}
    if builds:
        embed, cold = med(res["embed_runs"]), med(res["cold_runs"])
        write = med(a - b for a, b in zip(res["cold_runs"], res["embed_runs"]))
        stages |= {"embed": (embed, builds, k), "index": (write, builds, k),
                   "total": (med(ingest_s) + cold, min(len(ingest_s), builds), k),
                   "warm": (med(res["warm_runs"]), builds, k)}
        res["cold_over_warm"] = round(med(a / b for a, b in zip(res["cold_runs"], res["warm_runs"])), 1)
    res["stages"] = {st: {"seconds": round(sec, 3), "runs": runs, "docs_per_s": round(n / sec, 2) if sec else None,
                          "chunks_per_s": round(cnt / sec, 2) if sec else None}
                     for st, (sec, runs, cnt) in stages.items()}
    return res


def hostile(repeat: int) -> list[dict]:
    """Median seconds of each hostile case (tests/hostile_docs.py), beside the limit a test once held it to."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import hostile_docs as h

    from rag.errors import RagError
    from rag.read import pdf
    from rag.read.docx import read_docx
    from rag.read.html import read_html
    from rag.search.lexicon import Lexicon

    def ingest_text(text: str, tmp: Path) -> Document:
        path = Path(tempfile.mkdtemp(dir=tmp)) / "report.txt"
        path.write_text(text, encoding="utf-8")
        return ingest_paths([path], Settings(index_dir=tmp / "index"), progress=False)[0]

    def refused(fn, *args) -> None:
        try:
            fn(*args)
        except RagError:
            return
        raise SystemExit(f"{fn.__name__} did not refuse a hostile document")

    def duplicates(n: int) -> str:
        paras = [f"第{i}段：甲市全年新建改造城镇老旧小区{i % 997}个，完成投资{i % 89}.{i % 7}亿元。" for i in range(n)]
        repeated = "甲市全年新建改造城镇老旧小区5个，完成投资5.5亿元，惠及居民三万户。"
        return "甲市2024年政府工作报告\n\n" + "\n\n".join(paras[: n // 2] + [repeated] + paras[n // 2 :] + [repeated])

    page = "<html><body>" + "".join(f"<p>{p}</p>" for p in h.normal_report(40).split("\n") if p) + "</body></html>"
    nested = page.replace("</body>", "<div>" * 50_000 + "深层文字" + "</div>" * 50_000 + "</body>").encode("utf-8")
    bombs = [h.docx_zip_bomb(2 << 30), h.docx_zip_bomb(2 << 30, lie=True)]
    embedder = get_embedder(Settings())
    embedder.embed_passages(["预热"])  # its first call, so that the upload case needs no warm-up run

    def upload(tmp: Path) -> None:  # what POST /v1/documents spends on a one-line upload: cut, then embed
        doc = ingest_text(h.single_line(256 << 10, punctuated=False).decode("utf-8"), tmp)
        embedder.embed_passages([embed_text(c) for c in doc.chunks])

    def stream_bomb() -> None:
        limit, pdf.MAX_MEMORY = pdf.MAX_MEMORY, 512 << 20
        try:
            refused(pdf.read_pdf, h.pdf_stream_bomb(256 << 20), "流炸弹.pdf")
        finally:
            pdf.MAX_MEMORY = limit

    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as td:
        tmp = Path(td)
        lexicon_dir = tmp / "lexicon"
        lexicon_dir.mkdir()
        Lexicon.load(lexicon_dir)  # writes the cache the "cached load" case reads
        cases = [
            ("one line of 1 MB, sentences", 30, lambda: ingest_text(h.single_line(1 << 20).decode("utf-8"), tmp)),
            ("one line of 1 MB, no punctuation", 30,
             lambda: ingest_text(h.single_line(1 << 20, punctuated=False).decode("utf-8"), tmp)),
            ("100,000 tiny lines", None, lambda: ingest_text(h.tiny_lines(100_000).decode("utf-8"), tmp)),
            ("6,000 paragraphs with duplicates", 60, lambda: ingest_text(duplicates(6000), tmp)),
            ("upload: one 256 KB line, cut and embedded", 120, lambda: upload(tmp)),
            ("web page nested 50,000 deep", 20, lambda: read_html(nested, "深.html")),
            ("web page of 21 MB, refused", 1, lambda: refused(read_html, b"<p>" + b"a" * (21 << 20), "大.html")),
            ("Word zip bombs (2), refused", 10, lambda: [refused(read_docx, b, "炸弹.docx") for b in bombs]),
            ("PDF of 100,000 pages, refused", 10, lambda: refused(pdf.read_pdf, h.pdf_many_pages(100_000), "页.pdf")),
            ("PDF stream bomb, stopped at 512 MB", 60, stream_bomb),
            ("translation lexicon, built", None, Lexicon.build),
            ("translation lexicon, cached load", None, lambda: Lexicon.load(lexicon_dir)),
        ]
        rows = []
        for name, limit, fn in cases:
            if not name.startswith("upload"):  # minutes of embedding; its imports are warm by then
                fn()  # warm-up: imports, dictionaries
            runs = []
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - t)
            rows.append({"case": name, "seconds": round(statistics.median(runs), 3), "runs": repeat, "old_limit_s": limit})
            log(f"{name}: {rows[-1]['seconds']:.3f} s")
    return rows


LABELS = {"ingest": "ingest (read+clean+chunk+store)", "embed": "embed (cold cache)",
          "index": "index write (build - embed)", "total": "total (ingest + cold build)", "warm": "rebuild, warm cache"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1000, help="Synthetic documents (0 = seeds only).")
    ap.add_argument("--paras-per-doc", type=int, default=3, help="Body paragraphs per synthetic document.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs of every seed stage and of synthetic ingest.")
    ap.add_argument("--synthetic-repeat", type=int, default=1, help="Synthetic cold+warm builds (0 = none).")
    ap.add_argument("--seed", type=int, default=0, help="Random seed of the synthetic corpus.")
    ap.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    ap.add_argument("--verbose", action="store_true", help="Show how synthetic documents were cut (stderr).")
    ap.add_argument("--hostile", action="store_true", help="Time the hostile documents instead (see above).")
    args = ap.parse_args()
    if args.repeat < 1 or args.synthetic_repeat < 0 or args.docs < 0 or args.paras_per_doc < 1:
        ap.error("--repeat and --paras-per-doc must be >= 1, --docs and --synthetic-repeat >= 0")
    load_avg = os.getloadavg()[0]  # other jobs on the machine slow the embedder down
    if args.hostile:
        rows = hostile(args.repeat)
        if args.json:
            print(json.dumps({"load_avg_1m": round(load_avg, 2), "hostile": rows}, ensure_ascii=False))
            return
        print(f"load average {load_avg:.2f} at start; medians of {args.repeat} runs after one warm-up (the upload: none)")
        print(f"{'case':44s} {'median s':>9s} {'old test limit':>15s}")
        for r in rows:
            limit = f"< {r['old_limit_s']} s" if r["old_limit_s"] else "-"
            print(f"{r['case']:44s} {r['seconds']:>9.3f} {limit:>15s}")
        return

    base = Settings()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as td:
        tmp = Path(td)
        t = time.perf_counter()
        embedder = get_embedder(base)
        load_s = time.perf_counter() - t
        t = time.perf_counter()  # warm-up: lazy imports, converters, jieba, the embedder's first call
        seed_docs = ingest_paths([base.seeds_dir], Settings(index_dir=tmp / "warmup"), progress=False)
        tokenize("预热")
        embedder.embed_passages(["预热"])
        import bm25s, faiss  # noqa: E401,F401
        warm_s = time.perf_counter() - t
        log(f"embedder {embedder.model_id} loaded in {load_s:.2f} s; warm-up {warm_s:.2f} s")
        results = {"seeds": bench("seeds", [base.seeds_dir], tmp, embedder, args.repeat, args.repeat)}
        if args.docs:
            syn = tmp / "synthetic"
            made = make_corpus(seed_material(seed_docs), args.docs, args.paras_per_doc, random.Random(args.seed), syn)
            if args.verbose:
                describe(ingest_paths([syn], Settings(index_dir=tmp / "probe"), progress=False), made)
            results["synthetic"] = bench("synthetic", [syn], tmp, embedder, args.repeat, args.synthetic_repeat)
    summary = {"embedder": embedder.model_id, "threads": base.threads, "load_avg_1m": round(load_avg, 2),
               "embedder_load_s": round(load_s, 3), "warmup_s": round(warm_s, 3), "paras_per_doc": args.paras_per_doc,
               "seed": args.seed, "corpora": results}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    print(f"embedder {summary['embedder']}, {summary['threads']} threads, load average {load_avg:.2f} at start; "
          f"embedder load {load_s:.2f} s, warm-up {warm_s:.2f} s (not in the figures below)")
    print("medians of the runs; chunks/s counts every stored chunk for ingest, indexed chunks for the other stages")
    print(f"{'corpus':10s} {'docs':>5s} {'chunks':>6s} {'indexed':>7s}  {'stage':32s} {'runs':>4s} {'median s':>9s} "
          f"{'docs/s':>8s} {'chunks/s':>9s}")
    for name, r in results.items():
        for i, (st, v) in enumerate(r["stages"].items()):
            lead = f"{name:10s} {r['docs']:>5d} {r['chunks']:>6d} {r.get('indexed', '-'):>7}" if i == 0 else " " * 31
            print(f"{lead}  {LABELS[st]:32s} {v['runs']:>4d} {v['seconds']:>9.3f} {num(v['docs_per_s']):>8s} "
                  f"{num(v['chunks_per_s']):>9s}")
        if "cold_over_warm" in r:
            print(f"{'':31s}  cache effect: cold build / warm build = {r['cold_over_warm']}x (chunks embedded per run: "
                  f"cold {', '.join(map(str, r['embedded_cold']))}; warm {', '.join(map(str, r['embedded_warm']))})")
        else:
            print(f"{'':31s}  (builds skipped: --synthetic-repeat 0)")
        print(f"{'':31s}  documents linked as twins by ingestion: {r['twin_linked']}")


if __name__ == "__main__":
    main()
