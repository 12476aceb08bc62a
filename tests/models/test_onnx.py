"""The models under ONNX Runtime: the same answers as torch, and an export cache that is
rebuilt, never trusted, when its file is missing or damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from citeqa.eval import engines
from citeqa.eval.engines import TorchReader
from citeqa.models.embedder.encoder import Embedder, export_encoder, shipped_weights, torch_encoder
from citeqa.models.reader.model import WEIGHTS_FILE, ReaderTokenizer, export_reader
from citeqa.models.reader.spans import Excerpt, Reader
from citeqa.models.runtime.onnx import (
    cached_export,
    export_beside,
    export_served,
    file_sha256,
    model_session,
    recorded_weights,
)
from citeqa.models.runtime.paths import base_model, shipped_reader
from citeqa.models.runtime.threads import session_options
from citeqa.models.runtime.torch_export import export_module
from citeqa.service.settings import Settings

MASTER = "The harbour master of Port Quillon is Ansel Varga. The port opened in 1901."
# Longer than one window, so the batch holds overflow windows and padding.
LONG = "The weather was mild and nothing happened that day. " * 40 + "Varga retired in 2020."


@pytest.fixture(scope="module")
def torch_reader() -> Reader:
    return TorchReader(shipped_reader() / WEIGHTS_FILE, Settings().cache)


@pytest.fixture(scope="module")
def fp32_reader(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    """The product's reader over the fp32 export, before quantisation: any difference
    from torch is the exporter's."""
    folder = tmp_path_factory.mktemp("fp32")
    return engines.fp32_reader(shipped_reader() / WEIGHTS_FILE, Settings().cache, folder)


QUESTIONS = [
    "Who is the harbour master of Port Quillon?",
    "When did the port open?",
    "When did Varga retire?",
]
PASSAGES = [Excerpt("a", 0, MASTER), Excerpt("b", 12, LONG), Excerpt("c", 3, "Ferries.")]


@pytest.mark.slow  # the reader, in torch and exported
@pytest.mark.parametrize("question", QUESTIONS)
def test_the_exported_reader_finds_every_span_torch_finds(
    fp32_reader: Reader, torch_reader: Reader, question: str
) -> None:
    onnx_spans = fp32_reader.read(question, PASSAGES)
    torch_spans = torch_reader.read(question, PASSAGES)
    assert [(s.passage, s.start, s.end) for s in onnx_spans] == [
        (s.passage, s.start, s.end) for s in torch_spans
    ]
    np.testing.assert_allclose(
        [s.score for s in onnx_spans], [s.score for s in torch_spans], atol=1e-3
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_int8_reader_finds_torchs_best_span(
    reader: Reader, torch_reader: Reader, question: str
) -> None:
    best, torch_best = reader.read(question, PASSAGES)[0], torch_reader.read(question, PASSAGES)[0]
    assert (best.passage, best.start, best.end) == (
        torch_best.passage,
        torch_best.start,
        torch_best.end,
    )


def test_the_embedder_gives_sentence_transformers_vectors(embedder: Embedder) -> None:
    """The served embedder is sentence-transformers' model (its pooling, its truncation),
    up to int8 rounding: a cosine of .990 to .994 here (5 Dec 2026), where a wrong pooling
    or cut gives far less; retrieval's recall with it is bench.quality's."""
    from sentence_transformers import SentenceTransformer

    texts = [
        "How many rockets were fired at the base in Kirkuk?",
        "Café naïve — 東京 🚀",
        "a",
        LONG,  # past the model's 256 tokens: both cut it the same way
    ]
    torch_model = SentenceTransformer(str(base_model()), device="cpu")
    # The fine-tuned layers that ship, if any, as the served embedder has them.
    tuned = torch_encoder(embedder.weights).state_dict()
    torch_model[0].auto_model.load_state_dict(tuned)
    expected = torch_model.encode(texts, normalize_embeddings=True)
    for got in (embedder.encode(texts), np.stack([embedder.encode([t])[0] for t in texts])):
        assert (got * expected).sum(axis=1).min() >= 0.985


@pytest.mark.slow  # two exports
def test_the_shipped_onnx_files_are_exports_of_the_shipped_weights(tmp_path: Path) -> None:
    """What serves is what was trained: each ONNX file records its weights' hash, and a
    fresh export of those weights computes the same logits and token vectors."""
    reader_weights = shipped_reader() / WEIGHTS_FILE
    encoded = ReaderTokenizer().encode(QUESTIONS, [p.text for p in PASSAGES])
    feeds = encoded.arrays  # the reader's and the encoder's inputs have the same names
    for weights, export in ((reader_weights, export_reader), (shipped_weights(), export_encoder)):
        shipped = _session(weights.with_suffix(".onnx"))
        assert recorded_weights(shipped) == file_sha256(weights).hex(), weights
        export(weights, tmp_path / "fresh.onnx")
        fresh = _session(tmp_path / "fresh.onnx")
        for got, expected in zip(shipped.run(None, feeds), fresh.run(None, feeds), strict=True):
            assert got.shape[:2] == encoded.span_mask.shape
            np.testing.assert_allclose(got, expected, atol=1e-5)


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)

    def forward(self, input_ids):
        return self.embed(input_ids)


