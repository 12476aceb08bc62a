"""From the web to documents: pages, feeds and sitemaps fetched politely (fetch.py), each
page's article made a `Document` whose `url` is the page's canonical address.

No index here. A crawl returns its documents, what went wrong (by URL and reason), and
what to record in the source store once the documents are written (`Crawl.pages`,
`Crawl.sources`), so that a failed write leaves its pages to be fetched again.

A page is named by its canonical URL (`doc_id_for`): the same article reached by two
addresses (a feed's tracking link, an AMP copy) is one document, and a page that changed
replaces its old version.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from citeqa.ingest import webpage
from citeqa.ingest.loaders import MAX_DOC_ID_CHARS, LoadError, make_document
from citeqa.ingest.models import Document
from citeqa.ingest.web.fetch import MAX_SITEMAP_BYTES, Fetched, Fetcher, FetchError
from citeqa.ingest.web.links import feed_links, sitemap_links
from citeqa.ingest.web.sources import (
    PageRecord,
    Source,
    SourceKind,
    SourceRecord,
    SourceStore,
    Validators,
    now,
)

# A sitemap index lists sitemaps, which may list more: two levels cover the sites seen
# (an index of monthly sitemaps); deeper nesting is more likely a trap than a site.
MAX_SITEMAP_DEPTH = 2
# Sitemap fetches and their bytes, for one source and for one refresh of every source:
# a sitemap index of 300 nested indexes made 201 fetches of up to 50 MiB each for one
# source (issue 32). Past a bound the sitemaps left are not fetched, and said so.
SOURCE_SITEMAPS = 10
SOURCE_SITEMAP_BYTES = 2 * MAX_SITEMAP_BYTES
REFRESH_SITEMAPS = 100
REFRESH_SITEMAP_BYTES = 10 * MAX_SITEMAP_BYTES
_READABLE_CHARS = 60  # the readable part of a doc_id made from a URL; a hash follows


@dataclass
class Crawl:
    """What fetching some pages, or a source, found."""

    documents: dict[str, Document] = field(default_factory=dict)  # by doc_id
    pages: list[PageRecord] = field(default_factory=list)
    sources: list[SourceRecord] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    not_modified: int = 0  # pages the server said are unchanged (304)
    dropped: int = 0  # entries past the cap on a feed's or sitemap's entries
    timed_out: bool = False  # a fetch, or the source's own deadline, ran out of time
    left: int = 0  # pages not fetched: the source's deadline passed first

    def fail(self, url: str, reason: str) -> None:
        self.errors.append(LoadError(url, reason))

    def failed(self, url: str, error: FetchError | ValueError) -> None:
        self.fail(url, str(error))
        self.timed_out = self.timed_out or getattr(error, "timed_out", False)


def doc_id_for(url: str) -> str:
    """A document id for the page at `url`: its host and path, readable, then a hash of
    the whole URL, so that two URLs never share an id."""
    parts = urlsplit(url)
    readable = re.sub(r"[^A-Za-z0-9]+", "-", parts.netloc + parts.path).strip("-")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"{readable[:_READABLE_CHARS]}-{digest}"[:MAX_DOC_ID_CHARS]


def page_document(fetched: Fetched) -> Document:
    """The article of a fetched page; ValueError, saying why, when it has none."""
    found = webpage.extract(fetched.body, fetched.charset, fetched.url)
    url = canonical_url(found.meta.url, fetched.url)
    meta = found.meta
    return make_document(doc_id_for(url), found.text, title=meta.title, source=meta.source,
                         date=meta.date, byline=meta.byline, url=url,
                         fetched_at=fetched.fetched_at.isoformat(timespec="seconds"))  # fmt: skip


def canonical_url(stated: str | None, fetched: str) -> str:
    """The address that names a page fetched from `fetched` (after redirects): the canonical
    URL it states when that is on the host and port it came from, else its own. A page may
    not name another site's page: it would replace that page's document, and answers would
    quote its text under the other site's address (issue 32)."""
    if stated is None or _origin_host(stated) != _origin_host(fetched):
        return fetched
    return stated


