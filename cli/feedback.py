"""`citeqa feedback export|stats`: the chat's feedback as a question set in eval's format
(for `citeqa eval` and `citeqa train-reader --extra`), and its counts by day."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from citeqa.cli.common import IndexOption, index_errors, settings_for
from citeqa.service.feedback.store import FeedbackStore, feedback_file
from citeqa.service.settings import Settings

app = typer.Typer(help="What readers said about answers in the chat (POST /feedback).")


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


@app.command("export")
def feedback_export(
    out: Annotated[Path, typer.Argument(help="The question set to write (JSONL).")],
    index: IndexOption = None,
) -> None:
    """Write the feedback as a question set in the project's format, for `citeqa eval`
    and `citeqa train-reader --extra`. Corrections whose document changed since are stale:
    listed here and left out."""
    from citeqa.eval.datasets import EvalQuestion, question_row
    from citeqa.eval.feedback import LeftOut, export
    from citeqa.models.embedder.encoder import Embedder
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


@app.command("stats")
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
