"""Read a folder of article files into `Document`s, keeping each text exactly as decoded.

A file that cannot be read is reported in `LoadResult.errors` and skipped; it never stops
the rest of the corpus from loading.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.ingest.cleaning import extract_meta, find_excluded
from citeqa.ingest.models import Document

SUFFIXES = frozenset({".txt", ".md"})
MAX_FILE_BYTES = 20_000_000


@dataclass(frozen=True)
class LoadError:
    path: str
    reason: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


def load_folder(folder: Path) -> LoadResult:
    """Every .txt and .md file directly in `folder`, sorted by name."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of articles")
    result = LoadResult()
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES):
        try:
            result.documents.append(load_file(path))
        except (OSError, ValueError) as error:
            result.errors.append(LoadError(str(path), str(error)))
    return result


def load_file(path: Path) -> Document:
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not text.strip():
        raise ValueError("empty file")
    return make_document(path.stem, text)


def make_document(doc_id: str, text: str) -> Document:
    """A `Document` from text that did not come from a file, e.g. a SQuAD paragraph."""
    excluded = find_excluded(text)
    return Document(
        doc_id=doc_id,
        text=text,
        checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        meta=extract_meta(text, excluded),
        excluded=excluded,
    )
