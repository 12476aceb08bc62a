"""An HTML page's article: its main text and metadata, taken out by trafilatura.

trafilatura drops what is not the article (navigation, ads, scripts, cookie banners,
comments) and reads the metadata from where pages state it: JSON-LD, Open Graph and
`<meta>` tags, `<link rel="canonical">`. The text it returns is the document's text.
"""

from __future__ import annotations

from datetime import date

import trafilatura

from citeqa.ingest.cleaning import is_blank, is_web_address, stated
from citeqa.ingest.models import DocumentMeta, Extracted

SUFFIXES = frozenset({".html", ".htm"})
# trafilatura's time grows faster than the page: a 2 MB article took about 3 s, a 19 MB
# page 263 s (26 Nov 2026, 2 cores). Above this a page is refused, not parsed for minutes.
MAX_PAGE_BYTES = 5_000_000


def extract(raw: bytes) -> Extracted:
    """The article in the page `raw`; ValueError, saying why, when there is none."""
    if b"\0" in raw:  # trafilatura guesses an encoding for anything; HTML has no NUL bytes
        raise ValueError("binary data, not an HTML page")
    if len(raw) > MAX_PAGE_BYTES:
        raise ValueError(f"an HTML page over {MAX_PAGE_BYTES:,} bytes")
    try:
        page = trafilatura.bare_extraction(
            raw,
            include_comments=False,
            # Without it a page with no article yields its cookie banner or menu as its text.
            favor_precision=True,
            with_metadata=True,
        )
    # A file is not trusted: whatever a broken page makes the parser raise is this file's
    # problem, reported and skipped.
    except Exception as error:  # noqa: BLE001
        raise ValueError(f"not a readable HTML page ({type(error).__name__}: {error})") from None
    if page is None or is_blank(page.text or ""):
        raise ValueError("no main text found in the HTML page")
    return Extracted(
        text=page.text,
        meta=DocumentMeta(
            title=stated(page.title),
            source=stated(page.sitename),
            date=_iso_date(page.date),
            byline=stated(page.author),
            url=url if (url := stated(page.url)) and is_web_address(url) else None,
        ),
    )


def _iso_date(value: str | None) -> str | None:
    """trafilatura's date as YYYY-MM-DD, or None when it is not a real date."""
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None
