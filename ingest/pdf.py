"""A PDF's text, page after page, with where each page begins in it: read by pypdf.

pypdf gives each page's text layer as the PDF draws it. A scanned page has none (no OCR
is done), a word hyphenated at a line end stays split, and multi-column pages come out in
the order the PDF draws them, which is usually, not always, reading order.
"""

from __future__ import annotations

import io
import logging
import time

from pypdf import PdfReader

from citeqa.ingest.cleaning import is_blank, stated
from citeqa.ingest.models import DocumentMeta, Extracted

SUFFIXES = frozenset({".pdf"})
# Pages are a paragraph apart, so no sentence, chunk or answer runs across two pages.
PAGE_BREAK = "\n\n"
# Readers look for the header within the first 1024 bytes (PDF 1.7, annex H.3, note 13).
_HEADER_WITHIN = 1024
# A PDF's pages can share one content stream, so a small file can hold any number of
# pages, each read in full: 100,000 pages in 16 MB took 458 s and 568 MB (4.6 ms a page,
# issue 21's probe). 2,000 pages is a long book and reads in about 10 s; a longer PDF is
# refused before any page is read.
MAX_PAGES = 2000
# And a page can be slow on its own (a content stream of millions of operators): reading
# stops, and the file is refused, once its pages have taken this long. The longest PDF
# allowed reads in about 10 s (above), so 30 s leaves room on a busy machine.
MAX_SECONDS = 30.0
# pypdf logs what it repairs or cannot read; ingest reports each refused file with its
# reason once, and a repaired one needs no word.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class _TooLong(Exception):
    """More pages than MAX_PAGES, or pages slower than MAX_SECONDS: told apart from
    pypdf's own errors."""


def extract(raw: bytes) -> Extracted:
    """The text of the PDF `raw`, its pages joined by PAGE_BREAK and their starts in
    `meta.pages`; ValueError, saying why, when it cannot be read or holds no text."""
    if b"%PDF-" not in raw[:_HEADER_WITHIN]:
        raise ValueError("not a PDF: no %PDF- header at its start")
    try:
        reader = PdfReader(io.BytesIO(raw))
        locked = reader.is_encrypted and not reader.decrypt("")
        pages = 0 if locked else len(reader.pages)
        if pages > MAX_PAGES:
            raise _TooLong(f"a PDF of {pages:,} pages, over {MAX_PAGES:,}")
        texts = [] if locked else _page_texts(reader)
        info = None if locked else reader.metadata
    # A file is not trusted, and pypdf raises many kinds of error on a broken one (its
    # own, ValueError, KeyError, ...): each is this file's problem, reported and skipped.
    except _TooLong as error:
        raise ValueError(str(error)) from None
    except Exception as error:  # noqa: BLE001
        raise ValueError(f"not a readable PDF ({type(error).__name__}: {error})") from None
    if locked:
        raise ValueError("encrypted PDF: it needs a password")
    text = PAGE_BREAK.join(texts)
    if is_blank(text):
        raise ValueError("no text in the PDF (a scanned PDF has only images; no OCR is done)")
    return Extracted(
        text=text,
        meta=DocumentMeta(
            title=stated(info.title if info else None),
            byline=stated(info.author if info else None),
            pages=_starts(texts),
        ),
    )


def _page_texts(reader: PdfReader) -> list[str]:
    """Each page's text, in order; _TooLong once they take more than MAX_SECONDS."""
    deadline = time.monotonic() + MAX_SECONDS
    texts = []
    for number, page in enumerate(reader.pages, 1):
        if time.monotonic() > deadline:
            raise _TooLong(
                f"reading its pages took over {MAX_SECONDS:g} s (stopped at page {number:,})"
            )
        texts.append(page.extract_text())
    return texts


def _starts(texts: list[str]) -> list[int]:
    starts, position = [], 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(PAGE_BREAK)
    return starts
