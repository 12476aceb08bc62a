"""`citeqa train-reader`, `train-embedder` and `export-models`: train the models, refit the
reader's confidence model alone, and write the ONNX files that serve them (the `train`
extra: torch; slow: each model's data card under data/models/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citeqa.models.reader.train.config import TrainConfig

app = typer.Typer()


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
    from citeqa.cli.common import settings_for
    from citeqa.eval.datasets import SetFormatError
    from citeqa.models.reader.train.run import OWN_QUESTIONS, Plan, Sets, main
    from citeqa.models.runtime.paths import shipped_reader

    config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        max_steps=max_steps,
        layers=layers,
        first_step=first_step,
    )
    settings = settings_for(None)
    try:
        sets = Sets.load(squad, questions or OWN_QUESTIONS, extra, squad2, shifts, train)
    except SetFormatError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    plan = Plan(out or shipped_reader(), work, config, resume, init, teacher)
    main(sets, plan, settings, confidence_only)


@app.command("train-embedder")
def train_embedder(
    train: Annotated[
        list[Path],
        typer.Option(
            help="SQuAD-format JSON (.json or .json.gz) trained on whole, such as "
            "SQuAD v1.1 train (repeat the option)."
        ),
    ],
    shifts: Annotated[
        list[Path] | None,
        typer.Option(
            help="SQuAD-format sets split by article: their training and calibration "
            "parts are trained on (repeat the option)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where the weights go. Default: data/models/embedder.")
    ] = None,
    work: Annotated[Path, typer.Option(help="Checkpoints.")] = Path(".cache/train-embedder"),
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after N steps (the schedule fits them): a time budget."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Go on from the last checkpoint in WORK.")] = False,
) -> None:
    """Fine-tune the embedder on questions and the sentences that answer them (slow: the
    shipped 520 steps took an hour on 2 cores)."""
    import json

    from citeqa.eval.datasets import load_squad
    from citeqa.models.embedder.train.run import EmbedderConfig, training_triplets
    from citeqa.models.embedder.train.run import train as train_run
    from citeqa.models.runtime.paths import shipped_embedder

    config = EmbedderConfig(max_steps=max_steps or -1)
    whole = [load_squad(path) for path in train]
    data = training_triplets(whole, [load_squad(p) for p in shifts or []], config.seed)
    typer.echo(f"{len(data)} triplets from {', '.join(s.name for s in whole)}")
    out = out or shipped_embedder()
    losses = train_run(data, out, work, config, resume)
    record = {"triplets": len(data), "first_loss": losses[0], "last_loss": losses[-1],
              "config": config.__dict__}  # fmt: skip
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    typer.echo(f"wrote {out}: {json.dumps(record)}")


@app.command("export-models")
def export_models() -> None:
    """Write the ONNX files serving runs (reader.onnx, embedder.onnx) from the shipped
    weights: after changing how models export (models/runtime/onnx.py). Training writes
    its own."""
    from citeqa.models.embedder import encoder
    from citeqa.models.reader import model
    from citeqa.models.runtime.paths import shipped_reader

    for written in (
        model.ship_onnx(shipped_reader() / model.WEIGHTS_FILE),
        encoder.ship_onnx(encoder.shipped_weights()),
    ):
        typer.echo(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
