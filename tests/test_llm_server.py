"""The OpenAI-compatible path answers exactly as the model in this process: the same small model and
settings, in process (``RAG_LLM__BACKEND=llamacpp``) and behind llama-cpp-python's server
(``openai``), started as docs/configuration.md says (`rag.deploy.llm_server`), give the same answers,
refusals, citations and token counts to the same questions, and the model says the same words on
the way (translations, retries, parts)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from need_model import require_model

from rag.answer.assistant import Assistant
from rag.answer.llm import LLM
from rag.settings import LLMSettings, Settings

# From eval/questions.jsonl, in its order (the model's state carries from one question to the next):
# figures, two figures in one question, a question in traditional script, yes/no, English, a
# comparison, and two that are refused (one by the model, one before it). Some of them came out
# differently through plain llama_cpp.server (see rag/deploy/llm_server.py).
QUESTIONS = ["q001", "q009", "q019", "q027", "q028", "q029", "q053", "q054", "q070", "q071", "q107", "q115", "q116"]


@pytest.fixture(scope="module")
def served_settings(seed_index):
    """Settings answering through `rag.deploy.llm_server` with the small model on a loopback port."""
    from rag.deploy.llm_server import server_args
    from rag.models import require_llm

    require_model(seed_index, "small")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.deploy.llm_server",
            *server_args(seed_index, require_llm(seed_index, "small")),
            *("--host", "127.0.0.1", "--port", str(port), "--verbose", "false"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                assert proc.stderr is not None
                pytest.fail(f"the LLM server stopped: {proc.stderr.read().decode()[-500:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the LLM server did not start within 120 s")
            time.sleep(0.5)
        yield seed_index.model_copy(update={"llm": LLMSettings(backend="openai", base_url=base)})
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


class Recorded:
    """A model whose replies are kept, to compare what it said on the way to an answer."""

    def __init__(self, inner: LLM):
        self.inner, self.name, self.max_tokens = inner, inner.name, inner.max_tokens
        self.replies: list[str] = []

    def stream(
        self, messages: list[dict], max_tokens: int | None = None, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        pieces: list[str] = []
        for piece in self.inner.stream(messages, max_tokens, cancel):
            pieces.append(piece)
            yield piece
        self.replies.append("".join(pieces))

    def count_tokens(self, messages: list[dict]) -> int:
        return self.inner.count_tokens(messages)

    def warm(self, messages: list[dict]) -> None:
        self.inner.warm(messages)


def _answers(settings, retriever, questions: list[str]) -> list[dict]:
    assistant = Assistant(settings, retriever)
    model = Recorded(assistant.llm("small"))
    assistant._llms["small"] = model
    out = []
    for question in questions:
        before = len(model.replies)
        ans = assistant.ask(question, model="small")
        out.append(
            {
                "question": question,
                "answer": ans.answer,
                "refused": ans.refused,
                "citations": [(c.doc, c.paragraph, c.quote) for c in ans.citations],
                "prompt_tokens": ans.timings.get("prompt_tokens"),
                "replies": model.replies[before:],
            }
        )
    close = getattr(model.inner, "close", None)
    if close is not None:
        close()
    return out


def test_the_server_flags_follow_the_settings_and_parse():
    """The flags are llama_cpp.server's own (checked against its parser, no model needed), with the
    settings' context, threads and prompt-lookup decoding."""
    import argparse

    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings
    from llama_cpp.server.settings import Settings as ServerFlags

    from rag.deploy.llm_server import server_args

    settings = Settings(n_ctx=4096, threads=3, prompt_lookup_tokens=7)
    parser = argparse.ArgumentParser()
    add_args_from_model(parser, ServerFlags)
    args = parser.parse_args(server_args(settings, "甲.gguf"))
    model = parse_model_from_args(ModelSettings, args)
    server = parse_model_from_args(ServerSettings, args)
    assert (model.model, model.n_ctx, model.n_batch, model.n_ubatch) == ("甲.gguf", 4096, 512, 512)
    assert (model.n_threads, model.n_threads_batch, model.logits_all, model.chat_format) == (3, 3, False, None)
    assert (model.draft_model, model.draft_model_num_pred_tokens) == ("prompt-lookup-decoding", 7)
    assert server.interrupt_requests is False
    assert "--draft_model" not in server_args(Settings(prompt_lookup_tokens=0))


@pytest.mark.llm
def test_the_llm_server_answers_exactly_as_the_model_in_this_process(seed_index, retriever, served_settings, repo_root):
    rows = [json.loads(line) for line in (repo_root / "eval" / "questions.jsonl").read_text().splitlines()]
    questions = [row["question"] for row in rows if row["id"] in QUESTIONS]
    assert len(questions) == len(QUESTIONS)
    # one model generates at a time: the process's first, then the server's
    local = _answers(seed_index.model_copy(update={"llm": LLMSettings(backend="llamacpp")}), retriever, questions)
    served = _answers(served_settings, retriever, questions)
    assert [a["refused"] for a in local].count(True) >= 2 and any(not a["refused"] for a in local)
    for mine, theirs in zip(local, served):
        assert theirs == mine, json.dumps([mine, theirs], ensure_ascii=False, indent=1)
