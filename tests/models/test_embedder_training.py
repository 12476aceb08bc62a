"""Training the embedder (models/embedder/train/): the triplets it learns from, and a few
real steps of sentence-transformers' trainer on a handful of them (never a real run)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from safetensors import safe_open

from citeqa.eval.datasets import load_squad
from citeqa.models.embedder.train.pairs import triplets
from citeqa.models.embedder.train.run import FROZEN, WEIGHTS_FILE, EmbedderConfig, train

PORTS = [
    ("Port Quillon opened in 1901. Its harbour master is Ansel Varga. Ferries leave hourly.",
     "Who is the harbour master of Port Quillon?", "Ansel Varga"),
    ("The Quillon lighthouse is 40 metres tall. It was lit in 1888. Keepers left in 1970.",
     "When was the Quillon lighthouse first lit?", "1888"),
    ("Dockworkers struck for 11 days in March. The union asked for 9 percent. They got 7.5.",
     "How long did the dockworkers strike?", "11 days"),
    ("The Ostrevik ferry carries 400 passengers a day. It crosses the bay in 40 minutes.",
     "How many passengers does the Ostrevik ferry carry?", "400 passengers"),
]  # fmt: skip


@pytest.fixture
def squad(tmp_path: Path) -> Path:
    """A gzip-compressed SQuAD file of one article: every paragraph a question, and one
    question whose offset is a guess (it must be left out)."""
    paragraphs = [
        {"context": text, "qas": [{"id": f"q{n}", "question": question, "answers": [
            {"text": answer, "answer_start": text.index(answer)}]}]}
        for n, (text, question, answer) in enumerate(PORTS)
    ]  # fmt: skip
    paragraphs[0]["qas"].append({
        "id": "guessed", "question": "Which port?", "answer_start_ambiguous": 2,
        "answers": [{"text": "Port Quillon", "answer_start": 0}],
    })  # fmt: skip
    path = tmp_path / "tiny.json.gz"
    with gzip.open(path, "wt") as file:
        json.dump({"data": [{"title": "Ports", "paragraphs": paragraphs}]}, file)
    return path


def test_each_question_gets_its_sentence_and_its_paragraph(squad: Path) -> None:
    eval_set = load_squad(squad)
    made = triplets(eval_set, eval_set.questions, random.Random(0))
    assert "Which port?" not in {t.question for t in made}, "a guessed offset is no gold"
    by_question = {q: [t for t in made if t.question == q] for _, q, _ in PORTS}
    for text, question, answer in PORTS:
        sentence, paragraph = sorted(by_question[question], key=lambda t: len(t.positive))
        assert answer in sentence.positive and sentence.positive in text
        assert sentence.negative in text and sentence.negative != sentence.positive
        assert paragraph.positive == text and paragraph.negative != text


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_and_ship_without_the_word_embeddings(
    squad: Path, tmp_path: Path
) -> None:
    eval_set = load_squad(squad)
    made = triplets(eval_set, eval_set.questions, random.Random(0))
    config = EmbedderConfig(batch_size=4, learning_rate=1e-4, max_steps=8, checkpoint_every=2)
    losses = train(made * 2, tmp_path / "out", tmp_path / "work", config)
    assert len(losses) >= 3 and losses[-1] < losses[0], losses
    with safe_open(str(tmp_path / "out" / WEIGHTS_FILE), "pt") as saved:
        names = set(saved.keys())
    assert FROZEN not in names and "encoder.layer.5.output.dense.weight" in names
