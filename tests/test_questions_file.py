"""Sanity checks for the fixed evaluation question set eval/questions.jsonl.

Only stdlib + pytest. The seed directory defaults to <repo_root>/seeds and can be
overridden with the RAG_SEEDS_DIR environment variable.
"""

import json
import os
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_PATH = REPO_ROOT / "eval" / "questions.jsonl"
SEEDS_DIR = Path(os.environ.get("RAG_SEEDS_DIR", str(REPO_ROOT / "seeds")))

EXPECTED_SEEDS = [
    "000_e75e043d3f4bed66.txt",
    "001_cdd563ffef68d5a8.txt",
    "002_6444904a722c13e8.txt",
    "003_4ca470a0a2d501aa.txt",
    "004_d43a798d97625b5b.txt",
]
REQUIRED_FIELDS = {"id": str, "question": str, "answer": str, "doc": list, "evidence": list, "type": str, "notes": str}
ALLOWED_TYPES = {
    "number",
    "entity",
    "list",
    "yes_no",
    "comparison",
    "series",  # one place across reports: a target and the next report's result, a target's change
    "cross_script",
    "english",
    "unanswerable",
}
UNANSWERABLE_ANSWER = "资料中未提及"
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 8


def _load_questions():
    """Return (records, parse_errors). Never raises, so collection always works."""
    records, errors = [], []
    if not QUESTIONS_PATH.exists():
        return records, [f"{QUESTIONS_PATH} does not exist"]
    with QUESTIONS_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                errors.append(f"line {lineno}: blank line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"line {lineno}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"line {lineno}: not a JSON object")
                continue
            records.append((lineno, obj))
    return records, errors


RECORDS, PARSE_ERRORS = _load_questions()


def _label(lineno, rec):
    return f"{rec.get('id', '<no id>')} (line {lineno})"


def _param_ids():
    return [_label(lineno, rec) for lineno, rec in RECORDS]


@pytest.fixture(scope="module")
def seed_texts():
    if not SEEDS_DIR.is_dir():
        pytest.fail(
            f"seed directory {SEEDS_DIR} not found; set RAG_SEEDS_DIR to the directory holding the seed .txt files"
        )
    texts = {}
    for path in SEEDS_DIR.iterdir():
        if path.is_file():
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def test_every_line_parses():
    assert not PARSE_ERRORS, "unparseable lines in questions.jsonl:\n" + "\n".join(PARSE_ERRORS)


def test_enough_questions():
    assert len(RECORDS) >= MIN_QUESTIONS, f"only {len(RECORDS)} questions, need at least {MIN_QUESTIONS}"


@pytest.mark.parametrize("lineno,rec", RECORDS, ids=_param_ids())
def test_fields_and_types(lineno, rec):
    label = _label(lineno, rec)
    keys = set(rec)
    missing = set(REQUIRED_FIELDS) - keys
    extra = keys - set(REQUIRED_FIELDS)
    assert not missing, f"{label}: missing fields {sorted(missing)}"
    assert not extra, f"{label}: unexpected fields {sorted(extra)}"
    for field, typ in REQUIRED_FIELDS.items():
        assert isinstance(rec[field], typ), (
            f"{label}: field {field!r} should be {typ.__name__}, got {type(rec[field]).__name__}"
        )
    assert re.fullmatch(r"q\d{3,}", rec["id"]), f"{label}: id {rec['id']!r} not like 'q001'"
    assert rec["question"].strip(), f"{label}: empty question"
    assert rec["answer"].strip(), f"{label}: empty answer"
    assert rec["type"] in ALLOWED_TYPES, f"{label}: type {rec['type']!r} not in {sorted(ALLOWED_TYPES)}"
    assert rec["doc"], f"{label}: doc list is empty"
    for d in rec["doc"]:
        assert isinstance(d, str), f"{label}: doc entry {d!r} is not a string"
    for e in rec["evidence"]:
        assert isinstance(e, str), f"{label}: evidence entry {e!r} is not a string"
        assert e.strip(), f"{label}: empty evidence string"
        assert "\n" not in e and "\r" not in e, f"{label}: evidence {e!r} spans a line break"
    if rec["type"] == "unanswerable":
        assert rec["answer"] == UNANSWERABLE_ANSWER, (
            f"{label}: unanswerable question must have answer {UNANSWERABLE_ANSWER!r}, got {rec['answer']!r}"
        )
    else:
        assert rec["evidence"], f"{label}: answerable question has no evidence"
        assert rec["answer"] != UNANSWERABLE_ANSWER, (
            f"{label}: answer is {UNANSWERABLE_ANSWER!r} but type is {rec['type']!r}"
        )


