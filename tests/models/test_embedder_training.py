"""Training the embedder (models/embedder/train/): the triplets it learns from, and a few
real steps of sentence-transformers' trainer on a handful of them (never a real run)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from citeqa.eval.datasets import load_squad
from citeqa.index.base import IndexMismatchError
from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import FROZEN, WEIGHTS_FILE, Embedder
from citeqa.models.embedder.train.pairs import triplets
from citeqa.models.embedder.train.run import EmbedderConfig, train
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings, open_index

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


def test_each_question_gets_the_sentence_that_answers_it(squad: Path) -> None:
    eval_set = load_squad(squad)
    made = triplets(eval_set, eval_set.questions, random.Random(0))
    assert "Which port?" not in {t.question for t in made}, "a guessed offset is no gold"
    by_question = {t.question: t for t in made}
    assert len(by_question) == len(made) == len(PORTS), "one triplet per question"
    for text, question, answer in PORTS:
        sentence = by_question[question]
        assert answer in sentence.positive and sentence.positive in text
        assert sentence.negative in text and sentence.negative != sentence.positive


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_ship_small_and_serve_their_own_vectors(
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

    # Served: its own ONNX export and name, so an index of the serving model's vectors is
    # refused rather than searched with these.
    cache = tmp_path / "cache"
    serving, tuned = Embedder(cache), Embedder(cache, weights=tmp_path / "out" / WEIGHTS_FILE)
    assert serving.name != tuned.name and tuned.name.startswith("citeqa-embedder-")
    texts = ["Who is the harbour master of Port Quillon?", PORTS[0][0]]
    before, after = serving.encode(texts), tuned.encode(texts)
    assert not np.allclose(before, after, atol=1e-4), "the fine-tuned layers are served"
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    settings = Settings(index=tmp_path / "index", cache=cache)
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "port.txt").write_text(PORTS[0][0])
    ingest(folder, open_index(settings, serving), serving, chunker_settings(settings))
    with pytest.raises(IndexMismatchError, match="Rebuild"):
        open_index(settings, tuned)
