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

from citeqa.ingest.loaders import make_document
from citeqa.ingest.models import Document
from citeqa.service.qa.answer_types import question_type


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


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    documents: list[Document]  # the corpus to ingest; empty means "use an existing index"
    # doc_id -> article title, so splits can keep an article's paragraphs together.
    groups: dict[str, str] = field(default_factory=dict)


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
            spans=[(start, end) for start, end in row.get("spans", [])],
        )
    except KeyError as missing:
        raise ValueError(f"{path}:{number}: missing field {missing}") from None


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
    with opener(path, "rt", encoding="utf-8") as file:
        raw = json.load(file)
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
