"""LLM backends behind one small interface, chosen by ``RAG_LLM__BACKEND``.

* ``llamacpp`` (default): a GGUF model in this process (llama-cpp-python). The fixed system prompt
  comes first in every prompt, so llama.cpp reuses its key-value state from one question to the next,
  and that state is kept on disk for the next process (`prefix_cache`).
* ``openai``: any OpenAI-compatible chat-completions server (llama.cpp's server, vLLM, Ollama …)
  at ``RAG_LLM__BASE_URL``: the way to a GPU box or a shared model server.
* ``mock``: deterministic and instant, for tests that are about something else (API routes): it
  answers with the passage sentence that shares most with the question, which the citation checks
  accept as a quote.

Every backend streams, takes a per-call ``max_tokens``, stops when its ``cancel`` event is set, and
counts the tokens of the question-specific part of a prompt.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterator
from typing import Any, Protocol, cast

from rag.errors import LLMUnavailable, RagError
from rag.settings import Settings

# greedy decoding: answers must be reproducible (the benchmarks replay prompts with these too)
SAMPLING = {"temperature": 0.0, "top_k": 1, "repeat_penalty": 1.05}


class LLM(Protocol):
    """What the answering stage needs of a model."""

    name: str  # the model choice it serves: default | small
    max_tokens: int  # the answer budget when a call gives none

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        """The reply's text pieces as they are generated."""
        ...

    def count_tokens(self, messages: list[dict]) -> int:
        """Tokens of the last message (the question-specific part; the fixed prefix is cached)."""
        ...

    def warm(self, messages: list[dict]) -> None:
        """Get ready for prompts that start like `messages` (all but the last one); may do nothing."""
        ...


def make_llm(settings: Settings, name: str | None = None) -> LLM:
    """The backend the settings choose, serving model choice `name` (default | small)."""
    name = name or settings.llm.choice
    match settings.llm.backend:
        case "llamacpp":
            return LlamaCppLLM(settings, name)
        case "openai":
            return OpenAILLM(settings, name)
        case "mock":
            return MockLLM(settings, name)
    raise RagError(f"unknown LLM backend {settings.llm.backend!r}; choose llamacpp, openai or mock")


class Capped:
    """A model seen through a per-request answer budget (the shared model is not changed)."""

    def __init__(self, llm: LLM, max_tokens: int):
        self.inner, self.name = llm, llm.name
        self.max_tokens = max(1, min(llm.max_tokens, max_tokens))

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        return self.inner.stream(messages, min(max_tokens or self.max_tokens, self.max_tokens), cancel)

    def count_tokens(self, messages: list[dict]) -> int:
        return self.inner.count_tokens(messages)

    def warm(self, messages: list[dict]) -> None:
        self.inner.warm(messages)


class LlamaCppLLM:
    """One llama.cpp model, loaded once (memory-mapped) and used by one generation at a time."""

    def __init__(self, settings: Settings, name: str):
        from rag.models import require_llm

        path = require_llm(settings, name)
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise RagError("llama-cpp-python is not installed") from exc
        self.name = name
        self.path = path
        self.lock = threading.Lock()
        draft = None
        if settings.prompt_lookup_tokens > 0:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            draft = LlamaPromptLookupDecoding(num_pred_tokens=settings.prompt_lookup_tokens)
        self.llm = Llama(
            model_path=str(path),
            n_ctx=settings.n_ctx,
            n_threads=settings.threads,
            n_threads_batch=settings.threads,
            n_batch=512,
            use_mmap=True,
            verbose=False,
            draft_model=draft,
        )
        self.max_tokens = settings.max_answer_tokens
        self.prefix_cache = None
        if settings.prefix_cache:
            from rag.answer.prefix_cache import PrefixCache
            from rag.models import get_spec

            spec = get_spec(settings, name)
            model_id = spec.sha256 or f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
            self.prefix_cache = PrefixCache(self.llm, settings.kv_cache_dir, model_id, settings.n_ctx)

    def count_tokens(self, messages: list[dict]) -> int:
        return len(self.llm.tokenize(messages[-1]["content"].encode("utf-8"), add_bos=False))

    def warm(self, messages: list[dict]) -> None:
        """The prefix's state in memory before the first question: from disk, or evaluated and written."""
        if self.prefix_cache is not None:
            with self.lock:
                self.prefix_cache.prepare(messages)

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        with self.lock:
            if self.prefix_cache is not None:
                self.prefix_cache.prepare(messages)
            # with stream=True the call returns the chunks (its stubs name every return type)
            it = cast(
                "Iterator[dict[str, Any]]",
                self.llm.create_chat_completion(
                    messages=cast(Any, messages),
                    max_tokens=max_tokens or self.max_tokens,
                    stream=True,
                    temperature=SAMPLING["temperature"],
                    top_k=int(SAMPLING["top_k"]),
                    repeat_penalty=SAMPLING["repeat_penalty"],
                ),
            )
            for part in it:
                if cancel is not None and cancel.is_set():
                    break
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


