"""The extractive reader: exact offsets by construction, the shipped weights, and training.

The reader is the real MiniLM with the shipped weights; training runs a few real steps.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citeqa.eval.datasets import EvalQuestion
from citeqa.eval.train_reader import (
    Example,
    TrainConfig,
    extra_examples,
    featurize,
    span_loss,
    train,
)
from citeqa.service.components import load_reader
from citeqa.service.reading import Passage, Reader, load_model, load_tokenizer, shipped_reader
from citeqa.service.settings import Settings


@pytest.fixture(scope="module")
def reader() -> Reader:
    return load_reader(shipped_reader(), Settings().cache)[0]


def test_the_shipped_weights_are_small_and_load_without_a_hub(reader: Reader) -> None:
    size = reader.weights.stat().st_size
    assert size < 30_000_000, f"{size} bytes: the reader must ship small"
    card = (shipped_reader() / "README.md").read_text().lower()
    assert "held-out" in card and "citeqa train-reader" in card, "the data card says how"


def test_the_span_is_the_words_that_answer(reader: Reader) -> None:
    text = "The harbour master of Port Quillon is Ansel Varga. The port opened in 1901."
    spans = reader.read("Who is the harbour master of Port Quillon?", [Passage("d", 0, text)])
    assert spans[0].text == "Ansel Varga"


# Text with what breaks naive offset arithmetic: accents the tokenizer strips, emoji,
# CRLF, non-breaking and zero-width spaces, CJK, combining marks.
_TRICKY = st.sampled_from(
    ["café", "naïve", "🚀", "\r\n", "\u00a0", "\u200b", "東京", "e\u0301", "—", "Ω", "  ", "\t"]
)
_WORDS = st.sampled_from(["Ansel", "Varga", "harbour", "master", "1901", "opened", "port", "."])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(st.one_of(_WORDS, _TRICKY, st.text(min_size=1, max_size=6)), max_size=80),
    prefix=st.text(max_size=20),
    # Up to the API's limit: a question longer than a window must still leave room to read.
    question=st.text(min_size=1, max_size=1000),
)
def test_every_span_quotes_its_document_exactly(
    reader: Reader, words: list[str], prefix: str, question: str
) -> None:
    passage_text = " ".join(words)
    document = prefix + passage_text + " tail"
    passage = Passage("d", len(prefix), passage_text)
    assert document[passage.start : passage.end] == passage.text
    for span in reader.read(question, [passage]):
        assert document[span.start : span.end] == span.text
        assert passage.start <= span.start < span.end <= passage.end


def test_long_passages_are_read_in_overlapping_windows(reader: Reader) -> None:
    filler = "The weather was mild and nothing happened that day. " * 60
    text = filler + "The harbour master of Port Quillon is Ansel Varga. " + filler
    spans = reader.read("Who is the harbour master of Port Quillon?", [Passage("d", 7, text)])
    assert spans[0].text == "Ansel Varga"
    assert text[spans[0].start - 7 : spans[0].end - 7] == "Ansel Varga"


def test_a_few_training_steps_lower_the_loss() -> None:
    examples = [
        Example("Who is the harbour master?", "The harbour master is Ansel Varga.", [(22, 33)]),
        Example("When did the port open?", "The port opened in 1901 after a storm.", [(19, 23)]),
        Example("What did Maria build?", "Maria built a red boat last year.", [(12, 22), (14, 22)]),
        Example("Where is the bridge?", "The bridge stands in Northport, by the sea.", [(21, 30)]),
    ]
    data = featurize(load_tokenizer(), examples)
    assert data.start_targets[:, 0].sum() == 0, "every answer lies inside its window"
    model = load_model(None)
    config = TrainConfig(epochs=20, batch_size=4, learning_rate=3e-4, max_steps=15)
    losses = train(model, data, config)
    assert len(losses) == 15
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3


def test_feedback_corrections_train_at_their_offsets() -> None:
    """`train-reader --extra`: questions with spans (a feedback export) become examples
    read around the span; one whose document changed since is skipped, not mislabelled."""
    filler = "The tide came in and went out again, as it does every day of the year. " * 30
    text = filler + "The harbour master of Port Quillon is Ansel Varga. " + filler
    start = text.index("Ansel Varga")
    right = EvalQuestion("f1", "Who is the harbour master?", ["Ansel Varga"], ["port"], "who",
                         False, spans=[(start, start + 11)])  # fmt: skip
    moved = EvalQuestion("f2", "Who is the harbour master?", ["Ansel Varga"], ["port"], "who",
                         False, spans=[(start + 1, start + 12)])  # fmt: skip
    none = EvalQuestion("f3", "Who built the moon?", [], [], "who", True)

    extra = extra_examples([right, moved, none], {"port": text}, size=200)

    assert extra.skipped == [moved]
    [example] = extra.examples
    assert len(example.passage) <= 200 and example.passage in text
    [(a, b)] = example.answers
    assert example.passage[a:b] == "Ansel Varga"
    data = featurize(load_tokenizer(), extra.examples)
    assert data.start_targets[:, 0].sum() == 0, "the answer lies inside its window"
    config = TrainConfig(batch_size=1, max_steps=2)
    assert len(train(load_model(None), data, config)) == 2  # two real steps, no more


def test_the_loss_counts_every_gold_answer() -> None:
    import torch

    logits = torch.tensor([[0.0, 2.0, 2.0, -1.0]])
    one = span_loss(logits, torch.tensor([[False, True, False, False]]))
    both = span_loss(logits, torch.tensor([[False, True, True, False]]))
    assert both < one  # two acceptable starts carry more probability than one


def test_concurrent_reads_get_the_same_spans_as_one_at_a_time(reader: Reader) -> None:
    """The service reads for several requests at once, on one shared reader."""
    from concurrent.futures import ThreadPoolExecutor

    long = "The port opened in 1901 after a storm. " * 30
    jobs = [
        ("Who is the harbour master?", "The harbour master of Port Quillon is Ansel Varga."),
        ("When did the port open?", long),
    ] * 8

    def read(job: tuple[str, str]) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in reader.read(job[0], [Passage("d", 0, job[1])])]

    alone = [read(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(read, jobs)) == alone
