"""llama-cpp-python's OpenAI-compatible server, run so that its answers are the in-process model's.

    python -m rag.deploy.llm_server --model models/weights/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --port 8080
    RAG_LLM__BACKEND=openai RAG_LLM__BASE_URL=http://127.0.0.1:8080/v1 rag ask "甲市今年计划新增就业多少人？"

This is ``python -m llama_cpp.server`` (the same app, every flag of it works), with two differences:

* Its defaults are the flags the in-process model is built with (`server_args`): ``--n_ctx`` from
  ``RAG_N_CTX``, ``--n_batch`` and ``--n_ubatch`` 512, ``--n_threads`` and ``--n_threads_batch`` from
  ``RAG_THREADS``, ``--logits_all false``, ``--interrupt_requests false``, and prompt-lookup decoding
  when ``RAG_PROMPT_LOOKUP_TOKENS`` is set. No ``--chat_format``: both sides use the template stored
  in the GGUF (its stop token included). A flag given on the command line wins.
* Chat prompts go through the same prompt-prefix cache as in the process (`PrefixCache`, following
  ``RAG_PREFIX_CACHE`` and ``RAG_PREFIX_CACHE_DIR``). llama.cpp's arithmetic depends on how a prompt
  is cut into batches: the same prompt evaluated in one batch or in two gives slightly different
  logits (up to 0.47 apart, measured), enough to change a greedy choice now and then (through plain
  ``llama_cpp.server``, 5 answers to the 129 seed questions differed from the process's). In the process, the fixed prefix (system prompt, worked examples) is
  evaluated on its own, or loaded from the file of a process that did so, and then the question;
  plain ``llama_cpp.server`` evaluates everything after what the prompt shares with the previous one
  in one go. With the cache here, both cut every prompt at the same places.

The requests also matter: `OpenAILLM` sends the in-process sampling in full (``repeat_penalty``
included, where llama-cpp-python's server would apply its own 1.1). Answers are then identical to the
in-process model's, given the same questions in the same order (each prompt's evaluation reuses the
previous one's): exactly so with one service per server; several clients interleaving their
questions on one server get answers as good, not the same bits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

from rag.settings import Settings, get_settings


def server_args(settings: Settings, model: Path | str | None = None) -> list[str]:
    """The ``llama_cpp.server`` flags that make it compute as the in-process model does
    (`rag.answer.llm.LlamaCppLLM` builds its model with the same values)."""
    args = [] if model is None else ["--model", str(model)]
    args += ["--n_ctx", str(settings.n_ctx), "--n_batch", "512", "--n_ubatch", "512"]
    args += ["--n_threads", str(settings.threads), "--n_threads_batch", str(settings.threads)]
    # the logits of every prompt token: unused, 1.2 GB at n_ctx 2048, and computed in batches of another shape
    args += ["--logits_all", "false"]
    # otherwise another client's request ends the reply being streamed (the backend reports that as an error)
    args += ["--interrupt_requests", "false"]
    if settings.prompt_lookup_tokens > 0:
        args += ["--draft_model", "prompt-lookup-decoding"]
        args += ["--draft_model_num_pred_tokens", str(settings.prompt_lookup_tokens)]
    return args


def model_id(settings: Settings, path: Path) -> str:
    """What names a model in the prefix-cache files: the manifest's sha256 for a model it lists (as
    in the process, so a server and `rag ask` on one machine share the files), else name, size and
    modification time."""
    from rag.models import load_manifest

    for spec in load_manifest(settings).values():
        if spec.file == path.name and spec.sha256:
            return spec.sha256
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def attach_prefix_cache(llama: Any, settings: Settings, path: Path, n_ctx: int) -> None:
    """Route `llama`'s chat completions through the prompt-prefix cache, as `LlamaCppLLM.stream` does:
    the state is made to begin with the prompt's fixed prefix first, then the template's own handler
    runs."""
    from rag.answer.prefix_cache import PrefixCache

    cache = PrefixCache(llama, settings.kv_cache_dir, model_id(settings, path), n_ctx)
    handler = cache.handler

    def chat(*, llama: Any, messages: list[dict], **kwargs: Any) -> Any:
        cache.prepare(messages)
        return handler(llama=llama, messages=messages, **kwargs)

    llama.chat_handler = chat


def main(argv: list[str] | None = None) -> None:
    """Parse ``llama_cpp.server``'s flags over this product's defaults, and serve."""
    import argparse

    import uvicorn
    from llama_cpp.server import model as server_model
    from llama_cpp.server.app import create_app
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings
    from llama_cpp.server.settings import Settings as ServerFlags

    settings = get_settings()
    argv = sys.argv[1:] if argv is None else argv
    model = None
    if not any(arg == "--model" or arg.startswith("--model=") for arg in argv):
        from rag.models import require_llm

        model = require_llm(settings, settings.llm.choice)
    parser = argparse.ArgumentParser(
        prog="python -m rag.deploy.llm_server",
        description="llama_cpp.server with the in-process model's flags and prompt-prefix cache.",
    )
    add_args_from_model(parser, ServerFlags)
    args = parser.parse_args([*server_args(settings, model), *argv])
    # (its stubs say it returns the class; it returns an instance)
    server_settings = cast(ServerSettings, parse_model_from_args(ServerSettings, args))
    model_settings = cast(ModelSettings, parse_model_from_args(ModelSettings, args))

    if settings.prefix_cache:
        load = server_model.LlamaProxy.load_llama_from_model_settings

        def load_with_prefix_cache(ms: Any) -> Any:
            llama = load(ms)
            attach_prefix_cache(llama, settings, Path(ms.model), ms.n_ctx)
            return llama

        server_model.LlamaProxy.load_llama_from_model_settings = staticmethod(load_with_prefix_cache)  # type: ignore[method-assign,assignment]

    app = create_app(server_settings=server_settings, model_settings=[model_settings])
    uvicorn.run(app, host=server_settings.host, port=server_settings.port)


if __name__ == "__main__":
    main()
