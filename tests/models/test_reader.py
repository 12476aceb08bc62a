"""The extractive reader: exact offsets by construction, the shipped weights, and training.

The reader is the real MiniLM with the shipped weights; training runs a few real steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citeqa.eval.datasets import EvalQuestion
from citeqa.models.reader.model import (
    ReaderTokenizer,
    load_model,
    masked_logits,
    save_weights,
)
from citeqa.models.reader.spans import Excerpt, Normaliser, Reader
from citeqa.models.reader.train.config import TrainConfig
from citeqa.models.reader.train.data import Example, Group, extra_examples
from citeqa.models.reader.train.distill import Taught, shrink
from citeqa.models.reader.train.loop import featurize, span_loss, train
from citeqa.models.runtime.paths import shipped_reader
from citeqa.service.settings import Settings


def test_the_shipped_weights_are_small_and_load_without_a_hub(reader: Reader) -> None:
    size = reader.weights.stat().st_size
    assert size < 30_000_000, f"{size} bytes: the reader must ship small"
    card = (shipped_reader() / "README.md").read_text().lower()
    assert "held-out" in card and "citeqa train-reader" in card, "the data card says how"


def test_the_span_is_the_words_that_answer(reader: Reader) -> None:
    text = "The harbour master of Port Quillon is Ansel Varga. The port opened in 1901."
    spans = reader.read("Who is the harbour master of Port Quillon?", [Excerpt("d", 0, text)])
    assert spans[0].text == "Ansel Varga"


# Text with what breaks naive offset arithmetic: accents the tokenizer strips, emoji,
# CRLF, non-breaking and zero-width spaces, CJK, combining marks.
_TRICKY = st.sampled_from(
    ["café", "naïve", "🚀", "\r\n", "\u00a0", "\u200b", "東京", "e\u0301", "—", "Ω", "  ", "\t"]
)
_NAMES = st.sampled_from(["Ansel", "Varga", "harbour", "master", "1901", "opened", "port"])
_WORDS = st.one_of(_NAMES, st.just("."))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(st.one_of(_WORDS, _TRICKY, st.text(min_size=1, max_size=6)), max_size=80),
    # A word the reader can always cut a span from, somewhere among the others.
    word=_NAMES,
    at=st.integers(min_value=0, max_value=80),
    prefix=st.text(max_size=20),
    # Up to the API's limit: a question longer than a window must still leave room to read.
    question=st.text(min_size=1, max_size=1000),
)
def test_every_span_quotes_its_document_exactly(
    reader: Reader, words: list[str], word: str, at: int, prefix: str, question: str
) -> None:
    words.insert(min(at, len(words)), word)
    passage_text = " ".join(words)
    document = prefix + passage_text + " tail"
    passage = Excerpt("d", len(prefix), passage_text)
    assert document[passage.start : passage.end] == passage.text
    spans = reader.read(question, [passage])
    assert spans, "a passage with a word in it always has spans to offer"
    for span in spans:
        assert document[span.start : span.end] == span.text
        assert passage.start <= span.start < span.end <= passage.end


def test_long_passages_are_read_in_overlapping_windows(reader: Reader) -> None:
    filler = "The weather was mild and nothing happened that day. " * 60
    text = filler + "The harbour master of Port Quillon is Ansel Varga. " + filler
    spans = reader.read("Who is the harbour master of Port Quillon?", [Excerpt("d", 7, text)])
    assert spans[0].text == "Ansel Varga"
    assert text[spans[0].start - 7 : spans[0].end - 7] == "Ansel Varga"


@pytest.mark.slow  # builds the reader's model and trains it
def test_a_few_training_steps_lower_the_loss() -> None:
    examples = [
        Example("Who is the harbour master?", "The harbour master is Ansel Varga.", [(22, 33)]),
        Example("When did the port open?", "The port opened in 1901 after a storm.", [(19, 23)]),
        Example("What did Maria build?", "Maria built a red boat last year.", [(12, 22), (14, 22)]),
        Example("Where is the bridge?", "The bridge stands in Northport, by the sea.", [(21, 30)]),
    ]
    data = featurize(ReaderTokenizer(), [Group([e]) for e in examples])
    assert data.start_targets[:, 0].sum() == 0, "every answer lies inside its window"
    model = load_model(None)
    config = TrainConfig(epochs=20, batch_size=4, learning_rate=3e-4, max_steps=15)
    losses = train(model, data, config)
    assert len(losses) == 15
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3


@pytest.mark.slow  # builds the reader's model and trains a student
def test_a_student_learns_from_the_teacher_and_ships_with_its_depth(tmp_path: Path) -> None:
    """`train-reader --teacher --layers`: a 2-layer student, started from the shipped
    reader's layers, learns from its logits (read once, in ONNX Runtime); its weights
    load back as a 2-layer reader that finds spans with exact offsets."""
    teacher, cache = shipped_reader() / "reader.safetensors", Settings().cache
    examples = [
        Example("Who is the harbour master?", "The harbour master is Ansel Varga.", [(22, 33)]),
        Example("When did the port open?", "The port opened in 1901 after a storm.", [(19, 23)]),
    ]
    data = featurize(ReaderTokenizer(), [Group([e]) for e in examples])
    taught = Taught.of(teacher, data, cache, print)
    assert taught.start.shape == data.encoded.span_mask.shape
    student = shrink(load_model(teacher), 2)
    config = TrainConfig(epochs=20, batch_size=2, learning_rate=3e-4, max_steps=10, layers=2)
    losses = train(student, data, config, teacher=taught)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3

    save_weights(student, tmp_path / "reader.safetensors")
    assert load_model(tmp_path / "reader.safetensors").config.num_hidden_layers == 2
    small = Reader(tmp_path / "reader.safetensors", cache)
    text = "The harbour master is Ansel Varga."
    for span in small.read("Who is the harbour master?", [Excerpt("d", 5, text)]):
        assert text[span.start - 5 : span.end - 5] == span.text


@pytest.mark.slow  # builds the reader's model and trains it
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
    data = featurize(ReaderTokenizer(), [Group([e]) for e in extra.examples])
    assert data.start_targets[:, 0].sum() == 0, "the answer lies inside its window"
    config = TrainConfig(epochs=3, batch_size=1, max_steps=2)
    assert len(train(load_model(None), data, config)) == 2  # two real steps, no more


def test_the_loss_counts_every_gold_answer() -> None:
    logits = torch.tensor([[0.0, 2.0, 2.0, -1.0]])
    groups = [np.array([0])]
    one = span_loss(logits, torch.tensor([[False, True, False, False]]), groups)
    both = span_loss(logits, torch.tensor([[False, True, True, False]]), groups)
    assert both < one  # two acceptable starts carry more probability than one


def test_a_group_is_normalised_over_all_its_windows() -> None:
    """Shared normalisation: a window without the answer takes probability from the
    group's gold span, so the same logits cost more loss beside a tempting window."""
    gold = torch.tensor([[False, True, False]])
    alone = span_loss(torch.tensor([[0.0, 3.0, 1.0]]), gold, [np.array([0])])
    logits = torch.tensor([[0.0, 3.0, 1.0], [0.0, 3.0, 1.0]])
    targets = torch.cat([gold, torch.zeros_like(gold)])
    together = span_loss(logits, targets, [np.array([0, 1])])
    assert together > alone
    # The same logits twice: the gold span keeps half the mass it had alone.
    assert torch.isclose(together, torch.log(torch.tensor(2.0)) + alone)