def _origin_host(url: str) -> tuple[str | None, int | None]:
    """The host and port a URL is fetched from; http and https of one site alike, as a
    site that moved to https states its https address on its old http pages."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is no number: no host of ours
        return None, None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname, None if port == default else port


class Budget:
    """Fetches and bytes that may still be spent, here and in `within` (a refresh's budget
    that each source's draws on too); thread-safe, as sources are crawled side by side."""

    def __init__(self, fetches: int, size: int, within: Budget | None = None) -> None:
        self._fetches, self._size = fetches, size
        self._left = [fetches, size]
        self._within = within
        self._lock = threading.Lock()

    def spend(self, size: int) -> None:
        """Count one fetch of `size` bytes."""
        with self._lock:
            self._left[0] -= 1
            self._left[1] -= size
        if self._within is not None:
            self._within.spend(size)

    def spent(self) -> str | None:
        """Why no more may be fetched, in words; None while some may."""
        with self._lock:
            fetches, size = self._left
        if fetches <= 0 or size <= 0:
            return f"at most {self._fetches} fetches and {self._size:,} bytes of sitemaps " + (
                "a refresh" if self._within is None else "a source"
            )
        return self._within.spent() if self._within is not None else None


class Crawler:
    """Fetches with `fetcher`, skipping pages `store` says are unchanged; at most
    `max_entries` pages of a feed or sitemap, and for at most `source_deadline_s` a source."""

    def __init__(
        self,
        fetcher: Fetcher,
        store: SourceStore,
        max_entries: int,
        source_deadline_s: float | None = None,
        refresh_budget: Budget | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.store = store
        self.max_entries = max_entries
        self.source_deadline_s = source_deadline_s
        # Shared by the crawlers of one refresh; one of its own otherwise.
        self.refresh_budget = refresh_budget or Budget(REFRESH_SITEMAPS, REFRESH_SITEMAP_BYTES)

    def pages(
        self,
        urls: list[str],
        source: str | None = None,
        crawl: Crawl | None = None,
        until: float | None = None,
    ) -> Crawl:
        """Each page's article; pages unchanged since their last fetch are skipped. Past
        `until` (time.monotonic()) the rest are left, and `timed_out` says so."""
        crawl = crawl or Crawl()
        urls = list(dict.fromkeys(urls))
        for done, url in enumerate(urls):
            # One page at least each time: a listing slower than the deadline must not
            # starve its pages for ever.
            if done and until is not None and time.monotonic() > until:
                crawl.timed_out, crawl.left = True, len(urls) - done
                crawl.fail(source or url, f"took longer than {self.source_deadline_s:g} s in "
                           f"all: {len(urls) - done} pages left for the next refresh")  # fmt: skip
                break
            self._page(url, source, crawl)
        return crawl

    def source(self, source: Source) -> Crawl:
        """The pages a feed or sitemap lists now (or the one page), new or changed."""
        crawl = Crawl()
        if source.kind is SourceKind.PAGE:
            self._page(source.url, source.url, crawl)
            error = next((e.reason for e in crawl.errors), None)
            crawl.sources.append(SourceRecord(source.url, now(), error))
            return crawl
        until = time.monotonic() + self.source_deadline_s if self.source_deadline_s else None
        try:
            links = self._links(source.url, source.kind, source.validators, crawl)
        except (FetchError, ValueError) as error:
            crawl.failed(source.url, error)
            crawl.sources.append(SourceRecord(source.url, now(), str(error)))
            return crawl
        self.pages(links, source.url, crawl, until)
        if crawl.left:
            # Pages were left: forget the listing's validators, so that the next refresh
            # reads it whole again and finds them, rather than a 304 with nothing in it.
            crawl.sources[-1] = SourceRecord(source.url, now(), crawl.errors[-1].reason,
                                             Validators())  # fmt: skip
        return crawl

    def listing(self, url: str, kind: SourceKind) -> Crawl:
        """The pages of a feed or sitemap fetched once, not kept as a source."""
        crawl = Crawl()
        try:
            links = self._links(url, kind, Validators(), crawl)
        except (FetchError, ValueError) as error:
            crawl.failed(url, error)
            return crawl
        return self.pages(links, None, crawl)

    def _links(self, url: str, kind: SourceKind, known: Validators, crawl: Crawl) -> list[str]:
        """The page URLs the feed or sitemap at `url` lists, at most `max_entries`; none when
        it is unchanged since `known`. Records the source's new validators in `crawl`."""
        fetched = self.fetcher.fetch(url, accept=kind.value, etag=known.etag,
                                     last_modified=known.last_modified)  # fmt: skip
        if fetched.status == 304:
            links = []
        elif kind is SourceKind.FEED:
            found = feed_links(fetched.body, fetched.url, self.max_entries)
            crawl.dropped += found.dropped
            links = [entry.url for entry in found.entries]
        else:
            links = self._sitemap_pages(fetched, crawl, depth=1)
        # Only now, read whole: a listing that could not be read is fetched in full again.
        validators = Validators(fetched.etag, fetched.last_modified)
        crawl.sources.append(SourceRecord(url, now(), None, validators))
        return links

    def _sitemap_pages(
        self, fetched: Fetched, crawl: Crawl, depth: int, budget: Budget | None = None
    ) -> list[str]:
        """The pages of a sitemap and of the sitemaps it lists, as far as `budget` (the
        source's sitemap fetches and bytes, within the refresh's) goes."""
        if budget is None:  # the source's own sitemap
            budget = Budget(SOURCE_SITEMAPS, SOURCE_SITEMAP_BYTES, self.refresh_budget)
            budget.spend(len(fetched.body))
        found = sitemap_links(fetched.body, fetched.url, self.max_entries)
        pages, dropped = list(found.pages), found.dropped
        nested = found.sitemaps if depth < MAX_SITEMAP_DEPTH else []
        for done, sitemap in enumerate(nested):
            if len(pages) >= self.max_entries:
                break
            if spent := budget.spent():
                crawl.fail(fetched.url, f"{len(nested) - done} sitemaps it lists left out: "
                           f"{spent}")  # fmt: skip
                break
            try:
                inner = self.fetcher.fetch(sitemap, accept=SourceKind.SITEMAP.value)
                budget.spend(len(inner.body))
                pages += self._sitemap_pages(inner, crawl, depth + 1, budget)
            except FetchError as error:
                budget.spend(0)  # a fetch all the same
                crawl.failed(sitemap, error)
            except ValueError as error:
                crawl.failed(sitemap, error)
        dropped += max(len(pages) - self.max_entries, 0)
        crawl.dropped += dropped
        return pages[: self.max_entries]

    def _page(self, url: str, source: str | None, crawl: Crawl) -> None:
        known = self.store.page(url)
        validators = known.validators if known else Validators()
        try:
            fetched = self.fetcher.fetch(url, accept=SourceKind.PAGE.value, etag=validators.etag,
                                         last_modified=validators.last_modified)  # fmt: skip
            if fetched.status == 304 and known is not None:
                crawl.not_modified += 1
                return
            document = page_document(fetched)
        except (FetchError, ValueError) as error:
            crawl.failed(url, error)
            return
        crawl.documents[document.doc_id] = document
        crawl.pages.append(
            PageRecord(url, source, document.doc_id,
                       Validators(fetched.etag, fetched.last_modified),
                       document.meta.fetched_at or now())
        )  # fmt: skip
