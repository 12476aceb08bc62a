"""The index an eval set is asked against.

A project set is asked against an index that already exists; this only checks that it
holds the documents the questions cite. A SQuAD set brings its own corpus: it is
ingested into a cache directory keyed by the file's checksum and the index config, so a
rerun of the same file skips ingest entirely.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from citeqa.eval.datasets import EvalSet
from citeqa.index.base import Index
from citeqa.index.factory import format_version
from citeqa.index.writer import sync_documents
from citeqa.models.embedder.encoder import Embedder, shipped_name
from citeqa.models.runtime.paths import cache_home
from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings
from citeqa.service.wiring import answerer_over, backend, chunker_settings, open_index


class CorpusError(RuntimeError):
    """The index cannot serve this eval set (missing documents, or foreign ones)."""


def cache_dir(source: Path, settings: Settings) -> Path:
    """`$XDG_CACHE_HOME/citeqa-eval/<checksum>`: one index per file and way of indexing."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(way_of_indexing(settings).encode())
    return cache_home() / "citeqa-eval" / digest.hexdigest()[:16]


def way_of_indexing(settings: Settings) -> str:
    """What an index is built with, as a short digest: another model, chunker, backend or
    index format gets an index of its own instead of tripping over the old one
    (`open_index` refuses a mismatch)."""
    built_with = {
        "model": shipped_name(),
        "chunker": asdict(chunker_settings(settings)),
        "backend": settings.backend,
        "format": format_version(backend(settings)),
    }
    return hashlib.sha256(json.dumps(built_with, sort_keys=True).encode()).hexdigest()[:16]


def ingest_corpus(eval_set: EvalSet, settings: Settings, embedder: Embedder) -> None:
    """Make the index at `settings.index` hold exactly the eval set's documents.

    Refuses an index holding documents of another corpus: syncing would delete them, and
    the index may well be someone's real one passed by mistake."""
    index = open_index(settings, embedder)
    wanted = {d.doc_id for d in eval_set.documents}
    foreign = sorted(set(index.checksums()) - wanted)
    if foreign:
        raise CorpusError(
            f"{settings.index} holds {len(foreign)} documents that are not in "
            f"{eval_set.name} (e.g. {foreign[0]}); give an empty or earlier eval index."
        )
    sync_documents(eval_set.documents, index, embedder, chunker_settings(settings))


def prepare(eval_set: EvalSet, settings: Settings, embedder: Embedder) -> Answerer:
    """An answerer over `settings.index` holding the eval set's documents: a SQuAD corpus
    is ingested first, a project set's index is only checked."""
    return answerer_over(prepare_index(eval_set, settings, embedder), settings, embedder)


def prepare_index(eval_set: EvalSet, settings: Settings, embedder: Embedder) -> Index:
    """`settings.index`, holding the eval set's documents (ingested, if it brings them)."""
    if eval_set.documents:
        ingest_corpus(eval_set, settings, embedder)
    index = open_index(settings, embedder)
    check_coverage(eval_set, index)
    return index


def check_coverage(eval_set: EvalSet, index: Index) -> None:
    """Every document a question cites is in the index, or the figures would be noise."""
    held = set(index.checksums())
    missing = sorted({d for q in eval_set.questions for d in q.doc_ids} - held)
    if missing:
        raise CorpusError(
            f"the index lacks {len(missing)} documents the questions cite (e.g. {missing[0]}); "
            "ingest them first: `citeqa ingest [FOLDER] --index PATH`."
        )
