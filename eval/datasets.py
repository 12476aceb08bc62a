"""Question sets for eval: the project's JSONL format and SQuAD v1.1/v2.0 JSON.

Both load into the same `EvalSet`. The project set is asked against an existing index, so
it carries no documents; a SQuAD set carries every paragraph as a `Document`, to be
ingested as an open corpus (the question's own paragraph is never handed to the answerer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.ingest.loaders import make_document
from citeqa.ingest.models import Document

QUESTION_TYPES = ("who", "when", "where", "how_many", "why", "how", "which", "what", "other")

# The first wh-word decides the type; "how many/much" asks for a quantity, not a manner.
_WH = re.compile(r"\b(how many|how much|whom|whose|who|when|where|why|how|which|what)\b")
_WH_TYPE = {"how many": "how_many", "how much": "how_many", "whom": "who", "whose": "who"}


@dataclass
class SourceAnswer:
    """What one document answers, for questions whose sources disagree."""

    doc_id: str
    answers: list[str]


@dataclass
class EvalQuestion:
    id: str
    question: str
    answers: list[str]  # any of them counts as right; empty when unanswerable
    doc_ids: list[str]  # documents (SQuAD: paragraphs) that hold an answer
    type: str
    unanswerable: bool
    source_answers: list[SourceAnswer] = field(default_factory=list)
    conflict: bool = False  # the sources give different answers


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    documents: list[Document]  # the corpus to ingest; empty means "use an existing index"
    # doc_id -> article title, so splits can keep an article's paragraphs together.
    groups: dict[str, str] = field(default_factory=dict)


def question_type(question: str) -> str:
    """The question's wh-word as one of `QUESTION_TYPES`."""
    match = _WH.search(question.lower())
    if match is None:
        return "other"
    return _WH_TYPE.get(match.group(1), match.group(1))


def load_questions(path: Path) -> EvalSet:
    """The project's JSONL format (see eval/README.md): one question per line."""
    questions = [
        _project_question(json.loads(line), path, number)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip()
    ]
    return EvalSet(name=path.stem, questions=questions, documents=[])


def _project_question(row: dict, path: Path, number: int) -> EvalQuestion:
    try:
        return EvalQuestion(
            id=row["id"],
            question=row["question"],
            answers=list(row["answers"]),
            doc_ids=list(row["doc_ids"]),
            type=row["type"],
            unanswerable=bool(row["unanswerable"]),
            source_answers=[
                SourceAnswer(s["doc_id"], list(s["answers"])) for s in row.get("source_answers", [])
            ],
            conflict=bool(row.get("conflict", False)),
        )
    except KeyError as missing:
        raise ValueError(f"{path}:{number}: missing field {missing}") from None


def load_squad(path: Path) -> EvalSet:
    """SQuAD v1.1 or v2.0 JSON: one document per paragraph, every question of it."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    documents: list[Document] = []
    questions: list[EvalQuestion] = []
    groups: dict[str, str] = {}
    for article_no, article in enumerate(raw["data"]):
        for paragraph_no, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article_no:03d}_{paragraph_no:04d}"
            documents.append(make_document(doc_id, paragraph["context"]))
            groups[doc_id] = article["title"]
            questions.extend(_squad_question(qa, doc_id) for qa in paragraph["qas"])
    return EvalSet(name=path.stem, questions=questions, documents=documents, groups=groups)


def _squad_question(qa: dict, doc_id: str) -> EvalQuestion:
    unanswerable = bool(qa.get("is_impossible", False))
    # SQuAD repeats the same span once per annotator; one copy of each is enough.
    answers = [] if unanswerable else list(dict.fromkeys(a["text"] for a in qa["answers"]))
    return EvalQuestion(
        id=qa["id"],
        question=qa["question"],
        answers=answers,
        doc_ids=[doc_id],
        type=question_type(qa["question"]),
        unanswerable=unanswerable,
    )