def test_a_group_without_an_answer_targets_cls_in_every_window() -> None:
    groups = [
        Group([Example("Who is the harbour master?", "The port opened in 1901.", []),
               Example("Who is the harbour master?", "Gulls nest on the pier.", [])]),
        Group([Example("When did the port open?", "The port opened in 1901.", [(19, 23)]),
               Example("When did the port open?", "Gulls nest on the pier.", [])]),
    ]  # fmt: skip
    data = featurize(ReaderTokenizer(), groups)
    assert data.group_of.tolist() == [0, 0, 1, 1]
    assert data.start_targets[:2, 0].all() and data.end_targets[:2, 0].all()
    assert not data.start_targets[2:, 0].any(), "the answered group targets its span only"
    assert data.start_targets[2].sum() == 1 and data.start_targets[3].sum() == 0


@pytest.mark.slow  # builds the reader's model and trains it
def test_training_on_an_unanswerable_question_raises_its_cls_score() -> None:
    question = "Who is the harbour master of Port Quillon?"
    unanswerable = Group([Example(question, "Port Quillon is a quiet town by the sea.", [])])
    answerable = Group([Example("When did the port open?", "The port opened in 1901.", [(19, 23)])])
    data = featurize(ReaderTokenizer(), [unanswerable, answerable])
    model = load_model(shipped_reader() / "reader.safetensors")

    def cls_margin() -> float:
        """[CLS]'s start logit over the best passage token's, for the unanswerable one."""
        model.eval()
        with torch.no_grad():
            start, _ = masked_logits(model, _first_window(data))
        return float(start[0, 0] - start[0, 1:].max())

    before = cls_margin()
    train(model, data, TrainConfig(epochs=10, batch_size=2, learning_rate=1e-4, max_steps=6))
    assert cls_margin() > before


def _first_window(data):
    from citeqa.models.reader.model import Encoded

    arrays = {k: v[:1] for k, v in data.encoded.arrays.items()}
    return Encoded(arrays, data.encoded.offsets[:1], data.encoded.passage_of[:1],
                   data.encoded.span_mask[:1])  # fmt: skip


