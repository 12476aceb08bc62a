"""`citeqa train-embedder`: fine-tune the embedder on question-to-sentence triplets
(pairs.py) with sentence-transformers' trainer and its cached MultipleNegativesRankingLoss,
then save the layers it changed beside the data card.

The word embeddings stay frozen, as the reader's do, so what ships is everything else in
fp16 (about 22 MB); the frozen ones load from the installed package.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from citeqa.eval.datasets import EvalSet, split_of
from citeqa.models.embedder.encoder import FROZEN, WEIGHTS_FILE, ship_onnx
from citeqa.models.embedder.train.pairs import Triplet, triplets
from citeqa.models.runtime.paths import base_model

# Where training cuts a text, since a batch is padded to its longest one: the 99th
# percentile of answer sentences is 110 tokens, the longest 416 (SQuAD train and
# SQuAD-shifts, 6,400 triplets sampled; data/models/embedder/README.md).
TRAIN_TOKENS = 128


@dataclass(frozen=True)
class EmbedderConfig:
    # The multi-qa MiniLM models' settings (sentence-transformers' training scripts): a
    # large batch gives each question more in-batch negatives.
    batch_size: int = 64
    learning_rate: float = 2e-5
    warmup: float = 0.1
    epochs: int = 1
    max_steps: int = -1  # -1: the epochs decide; a number sizes a stage to a time budget
    checkpoint_every: int = 200
    seed: int = 13


def training_triplets(whole: list[EvalSet], split: list[EvalSet], seed: int) -> list[Triplet]:
    """Triplets from every question of `whole` (SQuAD train) and from the training and
    calibration parts of `split` (SQuAD-shifts: so that it does not learn Wikipedia
    alone), never from a test part."""
    rng = random.Random(seed)
    out = [t for s in whole for t in triplets(s, s.questions, rng)]
    for eval_set in split:
        parts = split_of(eval_set)
        out += triplets(eval_set, parts.train + parts.calibration, rng)
    rng.shuffle(out)
    return out


def train(
    data: list[Triplet], out_dir: Path, work: Path, config: EmbedderConfig, resume: bool = False
) -> list[float]:
    """Fine-tune from the base model; checkpoints go to `work`, the weights to `out_dir`.
    Returns the logged training losses."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import CachedMultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(str(base_model()), device="cpu")
    model[0].model.get_parameter(FROZEN).requires_grad_(False)
    model.max_seq_length = TRAIN_TOKENS
    dataset = Dataset.from_dict(
        {
            "anchor": [t.question for t in data],
            "positive": [t.positive for t in data],
            "negative": [t.negative for t in data],
        }
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=config.epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_ratio=config.warmup, seed=config.seed, use_cpu=True, bf16=True,
        # The same question twice in a batch would be its own in-batch negative.
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_steps=config.checkpoint_every, save_total_limit=1,
        logging_steps=max(1, min(50, config.checkpoint_every)), report_to=[],
    )  # fmt: skip
    # GradCache: the same loss and gradients as MultipleNegativesRankingLoss over all 64,
    # with activations held for 16 texts at a time. 8 steps on 2 cores: 8.5 s a step, 16 s
    # of sys CPU and 2.4 GB, against 10.5 s, 59 s and 6.4 GB (data card, "Measured steps").
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=16)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    trainer.train(resume_from_checkpoint=resume or None)
    save_weights(model, out_dir / WEIGHTS_FILE)
    ship_onnx(out_dir / WEIGHTS_FILE)
    # A run shorter than `logging_steps` logs no step's loss, only the run's mean.
    logged = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    return logged or [row["train_loss"] for row in trainer.state.log_history if "train_loss" in row]


def save_weights(model, path: Path) -> None:
    """Everything the transformer changed (not the frozen word embeddings), in fp16."""
    from safetensors.torch import save_file

    state = model[0].model.state_dict()
    kept = {k: v.detach().half().contiguous() for k, v in state.items() if k != FROZEN}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(kept, str(tmp))
    tmp.replace(path)
