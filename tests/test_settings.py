"""The one settings object: nested tunables from `RAG_<GROUP>__<NAME>`, validated, each with its
reason; nothing read at import time."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from rag.settings import ContextBudget, GateMargins, LexiconSettings, Settings, SteerWeights


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


@pytest.mark.parametrize("model", [SteerWeights, ContextBudget, GateMargins, LexiconSettings])
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
