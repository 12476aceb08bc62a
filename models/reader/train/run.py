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
from citeqa.eval.metrics import exact_match, f1, is_correct
from citeqa.eval.reader_data import (
    Extra,
    Group,
    NegativeMix,
    extra_examples,
    own_groups,
    squad_groups,
)
from citeqa.eval.train_config import TrainConfig
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.loaders import load_folder
from citeqa.ingest.runtime.reader_model import (
    FROZEN,
    WEIGHTS_FILE,
    Encoded,
    ReaderTokenizer,
    load_model,
    masked_logits,
    save_weights,
)
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.confidence import CONFIDENCE_FILE, Candidate, Confidence
from citeqa.service.qa.reader import Excerpt, Reader
from citeqa.service.settings import Settings

OWN_QUESTIONS = Path(__file__).parent / "questions.jsonl"
# Short questions as people type them, over the sample corpus: for fitting the confidence
# model and the threshold (its training part) and for eval, never for training the reader.
NATURAL_QUESTIONS = Path(__file__).parent / "natural.jsonl"


@dataclass(frozen=True)
class Batchable:
    encoded: Encoded
    start_targets: torch.Tensor  # [window, token] bool
    end_targets: torch.Tensor
    lengths: np.ndarray  # tokens per window, for padding each batch only as far as needed
    group_of: np.ndarray  # [window] the group each window belongs to, ascending

    def groups(self) -> list[np.ndarray]:
        """The windows of each group, in order."""
        return runs(self.group_of)


def runs(labels: np.ndarray) -> list[np.ndarray]:
    """The positions of each run of equal labels: [0,0,1,2,2] -> [[0,1],[2],[3,4]]."""
    bounds = np.flatnonzero(np.diff(labels)) + 1
    return np.split(np.arange(len(labels)), bounds)


def featurize(tokenizer: ReaderTokenizer, groups: list[Group]) -> Batchable:
    """Tokenize every passage of every group. Targets are the gold answers in any window of
    the group; a group with none anywhere targets [CLS] in each of its windows."""
    examples = [e for g in groups for e in g.examples]
    group_of_example = np.repeat(np.arange(len(groups)), [len(g.examples) for g in groups])
    encoded = tokenizer.encode([e.question for e in examples], [e.passage for e in examples])
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
    group_of = group_of_example[encoded.passage_of]
    for rows in runs(group_of):
        if not starts[rows].any():
            starts[rows, 0] = ends[rows, 0] = True
    return Batchable(
        encoded,
        torch.from_numpy(starts),
        torch.from_numpy(ends),
        encoded.arrays["attention_mask"].sum(1),
        group_of,
    )


def span_loss(
    logits: torch.Tensor, targets: torch.Tensor, groups: list[np.ndarray]
) -> torch.Tensor:
    """-log P(any gold position), with one softmax over all the positions of a group's
    windows (shared normalisation); the mean over groups (rows of `logits`)."""
    gold = logits.masked_fill(~targets, -1e4)
    losses = [
        torch.logsumexp(logits[rows].reshape(-1), 0) - torch.logsumexp(gold[rows].reshape(-1), 0)
        for rows in map(torch.from_numpy, groups)
    ]
    return torch.stack(losses).mean()


def soft_loss(
    logits: torch.Tensor, teacher: torch.Tensor, groups: list[np.ndarray], temperature: float
) -> torch.Tensor:
    """Cross-entropy from the teacher's softened distribution over each group's positions
    (shared normalisation, as `span_loss`) to the student's, times temperature² so that its
    gradients keep their scale (Hinton et al. 2015); the mean over groups."""
    losses = []
    for rows in map(torch.from_numpy, groups):
        target = torch.softmax(teacher[rows].reshape(-1) / temperature, 0)
        log_p = torch.log_softmax(logits[rows].reshape(-1) / temperature, 0)
        losses.append(-(target * log_p).sum())
    return temperature**2 * torch.stack(losses).mean()


