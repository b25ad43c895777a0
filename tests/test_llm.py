"""The LLM backends: one contract for all (stream, per-call max_tokens, cancel, token counts), run
against the real small GGUF model in process, the same model behind llama-cpp-python's own
OpenAI-compatible server on loopback, and the deterministic mock."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from need_model import require_model

from rag.answer.llm import Capped, MockLLM, make_llm
from rag.errors import RagError
from rag.settings import LLMSettings

pytestmark = pytest.mark.llm

PROMPT = [
    {"role": "system", "content": "你是助手。"},
    {
        "role": "user",
        "content": "资料：\n[1]（甲市·2024年·（二）扩大有效投资）全年计划实施项目120个。\n\n"
        "问题：请把“甲市今年计划实施项目120个”这句话重复十遍。",
    },
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def small_gguf(seed_index):
    from rag.models import require_llm

    require_model(seed_index, "small")
    return require_llm(seed_index, "small")


@pytest.fixture(scope="module")
def llm_server(small_gguf):
    """llama-cpp-python's OpenAI-compatible server with the small model, on a loopback port."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(small_gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(os.cpu_count() or 1),
            "--verbose",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the LLM server stopped: {proc.stderr.read().decode()[-500:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the LLM server did not start within 120 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["llamacpp", "openai", "mock"])
def backend(request, seed_index, small_gguf):
    """(settings, model) for each backend; the llama.cpp ones serve the small model."""
    if request.param == "openai":
        base = request.getfixturevalue("llm_server")
        settings = seed_index.model_copy(update={"llm": LLMSettings(backend="openai", base_url=base)})
    else:
        settings = seed_index.model_copy(update={"llm": LLMSettings(backend=request.param)})
    llm = make_llm(settings, "small")
    yield settings, llm
    if hasattr(llm, "close"):
        llm.close()


def test_every_backend_streams_within_the_per_call_budget_and_counts_tokens(backend):
    _, llm = backend
    pieces = list(llm.stream(PROMPT, max_tokens=8))
    assert pieces and "".join(pieces).strip(), "no reply"
    assert len(pieces) <= 8, f"{len(pieces)} pieces for a budget of 8 tokens"
    longer = list(llm.stream(PROMPT, max_tokens=24))
    assert len(longer) > len(pieces), "a larger budget did not give a longer reply"
    assert llm.count_tokens(PROMPT) >= 10


def test_every_backend_stops_when_cancelled(backend):
    _, llm = backend
    cancel = threading.Event()
    pieces = []
    for tok in llm.stream(PROMPT, max_tokens=60, cancel=cancel):
        pieces.append(tok)
        if len(pieces) == 2:
            cancel.set()
    assert 2 <= len(pieces) <= 3, f"{len(pieces)} pieces after cancelling at the second"


def test_a_capped_model_keeps_the_shared_budget(backend):
    _, llm = backend
    before = llm.max_tokens
    capped = Capped(llm, 5)
    assert len(list(capped.stream(PROMPT))) <= 5
    assert len(list(capped.stream(PROMPT, max_tokens=50))) <= 5, "a call cannot lift the cap"
    assert llm.max_tokens == before, "the shared model's budget changed"


def test_an_answer_through_each_backend_is_cited_and_checked(backend, retriever):
    from rag.answer.assistant import Assistant

    settings, _ = backend
    ans = Assistant(settings, retriever).ask("忻州今年要新认定多少家高新技术企业？", model="small")
    assert not ans.refused, (ans.answer, ans.notes)
    assert "53" in ans.answer, ans.answer
    cited = [c for c in ans.citations if "53" in c.quote]
    assert cited and cited[0].doc.startswith("000_"), [c.quote for c in ans.citations]


def test_openai_backend_needs_a_reachable_server(seed_index):
    with pytest.raises(RagError, match="RAG_LLM__BASE_URL"):
        make_llm(seed_index.model_copy(update={"llm": LLMSettings(backend="openai")}), "default")
    closed = f"http://127.0.0.1:{_free_port()}/v1"
    llm = make_llm(seed_index.model_copy(update={"llm": LLMSettings(backend="openai", base_url=closed)}), "default")
    with pytest.raises(RagError, match=re.escape(f"the LLM server at {closed} cannot be reached")):
        list(llm.stream(PROMPT))


def test_openai_backend_reports_a_server_error(seed_index, llm_server):
    # a request the server rejects (a message without content) is a clear error, not a traceback
    llm = make_llm(seed_index.model_copy(update={"llm": LLMSettings(backend="openai", base_url=llm_server)}), "small")
    with pytest.raises(RagError, match=r"the LLM server answered [45]\d\d: "):
        list(llm.stream([{"role": "user"}]))


def test_mock_backend_needs_no_weights_and_refuses_off_topic(tmp_path, seed_index):
    settings = seed_index.model_copy(update={"llm": LLMSettings(backend="mock"), "models_dir": tmp_path})
    llm = make_llm(settings, "default")
    off_topic = [
        {
            "role": "user",
            "content": "资料：\n[1]（甲市·2024年·概况）全年计划实施项目120个。\n\n问题：乙县有多少座水库？",
        }
    ]
    assert "".join(llm.stream(off_topic)) == "资料中未提及。"
    assert MockLLM.reply(PROMPT) == "全年计划实施项目120个。[1]"


def test_the_api_answers_through_the_mock_backend_without_weights(seed_index, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ApiSettings

    shutil.copytree(seed_index.index_dir, tmp_path / "index")
    settings = seed_index.model_copy(
        update={
            "index_dir": tmp_path / "index",
            "models_dir": tmp_path / "no-models",
            "llm": LLMSettings(backend="mock"),
        }
    )
    with TestClient(create_app(settings, ApiSettings(api_key=None, cors_origins=[]))) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [m["id"] for m in client.get("/v1/models").json()["data"]], "no model listed"
        r = client.post("/v1/ask", json={"question": "忻州今年要新认定多少家高新技术企业？"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert not body["refused"] and body["citations"], body
        assert all(c["quote"] in c["text"] for c in body["citations"])


def test_the_installed_llama_cpp_uses_what_this_cpu_has(small_gguf):
    """The build in .venv matches this machine: AVX-512 kernels where the CPU has them, AVX-VNNI only
    where it has that, never AMX."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    info = info.decode() if isinstance(info, bytes) else str(info)
    flags = set(next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split())
    wanted = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512vbmi", "avx512_bf16"}
    assert "AVX2 = 1" in info
    assert ("AVX512 = 1" in info) is (wanted <= flags)
    assert "AMX_INT8 = 1" not in info
    if "avx_vnni" not in flags:  # an instruction the CPU lacks is an illegal instruction at the first answer
        assert "AVX_VNNI = 1" not in info
