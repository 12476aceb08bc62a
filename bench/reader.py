"""The reader's engines side by side: torch fp32, ONNX Runtime fp32 and int8 (dynamic
quantisation), on the same held-out questions in one run.

    python -m bench.reader --squad FILE [--questions 300]

Each engine reads each held-out SQuAD question's whole gold paragraph (from articles the
reader never trained on), so F1 here is a reader-only figure. Prints F1 and ms per question
(p50/p95), one thread each, as `/ask` runs. The rule: keep the fastest engine that loses
at most 1 F1 point against torch fp32.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from bench.common import print_table, time_calls
from citeqa.eval.datasets import load_squad, split_of
from citeqa.eval.metrics import f1
from citeqa.service.reading import WEIGHTS_FILE, Encoded, Passage, Reader, encode, shipped_reader

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _Logits(torch.nn.Module):
    """The model with plain tensor outputs, as the ONNX exporter wants them."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.start_logits, out.end_logits


def export(reader: Reader, folder: Path) -> tuple[Path, Path]:
    """fp32 ONNX of the reader, and its int8 dynamic quantisation."""
    sample = encode(reader.tokenizer, ["a question?"], ["a passage to read."])
    fp32, int8 = folder / "reader.onnx", folder / "reader-int8.onnx"
    axes = {name: {0: "windows", 1: "tokens"} for name in (*INPUTS, "start", "end")}
    # The exporter restores the module's training mode afterwards: build the wrapper in
    # eval mode, or it would leave the reader with dropout on.
    torch.onnx.export(
        _Logits(reader.model).eval(),
        tuple(sample.tensors[name] for name in INPUTS),
        str(fp32),
        input_names=list(INPUTS),
        output_names=["start", "end"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    assert not reader.model.training
    return fp32, int8


class OnnxReader(Reader):
    """The same reader, with the forward pass in ONNX Runtime."""

    def __init__(self, base: Reader, onnx_file: Path) -> None:
        self.weights, self.tokenizer, self.model = base.weights, base.tokenizer, base.model
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_file), options)

    def _forward(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray]:
        feeds = {name: encoded.tensors[name].numpy() for name in INPUTS}
        start, end = self.session.run(None, feeds)
        blocked = ~encoded.span_mask
        return np.where(blocked, -1e4, start), np.where(blocked, -1e4, end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    squad = load_squad(args.squad)
    texts = {d.doc_id: d.text for d in squad.documents}
    questions = split_of(squad).test[: args.questions]
    base = Reader(shipped_reader() / WEIGHTS_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = export(base, Path(tmp))
        engines = {
            "torch fp32": base,
            "onnxruntime fp32": OnnxReader(base, fp32),
            "onnxruntime int8": OnnxReader(base, int8),
        }
        rows = []
        for name, reader in engines.items():
            answers: dict[int, str] = {}

            def ask(i: int, reader: Reader = reader, answers: dict[int, str] = answers) -> None:
                q = questions[i % len(questions)]
                spans = reader.read(q.question, [Passage(q.doc_ids[0], 0, texts[q.doc_ids[0]])])
                answers[i % len(questions)] = spans[0].text if spans else ""

            timing = time_calls(name, ask, len(questions))
            score = np.mean([f1(answers[i], q.answers) for i, q in enumerate(questions)])
            rows.append((name, 100 * float(score), timing.p50, timing.percentile(95)))
        print_table(["engine", "F1", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()