class OpenAILLM:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint, streamed over SSE.

    Cancelling closes the response, which stops the generation on servers that watch the
    connection (llama.cpp's, vLLM). The model name sent is ``RAG_LLM__MODEL`` (for the small model
    ``RAG_LLM__SMALL_MODEL`` when set), else the model choice itself.

    A server that is down, slow (nothing for ``RAG_LLM__TIMEOUT_S``) or failing (an error status, a
    reply that is not an event stream, a stream that ends before the reply does) is an
    `LLMUnavailable` with a one-line reason, never a hang, a traceback or a silently short reply."""

    def __init__(self, settings: Settings, name: str):
        import httpx

        cfg = settings.llm
        if not cfg.base_url:
            raise RagError("RAG_LLM__BACKEND=openai needs RAG_LLM__BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        self.name = name
        self.model = (cfg.small_model if name == "small" and cfg.small_model else cfg.model) or name
        self.max_tokens = settings.max_answer_tokens
        self.base_url = cfg.base_url.rstrip("/")
        self.timeout_s = cfg.timeout_s
        headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self._httpx = httpx
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(cfg.timeout_s, connect=min(5.0, cfg.timeout_s))
        )
        self._tokenize: str | None = None  # the tokenize route the server has, once found ("" = none)

    def _error(self, exc: Exception) -> LLMUnavailable:
        """What a transport failure means for the user: down, slow, or broken off."""
        httpx = self._httpx
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return LLMUnavailable(f"the LLM server at {self.base_url} cannot be reached ({type(exc).__name__})")
        if isinstance(exc, httpx.TimeoutException):
            return LLMUnavailable(f"the LLM server at {self.base_url} did not answer within {self.timeout_s:g} s")
        return LLMUnavailable(f"the LLM server at {self.base_url} failed ({type(exc).__name__}: {_short(str(exc))})")

    @staticmethod
    def _answered(status: int, body: str) -> LLMUnavailable:
        """An error status, with the server's own reason (its JSON error message when it sent one)."""
        return LLMUnavailable(f"the LLM server answered {status}: {_short(_reason(body)) or 'no reason given'}")

    def check(self) -> None:
        """Ask the server whether it is there (``GET /models``) before a question starts, so that
        one that is down, slow or failing is an error before anything is shown or streamed. A
        server without that route (404) passes: it may still chat."""
        try:
            r = self.client.get(f"{self.base_url}/models")
        except self._httpx.HTTPError as exc:
            raise self._error(exc) from exc
        if r.status_code == 404:
            return
        if r.status_code != 200:
            raise self._answered(r.status_code, r.text)
        try:
            listing = r.json()
        except ValueError:
            listing = None
        if not isinstance(listing, dict):
            raise LLMUnavailable(f"the LLM server at {self.base_url} sent no model list: {_short(r.text)}")

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "stream": True,
            # the in-process sampling, sent in full: llama-cpp-python's server would otherwise
            # apply its own repeat_penalty (1.1), and the greedy choice changes with it
            "temperature": SAMPLING["temperature"],
            "top_k": SAMPLING["top_k"],
            "repeat_penalty": SAMPLING["repeat_penalty"],
            "seed": 0,
        }
        try:
            with self.client.stream("POST", f"{self.base_url}/chat/completions", json=body) as r:
                if r.status_code != 200:
                    raise self._answered(r.status_code, r.read().decode("utf-8", "replace"))
                finished = False
                for line in r.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        if line.strip() and not line.startswith((":", "event:", "id:", "retry:")):
                            raise LLMUnavailable(f"the LLM server's reply is not an event stream: {_short(line)}")
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError:
                        event = None
                    if not isinstance(event, dict):
                        raise LLMUnavailable(f"the LLM server sent a malformed stream event: {_short(data)}")
                    if event.get("error"):
                        raise LLMUnavailable(f"the LLM server failed: {_short(_reason(data))}")
                    choices = event.get("choices") or [{}]  # a usage chunk has none
                    choice = choices[0] if isinstance(choices[0], dict) else {}
                    finished = finished or bool(choice.get("finish_reason"))
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield delta
                if not finished:
                    # the connection closed, or [DONE] came without a finish reason (llama-cpp-python's
                    # server ends one client's reply that way when another's request arrives)
                    raise LLMUnavailable(f"the LLM server at {self.base_url} ended the reply before it was complete")
        except self._httpx.HTTPError as exc:
            raise self._error(exc) from exc

    def count_tokens(self, messages: list[dict]) -> int:
        """By the server's tokenizer when it has a tokenize route (llama-cpp-python's
        ``/extras/tokenize``, llama.cpp's ``/tokenize``), else an estimate (~1.5 characters a token
        for Chinese text): the figure is reported, never used to cut a prompt. A server that is
        down or slow costs one short try, not a wait per route."""
        text = messages[-1]["content"]
        root = re.sub(r"/v\d+$", "", self.base_url)
        routes = (
            [self._tokenize] if self._tokenize else [] if self._tokenize == "" else ["/extras/tokenize", "/tokenize"]
        )
        for route in routes:
            try:
                r = self.client.post(
                    root + route,
                    json={"input": text, "content": text, "model": self.model},
                    timeout=min(10.0, self.timeout_s),
                )
                tokens = r.json().get("tokens") if r.status_code == 200 else None
            except self._httpx.TransportError:  # down or slow: the answer will say so
                return math.ceil(len(text) / 1.5)
            except (self._httpx.HTTPError, ValueError, AttributeError):
                tokens = None
            if isinstance(tokens, list):
                self._tokenize = route
                return len(tokens)
        self._tokenize = ""
        return math.ceil(len(text) / 1.5)

    def warm(self, messages: list[dict]) -> None:
        """The server keeps its own cache."""

    def close(self) -> None:
        self.client.close()


