"""Train the extractive reader: `citeqa train-reader --squad FILE` (or `make train-reader`).

Fine-tunes MiniLM with a span head on SQuAD-format questions and on the project's own
question set, both split by article (`datasets.split_by_article`): the reader learns only
from training articles, and every figure it prints is on held-out ones. Every distinct gold
answer of a question is a target: the loss is the negative log of the probability mass on
all gold starts (and ends), so no annotator's span is thrown away.

Writes the fine-tuned layers to data/models/reader/reader.safetensors (fp16, without the
frozen word embeddings) and a checkpoint after every epoch, with a progress log.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from citeqa.eval.datasets import (
    EvalQuestion,
    EvalSet,
    Split,
    load_questions,
    load_squad,
    split_of,
)
from citeqa.eval.metrics import best_no_answer_threshold, exact_match, f1, is_correct
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import load_folder
from citeqa.ingest.models import Document
from citeqa.service.answering import Answerer
from citeqa.service.calibration import CONFIDENCE_FILE, Candidate, Confidence
from citeqa.service.reading import (
    FROZEN,
    WEIGHTS_FILE,
    Encoded,
    Passage,
    Reader,
    encode,
    load_model,
    load_tokenizer,
    masked_logits,
    save_weights,
)
from citeqa.service.settings import Settings

READER_DIR = Path(__file__).resolve().parents[1] / "data" / "models" / "reader"
OWN_QUESTIONS = Path(__file__).parent / "questions.jsonl"


@dataclass(frozen=True)
class Example:
    """A question, the passage it is read against, and its gold answers in that passage."""

    question: str
    passage: str
    answers: list[tuple[int, int]]  # character spans in `passage`


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    learning_rate: float = 8e-5
    batch_size: int = 16
    warmup: float = 0.1  # share of steps with a rising learning rate
    weight_decay: float = 0.01
    own_repeats: int = 3  # the news questions are few; each is seen this often per epoch
    seed: int = 13
    max_steps: int | None = None  # stop early (tests)


def squad_examples(questions: list[EvalQuestion], documents: dict[str, Document]) -> list[Example]:
    return [
        Example(q.question, documents[q.doc_ids[0]].text, q.spans)
        for q in questions
        if q.spans and q.doc_ids
    ]


def own_examples(
    questions: list[EvalQuestion], documents: list[Document], chunker: ChunkerSettings
) -> list[Example]:
    """The project set gives answers as text, not offsets: each chunk of a cited document
    that contains a gold answer becomes a passage, with every place it occurs as a target.
    (Label-making only; answers at run time come from token offsets, never a search.)"""
    chunks = {d.doc_id: chunk_document(d, chunker) for d in documents}
    examples = []
    for q in questions:
        for doc_id in q.doc_ids:
            for chunk in chunks.get(doc_id, []):
                spans = sorted({s for a in q.answers for s in _occurrences(chunk.text, a)})
                if spans:
                    examples.append(Example(q.question, chunk.text, spans))
    return examples


@dataclass
class Extra:
    """Extra training questions with their gold spans (a `citeqa feedback export`)."""

    examples: list[Example]
    skipped: list[EvalQuestion]  # the span no longer quotes the answer: document changed


def extra_examples(questions: list[EvalQuestion], texts: dict[str, str], size: int) -> Extra:
    """Each question with a span, read against about `size` characters of its document
    around the span (cut at spaces), as the reader reads a chunk at run time. Unanswerable
    questions cite nothing and teach the reader nothing: they are left out."""
    examples, skipped = [], []
    for q in questions:
        if not q.spans:
            continue
        text = texts.get(q.doc_ids[0], "")
        start, end = q.spans[0]
        if text[start:end] != q.answers[0]:
            skipped.append(q)
            continue
        margin = max(0, size - (end - start)) // 2
        first = _after_space(text, max(0, start - margin), start)
        last = _before_space(text, min(len(text), end + margin), end)
        examples.append(Example(q.question, text[first:last], [(start - first, end - first)]))
    return Extra(examples, skipped)


def _after_space(text: str, at: int, limit: int) -> int:
    """`at`, moved on past the word it cuts (never beyond `limit`)."""
    space = text.find(" ", at, limit) if at else -1
    return space + 1 if space != -1 else at


def _before_space(text: str, at: int, limit: int) -> int:
    """`at`, moved back before the word it cuts (never before `limit`)."""
    space = text.rfind(" ", limit, at) if at < len(text) else -1
    return space if space != -1 else at


def _occurrences(text: str, answer: str) -> Iterator[tuple[int, int]]:
    start = text.find(answer)
    while start != -1:
        yield start, start + len(answer)
        start = text.find(answer, start + 1)


@dataclass(frozen=True)
class Batchable:
    encoded: Encoded
    start_targets: torch.Tensor  # [window, token] bool
    end_targets: torch.Tensor
    lengths: np.ndarray  # tokens per window, for padding each batch only as far as needed


def featurize(tokenizer, examples: list[Example]) -> Batchable:
    """Tokenize every example; a window without a whole gold answer targets [CLS]."""
    encoded = encode(tokenizer, [e.question for e in examples], [e.passage for e in examples])
    windows, tokens = encoded.span_mask.shape
    starts = np.zeros((windows, tokens), dtype=bool)
    ends = np.zeros((windows, tokens), dtype=bool)
    in_passage = encoded.span_mask.copy()
    in_passage[:, 0] = False
    for w in range(windows):
        token_starts = encoded.offsets[w, :, 0]
        token_ends = encoded.offsets[w, :, 1]
        for a, b in examples[encoded.passage_of[w]].answers:
            first = np.flatnonzero(in_passage[w] & (token_starts <= a) & (a < token_ends))
            last = np.flatnonzero(in_passage[w] & (token_starts < b) & (b <= token_ends))
            if first.size and last.size and first[0] <= last[-1]:
                starts[w, first[0]] = ends[w, last[-1]] = True
        if not starts[w].any():
            starts[w, 0] = ends[w, 0] = True
    return Batchable(
        encoded,
        torch.from_numpy(starts),
        torch.from_numpy(ends),
        encoded.arrays["attention_mask"].sum(1),
    )


def span_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log P(any gold position): marginal likelihood over all gold answers."""
    gold = logits.masked_fill(~targets, -1e4)
    return (torch.logsumexp(logits, -1) - torch.logsumexp(gold, -1)).mean()


