"""The service's commands of `citeqa`: ingest, ask, serve, index. Flags override `CITEQA_*`
settings. The web's commands (sources, refresh) are in service/web_cli.py.

eval/cli.py holds eval's commands and eval/main.py puts both on the one `citeqa` app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citeqa.index.base import (
    IndexBusyError,
    IndexDamagedError,
    IndexFullError,
    IndexMismatchError,
    IndexReadOnlyError,
    IndexUnreachableError,
)
from citeqa.index.factory import BackendName
from citeqa.ingest.cleaning import printable

if TYPE_CHECKING:
    from citeqa.index.writer import IngestReport
    from citeqa.ingest.loaders import LoadError
from citeqa.service.qa.query import DEFAULT_TOP_K, MAX_TOP_K
from citeqa.service.settings import Settings, sample_corpus

app = typer.Typer()

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory. Default: $CITEQA_INDEX or ~/.local/share."),
]


def settings_for(index: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"index": index}) if index else settings


# What the user can fix, said in words: exit 2, no traceback.
INDEX_ERRORS = (IndexMismatchError, IndexBusyError, IndexDamagedError, IndexUnreachableError,
                IndexFullError, IndexReadOnlyError)  # fmt: skip


@contextmanager
def index_errors() -> Iterator[None]:
    """An index built by another model, damaged, or busy with another writer is the user's
    to fix, so they get the message that says how, not a traceback."""
    try:
        yield
    except INDEX_ERRORS as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def ingest(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="A folder of articles (.txt, .md, .html/.htm, .pdf files), or web pages' "
            "http(s) URLs. Default: the sample articles."
        ),
    ] = None,
    feed: Annotated[
        list[str] | None, typer.Option(help="An RSS or Atom feed's URL: index its entries' pages.")
    ] = None,
    sitemap: Annotated[
        list[str] | None, typer.Option(help="A sitemap's URL: index the pages it lists.")
    ] = None,
    index: IndexOption = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="N/COUNT: ingest only shard N of COUNT (by a hash of each doc_id), so COUNT "
            "workers can share one run against one Milvus (docs/operations.md, 'Milvus')."
        ),
    ] = None,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync", help="Also remove the documents FOLDER no longer holds, and list them."
        ),
    ] = False,
) -> None:
    """Add a folder's new articles to the index and update its changed ones (with --sync,
    also remove those no longer in it); or fetch web pages, a feed's or a sitemap's."""
    from citeqa.ingest.cleaning import is_web_address

    targets = targets or []
    urls = [t for t in targets if is_web_address(t)]
    folders = [Path(t) for t in targets if not is_web_address(t)]
    web = urls or feed or sitemap
    if len(folders) > 1 or (folders and web):
        raise typer.BadParameter("give one folder, or web addresses", param_hint="TARGETS")
    settings = settings_for(index)
    if web:
        from citeqa.service.web_cli import ingest_web

        ingest_web(settings, urls, feed or [], sitemap or [])
        return
    _ingest_folder(settings, folders[0] if folders else sample_corpus(), shard, sync)


def _ingest_folder(settings: Settings, folder: Path, shard: str | None, sync: bool) -> None:
    from citeqa.index.writer import ingest as run_ingest
    from citeqa.ingest.embedding import Embedder
    from citeqa.ingest.loaders import check_folder
    from citeqa.ingest.runtime.threads import BATCH_THREADS
    from citeqa.ingest.shards import EVERYTHING, Shard
    from citeqa.service.wiring import chunker_settings, open_index

    try:
        part = Shard.parse(shard) if shard else EVERYTHING
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--shard") from None
    try:
        check_folder(folder)  # before the model loads and before the index is opened
    except OSError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    embedder = Embedder(settings.cache, BATCH_THREADS)  # nothing else waits for a core
    with index_errors():
        opened = open_index(settings, embedder)
        report = run_ingest(folder, opened, embedder, chunker_settings(settings), part, sync=sync)
    for doc_id in report.removed:
        typer.echo(printable(f"removed {doc_id}: not in {folder}"))
    report_skipped(report.errors)
    summary(report, str(folder), where(settings))


def report_skipped(errors: list[LoadError]) -> None:
    """Each file or page that was not ingested, with why."""
    for error in errors:
        typer.secho(printable(f"skipped {error.path}: {error.reason}"), fg="yellow", err=True)


def summary(report: IngestReport, origin: str, target: str, **more: int) -> None:
    """What an ingest changed, as a small table (with `more` columns), then where it went."""
    from rich.console import Console
    from rich.table import Table

    typer.echo(f"{origin} -> {target}")
    counts = {"added": len(report.added), "updated": len(report.updated),
              "removed": len(report.removed), "unchanged": report.unchanged, **more,
              "skipped": len(report.errors), "chunks written": report.chunks}  # fmt: skip
    table = Table()
    for name in counts:
        table.add_column(name, justify="right")
    table.add_row(*map(str, counts.values()))
    Console().print(table)


def where(settings: Settings) -> str:
    from citeqa.service.wiring import backend

    return backend(settings).describe()


index_app = typer.Typer(help="Manage the index itself.")
app.add_typer(index_app, name="index")


@index_app.command()
def export(
    to: Annotated[BackendName, typer.Option("--to", help="The backend to copy into.")],
    index: IndexOption = None,
    milvus_uri: Annotated[
        str | None,
        typer.Option(help="Milvus server or Lite file. Default: $CITEQA_MILVUS_URI."),
    ] = None,
) -> None:
    """Copy the whole index into another backend (local -> milvus, or back), vectors
    included: nothing is embedded again. The source is the other backend's index."""
    from citeqa.index.migrate import copy_into
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.wiring import open_index

    settings = settings_for(index)
    if milvus_uri:
        settings = settings.model_copy(update={"milvus_uri": milvus_uri})
    source_name: BackendName = "milvus" if to == "local" else "local"
    source = settings.model_copy(update={"backend": source_name})
    target = settings.model_copy(update={"backend": to})
    embedder = Embedder(settings.cache)
    with index_errors():
        copied = copy_into(open_index(source, embedder), open_index(target, embedder))
    typer.echo(f"{copied} documents copied: {where(source)} -> {where(target)}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain English.")],
    index: IndexOption = None,
    top_k: Annotated[int, typer.Option(min=1, max=MAX_TOP_K)] = DEFAULT_TOP_K,
    as_json: Annotated[bool, typer.Option("--json", help="Print the /ask JSON.")] = False,
) -> None:
    """Answer QUESTION from the index, with quoted citations."""
    from pydantic import ValidationError

    from citeqa.service.http.schemas import AskRequest, to_query, to_response
    from citeqa.service.wiring import build_answerer

    try:
        query = to_query(AskRequest(question=question, top_k=top_k))
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="QUESTION") from None
    with index_errors():
        answerer = build_answerer(settings_for(index))
    response = answerer.ask(query)
    if as_json:
        typer.echo(to_response(response).model_dump_json(indent=2))
        return
    if response.no_answer:
        typer.echo("No answer in the articles.")
    if response.conflict:
        typer.echo("The sources disagree:")
    # Everything printed comes from the articles, some from the web: printable() only.
    for answer in response.answers:
        typer.secho(printable(f"{answer.text}  ({answer.score:.0%})"), bold=True)
        typer.echo(printable(f'  "{answer.passage.text}"'))
        where = ", ".join(x for x in (answer.title, answer.source, answer.date) if x)
        typer.echo(printable(f"  -- {answer.doc_id} [{answer.start}:{answer.end}] {where}"))
        for other in answer.also_in:
            typer.echo(printable(f"  also in {other.doc_id} [{other.start}:{other.end}]"))


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[str | None, typer.Option(help="Default: $CITEQA_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: $CITEQA_PORT or 8000")] = None,
) -> None:
    """Serve the HTTP API and the chat widget."""
    import logging.config

    import uvicorn

    from citeqa.service.http.app import create_app
    from citeqa.service.http.middleware.logs import logging_config
    from citeqa.service.http.server import uvicorn_config

    settings = settings_for(index)
    with index_errors():
        app = create_app(settings)
    # JSON lines on stderr from here on; an index that cannot load was said in plain words.
    logging.config.dictConfig(logging_config())
    host, port = host or settings.host, port or settings.port
    server = uvicorn.Server(uvicorn_config(app, settings, host, port, log_config=None))
    server.run()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run: the server could not start (e.g. port in use)
