"""The `citeqa` command: ingest, ask, serve, eval. Flags override `CITEQA_*` settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from citeqa.service.settings import Settings, sample_corpus

app = typer.Typer(help="Extractive, cited question answering over your articles.")

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory. Default: $CITEQA_INDEX or ~/.local/share."),
]


def _settings(index: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"index": index}) if index else settings


@app.command()
def ingest(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of .txt/.md articles. Default: the sample.")
    ] = None,
    index: IndexOption = None,
) -> None:
    """Bring the index in line with FOLDER: add, update and remove changed documents."""
    from citeqa.ingest.embedding import Embedder
    from citeqa.ingest.pipeline import ingest as run_ingest
    from citeqa.service.components import chunker_settings, open_index

    settings = _settings(index)
    folder = folder or sample_corpus()
    embedder = Embedder()
    report = run_ingest(
        folder, open_index(settings, embedder), embedder, chunker_settings(settings)
    )
    for error in report.errors:
        typer.secho(f"skipped {error.path}: {error.reason}", fg="yellow", err=True)
    typer.echo(
        f"{folder}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged, "
        f"{report.chunks} chunks written -> {settings.index}"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain English.")],
    index: IndexOption = None,
    top_k: Annotated[int, typer.Option(min=1, max=20)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the /ask JSON.")] = False,
) -> None:
    """Answer QUESTION from the index, with quoted citations."""
    from citeqa.service.components import build_answerer
    from citeqa.service.schemas import AskRequest
    from pydantic import ValidationError

    try:
        request = AskRequest(question=question, top_k=top_k)
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="QUESTION") from None
    response = build_answerer(_settings(index)).ask(request)
    if as_json:
        typer.echo(json.dumps(response.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    if response.no_answer:
        typer.echo("No answer in the articles.")
    if response.conflict:
        typer.echo("The sources disagree:")
    for answer in response.answers:
        typer.secho(f"{answer.text}  ({answer.score:.0%})", bold=True)
        typer.echo(f'  "{answer.passage.text}"')
        where = ", ".join(x for x in (answer.title, answer.source, answer.date) if x)
        typer.echo(f"  -- {answer.doc_id} [{answer.start}:{answer.end}] {where}")
        for other in answer.also_in:
            typer.echo(f"  also in {other.doc_id} [{other.start}:{other.end}]")


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[str | None, typer.Option(help="Default: $CITEQA_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: $CITEQA_PORT or 8000")] = None,
) -> None:
    """Serve the HTTP API and the chat widget."""
    import uvicorn
    from citeqa.service.api import create_app

    settings = _settings(index)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)
