"""The service's commands of `citeqa`: ingest, ask, serve, index. The web's (sources,
refresh, and the web half of ingest) are in cli/web.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citeqa.cli.common import (
    IndexOption,
    index_errors,
    settings_for,
    summary,
    where,
)
from citeqa.index.factory import BackendName
from citeqa.ingest.cleaning import printable
from citeqa.service.qa.query import DEFAULT_TOP_K, MAX_TOP_K
from citeqa.service.settings import Settings, sample_corpus

if TYPE_CHECKING:  # the model's modules load only when a command needs them
    from citeqa.models.embedder.encoder import Embedder

app = typer.Typer()


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
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="First chunk and embed the index's own documents again with this citeqa's "
            "model and chunker (an index built by another refuses to open until then).",
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
        from citeqa.cli.web import ingest_web

        ingest_web(settings, urls, feed or [], sitemap or [])
        return
    if rebuild and settings.backend != "local":
        hint = "a Milvus index is rebuilt by ingesting its sources again"
        raise typer.BadParameter(hint, param_hint="--rebuild")
    _ingest_folder(settings, folders[0] if folders else sample_corpus(), shard, sync, rebuild)


def _rebuild(settings: Settings, embedder: Embedder) -> None:
    """Re-embed the local index's documents in one write (index.writer.rebuild_documents)."""
    from citeqa.index.local import LocalIndex
    from citeqa.index.writer import rebuild_documents
    from citeqa.service.wiring import chunker_settings, wanted_config

    with index_errors():
        opened = LocalIndex.open_for_rebuild(settings.index, wanted_config(settings, embedder))
        report = rebuild_documents(opened, embedder, chunker_settings(settings))
    summary_line = f"{len(report.updated)} documents, {report.chunks} chunks"
    typer.echo(f"rebuilt {where(settings)} with {embedder.name}: {summary_line}")


def _ingest_folder(
    settings: Settings, folder: Path, shard: str | None, sync: bool, rebuild: bool
) -> None:
    from citeqa.index.writer import ingest as run_ingest
    from citeqa.ingest.loaders import check_folder
    from citeqa.ingest.shards import EVERYTHING, Shard
    from citeqa.models.embedder.encoder import Embedder
    from citeqa.models.runtime.threads import BATCH_THREADS
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
    if rebuild:  # after the checks above, so a bad folder is said before a long rebuild
        _rebuild(settings, embedder)
    with index_errors():
        opened = open_index(settings, embedder)
        report = run_ingest(folder, opened, embedder, chunker_settings(settings), part, sync=sync)
    for doc_id in report.removed:
        typer.echo(printable(f"removed {doc_id}: not in {folder}"))
    summary(report, str(folder), where(settings))


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
    from citeqa.models.embedder.encoder import Embedder
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
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Answer in this process even when a server runs (loads the models)."
        ),
    ] = False,
) -> None:
    """Answer QUESTION from the index, with quoted citations. A running server answers it
    (CITEQA_URL, or `citeqa serve` on its default port) in well under a second; without
    one the models load here first (about 5 s)."""
    from citeqa.cli.client import ServerError, ask_server, server_url

    settings = settings_for(index)
    request = {"question": question, "top_k": top_k}
    url = None if local else server_url(settings, index_given=index is not None)
    started = time.perf_counter()
    if url is not None:
        try:
            response = ask_server(url, request)
        except ServerError as error:
            typer.secho(str(error), fg="red", err=True)
            raise typer.Exit(2) from None
        who = f"the server at {url}"
    else:
        response = _ask_here(settings, request)
        who = f"this process, over {where(settings)} (`citeqa serve` keeps the models loaded)"
    if as_json:
        typer.echo(json.dumps(response, indent=2, ensure_ascii=False))
    else:
        print_response(response)
    typer.secho(f"answered by {who} in {time.perf_counter() - started:.2f} s", dim=True, err=True)


def _ask_here(settings: Settings, request: dict[str, Any]) -> dict[str, Any]:
    """The /ask JSON for `request`, answered in this process: checked by the API's own
    schema first, before any model loads."""
    from pydantic import ValidationError

    from citeqa.service.http.schemas import AskRequest, to_query, to_response
    from citeqa.service.wiring import build_answerer

    try:
        query = to_query(AskRequest.model_validate(request))
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="QUESTION") from None
    with index_errors():
        answerer = build_answerer(settings)
        empty = answerer.index.stats().chunks == 0
    if empty:  # "No answer" would blame the articles, when there are none
        typer.secho(f"No articles in the index at {where(settings)}: add some with "
                    "`citeqa ingest [FOLDER]` first.", fg="red", err=True)  # fmt: skip
        raise typer.Exit(2)
    return to_response(answerer.ask(query)).model_dump(mode="json")


def print_response(response: dict[str, Any]) -> None:
    """An /ask response as the chat shows it: each answer with how sure it is in words,
    its quoted passage and where it stands; with no answer, the related passages."""
    from citeqa.service.qa.sureness import band

    if response.get("resolved_question"):
        typer.echo(printable(f"Searched for: {response['resolved_question']}"))
    if response["no_answer"]:
        typer.echo("No answer in the articles.")
    if response.get("conflict"):
        typer.echo("The sources disagree:")
    # Everything printed comes from the articles, some from the web: printable() only.
    for answer in response["answers"]:
        sure = band(answer["score"])
        typer.secho(printable(answer["text"]), bold=True)
        typer.secho(f"  {sure.words} ({answer['score']:.0%})", fg="yellow" if sure.unsure else None)
        _print_citation(answer)
        for other in answer.get("also_in", []):
            typer.echo(printable(f"  also in {other['doc_id']} [{other['start']}:{other['end']}]"))
    if response["no_answer"] and response.get("related"):
        typer.echo("Related passages, which may help:")
        for related in response["related"]:
            _print_citation(related)


def _print_citation(cited: dict[str, Any]) -> None:
    """A quoted passage, then the document, the offsets and the article it is from."""
    typer.echo(printable(f'  "{cited["passage"]["text"]}"'))
    where = ", ".join(cited[k] for k in ("title", "source", "date") if cited.get(k))
    typer.echo(
        printable(f"  -- {cited['doc_id']} [{cited['start']}:{cited['end']}] {where}".rstrip())
    )


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
