"""Raw llama.cpp speed of the installed build: prompt processing and decoding tokens/s per model.

    .venv/bin/python eval/bench_llm.py [--models default,small] [--repeat 3] [--prompt-tokens 256]
        [--decode-tokens 64] [--json]
    .venv/bin/python eval/bench_llm.py --variants [--models default] [--rounds 3]

`--variants` compares the llama.cpp settings the product could run with on this CPU — threads, batch
sizes, flash attention, the key-value cache's type and the weights' repacking — against the
product's own (`base`, the settings of `rag.answer.llm.LlamaCppLLM`), each loaded afresh, in
rounds whose order rotates so that every variant meets the same machine; per variant the median
over rounds of load time, prompt tok/s and decode tok/s, and the ratio to `base` of the same run.

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


# name → the Llama arguments that differ from the product's (`base`); "repack": False loads the
# weights without the CPU's repacked layout (llama.cpp's extra buffer types)
VARIANTS: dict[str, dict] = {
    "base": {},
    "threads1": {"n_threads": 1, "n_threads_batch": 1},
    "decode1-prompt2": {"n_threads": 1},
    "batch128": {"n_batch": 128, "n_ubatch": 128},
    "batch256": {"n_batch": 256, "n_ubatch": 256},
    "flash": {"flash_attn": True},
    "flash-kv-q8": {"flash_attn": True, "type_k": 8, "type_v": 8},  # GGML_TYPE_Q8_0
    "no-repack": {"repack": False},
}


def load(path: Path, threads: int, **change):
    """The model loaded as the product loads it, with `change` applied."""
    import llama_cpp
    from llama_cpp import Llama

    kwargs = {"model_path": str(path), "n_ctx": 2048, "n_threads": threads, "n_threads_batch": threads,
              "n_batch": 512, "use_mmap": True, "verbose": False}
    repack = change.pop("repack", True)
    kwargs.update(change)
    defaults = llama_cpp.llama_cpp.llama_model_default_params
    if not repack:
        def no_repack():
            params = defaults()
            params.use_extra_bufts = False
            return params

        llama_cpp.llama_cpp.llama_model_default_params = no_repack
    try:
        return Llama(**kwargs)
    finally:
        llama_cpp.llama_cpp.llama_model_default_params = defaults


def bench(path: Path, threads: int, prompt_tokens: int, decode_tokens: int, repeat: int, **change) -> dict:
    t = time.perf_counter()
    llm = load(path, threads, **change)
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
    del llm
    return {"load_s": round(load_s, 2), "prompt_tok_s": round(statistics.median(pp[1:]), 1),
            "decode_tok_s": round(statistics.median(tg[1:]), 1), "prompt_runs": [round(x, 1) for x in pp[1:]],
            "decode_runs": [round(x, 1) for x in tg[1:]]}


def compare_variants(path: Path, threads: int, args) -> dict:
    """Every variant loaded afresh once per round, the order rotated each round."""
    names = list(VARIANTS)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            row = bench(path, threads, args.prompt_tokens, args.decode_tokens, 1, **dict(VARIANTS[name]))
            runs[name].append(row)
            print(f"round {r + 1} {name}: {row}", file=sys.stderr, flush=True)
    out = {}
    for name in names:
        out[name] = {key: round(statistics.median(x[key] for x in runs[name]), 2)
                     for key in ("load_s", "prompt_tok_s", "decode_tok_s")}
    for name in names:
        for key in ("prompt_tok_s", "decode_tok_s"):
            out[name][key.replace("tok_s", "vs_base")] = round(out[name][key] / out["base"][key], 3)
    return out


def _header(build: dict, key: str, figures: dict, as_json: bool) -> bool:
    """The figures as one JSON line (True: nothing more to print), or the build's lines before the table."""
    if as_json:
        print(json.dumps({"build": build, key: figures}))
        return True
    print(f"llama-cpp-python {build['llama_cpp_python']} from {build['module']}")
    print(f"build: {build['system_info']}")
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="default,small")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--variants", action="store_true", help="Compare llama.cpp settings (see VARIANTS).")
    ap.add_argument("--rounds", type=int, default=3, help="With --variants: rounds of every variant.")
    args = ap.parse_args()
    import llama_cpp

    from rag.models import require_llm

    settings = Settings()
    info = llama_cpp.llama_print_system_info()
    build = {"llama_cpp_python": llama_cpp.__version__, "module": str(Path(llama_cpp.__file__).parent),
             "system_info": info.decode() if isinstance(info, bytes) else str(info), "threads": settings.threads}
    if args.variants:
        table = {name: compare_variants(require_llm(settings, name), settings.threads, args)
                 for name in args.models.split(",")}
        if _header(build, "variants", table, args.json):
            return
        print(f"({args.prompt_tokens}-token prompt, {args.decode_tokens} tokens decoded, {settings.threads} threads "
              f"unless the variant says otherwise; median of {args.rounds} rounds, each variant loaded afresh)")
        for model, rows_ in table.items():
            print(f"{model}:")
            print(f"  {'variant':<16} {'load s':>7} {'prompt tok/s':>13} {'×base':>6} {'decode tok/s':>13} {'×base':>6}")
            for name, r in rows_.items():
                print(f"  {name:<16} {r['load_s']:>7} {r['prompt_tok_s']:>13} {r['prompt_vs_base']:>6} "
                      f"{r['decode_tok_s']:>13} {r['decode_vs_base']:>6}")
        return
    rows = {}
    for name in args.models.split(","):
        rows[name] = bench(require_llm(settings, name), settings.threads, args.prompt_tokens, args.decode_tokens,
                           args.repeat)
        print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    if _header(build, "models", rows, args.json):
        return
    print(f"{'model':<8} {'prompt tok/s':>12} {'decode tok/s':>12}   ({args.prompt_tokens}-token prompt, "
          f"{args.decode_tokens} tokens decoded, {settings.threads} threads, median of {args.repeat})")
    for name, r in rows.items():
        print(f"{name:<8} {r['prompt_tok_s']:>12} {r['decode_tok_s']:>12}")


if __name__ == "__main__":
    main()
