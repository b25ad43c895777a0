"""The question file of an evaluation (the format of eval/questions.jsonl): one JSON object a line
with its gold answer, the documents that hold it and the evidence strings retrieval must find."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

REQUIRED = ("id", "question", "answer", "doc", "evidence", "type")


@dataclass
class Question:
    id: str
    question: str
    answer: str
    doc: list[str]
    evidence: list[str]
    type: str
    notes: str = ""


def load_questions(path: Path) -> list[Question]:
    """Parse a question file; every malformed line is reported with its number."""
    if not path.exists():
        raise RagError(f"question file not found: {path}")
    out: list[Question] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        missing = [f for f in REQUIRED if f not in obj]
        if missing:
            raise RagError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        out.append(
            Question(
                id=str(obj["id"]),
                question=obj["question"],
                answer=str(obj["answer"]),
                doc=list(obj["doc"]),
                evidence=list(obj["evidence"]),
                type=obj["type"],
                notes=obj.get("notes", ""),
            )
        )
    if not out:
        raise RagError(f"{path} holds no questions")
    return out
