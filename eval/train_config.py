"""How `citeqa train-reader` trains (eval/train_reader.py): one home for the defaults the
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
    # Share of answerable questions whose hard negative is also a group of its own, which
    # teaches a window without the answer to say so ("not here").
    alone: float = 0.3
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