def batches(data: Batchable, size: int, rng: random.Random) -> Iterator[np.ndarray]:
    """Shuffled batches of windows of similar length (less padding, same randomness)."""
    order = list(range(len(data.lengths)))
    rng.shuffle(order)
    pool = size * 50
    for p in range(0, len(order), pool):
        group = sorted(order[p : p + pool], key=lambda i: data.lengths[i])
        chunks = [group[i : i + size] for i in range(0, len(group), size)]
        rng.shuffle(chunks)
        yield from (np.array(c) for c in chunks)


def _take(data: Batchable, rows: np.ndarray) -> tuple[Encoded, torch.Tensor, torch.Tensor]:
    width = int(data.lengths[rows].max())
    arrays = {k: v[rows, :width] for k, v in data.encoded.arrays.items()}
    encoded = Encoded(
        arrays,
        data.encoded.offsets[rows, :width],
        data.encoded.passage_of[rows],
        data.encoded.span_mask[rows, :width],
    )
    return encoded, data.start_targets[rows, :width], data.end_targets[rows, :width]


def train(
    model: torch.nn.Module,
    data: Batchable,
    config: TrainConfig,
    on_step=None,
) -> list[float]:
    """AdamW with linear warm-up and decay; the word embeddings stay frozen. Returns the
    loss of every step; `on_step(step, total, loss)` is called after each."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    params = [p for n, p in model.named_parameters() if n != FROZEN]
    model.get_parameter(FROZEN).requires_grad_(False)
    optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    per_epoch = math.ceil(len(data.lengths) / config.batch_size)
    total = per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup + 1)))
    )
    model.train()
    losses: list[float] = []
    for _ in range(config.epochs):
        for rows in batches(data, config.batch_size, rng):
            if len(losses) >= total:
                return losses
            encoded, start_targets, end_targets = _take(data, rows)
            start, end = masked_logits(model, encoded)
            loss = (span_loss(start, start_targets) + span_loss(end, end_targets)) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(loss.item())
            if on_step:
                on_step(len(losses), total, losses[-1])
    return losses


# Before a confidence model is fitted, spans are ranked by the reader's own softmax share.
UNFITTED = Confidence(["share"], [1.0], 0.0, slope=1.0, offset=0.0, threshold=0.0)


@dataclass
class Read:
    """One question's candidates as the real pipeline finds them, labelled."""

    question: EvalQuestion
    candidates: list[Candidate]
    labels: np.ndarray  # 1.0 where the candidate is exactly right


