"""The web's commands of `citeqa`: `sources add|list|remove`, `refresh`, and the web half
of `citeqa ingest` (page URLs, --feed, --sitemap).

Sources added here are the operator's own: they may be on this machine or its network,
which sources added over HTTP may not (CITEQA_FETCH_PRIVATE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from citeqa.cli.common import IndexOption, index_errors, settings_for, summary
from citeqa.cli.common import where as index_where
from citeqa.ingest.web.sources import SourceKind
from citeqa.service.settings import Settings

if TYPE_CHECKING:
    from citeqa.index.writer import IngestReport
    from citeqa.ingest.models import Document
    from citeqa.service.refresh import Refreshed, Write

app = typer.Typer()
sources_app = typer.Typer(help="The feeds, sitemaps and pages `citeqa refresh` keeps current.")
app.add_typer(sources_app, name="sources")


@sources_app.command("add")
def add_source(
    url: Annotated[str, typer.Argument(help="The feed's, sitemap's or page's http(s) URL.")],
    kind: Annotated[SourceKind, typer.Option(help="What the URL is.")] = SourceKind.FEED,
    index: IndexOption = None,
) -> None:
    """Keep URL current: `citeqa refresh`, and `citeqa serve` every CITEQA_REFRESH_MINUTES,
    fetch what is new on it."""
    from citeqa.ingest.cleaning import is_web_address
    from citeqa.service.refresh import source_store

    if not is_web_address(url):
        raise typer.BadParameter("not an http or https address", param_hint="URL")
    settings = settings_for(index)
    source_store(settings).add(url, kind, trusted=True)
    typer.echo(f"added {kind.value} {url}; `citeqa refresh` fetches it")


@sources_app.command("list")
def list_sources(index: IndexOption = None) -> None:
    """Each source, with its last fetch, its documents and its last error."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from citeqa.ingest.cleaning import printable
    from citeqa.service.refresh import source_store

    table = Table()
    for name in ("url", "kind", "added by", "last fetch", "documents", "last error"):
        table.add_column(name)
    for s in source_store(settings_for(index)).sources():
        cells = (s.url, s.kind.value, "command line" if s.trusted else "api",
                 s.last_fetch or "never", str(s.documents), s.last_error or "")  # fmt: skip
        # Plain text, not rich's markup; errors quote what web servers said.
        table.add_row(*(Text(printable(cell)) for cell in cells))
    Console().print(table)


@sources_app.command("remove")
def remove_source(
    url: Annotated[str, typer.Argument(help="The source's URL, as listed.")],
    index: IndexOption = None,
) -> None:
    """Stop keeping URL current. Its documents stay in the index."""
    from citeqa.service.refresh import source_store

    if not source_store(settings_for(index)).remove(url):
        typer.secho(f"no source {url}", fg="red", err=True)
        raise typer.Exit(2)
    typer.echo(f"removed {url}; its documents stay")


@app.command()
def refresh(index: IndexOption = None) -> None:
    """Fetch what is new on every source (`citeqa sources list`) and index it."""
    from citeqa.service.refresh import refresh as run_refresh
    from citeqa.service.refresh import source_store

    settings = settings_for(index)
    store = source_store(settings)
    if not store.sources():
        typer.echo("No sources: add one with `citeqa sources add URL`.")
        return
    with index_errors():
        refreshed = run_refresh(settings, store, _writer(settings))
    _report(refreshed, f"{len(store.sources())} sources", settings)


def ingest_web(settings: Settings, urls: list[str], feeds: list[str], sitemaps: list[str]) -> None:
    """Fetch the pages, and those the feeds and sitemaps list, once, and index them."""
    from citeqa.ingest.web.crawl import Crawler
    from citeqa.service.refresh import fetcher, source_store, write_crawls

    store = source_store(settings)
    with fetcher(settings, trusted=True) as fetching:
        crawler = Crawler(fetching, store, settings.feed_max_entries)
        crawls = [crawler.pages(urls)] if urls else []
        crawls += [crawler.listing(url, SourceKind.FEED) for url in feeds]
        crawls += [crawler.listing(url, SourceKind.SITEMAP) for url in sitemaps]
    with index_errors():
        refreshed = write_crawls(crawls, store, _writer(settings))
    _report(refreshed, ", ".join([*urls, *feeds, *sitemaps]), settings)


def _writer(settings: Settings) -> Write:
    """Writes documents to the index in `settings`, opened once, on first use."""
    from citeqa.index.writer import upsert_documents
    from citeqa.models.embedder.encoder import Embedder
    from citeqa.models.runtime.threads import BATCH_THREADS
    from citeqa.service.wiring import chunker_settings, open_index

    def write(documents: list[Document]) -> IngestReport:
        embedder = Embedder(settings.cache, BATCH_THREADS)  # nothing else waits for a core
        index = open_index(settings, embedder)
        return upsert_documents(documents, index, embedder, chunker_settings(settings))

    return write


def _report(refreshed: Refreshed, origin: str, settings: Settings) -> None:
    if refreshed.dropped:
        typer.secho(
            f"{refreshed.dropped} entries past CITEQA_FEED_MAX_ENTRIES "
            f"({settings.feed_max_entries}) were left out",
            fg="yellow",
            err=True,
        )
    report = refreshed.report
    report.errors = refreshed.errors
    summary(report, origin, index_where(settings), **{"not modified": refreshed.not_modified})
