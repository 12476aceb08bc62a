"""Build the long-lived parts (embedder, index, answerer) from `Settings`, once."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from citeqa.index.base import Index, IndexConfig
from citeqa.index.factory import Backend, index_config
from citeqa.index.factory import open_index as open_backend
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.confidence import CONFIDENCE_FILE, Confidence
from citeqa.models.reader.model import WEIGHTS_FILE
from citeqa.models.reader.spans import Reader
from citeqa.models.runtime.nlp import load_nlp
from citeqa.models.runtime.paths import shipped_reader
from citeqa.service.qa.answer_types import SpanTyper
from citeqa.service.qa.answerer import Answerer, AnswerSettings
from citeqa.service.settings import Settings


def chunker_settings(settings: Settings) -> ChunkerSettings:
    return ChunkerSettings(chunk_size=settings.chunk_size)


def backend(settings: Settings) -> Backend:
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    return Backend(settings.backend, settings.index, settings.milvus_uri, token,
                   settings.milvus_collection)  # fmt: skip


def open_index(settings: Settings, embedder: Embedder, reuse: Index | None = None) -> Index:
    """The index `settings` name; `reuse`, an index open earlier, lends it what both
    share (segments, a connection)."""
    return open_backend(backend(settings), wanted_config(settings, embedder), reuse)


def wanted_config(settings: Settings, embedder: Embedder) -> IndexConfig:
    """What an index must have been built with to be searched with `embedder`."""
    chunker = asdict(chunker_settings(settings))
    return index_config(backend(settings), embedder.name, embedder.dim, chunker)


def build_answerer(settings: Settings, embedder: Embedder | None = None) -> Answerer:
    embedder = embedder or Embedder(settings.cache)
    return answerer_over(open_index(settings, embedder), settings, embedder)


def answerer_over(index: Index, settings: Settings, embedder: Embedder) -> Answerer:
    """An answerer over an index already open, with the reader `settings` name."""
    reader, confidence = load_reader(settings.reader or shipped_reader(), settings.cache)
    return Answerer(
        index=index,
        embedder=embedder,
        reader=reader,
        confidence=confidence,
        typer=span_typer(),
        settings=answer_settings(settings, confidence.threshold),
    )


@lru_cache(maxsize=2)
def load_reader(folder: Path, cache: Path) -> tuple[Reader, Confidence]:
    """The reader in `folder` and its confidence model, loaded once per process: every
    answerer over any index shares them (read-only at run time)."""
    return Reader(folder / WEIGHTS_FILE, cache), Confidence.load(folder / CONFIDENCE_FILE)


@lru_cache(maxsize=1)
def span_typer() -> SpanTyper:
    """The answer-type tagger, over the one spaCy pipeline questions use."""
    return SpanTyper(load_nlp())


def fusion_weights(settings: Settings) -> dict[str, float]:
    """Each retriever's weight in the fusion, by its name (index.fusion)."""
    return {"bm25": settings.fusion_bm25, "dense": settings.fusion_dense}


def answer_settings(settings: Settings, fitted_threshold: float) -> AnswerSettings:
    threshold = settings.no_answer_threshold
    return AnswerSettings(
        retrieve_k=settings.retrieve_k,
        fusion=fusion_weights(settings),
        read_chunks=settings.read_chunks,
        read_windows=settings.read_windows,
        window_context=settings.window_context,
        no_answer_threshold=fitted_threshold if threshold is None else threshold,
        question_cache=settings.question_cache,
    )