@dataclass(frozen=True)
class Taught:
    """A teacher's masked start and end logits on every window of the training data, read
    once before training: [window, token], padded as the data's windows."""

    start: np.ndarray
    end: np.ndarray

    @classmethod
    def read(cls, weights: Path, data: Batchable, cache: Path, log: Log) -> Taught:
        """The reader with `weights` (in ONNX Runtime, as it serves, on every core: about 4
        times faster than its torch forward inside each training step) over `data`, in
        batches of windows of similar length."""
        from citeqa.ingest.runtime.reader_model import BLOCKED, reader_session, span_logits
        from citeqa.ingest.runtime.threads import BATCH_THREADS

        session = reader_session(weights, cache, BATCH_THREADS)
        start = np.full(data.encoded.span_mask.shape, BLOCKED, np.float32)
        end = start.copy()
        order = np.argsort(data.lengths)
        for n, rows in enumerate(np.array_split(order, max(1, len(order) // 32))):
            encoded, _, _ = _take(data, rows)
            width = encoded.span_mask.shape[1]
            start[rows, :width], end[rows, :width] = span_logits(session, encoded)
            if n % 200 == 0:
                log(f"teacher: {n * 32}/{len(order)} windows read")
        return cls(start, end)

    def take(self, rows: np.ndarray, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(self.start[rows, :width]),
                torch.from_numpy(self.end[rows, :width]))  # fmt: skip


def shrink(model: torch.nn.Module, layers: int) -> torch.nn.Module:
    """`model` with `layers` of its transformer layers, evenly spaced, the first and the
    last kept (the student's start: the teacher's own layers, not fresh ones)."""
    encoder = model.bert.encoder
    keep = np.round(np.linspace(0, len(encoder.layer) - 1, layers)).astype(int)
    encoder.layer = torch.nn.ModuleList(encoder.layer[int(i)] for i in keep)
    model.config.num_hidden_layers = layers
    return model


def batches(data: Batchable, size: int, rng: random.Random) -> Iterator[np.ndarray]:
    """Shuffled batches of whole groups of similar length (less padding, same randomness),
    each of at most `size` windows, or one larger group."""
    groups = data.groups()
    rng.shuffle(groups)
    pool = size * 50
    for p in range(0, len(groups), pool):
        part = sorted(groups[p : p + pool], key=lambda rows: data.lengths[rows].max())
        chunks: list[list[np.ndarray]] = [[]]
        for rows in part:
            if chunks[-1] and sum(map(len, chunks[-1])) + len(rows) > size:
                chunks.append([])
            chunks[-1].append(rows)
        rng.shuffle(chunks)
        yield from (np.concatenate(c) for c in chunks)


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
    checkpoint: Path | None = None,
    teacher: Taught | None = None,
) -> list[float]:
    """AdamW with linear warm-up and decay; the word embeddings stay frozen. Returns the
    loss of every step run; `on_step(step, total, loss)` is called after each. With
    `checkpoint`, the whole state is saved there every `config.checkpoint_every` steps and,
    if the file exists, training goes on from it (the same batches in the same order).
    With a `teacher`'s logits, the loss mixes in `soft_loss` against them."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    params = [p for n, p in model.named_parameters() if n != FROZEN]
    model.get_parameter(FROZEN).requires_grad_(False)
    optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    plan = [rows for _ in range(config.epochs) for rows in batches(data, config.batch_size, rng)]
    plan = plan[config.first_step :]
    total = len(plan) if config.max_steps is None else min(len(plan), config.max_steps)
    warmup = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup + 1)))
    )
    done = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        done = state["step"]
    model.train()
    losses: list[float] = []
    for step in range(done, total):
        rows = plan[step]
        encoded, start_targets, end_targets = _take(data, rows)
        groups = runs(data.group_of[rows])
        with torch.autocast("cpu", torch.bfloat16, enabled=config.bf16):
            start, end = masked_logits(model, encoded)
        start, end = start.float(), end.float()
        loss = (span_loss(start, start_targets, groups) + span_loss(end, end_targets, groups)) / 2
        if teacher is not None:
            taught = teacher.take(rows, start.shape[1])
            soft = sum(
                soft_loss(mine, theirs, groups, config.temperature)
                for mine, theirs in zip((start, end), taught, strict=True)
            )
            loss = (1 - config.distill_weight) * loss + config.distill_weight * soft / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        losses.append(loss.item())
        if checkpoint is not None and (step + 1) % config.checkpoint_every == 0:
            _save_checkpoint(checkpoint, model, optimiser, schedule, step + 1)
        if on_step:
            on_step(step + 1, total, losses[-1])
    return losses


def _save_checkpoint(path: Path, model, optimiser, schedule, step: int) -> None:
    """Atomically: a run killed while saving keeps the previous checkpoint."""
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


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
    # Standardised, so one regularisation suits features on scales from 0..1 to logits;
    # folded back into plain coefficients, which is all confidence.json holds.
    mean, std = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x - mean) / std, y)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - coef @ mean)
    fitted = Confidence(names, list(coef), intercept, 1.0, 0.0, 0.0)
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


def choose_threshold(confidence: Confidence, parts: list[list[Read]]) -> float:
    """The no-answer threshold with the best exact match averaged over `parts` (each set
    counts the same, whatever its size): abstaining is exact on an unanswerable question,
    and wrong on any other."""
    tops = [[_top(confidence, r) for r in rows] for rows in parts]
    cuts = sorted({score for rows in tops for score, _, _ in rows} | {0.0})

    def exact(threshold: float) -> float:
        return float(np.mean([
            np.mean([right if score >= threshold else unanswerable
                     for score, right, unanswerable in rows])
            for rows in tops
        ]))  # fmt: skip

    return max(cuts, key=lambda t: (exact(t), -t))


def _top(confidence: Confidence, row: Read) -> tuple[float, float, bool]:
    """The best candidate's confidence, whether it is right, and whether none could be."""
    confidence.score(row.candidates)
    if not row.candidates:
        return float("-inf"), 0.0, row.question.unanswerable
    best = int(np.argmax([c.score for c in row.candidates]))
    return row.candidates[best].score, float(row.labels[best]), row.question.unanswerable


def gold_paragraph_scores(reader: Reader, examples: list[tuple[str, str, list[str]]]) -> dict:
    """EM and F1 of the reader's best span with the gold passage given (reader-only)."""
    ems, f1s = [], []
    for question, passage, golds in examples:
        spans = reader.read(question, [Excerpt("gold", 0, passage)])
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
class Loaded:
    """A SQuAD-format file, its questions and their split."""

    path: Path
    set: EvalSet
    split: Split

    @classmethod
    def read(cls, path: Path) -> Loaded:
        eval_set = load_squad(path)
        return cls(path, eval_set, split_of(eval_set))


@dataclass(frozen=True)
class Sets:
    """The question sets, each split by article (`datasets.split_of`)."""

    squad_path: Path
    squad: EvalSet
    squad_split: Split
    own: EvalSet
    own_split: Split
    natural: EvalSet
    natural_split: Split
    # SQuAD 2.0: its unanswerable questions of training articles teach "not here".
    squad2: Loaded | None
    # More SQuAD-format sets (SQuAD-shifts): their training and calibration parts are
    # trained on; their test parts give held-out figures of the reader alone.
    shifts: list[Loaded]
    extra: list[EvalQuestion]  # trained on whole: no split, no figure is reported on them
    # SQuAD-format sets trained on whole (SQuAD v1.1 train): they share no article with
    # any set a figure is reported on.
    train: list[EvalSet]

    @classmethod
    def load(
        cls,
        squad: Path,
        questions: Path,
        extra: Path | None = None,
        squad2: Path | None = None,
        shifts: list[Path] | None = None,
        train: list[Path] | None = None,
    ) -> Sets:
        squad_set, own_set = load_squad(squad), load_questions(questions)
        natural = load_questions(NATURAL_QUESTIONS)
        extra_questions = load_questions(extra).questions if extra else []
        return cls(
            squad, squad_set, split_of(squad_set), own_set, split_of(own_set),
            natural, split_of(natural),
            Loaded.read(squad2) if squad2 else None,
            [Loaded.read(path) for path in shifts or []],
            extra_questions,
            [load_squad(path) for path in train or []],
        )  # fmt: skip


def main(
    sets: Sets,
    out_dir: Path,
    work: Path,
    config: TrainConfig,
    confidence_only: bool = False,
    resume: bool = False,
    teacher: Path | None = None,
    init: Path | None = None,
) -> None:
    """The whole run: train the reader, then fit its confidence model and threshold; with
    `confidence_only`, the second step alone, over the weights already in `out_dir`.
    `sets.extra`, a question set with spans (`citeqa feedback export`), is trained on too,
    against the documents of the index the settings name."""
    log = Log(work)
    if confidence_only:
        weights = out_dir / WEIGHTS_FILE
    else:
        weights = train_weights(sets, out_dir, work, config, log, resume, teacher, init)
    calibrate(sets, weights, work, log)


def training_groups(sets: Sets, config: TrainConfig, log: Log) -> list[Group]:
    """Every group the reader trains on, from training articles only."""
    from citeqa.service.settings import Settings, sample_corpus
    from citeqa.service.wiring import chunker_settings

    rng = random.Random(config.seed)
    mix = NegativeMix(config.paired, config.alone)
    settings = Settings()
    chunker = chunker_settings(settings)
    groups = []
    for whole in sets.train:
        gold = [q for q in whole.questions if not q.spans_guessed]
        log(f"{whole.name}: {len(gold)} questions; {len(whole.questions) - len(gold)} left "
            "out (their offsets are guesses)")  # fmt: skip
        groups += squad_groups(whole, gold, mix, rng)
    if not sets.train:
        # With a training set of its own size, the even half's answerable questions serve
        # calibration and test alone (steadier figures).
        groups += squad_groups(sets.squad, sets.squad_split.train, mix, rng)
    if sets.squad2:
        unanswerable = [q for q in sets.squad2.split.train if q.unanswerable]
        groups += squad_groups(sets.squad2.set, unanswerable, mix, rng)
    for shift in sets.shifts:
        trained = shift.split.train + shift.split.calibration
        groups += squad_groups(shift.set, trained, mix, rng)
    sample_documents = load_folder(sample_corpus()).documents
    groups += own_groups(sets.own_split.train, sample_documents, chunker) * config.own_repeats
    if sets.extra:
        extra = _extra(sets.extra, settings, chunker, log).examples
        groups += [Group([e]) for e in extra] * config.own_repeats
    return groups


def train_weights(
    sets: Sets,
    out_dir: Path,
    work: Path,
    config: TrainConfig,
    log: Log,
    resume: bool,
    teacher: Path | None = None,
    init: Path | None = None,
) -> Path:
    """Fine-tune on the training articles, with a checkpoint every few hundred steps;
    then score the reader alone on every held-out part. The reader starts from `init` (a
    previous stage's weights) or from the base model with a fresh span head. With
    `teacher` (a reader's weights), distil it: the student starts from `config.layers` of
    its layers."""
    from citeqa.service.settings import Settings

    checkpoint = work / "checkpoint.pt"
    if not resume:
        checkpoint.unlink(missing_ok=True)
    groups = training_groups(sets, config, log)
    data = featurize(ReaderTokenizer(), groups)
    negatives = sum(not any(e.answers for e in g.examples) for g in groups)
    log(f"{len(groups)} groups ({negatives} without an answer), {len(data.lengths)} windows, "
        f"{asdict(config)}")  # fmt: skip
    if teacher is None:
        model, taught = load_model(init), None
    else:
        taught = Taught.read(teacher, data, Settings().cache, log)
        model = load_model(teacher)
        model = shrink(model, config.layers or model.config.num_hidden_layers)
    began = time.time()
    resumed_at: dict[str, int] = {}  # the step before this run's first: a resumed run's rate

    def on_step(step: int, total: int, loss: float) -> None:
        resumed_at.setdefault("step", step - 1)
        if step % 20 == 0 or step == total:
            rate = (step - resumed_at["step"]) / (time.time() - began)
            log(f"step {step}/{total} loss {loss:.3f} {rate:.2f} steps/s, "
                f"{(total - step) / rate / 60:.1f} min left")  # fmt: skip

    train(model, data, config, on_step, checkpoint, taught)
    weights = out_dir / WEIGHTS_FILE
    save_weights(model, weights)
    reader = Reader(weights, Settings().cache)
    scores = {
        **held_out_scores(sets, reader),
        "training_minutes": round((time.time() - began) / 60, 1),
        "groups": len(groups),
        "windows": len(data.lengths),
        "config": asdict(config),
    }
    (out_dir / "training.json").write_text(json.dumps(scores, indent=1) + "\n")
    log(f"wrote {weights}: {json.dumps(scores)}")
    return weights


def held_out_scores(sets: Sets, reader: Reader) -> dict[str, dict]:
    """The reader alone on each test part, the whole gold paragraph given."""
    parts = {"squad_test_whole_gold_paragraph": (sets.squad, sets.squad_split)}
    parts |= {f"{s.set.name}_test_whole_gold_paragraph": (s.set, s.split) for s in sets.shifts}
    out = {}
    for name, (eval_set, split) in parts.items():
        texts = {d.doc_id: d.text for d in eval_set.documents}
        held_out = [(q.question, texts[q.doc_ids[0]], q.answers) for q in split.test]
        out[name] = gold_paragraph_scores(reader, held_out)
    return out


def _extra(
    questions: list[EvalQuestion], settings: Settings, chunker: ChunkerSettings, log: Log
) -> Extra:
    """The extra questions' examples, over the documents in the index they were given on."""
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.wiring import open_index

    index = open_index(settings, Embedder(settings.cache))
    records = (index.document(doc_id) for doc_id in {q.doc_ids[0] for q in questions if q.spans})
    texts = {r.doc_id: r.text for r in records if r is not None}
    extra = extra_examples(questions, texts, chunker.chunk_size)
    log(f"{len(extra.examples)} extra examples from {settings.index}; "
        f"{len(extra.skipped)} skipped (the span no longer quotes its answer)")  # fmt: skip
    return extra


def calibrate(sets: Sets, weights: Path, work: Path, log: Log) -> Confidence:
    """Fit the confidence model and the no-answer threshold through the real pipeline,
    over open corpora, on questions the reader never trained on: the calibration articles
    of SQuAD (and SQuAD 2.0, with its unanswerable questions), and the training part of
    the short natural questions over the sample corpus. Writes confidence.json beside the
    weights."""
    from citeqa.eval.corpus import cache_dir, prepare_index
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.settings import Settings, sample_corpus
    from citeqa.service.wiring import answer_settings, span_typer

    settings = Settings()
    embedder = Embedder(settings.cache)
    reader = Reader(weights, settings.cache)

    def answerer(eval_set: EvalSet, index: Path) -> Answerer:
        at = settings.model_copy(update={"index": index})
        opened = prepare_index(eval_set, at, embedder)
        return Answerer(opened, embedder, reader, UNFITTED, span_typer(),
                        answer_settings(at, 0.0))  # fmt: skip

    log("reading the calibration questions")
    # Trained on SQuAD train instead, the reader never saw the even half's training part:
    # it calibrates too.
    squad_questions = sets.squad_split.calibration + (sets.squad_split.train if sets.train else [])
    parts = [read_all(answerer(sets.squad, cache_dir(sets.squad_path, settings)),
                      squad_questions)]  # fmt: skip
    if sets.squad2:
        squad2_qa = answerer(sets.squad2.set, cache_dir(sets.squad2.path, settings))
        parts.append(read_all(squad2_qa, sets.squad2.split.calibration))
    sample = EvalSet("sample", [], load_folder(sample_corpus()).documents)
    sample_qa = answerer(sample, work / "sample-index")
    natural = sets.natural_split
    parts.append(read_all(sample_qa, natural.train + natural.calibration))
    rows = [r for part in parts for r in part]
    confidence = fit_confidence(rows[0::2], rows[1::2])
    confidence.threshold = choose_threshold(confidence, parts)
    path = weights.parent / CONFIDENCE_FILE
    confidence.save(path)
    log(f"wrote {path}: threshold {confidence.threshold:.3f}")
    return confidence
