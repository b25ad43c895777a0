"""The prompt prefix's key-value state on disk, with the real small GGUF model: a second model
instance (as a new process would) loads it instead of evaluating the prefix, answers exactly as
without the cache, and a stale or damaged file is ignored and rewritten, never trusted."""

from __future__ import annotations

import os

import pytest
from need_model import require_model

from rag.answer.llm import LlamaCppLLM
from rag.answer.prompts import EXAMPLES, SYSTEM_PROMPT_ZH, build_messages
from rag.settings import LLMSettings

pytestmark = pytest.mark.llm

QUESTION = {
    "role": "user",
    "content": "资料：\n[1]（丙市·2024年·一、工作回顾）全年城镇新增就业3.6万人。\n\n问题：丙市去年城镇新增就业多少人？",
}
MESSAGES = [{"role": "system", "content": SYSTEM_PROMPT_ZH}, *EXAMPLES, QUESTION]


@pytest.fixture(scope="module")
def small_settings(seed_index, tmp_path_factory):

    require_model(seed_index, "small")
    return seed_index.model_copy(
        update={"llm": LLMSettings(choice="small"), "prefix_cache_dir": tmp_path_factory.mktemp("kv")}
    )


@pytest.fixture(scope="module")
def reference(small_settings):
    """The answer with no cache at all."""
    llm = LlamaCppLLM(small_settings.model_copy(update={"prefix_cache": False}), "small")
    assert llm.prefix_cache is None
    return "".join(llm.stream(MESSAGES, max_tokens=40))


def answer(settings) -> tuple[str, LlamaCppLLM]:
    llm = LlamaCppLLM(settings, "small")
    return "".join(llm.stream(MESSAGES, max_tokens=40)), llm


def kv_files(settings) -> list:
    return sorted(settings.kv_cache_dir.glob("prefix-*.kv"))


def test_the_next_instance_loads_the_prefix_and_answers_the_same(small_settings, reference):
    assert "3.6万" in reference
    first, llm1 = answer(small_settings)
    assert llm1.prefix_cache.last == "computed"
    files = kv_files(small_settings)
    assert len(files) == 1 and files[0].stat().st_size > 100_000
    second, llm2 = answer(small_settings)
    assert llm2.prefix_cache.last == "disk"
    assert first == second == reference
    # the warm instance keeps the prefix in memory for the next question
    "".join(llm2.stream(MESSAGES, max_tokens=5))
    assert llm2.prefix_cache.last == "memory"


def test_a_follow_up_reuses_the_conversation_in_memory(small_settings, tmp_path):
    """The next part of a question continues the conversation: nothing is evaluated from the
    start again, no file is written for its passage-laden head, and the reply is unchanged."""
    settings = small_settings.model_copy(update={"prefix_cache_dir": tmp_path})
    llm = LlamaCppLLM(settings, "small")
    first = "".join(llm.stream(MESSAGES, max_tokens=40))
    follow = [*MESSAGES, {"role": "assistant", "content": first}, {"role": "user", "content": "问题：前年呢？"}]
    files = kv_files(settings)
    reply = "".join(llm.stream(follow, max_tokens=20))
    assert llm.prefix_cache.last == "memory"
    assert kv_files(settings) == files, "a conversation's head is not a prefix to file"
    plain = LlamaCppLLM(settings.model_copy(update={"prefix_cache": False}), "small")
    assert reply == "".join(plain.stream(follow, max_tokens=20))


def test_the_prefix_is_the_part_every_question_shares(small_settings):
    llm = LlamaCppLLM(small_settings, "small")
    pc = llm.prefix_cache
    prefix = pc.prefix_tokens(MESSAGES[:-1])
    full = pc.prompt_tokens(MESSAGES)
    other = pc.prompt_tokens([*MESSAGES[:-1], {"role": "user", "content": "问题：乙县有多少所学校？"}])
    assert 100 < len(prefix) < len(full)
    assert full[: len(prefix)] == prefix == other[: len(prefix)]
    assert full[len(prefix)] != other[len(prefix)] or full[len(prefix) + 1] != other[len(prefix) + 1]
    # the strict retry has a prompt of its own, so a file of its own
    strict = build_messages("丙市去年城镇新增就业多少人？", [], strict=True)
    assert pc.path_for(pc.prefix_tokens(strict[:-1])) != pc.path_for(prefix)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_file_is_ignored_and_rewritten(small_settings, reference, damage):
    answer(small_settings)  # make sure the file exists
    (path,) = kv_files(small_settings)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-1000] ^= 0xFF
    else:
        data = bytearray(os.urandom(4096))
    path.write_bytes(bytes(data))
    text, llm = answer(small_settings)
    assert llm.prefix_cache.last == "computed"
    assert text == reference
    text, llm = answer(small_settings)  # the rewritten file is good again
    assert llm.prefix_cache.last == "disk" and text == reference


def test_a_file_of_another_context_size_is_not_used(small_settings, tmp_path):
    settings = small_settings.model_copy(update={"prefix_cache_dir": tmp_path})
    _, llm = answer(settings)
    other = LlamaCppLLM(settings.model_copy(update={"n_ctx": 1024}), "small")
    tokens = other.prefix_cache.prefix_tokens(MESSAGES[:-1])
    assert other.prefix_cache.path_for(tokens) != llm.prefix_cache.path_for(tokens)
    # a file renamed to the other key is refused by its header, not trusted
    kv_files(settings)[0].rename(other.prefix_cache.path_for(tokens))
    "".join(other.stream(MESSAGES, max_tokens=5))
    assert other.prefix_cache.last == "computed"


def test_an_unwritable_folder_costs_speed_not_answers(small_settings, reference, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    text, llm = answer(small_settings.model_copy(update={"prefix_cache_dir": blocked / "kv"}))
    assert text == reference and llm.prefix_cache.last == "computed"


def test_old_files_are_pruned_beyond_the_limit(small_settings, tmp_path, monkeypatch):
    import rag.answer.prefix_cache as pc_mod

    monkeypatch.setattr(pc_mod, "KEEP", 2)
    settings = small_settings.model_copy(update={"prefix_cache_dir": tmp_path})
    stale = []
    for i in range(3):
        f = tmp_path / f"prefix-old{i}.kv"
        f.write_bytes(b"x")
        os.utime(f, (1_000_000 + i, 1_000_000 + i))
        stale.append(f)
    dead = tmp_path / f".prefix-cut.kv.{2**22 + 7}.tmp"  # above any pid: its writer was killed
    live = tmp_path / f".prefix-busy.kv.{os.getpid()}.tmp"  # a writer still running
    dead.write_bytes(b"half")
    live.write_bytes(b"half")
    _, llm = answer(settings)
    assert llm.prefix_cache.last == "computed"
    assert not dead.exists() and live.exists()
    left = sorted(p.name for p in tmp_path.glob("prefix-*.kv"))
    assert (
        len(left) == 2
        and stale[2].name in left
        and llm.prefix_cache.path_for(llm.prefix_cache.prefix_tokens(MESSAGES[:-1])).name in left
    )