def test_ids_unique():
    seen = {}
    dups = []
    for lineno, rec in RECORDS:
        qid = rec.get("id")
        if qid in seen:
            dups.append(f"{qid} (lines {seen[qid]} and {lineno})")
        else:
            seen[qid] = lineno
    assert not dups, "duplicate ids: " + ", ".join(dups)


def test_type_distribution():
    counts = {}
    for _, rec in RECORDS:
        counts[rec.get("type")] = counts.get(rec.get("type"), 0) + 1
    # the seeds are five unrelated reports: no place has a year series to ask across
    missing = sorted(ALLOWED_TYPES - {"series"} - set(counts))
    assert not missing, f"question types never used: {missing} (counts: {counts})"
    assert counts.get("unanswerable", 0) >= MIN_UNANSWERABLE, (
        f"only {counts.get('unanswerable', 0)} unanswerable questions, need {MIN_UNANSWERABLE}"
    )


@pytest.mark.parametrize("lineno,rec", RECORDS, ids=_param_ids())
def test_docs_exist(lineno, rec, seed_texts):
    label = _label(lineno, rec)
    for d in rec.get("doc", []):
        assert d in seed_texts, f"{label}: doc {d!r} not found in {SEEDS_DIR}"


@pytest.mark.parametrize("lineno,rec", RECORDS, ids=_param_ids())
def test_evidence_verbatim(lineno, rec, seed_texts):
    label = _label(lineno, rec)
    docs = [d for d in rec.get("doc", []) if d in seed_texts]
    assert docs, f"{label}: none of its docs {rec.get('doc')} exist in {SEEDS_DIR}"
    for e in rec.get("evidence", []):
        assert any(e in seed_texts[d] for d in docs), f"{label}: evidence {e!r} not found verbatim in any of {docs}"


def test_all_seed_files_used(seed_texts):
    used = {d for _, rec in RECORDS for d in rec.get("doc", [])}
    for name in EXPECTED_SEEDS:
        assert name in seed_texts, f"expected seed file {name} missing from {SEEDS_DIR}"
    unused = [name for name in EXPECTED_SEEDS if name not in used]
    assert not unused, f"seed files not referenced by any question: {unused}"


# --- the development corpus question set (eval/corpus-questions.jsonl) ------------------------------
CORPUS_QUESTIONS = REPO_ROOT / "eval" / "corpus-questions.jsonl"
CORPUS_REPORTS = REPO_ROOT / "eval" / "corpus" / "reports"


@pytest.fixture(scope="module")
def corpus_records():
    return [json.loads(line) for line in CORPUS_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus_texts():
    from rag.read.formats import read_source

    # a Word file's text marks bold lead-ins with ** for the chunker; evidence is the report's own words
    return {p.name: read_source(p)[0].text.replace("**", "") for p in sorted(CORPUS_REPORTS.iterdir())}


def test_corpus_question_set_size_and_mix(corpus_records):
    counts = {}
    for rec in corpus_records:
        assert set(rec) == set(REQUIRED_FIELDS), rec.get("id")
        assert rec["type"] in ALLOWED_TYPES, rec
        counts[rec["type"]] = counts.get(rec["type"], 0) + 1
    assert len(corpus_records) >= 150
    assert counts.get("english", 0) >= 12 and counts.get("cross_script", 0) >= 8
    assert counts.get("unanswerable", 0) >= 15
    assert counts.get("series", 0) >= 20 and counts.get("comparison", 0) >= 30 and counts.get("yes_no", 0) >= 20
    assert len({r["id"] for r in corpus_records}) == len(corpus_records), "ids are unique"
    assert all(r["answer"] == UNANSWERABLE_ANSWER for r in corpus_records if r["type"] == "unanswerable")


def test_corpus_evidence_is_verbatim_in_the_report_as_read(corpus_records, corpus_texts):
    for rec in corpus_records:
        docs = [corpus_texts[d] for d in rec["doc"]]
        assert docs, rec["id"]
        for e in rec["evidence"]:
            assert any(e in t for t in docs), f"{rec['id']}: evidence {e!r} not in {rec['doc']}"


def test_every_text_report_of_the_corpus_is_asked_about(corpus_records, corpus_texts):
    used = {d for r in corpus_records for d in r["doc"]}
    assert set(corpus_texts) <= used, sorted(set(corpus_texts) - used)