def _export_tiny(exports: list[Path]):
    def export(path: Path) -> None:
        exports.append(path)
        ids = np.array([[1, 2, 3]], dtype=np.int64)
        export_module(_Tiny().eval(), {"input_ids": ids}, ["vectors"], path)

    return export


def test_the_export_cache_is_built_once_and_rebuilt_when_missing_or_damaged(
    tmp_path: Path,
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"version 1")
    cache, exports = tmp_path / "cache", []
    export = _export_tiny(exports)
    ids = {"input_ids": np.array([[4, 5]], dtype=np.int64)}

    def session():
        return _session(cached_export("tiny", [weights], export, cache))

    assert session().run(None, ids)[0].shape == (1, 2, 4)
    session()
    assert len(exports) == 1, "a good cached file is loaded, not exported again"

    damages = {
        "one bit flipped": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        "truncated": lambda data: data[: len(data) // 2],
    }
    for damage in damages.values():
        (built,) = cache.glob("tiny-*.onnx")
        built.write_bytes(damage(built.read_bytes()))
        assert session().run(None, ids)[0].shape == (1, 2, 4)
    (built,) = cache.glob("tiny-*.onnx")
    built.unlink()
    session()
    assert len(exports) == 4, "each damaged or missing file was exported again"
    session()
    assert len(exports) == 4, "each rebuild left a good file"
    assert len(list(cache.glob("tiny-*.onnx"))) == 1, "damaged files are removed"
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "no temporary left"

    weights.write_bytes(b"version 2, longer")
    session()
    assert len(exports) == 5 and len(list(cache.glob("tiny-*.onnx"))) == 2, "new weights, new file"


def test_the_file_beside_the_weights_serves_only_the_weights_it_was_made_from(
    tmp_path: Path,
) -> None:
    weights, cache, exports = tmp_path / "tiny.safetensors", tmp_path / "cache", []
    weights.write_bytes(b"version 1")
    tiny = _export_tiny(exports)

    def export(path: Path) -> None:
        export_served(tiny, path, weights, keep=[])

    shipped = export_beside(weights, export)
    assert model_session("tiny", weights, export, cache)[1] == shipped
    weights.unlink()  # a plain install ships the ONNX file alone
    assert model_session("tiny", weights, export, cache)[1] == shipped
    weights.write_bytes(b"version 2")  # trained since: the file beside is stale
    _, served = model_session("tiny", weights, export, cache)
    assert served.parent == cache and len(exports) == 2
    assert recorded_weights(_session(served)) == file_sha256(weights).hex()
