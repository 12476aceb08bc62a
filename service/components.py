"""Build the long-lived parts (embedder, index, answerer) from `Settings`, once."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from citeqa.index.base import Index
from citeqa.index.local import FusionWeights, LocalIndex
from citeqa.index.versions import IndexConfig
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.embedding import Embedder
from citeqa.service.answering import Answerer, AnswerSettings
from citeqa.service.calibration import CONFIDENCE_FILE, Confidence
from citeqa.service.reading import WEIGHTS_FILE, Reader, shipped_reader
from citeqa.service.settings import Settings


def chunker_settings(settings: Settings) -> ChunkerSettings:
    return ChunkerSettings(chunk_size=settings.chunk_size)


def open_index(
    settings: Settings, embedder: Embedder, reuse: LocalIndex | None = None
) -> LocalIndex:
    """The index `settings` name; `reuse`, an index open earlier, lends it the segments
    both share."""
    config = IndexConfig(
        model=embedder.name, dim=embedder.dim, chunker=asdict(chunker_settings(settings))
    )
    fusion = FusionWeights(bm25=settings.fusion_bm25, dense=settings.fusion_dense)
    return LocalIndex.open(settings.index, config, fusion, reuse)


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
        settings=answer_settings(settings, confidence.threshold),
    )


@lru_cache(maxsize=2)
def load_reader(folder: Path, cache: Path) -> tuple[Reader, Confidence]:
    """The reader in `folder` and its confidence model, loaded once per process: every
    answerer over any index shares them (read-only at run time)."""
    return Reader(folder / WEIGHTS_FILE, cache), Confidence.load(folder / CONFIDENCE_FILE)


def answer_settings(settings: Settings, fitted_threshold: float) -> AnswerSettings:
    threshold = settings.no_answer_threshold
    return AnswerSettings(
        retrieve_k=settings.retrieve_k,
        read_chunks=settings.read_chunks,
        read_windows=settings.read_windows,
        window_context=settings.window_context,
        no_answer_threshold=fitted_threshold if threshold is None else threshold,
    )
