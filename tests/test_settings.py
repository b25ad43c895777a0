"""The one settings object: nested tunables from `RAG_<GROUP>__<NAME>`, validated, each with its
reason; nothing read at import time."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, ValidationError

import rag.settings
from rag.settings import (
    LEGACY_ENV,
    ContextBudget,
    EmbedSettings,
    GateMargins,
    LexiconSettings,
    LLMSettings,
    Settings,
    SteerWeights,
    VectorSettings,
)


def test_nested_tunables_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_GATE__QUOTE", "0.7")
    monkeypatch.setenv("RAG_CONTEXT__CHARS", "300")
    monkeypatch.setenv("RAG_STEER__OTHER_REPORT", "1")
    s = Settings()
    assert (s.gate.quote, s.context.chars, s.steer.other_report) == (0.7, 300, 1.0)
    assert s.gate.on_topic == GateMargins().on_topic  # the rest keep their defaults


@pytest.mark.parametrize(
    "name, value",
    [
        ("RAG_CONTEXT__CHARS", "0"),
        ("RAG_GATE__QUOTE", "1.5"),
        ("RAG_STEER__META", "-1"),
        ("RAG_CONTEXT__KEEP_RATIO", "0"),
    ],
)
def test_a_value_out_of_range_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_an_unknown_tunable_is_refused():
    with pytest.raises(ValidationError):
        GateMargins(quota=0.5)


@pytest.mark.parametrize(
    "model", [SteerWeights, ContextBudget, GateMargins, LexiconSettings, EmbedSettings, VectorSettings, LLMSettings]
)
def test_every_tunable_says_why(model: type[BaseModel]):
    assert model.__doc__ and model.__doc__.strip()
    for name, f in model.model_fields.items():
        assert f.description and len(f.description) > 15, name


def test_the_lexicon_folder_defaults_to_the_index(tmp_path):
    s = Settings(index_dir=tmp_path / "idx")
    assert s.lexicon_dir == tmp_path / "idx"
    assert (
        Settings(index_dir=tmp_path, lexicon=LexiconSettings(cache_dir=tmp_path / "lex")).lexicon_dir
        == tmp_path / "lex"
    )
    assert s.lexicon.report_terms.exists()


def test_the_environment_is_read_when_settings_are_made_not_at_import(monkeypatch):
    before = Settings().top_k
    monkeypatch.setenv("RAG_TOP_K", str(before + 2))
    assert Settings().top_k == before + 2


def test_backends_come_from_nested_names(monkeypatch):
    monkeypatch.setenv("RAG_LLM__BACKEND", "mock")
    monkeypatch.setenv("RAG_LLM__CHOICE", "small")
    monkeypatch.setenv("RAG_VECTORS__STORE", "milvus")
    monkeypatch.setenv("RAG_VECTORS__MILVUS_URI", "http://乙县:19530")
    monkeypatch.setenv("RAG_EMBED__BACKEND", "sentence-transformers")
    s = Settings()
    assert (s.llm.backend, s.llm.choice, s.vectors.store) == ("mock", "small", "milvus")
    assert (s.vectors.milvus_uri, s.embed.backend) == ("http://乙县:19530", "sentence-transformers")


@pytest.mark.parametrize(
    "old, value",
    [("RAG_LLM", "small"), ("RAG_LLM_BACKEND", "mock"), ("RAG_VECTOR_STORE", "milvus"), ("RAG_HNSW_M", "16")],
)
def test_a_flat_name_still_works_with_one_deprecation_line(monkeypatch, caplog, old, value):
    group, name = LEGACY_ENV[old.removeprefix("RAG_").lower()]
    new = f"RAG_{group}__{name}".upper()
    monkeypatch.setattr(rag.settings, "_warned", set())
    monkeypatch.setenv(new, value)
    expected = getattr(getattr(Settings(), group), name)
    monkeypatch.delenv(new)
    monkeypatch.setenv(old, value)
    with caplog.at_level(logging.WARNING, logger="rag.settings"):
        assert getattr(getattr(Settings(), group), name) == expected
        Settings()  # once per process, not per settings object
    assert [r.getMessage() for r in caplog.records] == [f"{old} is deprecated: use {new}"]


def test_the_nested_name_wins_over_the_flat_one(monkeypatch):
    monkeypatch.setenv("RAG_LLM_BACKEND", "openai")
    monkeypatch.setenv("RAG_LLM__BACKEND", "mock")
    monkeypatch.setenv("RAG_MILVUS_URI", "http://甲市:19530")
    monkeypatch.setenv("RAG_VECTORS__MILVUS_URI", "http://乙县:19530")
    s = Settings()
    assert (s.llm.backend, s.vectors.milvus_uri) == ("mock", "http://乙县:19530")


def test_every_flat_name_points_at_a_setting():
    for old, (group, name) in LEGACY_ENV.items():
        assert name in Settings.model_fields[group].annotation.model_fields, old  # type: ignore[union-attr]


def test_a_flat_argument_is_refused_not_ignored():
    with pytest.raises(ValidationError, match="llm.backend"):
        Settings(llm_backend="mock")
    with pytest.raises(ValidationError, match="vectors.store"):
        Settings(vector_store="milvus")


def test_the_fingerprint_is_stable_for_equal_settings(monkeypatch, tmp_path):
    from rag.resident import fingerprint

    monkeypatch.setenv("RAG_LLM__BACKEND", "mock")
    a = Settings(index_dir=tmp_path)
    monkeypatch.delenv("RAG_LLM__BACKEND")
    monkeypatch.setenv("RAG_LLM_BACKEND", "mock")
    assert fingerprint(Settings(index_dir=tmp_path)) == fingerprint(a)
    assert fingerprint(a.model_copy(update={"llm": LLMSettings(backend="openai")})) != fingerprint(a)