def read_all(answerer: Answerer, questions: list[EvalQuestion]) -> list[Read]:
    out = []
    for q in questions:
        analysed = answerer.analyse(q.question)
        _, sentences = answerer.retrieve(analysed, None)
        found = answerer.read(analysed, sentences)
        labels = np.array([float(is_correct(c.text, q.answers)) for c in found])
        out.append(Read(q, found, labels))
    return out


def fit_confidence(fit_on: list[Read], calibrate_on: list[Read]) -> Confidence:
    """A logistic model over every candidate of `fit_on`, then Platt scaling: a sigmoid
    from the top candidate's logit to how often it is right, over `calibrate_on`."""
    names = sorted(fit_on[0].candidates[0].features)
    rows = [r for r in fit_on if r.candidates]
    x = np.array([[c.features[n] for n in names] for r in rows for c in r.candidates])
    y = np.concatenate([r.labels for r in rows])
    model = LogisticRegression(C=1.0, max_iter=5000).fit(x, y)
    fitted = Confidence(names, list(model.coef_[0]), float(model.intercept_[0]), 1.0, 0.0, 0.0)
    logits, right = _tops(fitted, [r for r in calibrate_on if r.candidates])
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(logits[:, None], right)
    fitted.slope, fitted.offset = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return fitted


