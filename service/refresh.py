"""Web sources kept current: crawl them (ingest/web), write what is new or changed, then
record what was fetched. Used by `citeqa refresh` and `citeqa ingest URL…`, and by
`citeqa serve`, whose `Refresher` runs every CITEQA_REFRESH_MINUTES (and when a source is
added) and writes through the server's one writer, as the write API does.

The network work happens before the write, outside the writer: a slow site never holds
the index. What was fetched is recorded only once its documents are written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from citeqa.index.writer import IngestReport
from citeqa.ingest.loaders import LoadError
from citeqa.ingest.models import Document
from citeqa.ingest.web.crawl import REFRESH_SITEMAP_BYTES, REFRESH_SITEMAPS, Budget, Crawl, Crawler
from citeqa.ingest.web.fetch import Fetcher, FetchLimits
from citeqa.ingest.web.sources import FILE_NAME, Source, SourceStore
from citeqa.service.settings import Settings

log = logging.getLogger("citeqa")

# The longest run of refreshes a source that keeps timing out is left out of (Backoff).
MAX_SKIPPED_REFRESHES = 16

# Writes the documents of a crawl and says what changed.
Write = Callable[[list[Document]], IngestReport]


def source_store(settings: Settings) -> SourceStore:
    return SourceStore(settings.sources or settings.index / FILE_NAME)


def fetcher(settings: Settings, trusted: bool) -> Fetcher:
    """A fetcher for the operator's own sources (`trusted`: any address) or for those added
    over HTTP (private addresses only with CITEQA_FETCH_PRIVATE)."""
    limits = FetchLimits(per_host_delay_s=settings.fetch_delay_s,
                         deadline_s=settings.fetch_deadline_s,
                         allow_private=trusted or settings.fetch_private)  # fmt: skip
    return Fetcher(limits)


@dataclass
class Refreshed:
    """What a refresh found and what its write changed."""

    crawls: list[Crawl] = field(default_factory=list)
    report: IngestReport = field(default_factory=IngestReport)

    @property
    def errors(self) -> list[LoadError]:
        return [e for c in self.crawls for e in c.errors]

    @property
    def not_modified(self) -> int:
        return sum(c.not_modified for c in self.crawls)

    @property
    def dropped(self) -> int:
        return sum(c.dropped for c in self.crawls)


def write_crawls(crawls: list[Crawl], store: SourceStore, write: Write) -> Refreshed:
    """Write the crawls' documents in one write (a page listed twice is one document),
    then record in `store` what was fetched. A failed write records nothing: its pages
    are fetched again next time."""
    documents = {doc_id: d for crawl in crawls for doc_id, d in crawl.documents.items()}
    report = write(list(documents.values())) if documents else IngestReport()
    store.record([p for c in crawls for p in c.pages], [s for c in crawls for s in c.sources])
    return Refreshed(crawls, report)


def refresh(
    settings: Settings, store: SourceStore, write: Write, sources: list[Source] | None = None
) -> Refreshed:
    """Fetch what is new on every source (or on `sources`), write it, record it.

    Hosts are fetched side by side, CITEQA_REFRESH_HOSTS at once, each source of a host
    after the other (the fetcher gives each host one request at a time anyway): a slow
    or trickling site holds its own sources, each for at most CITEQA_SOURCE_DEADLINE_S,
    and no other host's. The crawls come back in the sources' order."""
    sources = store.sources() if sources is None else sources
    with fetcher(settings, trusted=True) as mine, fetcher(settings, trusted=False) as theirs:
        budget = Budget(REFRESH_SITEMAPS, REFRESH_SITEMAP_BYTES)  # one for the whole refresh
        crawlers = {trusted: Crawler(fetched, store, settings.feed_max_entries,
                                     settings.source_deadline_s, budget)
                    for trusted, fetched in ((True, mine), (False, theirs))}  # fmt: skip

        def crawl_host(group: list[Source]) -> list[tuple[str, Crawl]]:
            return [(source.url, crawlers[source.trusted].source(source)) for source in group]

        with ThreadPoolExecutor(settings.refresh_hosts, "citeqa-fetch") as pool:
            crawled = dict(pair for done in pool.map(crawl_host, _by_host(sources))
                           for pair in done)  # fmt: skip
    return write_crawls([crawled[source.url] for source in sources], store, write)


def _by_host(sources: list[Source]) -> list[list[Source]]:
    """The sources grouped by the host (and port) they are fetched from."""
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(urlsplit(source.url).netloc.lower(), []).append(source)
    return list(groups.values())


class Backoff:
    """Sources whose refresh ran out of time, skipped for the next 1, 2, 4, ... refreshes
    (at most MAX_SKIPPED_REFRESHES in a row), so that a site that keeps trickling costs
    one refresh in many its deadline, not every one. Kept by the server's Refresher: a
    `citeqa refresh` fetches every source."""

    def __init__(self) -> None:
        self._failures: dict[str, int] = {}  # by url: refreshes in a row that timed out
        self._skip: dict[str, int] = {}  # by url: refreshes still to skip

    def due(self, sources: list[Source]) -> list[Source]:
        """The sources to fetch this time; each skipped one has one refresh less to wait."""
        due = []
        for source in sources:
            if skip := self._skip.pop(source.url, 0):
                if skip > 1:
                    self._skip[source.url] = skip - 1
            else:
                due.append(source)
        return due

    def record(self, url: str, timed_out: bool) -> None:
        if not timed_out:
            self._failures.pop(url, None)
            return
        failures = self._failures[url] = self._failures.get(url, 0) + 1
        self._skip[url] = min(2 ** (failures - 1), MAX_SKIPPED_REFRESHES)


class Refresher:
    """`refresh` in a background thread: at start and every `refresh_minutes` (0: never on
    its own), and at once on `wake()`."""

    def __init__(self, settings: Settings, store: SourceStore, write: Write) -> None:
        self._settings = settings
        self._store = store
        self._write = write
        self._backoff = Backoff()
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="citeqa-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Refresh now (a source was added), not at the next interval."""
        self._woken.set()

    def stop(self) -> None:
        self._stopped.set()
        self._woken.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        interval = self._settings.refresh_minutes * 60
        if interval:
            self._woken.set()  # the first refresh at start; with 0, only when woken
        while True:
            self._woken.wait(timeout=interval or None)
            if self._stopped.is_set():
                return
            self._woken.clear()
            if self._store.sources():
                self._refresh_once()

    def _refresh_once(self) -> None:
        sources = self._backoff.due(self._store.sources())
        try:
            done = refresh(self._settings, self._store, self._write, sources)
        except Exception:  # noqa: BLE001 - the loop must outlive one bad refresh; logged
            log.exception("refreshing the web sources failed")
            return
        for source, crawl in zip(sources, done.crawls, strict=True):
            self._backoff.record(source.url, crawl.timed_out)
        report = done.report
        log.info(
            "refreshed web sources: %d added, %d updated, %d unchanged pages, %d errors",
            len(report.added), len(report.updated), done.not_modified, len(done.errors),
        )  # fmt: skip
