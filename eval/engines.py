"""The reader in the engines it does not serve with, to measure the served one against:
torch fp32 (the reference, as trained) and ONNX Runtime fp32 (the export before int8
quantisation). bench/reader.py compares their F1 and speed; tests/models/test_onnx.py
checks that the export finds the spans torch finds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from citeqa.models.reader.model import Encoded, export_fp32, load_model, masked_logits
from citeqa.models.reader.spans import Reader
from citeqa.models.runtime.threads import session_options


class TorchReader(Reader):
    """The same reader, with the forward pass in torch, as before ONNX Runtime."""

    def __init__(self, weights: Path, cache: Path) -> None:
        super().__init__(weights, cache)
        self.model = load_model(weights).eval()

    def _forward(self, encoded: Encoded, every_core: bool) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            start, end = masked_logits(self.model, encoded)
        return start.numpy(), end.numpy()


def fp32_reader(weights: Path, cache: Path, folder: Path) -> Reader:
    """The served reader over the fp32 export in `folder`, before quantisation: any
    difference from torch is the exporter's."""
    export_fp32(weights, folder / "reader.onnx")
    reader = Reader(weights, cache)
    fp32 = ort.InferenceSession(str(folder / "reader.onnx"), session_options())
    reader.session = reader.every_core_session = fp32
    return reader