def _tops(confidence: Confidence, rows: list[Read]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best logit and whether that answer is right (rows with candidates)."""
    logits, right = [], []
    for r in rows:
        scores = confidence.logits(r.candidates)
        best = int(np.argmax(scores))
        logits.append(scores[best])
        right.append(r.labels[best])
    return np.array(logits), np.array(right)


def choose_threshold(confidence: Confidence, rows: list[Read]) -> float:
    """The no-answer threshold with the best no-answer F1 over `rows`."""
    scores = []
    for r in rows:
        confidence.score(r.candidates)
        scores.append(max((c.score for c in r.candidates), default=float("-inf")))
    best = best_no_answer_threshold(scores, [r.question.unanswerable for r in rows])
    return best.threshold if best else 0.0


def gold_paragraph_scores(reader: Reader, examples: list[tuple[str, str, list[str]]]) -> dict:
    """EM and F1 of the reader's best span with the gold passage given (reader-only)."""
    ems, f1s = [], []
    for question, passage, golds in examples:
        spans = reader.read(question, [Passage("gold", 0, passage)])
        answer = spans[0].text if spans else ""
        ems.append(exact_match(answer, golds))
        f1s.append(f1(answer, golds))
    return {
        "questions": len(examples),
        "exact_match": float(np.mean(ems)),
        "f1": float(np.mean(f1s)),
    }


class Log:
    """Progress lines to stdout and to `progress.log`, for a run left in the background."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self._file = (work / "progress.log").open("a")

    def __call__(self, line: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {line}"
        print(line, flush=True)
        self._file.write(line + "\n")
        self._file.flush()


@dataclass(frozen=True)
class Sets:
    """The question sets, split by article, and the SQuAD paragraphs."""

    squad_path: Path
    squad: EvalSet
    squad_split: Split
    own: EvalSet
    own_split: Split

    extra: list[EvalQuestion]  # trained on whole: no split, no figure is reported on them

    @classmethod
    def load(cls, squad: Path, questions: Path, extra: Path | None = None) -> Sets:
        squad_set, own_set = load_squad(squad), load_questions(questions)
        extra_questions = load_questions(extra).questions if extra else []
        return cls(squad, squad_set, split_of(squad_set), own_set, split_of(own_set),
                   extra_questions)  # fmt: skip


def main(
    squad: Path,
    questions: Path,
    out_dir: Path,
    work: Path,
    config: TrainConfig,
    confidence_only: bool = False,
    extra: Path | None = None,
) -> None:
    """The whole run: train the reader, then fit its confidence model and threshold; with
    `confidence_only`, the second step alone, over the weights already in `out_dir`.
    `extra`, a question set with spans (`citeqa feedback export`), is trained on too,
    against the documents of the index the settings name."""
    log = Log(work)
    sets = Sets.load(squad, questions, extra)
    if confidence_only:
        weights = out_dir / WEIGHTS_FILE
    else:
        weights = train_weights(sets, out_dir, work, config, log)
    calibrate(sets, weights, work, log)


def train_weights(sets: Sets, out_dir: Path, work: Path, config: TrainConfig, log: Log) -> Path:
    """Fine-tune on the training articles; a checkpoint after every epoch."""
    from citeqa.service.components import chunker_settings
    from citeqa.service.settings import Settings, sample_corpus

    documents = {d.doc_id: d for d in sets.squad.documents}
    sample_documents = load_folder(sample_corpus()).documents
    settings = Settings()
    chunker = chunker_settings(settings)
    examples = squad_examples(sets.squad_split.train, documents)
    examples += own_examples(sets.own_split.train, sample_documents, chunker) * config.own_repeats
    if sets.extra:
        examples += _extra(sets.extra, settings, chunker, log).examples * config.own_repeats
    data = featurize(load_tokenizer(), examples)
    log(f"{len(examples)} examples, {len(data.lengths)} windows, {asdict(config)}")
    model = load_model(None)
    began = time.time()

    def on_step(step: int, total: int, loss: float) -> None:
        if step % 20 == 0 or step == total:
            rate = step / (time.time() - began)
            log(f"step {step}/{total} loss {loss:.3f} {rate:.2f} steps/s, "
                f"{(total - step) / rate / 60:.1f} min left")  # fmt: skip
        if step % max(1, total // config.epochs) == 0:
            save_weights(model, work / f"step-{step}.safetensors")

    train(model, data, config, on_step)
    weights = out_dir / WEIGHTS_FILE
    save_weights(model, weights)
    held_out = [
        (q.question, documents[q.doc_ids[0]].text, q.answers) for q in sets.squad_split.test
    ]
    scores = {
        "squad_test_whole_gold_paragraph": gold_paragraph_scores(
            Reader(weights, settings.cache), held_out
        ),
        "training_minutes": round((time.time() - began) / 60, 1),
        "examples": len(examples),
        "windows": len(data.lengths),
        "config": asdict(config),
    }
    (out_dir / "training.json").write_text(json.dumps(scores, indent=1) + "\n")
    log(f"wrote {weights}: {json.dumps(scores)}")
    return weights


def _extra(
    questions: list[EvalQuestion], settings: Settings, chunker: ChunkerSettings, log: Log
) -> Extra:
    """The extra questions' examples, over the documents in the index they were given on."""
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.components import open_index

    index = open_index(settings, Embedder(settings.cache))
    records = (index.document(doc_id) for doc_id in {q.doc_ids[0] for q in questions if q.spans})
    texts = {r.doc_id: r.text for r in records if r is not None}
    extra = extra_examples(questions, texts, chunker.chunk_size)
    log(f"{len(extra.examples)} extra examples from {settings.index}; "
        f"{len(extra.skipped)} skipped (the span no longer quotes its answer)")  # fmt: skip
    return extra


def calibrate(sets: Sets, weights: Path, work: Path, log: Log) -> Confidence:
    """Fit the confidence model on the calibration articles, which the reader never saw,
    through the real pipeline over open corpora; then the no-answer threshold on the
    project set (its training questions as the answerable side, since its calibration part
    holds only unanswerable ones). Writes confidence.json beside the weights."""
    from citeqa.eval.corpus import cache_dir, prepare_index
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.components import answer_settings
    from citeqa.service.settings import Settings, sample_corpus

    settings = Settings()
    embedder = Embedder(settings.cache)
    reader = Reader(weights, settings.cache)

    def answerer(eval_set: EvalSet, index: Path) -> Answerer:
        at = settings.model_copy(update={"index": index})
        opened = prepare_index(eval_set, at, embedder)
        return Answerer(opened, embedder, reader, UNFITTED, answer_settings(at, 0.0))

    squad_qa = answerer(sets.squad, cache_dir(sets.squad_path, settings))
    sample = EvalSet("sample", sets.own.questions, load_folder(sample_corpus()).documents)
    sample_qa = answerer(sample, work / "sample-index")
    log("reading the calibration questions")
    rows = read_all(squad_qa, sets.squad_split.calibration)
    rows += read_all(sample_qa, sets.own_split.calibration)
    confidence = fit_confidence(rows[0::2], rows[1::2])
    answerable = [q for q in sets.own_split.train if not q.unanswerable]
    unanswerable = [r for r in rows if r.question.unanswerable]
    confidence.threshold = choose_threshold(
        confidence, read_all(sample_qa, answerable) + unanswerable
    )
    path = weights.parent / CONFIDENCE_FILE
    confidence.save(path)
    log(f"wrote {path}: threshold {confidence.threshold:.3f}")
    return confidence
