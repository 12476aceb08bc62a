"""Question sets for eval: the project's JSONL format and SQuAD v1.1/v2.0 JSON.

Both load into the same `EvalSet`. The project set is asked against an existing index, so
it carries no documents; a SQuAD set carries every paragraph as a `Document`, to be
ingested as an open corpus (the question's own paragraph is never handed to the answerer).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from citeqa.ingest.loaders import make_document
from citeqa.ingest.models import Document
from citeqa.service.qa.answer_types import question_type
from citeqa.service.qa.query import Turn


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
    # Where the gold answers stand in the document, [start, end), when the set says so
    # (SQuAD does): what the reader trains on.
    spans: list[tuple[int, int]] = field(default_factory=list)
    # The answer's text occurs more than once in its paragraph and the set guessed which
    # (SQuAD v1.1 train as rebuilt in ../shared/train: `answer_start_ambiguous`): `spans`
    # is not gold, so the reader does not train on it.
    spans_guessed: bool = False
    # The conversation before the question (a follow-up set, eval/followup.jsonl), asked
    # with it as the chat asks; and whether the question needs none of it (then it must be
    # searched exactly as asked).
    history: tuple[Turn, ...] = ()
    stands_alone: bool = False


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    documents: list[Document]  # the corpus to ingest; empty means "use an existing index"
    # doc_id -> article title, so splits can keep an article's paragraphs together.
    groups: dict[str, str] = field(default_factory=dict)


class SetFormatError(ValueError):
    """A question set that is not in the project's format: `str` names the file, the line
    and the field."""


class _TurnRow(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    question: str
    answer: str | None = None


class _SourceRow(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    doc_id: str
    answers: list[str]


class _QuestionRow(BaseModel):
    """One line of the project's format (eval/README.md), checked field by field."""

    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    question: str
    answers: list[str]
    doc_ids: list[str]
    type: str
    unanswerable: bool
    source_answers: list[_SourceRow] = []
    conflict: bool = False
    spans: list[tuple[int, int]] = []
    history: list[_TurnRow] = []
    stands_alone: bool = False


def load_questions(path: Path) -> EvalSet:
    """The project's JSONL format (see eval/README.md): one question per line. A file that
    cannot be read, or a line out of format, is a `SetFormatError` naming where."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SetFormatError(f"{path}: cannot be read as a question set ({error})") from None
    rows = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    questions = [_project_question(line, path, number) for number, line in rows]
    return EvalSet(name=path.stem, questions=questions, documents=[])


def _project_question(line: str, path: Path, number: int) -> EvalQuestion:
    try:
        row = _QuestionRow.model_validate_json(line)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "json_invalid":
            raise SetFormatError(f"{path}, line {number}: not a JSON object") from None
        field_name = f"field '{where}'" if where else "the line"
        raise SetFormatError(f"{path}, line {number}: {field_name}: {first['msg']}") from None
    return EvalQuestion(
        id=row.id,
        question=row.question,
        answers=row.answers,
        doc_ids=row.doc_ids,
        type=row.type,
        unanswerable=row.unanswerable,
        source_answers=[SourceAnswer(s.doc_id, s.answers) for s in row.source_answers],
        conflict=row.conflict,
        spans=list(row.spans),
        history=tuple(Turn(t.question, t.answer) for t in row.history),
        stands_alone=row.stands_alone,
    )


def question_row(question: EvalQuestion) -> dict:
    """`question` as one line of the project's JSONL format: what `load_questions` reads."""
    row = {
        "id": question.id,
        "question": question.question,
        "answers": question.answers,
        "doc_ids": question.doc_ids,
        "type": question.type,
        "unanswerable": question.unanswerable,
    }
    if question.spans:
        row["spans"] = [list(span) for span in question.spans]
    return row


