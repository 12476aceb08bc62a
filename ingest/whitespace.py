"""Whitespace rules that cleaning and chunking share: trimming a span of its outer space,
and the form in which two texts count as the same text."""

from __future__ import annotations

from citeqa.ingest.models import Span


def strip_span(text: str, span: Span) -> Span:
    """`span` without the whitespace at either end of `text[span.start:span.end]`; empty
    (`end == start`) when it holds nothing else."""
    piece = text[span.start : span.end]
    start = span.start + len(piece) - len(piece.lstrip())
    return Span(start, max(start, span.start + len(piece.rstrip())))


def duplicate_key(text: str) -> str:
    """`text` as copies are compared: runs of whitespace as one space, lowercase. A caption
    printed twice, or a passage repeated, differs from the original only in these."""
    return " ".join(text.split()).lower()
