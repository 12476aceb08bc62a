"""Build the long-lived parts (embedder, index, answerer) from `Settings`, once."""

from __future__ import annotations

from dataclasses import asdict

from citeqa.index.local import FusionWeights, IndexConfig, LocalIndex
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.embedding import Embedder
from citeqa.service.answering import Answerer, AnswerSettings
from citeqa.service.ranking import SpanRanker
from citeqa.service.settings import Settings


def chunker_settings(settings: Settings) -> ChunkerSettings:
    return ChunkerSettings(chunk_size=settings.chunk_size)


def open_index(settings: Settings, embedder: Embedder) -> LocalIndex:
    config = IndexConfig(
        model=embedder.name, dim=embedder.dim, chunker=asdict(chunker_settings(settings))
    )
    fusion = FusionWeights(bm25=settings.fusion_bm25, dense=settings.fusion_dense)
    return LocalIndex.open(settings.index, config, fusion)


def build_answerer(settings: Settings, embedder: Embedder | None = None) -> Answerer:
    embedder = embedder or Embedder()
    return Answerer(
        index=open_index(settings, embedder),
        embedder=embedder,
        ranker=SpanRanker.load(settings.ranker),
        settings=AnswerSettings(
            retrieve_k=settings.retrieve_k,
            read_chunks=settings.read_chunks,
            no_answer_threshold=settings.no_answer_threshold,
        ),
    )