def load_squad(path: Path) -> EvalSet:
    """SQuAD v1.1 or v2.0 JSON (gzip-compressed if its name ends in .gz): one document per
    paragraph, every question of it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as file:
            raw = json.load(file)
    except json.JSONDecodeError as error:
        raise SetFormatError(f"{path}, line {error.lineno}: not JSON ({error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SetFormatError(f"{path}: cannot be read as a SQuAD file ({error})") from None
    try:
        return _squad_set(path, raw)
    except KeyError as error:
        # SQuAD's JSON has no line per question to name: the field is what can be said.
        raise SetFormatError(f"{path}: not in SQuAD's format: no field {error}") from None
    except (TypeError, AttributeError):
        raise SetFormatError(f"{path}: not in SQuAD's format: a field of the wrong type") from None
    except ValueError as error:  # a paragraph make_document refuses
        raise SetFormatError(f"{path}: {error}") from None


def _squad_set(path: Path, raw: dict) -> EvalSet:
    documents: list[Document] = []
    questions: list[EvalQuestion] = []
    groups: dict[str, str] = {}
    for article_no, article in enumerate(raw["data"]):
        for paragraph_no, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article_no:03d}_{paragraph_no:04d}"
            documents.append(make_document(doc_id, paragraph["context"]))
            groups[doc_id] = article["title"]
            questions.extend(_squad_question(qa, doc_id) for qa in paragraph["qas"])
    name = Path(path.name.removesuffix(".gz")).stem
    return EvalSet(name=name, questions=questions, documents=documents, groups=groups)


def _squad_question(qa: dict, doc_id: str) -> EvalQuestion:
    unanswerable = bool(qa.get("is_impossible", False))
    # SQuAD repeats the same span once per annotator; one copy of each is enough.
    answers = [] if unanswerable else list(dict.fromkeys(a["text"] for a in qa["answers"]))
    spans = (
        []
        if unanswerable
        else [(a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]]
    )
    return EvalQuestion(
        id=qa["id"],
        question=qa["question"],
        answers=answers,
        doc_ids=[doc_id],
        type=question_type(qa["question"]),
        unanswerable=unanswerable,
        spans=list(dict.fromkeys(spans)),
        spans_guessed="answer_start_ambiguous" in qa,
    )


@dataclass(frozen=True)
class Split:
    """Questions split by article, so no held-out figure comes from an article trained on."""

    train: list[EvalQuestion]
    calibration: list[EvalQuestion]  # for fitting confidence, never for the reader
    test: list[EvalQuestion]


SPLITS = ("train", "calibration", "test")


# A SQuAD-style article goes to a part by a hash of its title alone, so an article keeps
# its part in any set that holds it (SQuAD 2.0's even half is 18 of v1.1's 24 articles;
# a rule over the sorted titles gave 8 of them another part there). Shares of questions in
# test / calibration: SQuAD v1.1 half 34% / 8%, v2.0 half 30% / 15%, SQuAD-shifts Amazon
# 31% / 15%, Reddit (by post) 33% / 16%.
_SALT = b"citeqa-split-126:"


def split_of(eval_set: EvalSet) -> Split:
    """The project's fixed split of a set. A SQuAD-style set (it brings its documents)
    splits by a hash of each article's title (a set of one article, such as SQuAD-shifts'
    Reddit posts, by paragraph); the project set, with five articles, holds out every
    second in title order and trains on the rest."""
    if eval_set.documents:
        return _split_by_hash(eval_set)
    return split_by_article(eval_set, test_every=2)


def _split_by_hash(eval_set: EvalSet) -> Split:
    """Test: a third of the articles; calibration: a sixth; train: the rest."""
    one_article = len(set(eval_set.groups.values())) <= 1

    def part(question: EvalQuestion) -> str:
        doc_id = question.doc_ids[0]
        key = doc_id if one_article else eval_set.groups.get(doc_id, doc_id)
        value = int.from_bytes(hashlib.sha256(_SALT + key.encode()).digest()[:8], "big")
        return "test" if value % 3 == 0 else "calibration" if value // 3 % 4 == 0 else "train"

    parts: dict[str, list[EvalQuestion]] = {name: [] for name in SPLITS}
    for question in eval_set.questions:
        parts[part(question)].append(question)
    return Split(**parts)


def split_by_article(eval_set: EvalSet, test_every: int, calibration_every: int = 0) -> Split:
    """A fixed, reproducible split. Articles (SQuAD titles, or the project set's documents)
    in sorted order: every `test_every`-th is held out for every reported figure, and every
    `calibration_every`-th of the rest fits the confidence model on answers the reader never
    trained on. Unanswerable questions cite no article and teach the reader nothing, so
    they go by position: every `test_every`-th to test, the others to calibration."""

    def article(question: EvalQuestion) -> str:
        return eval_set.groups.get(question.doc_ids[0], question.doc_ids[0])

    titles = sorted({article(q) for q in eval_set.questions if q.doc_ids})
    test = set(titles[test_every - 1 :: test_every])
    rest = [t for t in titles if t not in test]
    calibration = set(rest[::calibration_every]) if calibration_every else set()
    parts: dict[str, list[EvalQuestion]] = {"train": [], "calibration": [], "test": []}
    for position, question in enumerate(eval_set.questions):
        if not question.doc_ids:
            part = "test" if position % test_every == test_every - 1 else "calibration"
        else:
            title = article(question)
            part = "test" if title in test else "calibration" if title in calibration else "train"
        parts[part].append(question)
    return Split(**parts)
