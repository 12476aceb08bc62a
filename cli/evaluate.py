"""`citeqa eval`: score a question set, or a SQuAD file as an open corpus, and write a
report (eval/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citeqa.cli.common import index_errors, settings_for
from citeqa.service.qa.query import DEFAULT_TOP_K, MAX_TOP_K

app = typer.Typer()


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
    top_k: Annotated[int, typer.Option(min=1, max=MAX_TOP_K)] = DEFAULT_TOP_K,
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
    from rich.console import Console

    from citeqa.eval.corpus import CorpusError, cache_dir, prepare
    from citeqa.eval.datasets import SPLITS, SetFormatError, load_questions, load_squad, split_of
    from citeqa.eval.report import FIGURES_NEED, compare, headline, table, write_report
    from citeqa.eval.run import evaluate
    from citeqa.models.embedder.encoder import Embedder

    if split is not None and split not in SPLITS:
        raise typer.BadParameter(f"one of {', '.join(SPLITS)}", param_hint="--split")
    # The files are read before any model loads: a mistake in one is said in a line at once.
    try:
        eval_set = load_squad(squad) if squad is not None else load_questions(questions)
        before = _baseline(baseline) if baseline is not None else None
    except SetFormatError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    settings = settings_for(index)
    embedder = Embedder(settings.cache)
    if squad is not None and index is None:
        settings = settings.model_copy(update={"index": cache_dir(squad, settings)})
    with index_errors():
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
    report_path, drawn = write_report(result, out or Path("reports") / eval_set.name)
    report = json.loads(report_path.read_text())
    figures = headline(report)
    if before is not None:
        figures = compare(report, before)
    overall = result.summary.overall
    title = (
        f"{eval_set.name} · {overall.questions} questions, "
        f"{overall.questions - overall.answerable} unanswerable · {split or 'every'} part · "
        f"top {top_k}"
    )
    typer.echo(title)
    Console().print(table(figures))
    typer.echo(f"report written to {report_path.parent}/ (summary.md, questions.jsonl, figures)")
    if not drawn:
        typer.echo(FIGURES_NEED)
    validity = result.summary.overall.citation_validity
    if validity is not None and validity < 1.0:
        typer.secho(
            f"citation validity {validity:.2%}: some citation misquotes its document",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)


def _baseline(path: Path) -> dict:
    """An earlier report.json, as `compare` reads it."""
    from citeqa.eval.datasets import SetFormatError

    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SetFormatError(f"{path}: cannot be read as a report ({error})") from None
    except json.JSONDecodeError as error:
        raise SetFormatError(f"{path}, line {error.lineno}: not JSON ({error.msg})") from None
    if not isinstance(report, dict) or not isinstance(report.get("overall"), dict):
        raise SetFormatError(f"{path}: no field 'overall': not a report.json of citeqa eval")
    return report
