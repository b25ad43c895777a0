"""Raw llama.cpp speed of the installed build: prompt processing and decoding tokens/s per model.

    .venv/bin/python eval/bench_llm.py [--models default,small] [--repeat 3] [--prompt-tokens 256]
        [--decode-tokens 64] [--json]

Prints the build (llama-cpp-python version and the CPU features it was compiled for), then per model
the median over `--repeat` runs of: prompt processing (a fresh context evaluating `--prompt-tokens`
tokens of report text in one call) and decoding (`--decode-tokens` greedy tokens one at a time after
that prompt). To compare two builds, install the other wheel into a folder and run the script again
with `PYTHONPATH=<folder>` — alternately, several times, so that both see the same machine:

    .venv/bin/python -m pip install --no-deps --target /tmp/llama-other <wheel>
    PYTHONPATH=/tmp/llama-other .venv/bin/python eval/bench_llm.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.settings import Settings  # noqa: E402


def report_text(n_chars: int) -> str:
    """Plain report prose from the seeds, for a realistic token mix."""
    text = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in sorted((ROOT / "seeds").glob("*.txt")))
    return "".join(text.split())[:n_chars]


def bench(path: Path, threads: int, prompt_tokens: int, decode_tokens: int, repeat: int) -> dict:
    from llama_cpp import Llama

    t = time.perf_counter()
    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                use_mmap=True, verbose=False)
    load_s = time.perf_counter() - t
    tokens = llm.tokenize(report_text(prompt_tokens * 3).encode("utf-8"), add_bos=False)[:prompt_tokens]
    pp, tg = [], []
    for _ in range(repeat + 1):  # the first run warms the pages and caches; it is not counted
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        p = len(tokens) / (time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(decode_tokens):
            tok = llm.sample(top_k=1, temp=0.0)
            llm.eval([tok])
        g = decode_tokens / (time.perf_counter() - t)
        pp.append(p)
        tg.append(g)
    return {"load_s": round(load_s, 2), "prompt_tok_s": round(statistics.median(pp[1:]), 1),
            "decode_tok_s": round(statistics.median(tg[1:]), 1), "prompt_runs": [round(x, 1) for x in pp[1:]],
            "decode_runs": [round(x, 1) for x in tg[1:]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="default,small")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import llama_cpp

    from rag.models import require_llm

    settings = Settings()
    info = llama_cpp.llama_print_system_info()
    build = {"llama_cpp_python": llama_cpp.__version__, "module": str(Path(llama_cpp.__file__).parent),
             "system_info": info.decode() if isinstance(info, bytes) else str(info), "threads": settings.threads}
    rows = {}
    for name in args.models.split(","):
        rows[name] = bench(require_llm(settings, name), settings.threads, args.prompt_tokens, args.decode_tokens,
                           args.repeat)
        print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"build": build, "models": rows}))
        return
    print(f"llama-cpp-python {build['llama_cpp_python']} from {build['module']}")
    print(f"build: {build['system_info']}")
    print(f"{'model':<8} {'prompt tok/s':>12} {'decode tok/s':>12}   ({args.prompt_tokens}-token prompt, "
          f"{args.decode_tokens} tokens decoded, {settings.threads} threads, median of {args.repeat})")
    for name, r in rows.items():
        print(f"{name:<8} {r['prompt_tok_s']:>12} {r['decode_tok_s']:>12}")


if __name__ == "__main__":
    main()
