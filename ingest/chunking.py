"""Cut a cleaned document into sentence-aware chunks with exact offsets.

langchain's splitter does the cutting; offsets come from adding up the lengths of the
pieces it returns (with `keep_separator` and no stripping the pieces tile the input
exactly), never from searching for the chunk text, which finds the wrong copy of
repeated text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from citeqa.ingest.cleaning import content_regions
from citeqa.ingest.models import Chunk, Document, Sentence, Span
from citeqa.ingest.whitespace import duplicate_key, strip_span
from citeqa.models.runtime.nlp import load_sentencizer

# Paragraphs first, then lines, then sentence ends, then words: the splitter only goes
# down a level when a piece is still longer than `chunk_size`.
_SEPARATORS = [r"\n\s*\n", r"\n", r"(?<=[.!?][\"”’)])\s+|(?<=[.!?])\s+(?=[\"“‘(]?[A-Z0-9])", r"\s+"]
# Anchored at line starts: unanchored, every position of a blank line was a new attempt.
_LINE = re.compile(r"^[^\n]*\S[^\n]*", re.MULTILINE)


@dataclass(frozen=True)
class ChunkerSettings:
    chunk_size: int = 1000

    def splitter(self) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            separators=_SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            strip_whitespace=False,
            chunk_size=self.chunk_size,
            chunk_overlap=0,
        )


def chunk_document(document: Document, settings: ChunkerSettings) -> list[Chunk]:
    """Chunks of `document`'s content with their sentences filled in.

    Raises AssertionError if any offset does not reproduce its text: a bug, never data.
    """
    splitter = settings.splitter()
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for region in content_regions(document.text, document.excluded):
        for span in _split(document.text, region, splitter, settings.chunk_size):
            text = document.text[span.start : span.end]
            key = duplicate_key(text)
            if key in seen:  # the same passage twice in one article is indexed once
                continue
            seen.add(key)
            chunks.append(Chunk(span.start, span.end, document.doc_id, text))
    _annotate(document.text, chunks)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    return chunks


def _split(
    text: str, region: Span, splitter: RecursiveCharacterTextSplitter, size: int
) -> list[Span]:
    if len(region) <= size:  # one chunk: the splitter would only glue its pieces together
        return [region]
    pieces = splitter.split_text(text[region.start : region.end])
    if "".join(pieces) != text[region.start : region.end]:
        # The splitter dropped or changed characters; keep the region whole rather than
        # guess where its pieces came from.
        return list(_cut(text, region, size))
    spans, cursor = [], region.start
    for piece in pieces:
        spans.extend(_cut(text, Span(cursor, cursor + len(piece)), size))
        cursor += len(piece)
    return spans


def _cut(text: str, span: Span, size: int) -> Iterator[Span]:
    """`span` stripped, in pieces of at most `size` characters. The splitter leaves a piece
    longer only when it holds no whitespace (a URL, a base64 blob); cut blind, it still must
    not reach spaCy whole, which refuses a line over 1,000,000 characters and needs about
    1 GB per 100,000."""
    for start in range(span.start, span.end, size):
        piece = strip_span(text, Span(start, min(start + size, span.end)))
        if piece.end > piece.start:
            yield piece


def _annotate(text: str, chunks: list[Chunk]) -> None:
    """Fill each chunk's sentences. spaCy sees one line at a time so that a headline never
    fuses with the paragraph under it."""
    lines = [
        (chunk, Span(chunk.start + m.start(), chunk.start + m.end()))
        for chunk in chunks
        for m in _LINE.finditer(chunk.text)
    ]
    docs = load_sentencizer().pipe(text[line.start : line.end] for _, line in lines)
    for (chunk, line), doc in zip(lines, docs, strict=True):
        for sent in doc.sents:
            span = strip_span(text, Span(line.start + sent.start_char, line.start + sent.end_char))
            if span.end > span.start:
                chunk.sentences.append(Sentence(span.start, span.end, text[span.start : span.end]))
