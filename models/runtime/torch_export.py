"""torch models to ONNX files: imported only when an export has to be made."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

# ONNX Runtime 1.32 runs every opset up to 23; 17 has every op BERT needs.
OPSET = 17


class TransformerOutputs(torch.nn.Module):
    """A transformers model with plain tensor outputs, as the ONNX exporter wants them: the
    `fields` of its output (e.g. "last_hidden_state", or "start_logits" and "end_logits")."""

    def __init__(self, model: torch.nn.Module, fields: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.fields = fields

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return tuple(getattr(out, field) for field in self.fields)


def export_module(
    module: torch.nn.Module, inputs: dict[str, np.ndarray], outputs: list[str], path: Path
) -> None:
    """`module(**inputs)` as ONNX, with every input's and output's first two axes dynamic
    (batch and tokens). `module` must be in eval mode: the exporter traces what it runs."""
    assert not module.training, "export in eval mode, or dropout is in the graph"
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, *outputs)}
    # The tracer warns about branches on shapes in transformers' masking code; they hold
    # for every shape (tests/models/test_onnx.py compares padded batches with torch).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Exporting aten::index", UserWarning)
        torch.onnx.export(
            module,
            tuple(torch.from_numpy(a) for a in inputs.values()),
            str(path),
            input_names=list(inputs),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
        )
