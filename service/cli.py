"""The `citeqa` command: ingest, ask, serve, eval. Flags override `CITEQA_*` settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from citeqa.index.base import IndexBusyError, IndexDamagedError, IndexMismatchError
from citeqa.service.schemas import MAX_TOP_K, AskRequest
from citeqa.service.settings import Settings, sample_corpus

app = typer.Typer(help="Extractive, cited question answering over your articles.")

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory. Default: $CITEQA_INDEX or ~/.local/share."),
]


def _settings(index: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"index": index}) if index else settings


@contextmanager
def _index_errors() -> Iterator[None]:
    """An index built by another model, damaged, or busy with another writer is the user's
    to fix, so they get the message that says how, not a traceback."""
    try:
        yield
    except (IndexMismatchError, IndexBusyError, IndexDamagedError) as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def ingest(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of .txt/.md articles. Default: the sample.")
    ] = None,
    index: IndexOption = None,
) -> None:
    """Bring the index in line with FOLDER: add, update and remove changed documents."""
    from citeqa.ingest.embedding import Embedder
    from citeqa.ingest.loaders import check_folder
    from citeqa.ingest.pipeline import ingest as run_ingest
    from citeqa.service.components import chunker_settings, open_index

    settings = _settings(index)
    folder = folder or sample_corpus()
    try:
        check_folder(folder)  # before the model loads and before the index is opened
    except OSError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    embedder = Embedder(settings.cache)
    with _index_errors():
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
    top_k: Annotated[int, typer.Option(min=1, max=MAX_TOP_K)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the /ask JSON.")] = False,
) -> None:
    """Answer QUESTION from the index, with quoted citations."""
    from pydantic import ValidationError

    from citeqa.service.components import build_answerer

    try:
        request = AskRequest(question=question, top_k=top_k)
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="QUESTION") from None
    with _index_errors():
        answerer = build_answerer(_settings(index))
    response = answerer.ask(request)
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
    import logging.config

    import uvicorn

    from citeqa.service.api import create_app
    from citeqa.service.logs import logging_config
    from citeqa.service.server import uvicorn_config

    settings = _settings(index)
    with _index_errors():
        app = create_app(settings)
    # JSON lines on stderr from here on; an index that cannot load was said in plain words.
    logging.config.dictConfig(logging_config())
    host, port = host or settings.host, port or settings.port
    server = uvicorn.Server(uvicorn_config(app, settings, host, port, log_config=None))
    server.run()
    if not server.started:
        raise typer.Exit(3)  # as uvicorn.run: the server could not start (e.g. port in use)


@app.command("eval")
def eval_command(
    questions: Annotated[
        Path | None, typer.Argument(help="Question set in the project's JSONL format.")
    ] = None,
    squad: Annotated[
        Path | None,
        typer.Option(help="SQuAD v1.1/v2.0 JSON: ingest its paragraphs, ask its questions."),
    ] = None,
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="Index directory. Default: $CITEQA_INDEX, or for --squad a cache directory "
            "keyed by the file's checksum.",
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=MAX_TOP_K)] = 3,
    out: Annotated[
        Path | None, typer.Option(help="Report folder. Default: reports/<name>.")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="An earlier report.json to print the changes against.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Ask only the first N questions.")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="Only this part of the fixed split by article: train, calibration "
            "or test (held out from all training)."
        ),  # fmt: skip
    ] = None,
    gold_paragraph: Annotated[
        bool,
        typer.Option(help="Ask each question of its own documents only: the reader alone."),
    ] = False,
) -> None:
    """Score citeqa on QUESTIONS or a SQuAD file; write a report. Exits 1 when any
    citation does not quote its document exactly."""
    if (questions is None) == (squad is None):
        raise typer.BadParameter("give either QUESTIONS or --squad FILE, not both or neither")
    # Embedding before faiss: it sets OpenMP's wait policy (ingest/threads.py), which holds
    # only if set before the first OpenMP runtime loads.
    from citeqa.ingest.embedding import Embedder

    settings = _settings(index)
    embedder = Embedder(settings.cache)

    from citeqa.eval.corpus import CorpusError, cache_dir, prepare
    from citeqa.eval.datasets import SPLITS, load_questions, load_squad, split_of
    from citeqa.eval.report import compare, headline, write_report
    from citeqa.eval.run import evaluate

    if split is not None and split not in SPLITS:
        raise typer.BadParameter(f"one of {', '.join(SPLITS)}", param_hint="--split")
    eval_set = load_squad(squad) if squad is not None else load_questions(questions)
    if squad is not None and index is None:
        settings = settings.model_copy(update={"index": cache_dir(squad, settings)})
    with _index_errors():
        try:
            answerer = prepare(eval_set, settings, embedder)
        except CorpusError as error:
            raise typer.BadParameter(str(error), param_hint="--index") from None
    if split is not None:
        eval_set.questions = getattr(split_of(eval_set), split)
        eval_set.name = f"{eval_set.name}-{split}"
    if gold_paragraph:
        eval_set.name += "-gold-paragraph"
    eval_set.questions = eval_set.questions[:limit]
    result = evaluate(answerer, eval_set, top_k=top_k, gold_paragraph=gold_paragraph)
    report_path = write_report(result, out or Path("reports") / eval_set.name)
    report = json.loads(report_path.read_text())
    typer.echo("  ".join(map(str, headline(report))))
    if baseline is not None:
        typer.echo(
            "vs baseline: " + "  ".join(map(str, compare(report, json.loads(baseline.read_text()))))
        )
    typer.echo(f"report: {report_path.parent}")
    validity = result.summary.overall.citation_validity
    if validity is not None and validity < 1.0:
        typer.secho(
            f"citation validity {validity:.2%}: some citation misquotes its document",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)


@app.command("train-reader")
def train_reader(
    squad: Annotated[Path, typer.Option(help="SQuAD-format JSON to train on, split by article.")],
    questions: Annotated[
        Path | None,
        typer.Option(help="The project's question set, split by article too. Default: shipped."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where the weights go. Default: data/models/reader.")
    ] = None,
    work: Annotated[Path, typer.Option(help="Checkpoints and progress.log.")] = Path(
        ".cache/train-reader"
    ),
    epochs: Annotated[int, typer.Option(min=1)] = 3,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 8e-5,
    confidence_only: Annotated[
        bool,
        typer.Option(
            help="Keep the weights in OUT; refit only the confidence model and threshold, "
            "as after a change of engine or pipeline (minutes, not an hour)."
        ),
    ] = False,
) -> None:
    """Fine-tune the extractive reader (slow: see data/models/reader/README.md)."""
    from citeqa.eval.train_reader import OWN_QUESTIONS, READER_DIR, TrainConfig, main

    config = TrainConfig(epochs=epochs, learning_rate=learning_rate)
    main(squad, questions or OWN_QUESTIONS, out or READER_DIR, work, config, confidence_only)
