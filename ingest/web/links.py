"""The pages a feed or a sitemap lists, read from its fetched bytes; no network here.

`feed_links` reads RSS and Atom with feedparser; `sitemap_links` reads XML and text
sitemaps with trafilatura's sitemap reader. Both return absolute http(s) URLs, each once,
at most `limit` of them in the order the document lists them, and how many were left out.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import feedparser
from courlan import clean_url, extract_domain, get_hostinfo
from trafilatura.sitemaps import DETECT_SITEMAP_LINK, SitemapObject, is_plausible_sitemap

# The root element of an XML sitemap (sitemaps.org/protocol.html), with or without a prefix.
SITEMAP_ROOT = re.compile(r"<(?:[\w.-]+:)?(sitemapindex|urlset)\b")
# The root comes after at most an XML declaration, comments and a stylesheet instruction;
# 4 KiB is plenty for those and keeps the search off a 50 MB body.
ROOT_SEARCH_CHARS = 4096


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed: the page it links to."""

    url: str  # absolute, http or https, without a #fragment
    title: str | None
    published: str | None  # YYYY-MM-DD (UTC), from the entry's published or updated date


@dataclass(frozen=True)
class FeedLinks:
    entries: list[FeedEntry]  # at most `limit`, in the feed's order (usually newest first)
    dropped: int  # entries past `limit`, not returned


@dataclass(frozen=True)
class SitemapLinks:
    pages: list[str]  # at most `limit` page URLs, in the sitemap's order
    sitemaps: list[str]  # at most `limit` nested sitemaps (from an index), for the caller
    dropped: int  # pages and sitemaps past `limit`, not returned


def feed_links(body: bytes, base_url: str, limit: int) -> FeedLinks:
    """The entries of the RSS or Atom feed `body` fetched from `base_url`.

    ValueError("not an RSS or Atom feed") when it is none. Relative links are made
    absolute against the feed's xml:base or `base_url`; entries with no http(s) link
    (none at all, a javascript: or mailto: one) are skipped, a link seen before too.
    """
    # A file object, never the bytes: given a str that looks like a URL or a path,
    # feedparser would fetch or open it itself.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": base_url})
    if not parsed.get("version") and not parsed.entries:
        raise ValueError("not an RSS or Atom feed")
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        url = _web_link(base_url, entry.get("link"))
        if url is None or url in seen:
            continue
        seen.add(url)
        entries.append(FeedEntry(url, _text(entry.get("title")), _entry_date(entry)))
    return FeedLinks(entries[:limit], max(len(entries) - limit, 0))


def sitemap_links(body: bytes, url: str, limit: int) -> SitemapLinks:
    """The pages, and the nested sitemaps, listed by the sitemap `body` fetched from `url`.

    ValueError("not a sitemap") when it is none. An XML `<sitemapindex>` lists sitemaps, a
    `<urlset>` pages; a text sitemap (one URL a line) pages, except URLs ending in .xml
    (or .xml.gz) which are taken for sitemaps, as trafilatura does. Links to another site
    are dropped (trafilatura's rule: the domain names must be alike), as the protocol
    lets a sitemap list only its own site's pages. URLs come normalized by courlan.
    """
    domain, base_url = get_hostinfo(url)
    host = urlsplit(url).hostname
    if host is None:
        raise ValueError(f"not a sitemap: no host in its address {url!r}")
    # sitemaps.org: "must be UTF-8 encoded"; a byte order mark is allowed and dropped.
    content = body.decode("utf-8-sig", errors="replace")
    head = content.lstrip()[:ROOT_SEARCH_CHARS]
    root = SITEMAP_ROOT.search(head)
    # Markup that is no sitemap (HTML, RSS): trafilatura would read its every link.
    if not is_plausible_sitemap(url, content) or (head.startswith("<") and root is None):
        raise ValueError("not a sitemap")
    reader = _Sitemap(base_url, domain or host)
    reader.current_url = url
    reader.content = content.lstrip()  # trafilatura tells XML by its first characters
    reader.process()
    if root is None and not reader.urls and not reader.sitemap_urls:
        raise ValueError("not a sitemap")  # a text file with no link in it
    found = list(dict.fromkeys(reader.found))
    if root is None:  # a text sitemap: trafilatura's split by the URLs' look
        pages = list(dict.fromkeys(reader.urls))
        sitemaps = [link for link in dict.fromkeys(reader.sitemap_urls) if link not in pages]
    elif root.group(1) == "sitemapindex":  # the root says what its <loc>s are
        pages, sitemaps = [], found
    else:
        pages, sitemaps = found, []
    dropped = max(len(pages) - limit, 0) + max(len(sitemaps) - limit, 0)
    return SitemapLinks(pages[:limit], sitemaps[:limit], dropped)


class _Sitemap(SitemapObject):
    """trafilatura's sitemap reader, also for sites with no domain name (an IP address,
    localhost: an intranet, a test site), whose every link trafilatura would drop; and
    keeping the links in the sitemap's order (`found`), pages and sitemaps together."""

    def __init__(self, base_url: str, domain: str) -> None:
        super().__init__(base_url, domain, [])
        self.found: list[str] = []

    def handle_link(self, link: str) -> None:
        counts = len(self.urls), len(self.sitemap_urls)
        self._handle_link(link)
        for kept, count in zip((self.urls, self.sitemap_urls), counts, strict=True):
            if len(kept) > count:
                self.found.append(kept[-1])

    def _handle_link(self, link: str) -> None:
        absolute = urljoin(self.current_url, link.strip())
        if extract_domain(absolute, fast=True) is not None:  # a domain name: trafilatura's way
            super().handle_link(link)
            return
        # Then the same host only, and trafilatura's cleaning and sitemap-or-page rule.
        cleaned = clean_url(absolute)
        if absolute == self.current_url or not cleaned or urlsplit(cleaned).hostname != self.domain:
            return
        (self.sitemap_urls if DETECT_SITEMAP_LINK.search(cleaned) else self.urls).append(cleaned)


def _web_link(base_url: str, link: object) -> str | None:
    """`link` made absolute, without its #fragment; None unless it is http or https."""
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = urldefrag(urljoin(base_url, link.strip())).url
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.hostname else None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _entry_date(entry: feedparser.FeedParserDict) -> str | None:
    """The entry's date as YYYY-MM-DD; feedparser gives it as a UTC struct_time."""
    stamp: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        return None
    try:
        return datetime(*stamp[:6], tzinfo=UTC).date().isoformat()
    except ValueError:  # feedparser keeps some impossible dates (day 0)
        return None