def test_span_probabilities_share_one_softmax_over_the_windows(reader: Reader) -> None:
    """Each span's probability and the no-answer probability come from one softmax over
    every window read, so they add up to at most 1, whichever window a span is in."""
    passages = [
        Excerpt("a", 0, "The harbour master of Port Quillon is Ansel Varga."),
        Excerpt("b", 0, "The port opened in 1901 after a storm."),
        Excerpt("c", 0, "Gulls nest on the pier in spring."),
    ]
    spans = reader.read("Who is the harbour master of Port Quillon?", passages)
    assert spans[0].text == "Ansel Varga"
    assert len({s.null_log_prob for s in spans}) == 1, "one no-answer mass per question"
    total = sum(np.exp(s.log_prob) for s in spans) + np.exp(spans[0].null_log_prob)
    assert total <= 1.0 + 1e-6


def test_the_normaliser_is_a_softmax_over_every_window() -> None:
    start = np.array([[1.0, 2.0, -1e4], [0.5, 0.0, 3.0]])
    end = np.array([[0.0, 1.0, -1e4], [2.0, 1.0, 0.0]])
    norm = Normaliser.over(start, end)
    p_start = np.exp(start) / np.exp(start).sum()
    p_end = np.exp(end) / np.exp(end).sum()
    assert np.isclose(norm.log_prob(2.0 + 1.0), np.log(p_start[0, 1] * p_end[0, 1]))
    null = (p_start[0, 0] + p_start[1, 0]) * (p_end[0, 0] + p_end[1, 0])
    assert np.isclose(norm.null_log_prob, np.log(null))


def test_concurrent_reads_get_the_same_spans_as_one_at_a_time(reader: Reader) -> None:
    """The service reads for several requests at once, on one shared reader."""
    from concurrent.futures import ThreadPoolExecutor

    long = "The port opened in 1901 after a storm. " * 30
    jobs = [
        ("Who is the harbour master?", "The harbour master of Port Quillon is Ansel Varga."),
        ("When did the port open?", long),
    ] * 8

    def read(job: tuple[str, str]) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in reader.read(job[0], [Excerpt("d", 0, job[1])])]

    alone = [read(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(read, jobs)) == alone


def test_the_windows_equal_transformers_own() -> None:
    """ReaderTokenizer (the Rust tokenizer, configured once) cuts a long passage into the
    windows transformers' tokenizer makes with the settings training used to pass it."""
    from transformers import AutoTokenizer

    from citeqa.models.reader.model import MAX_LENGTH, STRIDE
    from citeqa.models.runtime.paths import base_model

    questions = ["Who opened the port?", "When did the harbour close for the winter?"]
    long = " ".join(f"Sentence {n} says the harbour of Port Quillon opened." for n in range(60))
    passages = [long, "A short passage about Ansel Varga."]
    ours = ReaderTokenizer().encode(questions, passages)
    theirs = AutoTokenizer.from_pretrained(str(base_model()))(
        questions, passages, truncation="only_second", max_length=MAX_LENGTH, stride=STRIDE,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest",
        return_tensors="np",
    )  # fmt: skip
    assert len(ours.passage_of) > 3, "the long passage overflows into several windows"
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        assert np.array_equal(ours.arrays[name], theirs[name]), name
    assert ours.passage_of.tolist() == theirs["overflow_to_sample_mapping"].tolist()
    in_passage = ours.span_mask.copy()
    in_passage[:, 0] = False
    assert np.array_equal(ours.offsets[in_passage], theirs["offset_mapping"][in_passage])


def test_a_read_on_every_core_finds_what_one_thread_finds(reader: Reader) -> None:
    """A question answered alone is read on every core (`every_core`): the same model in
    another session, so the same spans, each scored within float rounding."""
    passages = [
        Excerpt("a", 0, "The harbour master of Port Quillon is Ansel Varga, since 1987."),
        Excerpt("b", 0, "The port opened in 1901 after a storm. " * 20),
    ]
    for question in ("Who is the harbour master?", "When did the port open?"):
        one = reader.read(question, passages)
        every = reader.read(question, passages, every_core=True)
        assert [(s.passage, s.start, s.end) for s in one] == [
            (s.passage, s.start, s.end) for s in every
        ]
        assert np.allclose([s.log_prob for s in one], [s.log_prob for s in every], atol=1e-3)


def test_in_flight_counts_the_calls_inside_it_across_threads() -> None:
    from threading import Barrier, Thread

    from citeqa.models.runtime.threads import InFlight

    calls, inside, seen = InFlight(), Barrier(2), []

    def call() -> None:
        with calls.entered() as others:
            seen.append(others)
            inside.wait()  # both inside at once before either leaves

    threads = [Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == [0, 1]
    with calls.entered() as others:
        assert others == 0, "both left"
