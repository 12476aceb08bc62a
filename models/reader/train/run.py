"""`citeqa train-reader`: the whole run. Train the reader on the training articles (or
from a previous stage's weights), score it alone on every held-out part, then fit its
confidence model and threshold (calibrate.py).

Every question set is split by article (`eval.datasets.split_of`): the reader learns only
from training articles, and every figure it prints is on held-out ones. Writes the
fine-tuned layers to data/models/reader/reader.safetensors (fp16, without the frozen word
embeddings), `training.json` beside them, and a checkpoint every few hundred steps with a
progress log.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from citeqa.eval.corpus import cache_dir, way_of_indexing
from citeqa.eval.datasets import (
    EvalQuestion,
    EvalSet,
    Split,
    load_questions,
    load_squad,
    split_of,
)
from citeqa.eval.reader_alone import gold_paragraph_scores
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.loaders import load_folder
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.model import (
    WEIGHTS_FILE,
    ReaderTokenizer,
    load_model,
    save_weights,
    ship_onnx,
)
from citeqa.models.reader.spans import Reader
from citeqa.models.reader.train.calibrate import Part, calibrate
from citeqa.models.reader.train.config import TrainConfig
from citeqa.models.reader.train.data import (
    Extra,
    Group,
    NegativeMix,
    extra_examples,
    own_groups,
    squad_groups,
)
from citeqa.models.reader.train.distill import Taught, shrink
from citeqa.models.reader.train.loop import featurize, train
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import chunker_settings, open_index

# The project's own question sets, shipped with eval.
OWN_QUESTIONS = Path(str(files("citeqa.eval") / "questions.jsonl"))
# Short questions as people type them, over the sample corpus: for fitting the confidence
# model and the threshold (its training part) and for eval, never for training the reader.
NATURAL_QUESTIONS = Path(str(files("citeqa.eval") / "natural.jsonl"))


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
    def load(cls, path: Path) -> Loaded:
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
            Loaded.load(squad2) if squad2 else None,
            [Loaded.load(path) for path in shifts or []],
            extra_questions,
            [load_squad(path) for path in train or []],
        )  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Where a run reads and writes, and how it trains."""

    out_dir: Path  # weights, confidence.json, training.json
    work: Path  # checkpoint and progress.log
    config: TrainConfig
    resume: bool = False  # go on from the checkpoint in `work`
    init: Path | None = None  # a previous stage's weights, instead of the base model
    teacher: Path | None = None  # distil these weights (`config.layers`)


def main(sets: Sets, plan: Plan, settings: Settings, confidence_only: bool = False) -> None:
    """The whole run: train the reader, then fit its confidence model and threshold; with
    `confidence_only`, the second step alone, over the weights already in `plan.out_dir`.
    `sets.extra`, a question set with spans (`citeqa feedback export`), is trained on too,
    against the documents of the index `settings` name."""
    log = Log(plan.work)
    if confidence_only:
        weights = plan.out_dir / WEIGHTS_FILE
    else:
        weights = train_weights(sets, plan, settings, log)
    calibrate(calibration_parts(sets, settings, plan.work), weights, settings, log)


def calibration_parts(sets: Sets, settings: Settings, work: Path) -> list[Part]:
    """Questions the reader never trained on, each over its open corpus: the calibration
    articles of SQuAD (and SQuAD 2.0, with its unanswerable questions), and the training
    part of the short natural questions over the sample corpus."""
    # Trained on SQuAD train instead, the reader never saw the even half's training part:
    # it calibrates too.
    squad = sets.squad_split.calibration + (sets.squad_split.train if sets.train else [])
    parts = [Part(sets.squad, cache_dir(sets.squad_path, settings), squad)]
    if sets.squad2:
        squad2 = sets.squad2
        parts.append(Part(squad2.set, cache_dir(squad2.path, settings), squad2.split.calibration))
    sample = EvalSet("sample", [], load_folder(sample_corpus()).documents)
    natural = sets.natural_split
    index = work / f"sample-index-{way_of_indexing(settings)}"
    parts.append(Part(sample, index, natural.train + natural.calibration))
    return parts


def training_groups(sets: Sets, config: TrainConfig, settings: Settings, log: Log) -> list[Group]:
    """Every group the reader trains on, from training articles only."""
    rng = random.Random(config.seed)
    mix = NegativeMix(config.paired, config.alone)
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


def train_weights(sets: Sets, plan: Plan, settings: Settings, log: Log) -> Path:
    """Fine-tune on the training articles, with a checkpoint every few hundred steps;
    then score the reader alone on every held-out part. The reader starts from
    `plan.init` (a previous stage's weights) or from the base model with a fresh span
    head. With `plan.teacher` (a reader's weights), distil it: the student starts from
    `config.layers` of its layers, or from `plan.init` (an earlier stage's student)."""
    config = plan.config
    checkpoint = plan.work / "checkpoint.pt"
    if not plan.resume:
        checkpoint.unlink(missing_ok=True)
    groups = training_groups(sets, config, settings, log)
    data = featurize(ReaderTokenizer(), groups)
    negatives = sum(not any(e.answers for e in g.examples) for g in groups)
    log(f"{len(groups)} groups ({negatives} without an answer), {len(data.lengths)} windows, "
        f"{asdict(config)}")  # fmt: skip
    if plan.teacher is None:
        model, taught = load_model(plan.init), None
    else:
        taught = Taught.of(plan.teacher, data, settings.cache, log)
        # A later stage of a distillation goes on from the student's own weights (`init`).
        model = load_model(plan.init or plan.teacher)
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
    weights = plan.out_dir / WEIGHTS_FILE
    save_weights(model, weights)
    ship_onnx(weights)
    reader = Reader(weights, settings.cache)
    scores = {
        **held_out_scores(sets, reader),
        "training_minutes": round((time.time() - began) / 60, 1),
        "groups": len(groups),
        "windows": len(data.lengths),
        "config": asdict(config),
    }
    (plan.out_dir / "training.json").write_text(json.dumps(scores, indent=1) + "\n")
    log(f"wrote {weights}: {json.dumps(scores)}")
    return weights


def held_out_scores(sets: Sets, reader: Reader) -> dict[str, dict]:
    """The reader alone on each test part, the whole gold paragraph given."""
    parts = {"squad_test_whole_gold_paragraph": (sets.squad, sets.squad_split)}
    parts |= {f"{s.set.name}_test_whole_gold_paragraph": (s.set, s.split) for s in sets.shifts}
    return {
        name: gold_paragraph_scores(reader, eval_set, split.test)
        for name, (eval_set, split) in parts.items()
    }


def _extra(
    questions: list[EvalQuestion], settings: Settings, chunker: ChunkerSettings, log: Log
) -> Extra:
    """The extra questions' examples, over the documents in the index they were given on."""

    index = open_index(settings, Embedder(settings.cache))
    records = (index.document(doc_id) for doc_id in {q.doc_ids[0] for q in questions if q.spans})
    texts = {r.doc_id: r.text for r in records if r is not None}
    extra = extra_examples(questions, texts, chunker.chunk_size)
    log(f"{len(extra.examples)} extra examples from {settings.index}; "
        f"{len(extra.skipped)} skipped (the span no longer quotes its answer)")  # fmt: skip
    return extra
