"""Eval's commands of `citeqa`: eval (score a question set, write a report),
train-reader, and feedback (the chat's feedback as a question set, and its counts: here,
not in service, because the set is eval's format). eval/main.py puts them on the one
`citeqa` app beside the service's."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from citeqa.eval.train_config import TrainConfig
from citeqa.service.cli import IndexOption, index_errors, settings_for
from citeqa.service.feedback.store import FeedbackStore, feedback_file
from citeqa.service.qa.query import DEFAULT_TOP_K, MAX_TOP_K
from citeqa.service.settings import Settings

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
    from citeqa.eval.datasets import SPLITS, load_questions, load_squad, split_of
    from citeqa.eval.report import compare, headline, table, write_report
    from citeqa.eval.run import evaluate
    from citeqa.ingest.embedding import Embedder

    settings = settings_for(index)
    embedder = Embedder(settings.cache)
    if split is not None and split not in SPLITS:
        raise typer.BadParameter(f"one of {', '.join(SPLITS)}", param_hint="--split")
    eval_set = load_squad(squad) if squad is not None else load_questions(questions)
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
    report_path = write_report(result, out or Path("reports") / eval_set.name)
    report = json.loads(report_path.read_text())
    figures = headline(report)
    if baseline is not None:
        figures = compare(report, json.loads(baseline.read_text()))
    overall = result.summary.overall
    title = (
        f"{eval_set.name} · {overall.questions} questions, "
        f"{overall.questions - overall.answerable} unanswerable · {split or 'every'} part · "
        f"top {top_k}"
    )
    typer.echo(title)
    Console().print(table(figures))
    typer.echo(f"report written to {report_path.parent}/ (summary.md, questions.jsonl, plots)")
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
    squad2: Annotated[
        Path | None,
        typer.Option(help="SQuAD 2.0 JSON: its unanswerable questions teach 'not here'."),
    ] = None,
    shifts: Annotated[
        list[Path] | None,
        typer.Option(help="More SQuAD-format sets to train on (repeat the option)."),
    ] = None,
    train: Annotated[
        list[Path] | None,
        typer.Option(
            help="SQuAD-format JSON (.json or .json.gz) trained on whole, such as SQuAD v1.1 "
            "train (repeat the option); then --squad's answerable questions only calibrate "
            "and test."
        ),
    ] = None,
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
    epochs: Annotated[int, typer.Option(min=1)] = TrainConfig.epochs,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = TrainConfig.learning_rate,
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after N steps (the schedule fits them): a time budget."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Go on from the last checkpoint in WORK.")] = False,
    confidence_only: Annotated[
        bool,
        typer.Option(
            help="Keep the weights in OUT; refit only the confidence model and threshold, "
            "as after a change of engine or pipeline (minutes, not an hour)."
        ),
    ] = False,
    extra: Annotated[
        Path | None,
        typer.Option(
            help="More training questions with spans (`citeqa feedback export`), read "
            "against the documents of the index at $CITEQA_INDEX."
        ),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(help="A reader's weights to distil into a smaller student (--layers)."),
    ] = None,
    layers: Annotated[
        int | None, typer.Option(min=1, help="The student's layers (with --teacher).")
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from these weights (a previous stage's) instead of the base."),
    ] = None,
    first_step: Annotated[
        int,
        typer.Option(min=0, help="A later stage: begin at this step of the run's plan."),
    ] = 0,
) -> None:
    """Fine-tune the extractive reader (slow: see data/models/reader/README.md)."""
    from citeqa.eval.train_reader import OWN_QUESTIONS, Sets, main
    from citeqa.ingest.runtime.paths import shipped_reader

    config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        max_steps=max_steps,
        layers=layers,
        first_step=first_step,
    )
    sets = Sets.load(squad, questions or OWN_QUESTIONS, extra, squad2, shifts, train)
    main(sets, out or shipped_reader(), work, config, confidence_only, resume, teacher, init)


feedback_app = typer.Typer(help="What readers said about answers in the chat (POST /feedback).")
app.add_typer(feedback_app, name="feedback")


def _feedback_store(index: Path | None) -> tuple[Settings, FeedbackStore]:
    """The feedback the settings name; a missing file is said, not created."""
    settings = settings_for(index)
    path = feedback_file(settings)
    if not path.is_file():
        typer.secho(
            f"No feedback at {path}: none was given yet, or it is kept elsewhere "
            "(--index, CITEQA_INDEX, CITEQA_FEEDBACK).",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    return settings, FeedbackStore(path)


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path, typer.Argument(help="The question set to write (JSONL).")],
    index: IndexOption = None,
) -> None:
    """Write the feedback as a question set in the project's format, for `citeqa eval`
    and `citeqa train-reader --extra`. Corrections whose document changed since are stale:
    listed here and left out."""
    from citeqa.eval.datasets import EvalQuestion, question_row
    from citeqa.eval.feedback import LeftOut, export
    from citeqa.ingest.embedding import Embedder
    from citeqa.service.wiring import open_index

    settings, store = _feedback_store(index)
    with index_errors():
        checksums = open_index(settings, Embedder(settings.cache)).checksums()
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    # A line per question as it is read: memory stays flat however much feedback there is.
    with out.open("w", encoding="utf-8") as lines:
        for record, made in export(store, checksums):
            if isinstance(made, EvalQuestion):
                lines.write(json.dumps(question_row(made), ensure_ascii=False) + "\n")
                counts["questions"] += 1
                counts["unanswerable"] += made.unanswerable
            else:
                counts[made] += 1
                if made is LeftOut.STALE:
                    typer.secho(f"stale, left out: {record.id} {record.asked!r}: its document "
                                "changed since", fg="yellow", err=True)  # fmt: skip
    typer.echo(
        f"{counts['questions']} questions ({counts['unanswerable']} unanswerable) -> {out}; "
        f"left out: {counts[LeftOut.STALE]} stale, {counts[LeftOut.UNCORRECTED]} wrong "
        "without a correction"
    )


@feedback_app.command("stats")
def feedback_stats(index: IndexOption = None) -> None:
    """How many answers were marked helpful, wrong and corrected, and questions the
    articles do not answer, per day (UTC)."""
    from citeqa.eval.feedback import VERDICT_COLUMNS, daily_counts

    _, store = _feedback_store(index)
    days = daily_counts(store.each())
    rows = [(str(day), counts) for day, counts in sorted(days.items())]
    rows.append(("total", sum(days.values(), Counter())))
    typer.echo(f"{'day':<12}" + "".join(f"{c:>14}" for c in VERDICT_COLUMNS))
    for label, counts in rows:
        typer.echo(f"{label:<12}" + "".join(f"{counts[c]:>14}" for c in VERDICT_COLUMNS))
