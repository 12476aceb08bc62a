"""How `citeqa train-reader` trains (models/reader/train/run.py): one home for the defaults the
command line shows, importable without torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    learning_rate: float = 1e-4
    batch_size: int = 16  # windows; a batch holds whole groups
    warmup: float = 0.1  # share of steps with a rising learning rate
    weight_decay: float = 0.01
    own_repeats: int = 2  # the news questions are few; each is seen this often per epoch
    # Share of answerable questions read beside a hard negative (shared normalisation), and
    # of those whose negative is also a group of its own, which teaches a window without the
    # answer to say so ("not here"). Reader II paired every question; with all of SQuAD a
    # stage's steps cover more questions with half (data/models/reader/README.md).
    paired: float = 0.5
    alone: float = 0.3
    # Forward and backward in bfloat16 (torch.autocast; the CPU has avx512_bf16), the weights
    # and optimiser in fp32: measured in data/models/reader/README.md.
    bf16: bool = True
    # A stage of a run longer than a session: it starts at this step of the plan (the same
    # batches in the same order, by `seed`) from the previous stage's weights (`--init`),
    # and runs `max_steps` with a schedule of its own.
    first_step: int = 0
    seed: int = 13
    max_steps: int | None = None  # stop early (tests, or a run sized to a time budget)
    checkpoint_every: int = 200  # steps; `--resume` goes on from the last one
    # Distillation (`--teacher`): the student keeps `layers` of the teacher's, evenly
    # spaced, and learns from the teacher's softened logits as well as the gold spans.
    # Weight and temperature are DistilBERT's for SQuAD (Sanh et al. 2019: alpha_ce 0.5,
    # temperature 2).
    layers: int | None = None
    distill_weight: float = 0.5
    temperature: float = 2.0
