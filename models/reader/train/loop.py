"""The training loop: groups of passages into token targets, the span loss with shared
normalisation, batches of whole groups, AdamW, checkpoints.

Every distinct gold answer of a question is a target: the loss is the negative log of the
probability mass on all gold starts (and ends), so no annotator's span is thrown away.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from citeqa.models.reader.model import FROZEN, Encoded, ReaderTokenizer, masked_logits
from citeqa.models.reader.train.config import TrainConfig
from citeqa.models.reader.train.data import Group

if TYPE_CHECKING:
    from citeqa.models.reader.train.distill import Taught


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


def take(data: Batchable, rows: np.ndarray) -> tuple[Encoded, torch.Tensor, torch.Tensor]:
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
    on_step: Callable[[int, int, float], None] | None = None,
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
        encoded, start_targets, end_targets = take(data, rows)
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
