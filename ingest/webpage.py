"""An HTML page's article: its main text and metadata, taken out by trafilatura.

trafilatura drops what is not the article (navigation, ads, scripts, cookie banners,
comments) and reads the metadata from where pages state it: JSON-LD, Open Graph and
`<meta>` tags, `<link rel="canonical">`. The text it returns is the document's text.
"""

from __future__ import annotations

import codecs
import logging
import re
from datetime import date

import trafilatura
from charset_normalizer import CharsetMatch, from_bytes

from citeqa.ingest.cleaning import is_blank, is_web_address, stated
from citeqa.ingest.models import DocumentMeta, Extracted

SUFFIXES = frozenset({".html", ".htm"})
# trafilatura's time grows faster than the page: a 2 MB article took about 3 s, a 19 MB
# page 263 s (26 Nov 2026, 2 cores). Above this a page is refused, not parsed for minutes.
MAX_PAGE_BYTES = 5_000_000
# HTML's rule: a <meta> naming the charset must be within the first 1024 bytes; 4 KiB
# also finds those of pages that break it.
META_SEARCH_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)

log = logging.getLogger("citeqa")


def extract(raw: bytes, charset: str | None = None, where: str = "a page") -> Extracted:
    """The article in the page `raw` (`charset`: what its Content-Type header says; `where`:
    its address or file, for the log); ValueError, saying why, when there is none."""
    if b"\0" in raw:  # trafilatura guesses an encoding for anything; HTML has no NUL bytes
        raise ValueError("binary data, not an HTML page")
    if len(raw) > MAX_PAGE_BYTES:
        raise ValueError(f"an HTML page over {MAX_PAGE_BYTES:,} bytes")
    html, misdeclared = decode(raw, charset)
    if misdeclared:
        log.warning("%s: %s", where, misdeclared)
    try:
        page = trafilatura.bare_extraction(
            html,
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


def decode(raw: bytes, charset: str | None = None) -> tuple[str, str | None]:
    """The page's text, and what to say when it is not in the charset it declares (in
    `charset`, from its header, else in a `<meta>`). A page that declares none and is not
    UTF-8, or whose bytes its declared charset cannot decode, is read as charset-normalizer
    detects (a Latin-1 page declaring UTF-8 was stored as "Cafķ na've rķsumķ", issue 32)."""
    declared = charset or _meta_charset(raw)
    try:
        return raw.decode(_codec(declared) or "utf-8"), None
    except UnicodeDecodeError:
        pass
    detected = _detected(raw)
    if detected is None:
        return raw.decode(_codec(declared) or "utf-8", errors="replace"), (
            f"not {declared or 'UTF-8'} text, and no charset fits it: undecodable bytes replaced"
        )
    note = f"declares {declared}, but is not: read as {detected.encoding}, as detected"
    return str(detected), note if declared else None


def _meta_charset(raw: bytes) -> str | None:
    """The charset a `<meta charset>` or `<meta http-equiv>` near the top names."""
    found = _META_CHARSET.search(raw[:META_SEARCH_BYTES])
    return found.group(1).decode("ascii") if found else None


def _codec(name: str | None) -> str | None:
    """Python's codec for a charset label; None for no label or an unknown one."""
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def _detected(raw: bytes) -> CharsetMatch | None:
    """charset-normalizer's reading of `raw`. Among the readings it finds equally clean,
    windows-1252, the web's legacy default (WHATWG's Encoding Standard; what browsers read
    a mislabelled Western page as): on short text its language guess put cp775 first."""
    matches = list(from_bytes(raw))
    if not matches:
        return None
    cleanest = min(match.chaos for match in matches)
    calm = [match for match in matches if match.chaos == cleanest]
    return next((m for m in calm if m.encoding == "cp1252"), calm[0])


def _iso_date(value: str | None) -> str | None:
    """trafilatura's date as YYYY-MM-DD, or None when it is not a real date."""
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None