def _reason(body: str) -> str:
    """The message of an error body: OpenAI's ``{"error": {"message"}}``, FastAPI's ``{"detail"}``,
    or the text of a page without its markup."""
    try:
        data = json.loads(body)
    except ValueError:
        return re.sub(r"<[^>]*>", " ", body)
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return err if isinstance(err, str) else json.dumps(err, ensure_ascii=False)
    return body


def _short(text: str, limit: int = 160) -> str:
    """The first line of `text`, at most `limit` characters: what a server says (a traceback, a
    whole web page) goes into one error line."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    lines = [line for line in lines if line]
    first = lines[0] if lines else ""
    if len(first) > limit or len(lines) > 1:
        return first[: limit - 1].rstrip() + "…"
    return first


class MockLLM:
    """Deterministic answers without weights: the passage sentence that shares most character
    pairs with the question, with its passage number, or the refusal when none shares any."""

    def __init__(self, settings: Settings, name: str):
        self.name = name
        self.max_tokens = settings.max_answer_tokens

    @staticmethod
    def reply(messages: list[dict]) -> str:
        user = messages[-1]["content"]
        question = user.rsplit("问题", 1)[-1] if "问题" in user else user
        pairs = {question[i : i + 2] for i in range(len(question) - 1)}
        best, best_score = "", 0
        for n, text in _passages(user):
            for sent in re.findall(r"[^。！？；]+[。！？；]?", text):
                score = sum(sent[i : i + 2] in pairs for i in range(len(sent) - 1))
                if score > best_score:
                    best, best_score = f"{sent.strip()}[{n}]", score
        return best or "资料中未提及。"

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        for ch in self.reply(messages)[: max_tokens or self.max_tokens]:  # a character is a token here
            if cancel is not None and cancel.is_set():
                return
            yield ch

    def count_tokens(self, messages: list[dict]) -> int:
        return len(messages[-1]["content"])

    def warm(self, messages: list[dict]) -> None:
        """Nothing to warm."""


def _passages(user: str) -> list[tuple[str, str]]:
    """(number, text) of each 「[n]（label）text」 line of a prompt; a label can hold parentheses
    of its own (「甲市·2024年·（二）扩大有效投资」)."""
    out = []
    for m in re.finditer(r"^\[(\d+)\]（(.*)$", user, flags=re.M):
        rest, depth = m.group(2), 1
        for i, ch in enumerate(rest):
            depth += (ch == "（") - (ch == "）")
            if depth == 0:
                out.append((m.group(1), rest[i + 1 :]))
                break
    return out
