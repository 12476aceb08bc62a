"""Distillation (`citeqa train-reader --teacher --layers`): a smaller student starts from
some of the teacher's layers (`shrink`) and learns from the teacher's logits (`Taught`,
through loop.soft_loss) as well as from the gold spans."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from citeqa.models.reader.model import BLOCKED, reader_session, span_logits
from citeqa.models.reader.train.loop import Batchable, take
from citeqa.models.runtime.threads import BATCH_THREADS


@dataclass(frozen=True)
class Taught:
    """A teacher's masked start and end logits on every window of the training data,
    computed once before training: [window, token], padded as the data's windows."""

    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, weights: Path, data: Batchable, cache: Path, log: Callable[[str], None]) -> Taught:
        """The reader with `weights` (in ONNX Runtime, as it serves, on every core: about 4
        times faster than its torch forward inside each training step) over `data`, in
        batches of windows of similar length."""
        session, _ = reader_session(weights, cache, BATCH_THREADS)
        start = np.full(data.encoded.span_mask.shape, BLOCKED, np.float32)
        end = start.copy()
        order = np.argsort(data.lengths)
        for n, rows in enumerate(np.array_split(order, max(1, len(order) // 32))):
            encoded, _, _ = take(data, rows)
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
