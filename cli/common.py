"""What the commands share: the settings a command runs with, an index's errors said in
words, and how an ingest's outcome is printed."""

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
from citeqa.ingest.cleaning import printable
from citeqa.service.settings import Settings

if TYPE_CHECKING:
    from citeqa.index.writer import IngestReport
    from citeqa.ingest.loaders import LoadError

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index directory. Default: $CITEQA_INDEX or ~/.local/share."),
]


def settings_for(index: Path | None) -> Settings:
    """The settings from CITEQA_*, with `index` over CITEQA_INDEX. A variable that is not
    what its setting takes is said in one line (exit 2)."""
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "CITEQA_" + "_".join(str(part) for part in first["loc"]).upper()
        typer.secho(f"{name}: {first['msg']}", fg="red", err=True)
        raise typer.Exit(2) from None
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
    except OSError as error:  # a file where the index folder should be, no permission...
        where = f"{error.filename}: " if error.filename else ""
        typer.secho(f"{where}{error.strerror or error}", fg="red", err=True)
        raise typer.Exit(2) from None


def summary(report: IngestReport, origin: str, target: str, **more: int) -> None:
    """What an ingest changed, as a small table (with `more` columns), then where it went,
    then what was skipped and why. Exit 1 when something was skipped and nothing else came
    of it: every file or page failed (a 404, a refused connection), so nothing was added."""
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
    _report_skipped(report.errors)
    kept = sum(value for name, value in counts.items() if name not in {"skipped", "chunks written"})
    if report.errors and not kept:
        typer.secho(f"Nothing was added: all {len(report.errors)} skipped, as above.",
                    fg="red", err=True)  # fmt: skip
        raise typer.Exit(1)


def _report_skipped(errors: list[LoadError]) -> None:
    """Each file or page that was not ingested, with why."""
    for error in errors:
        typer.secho(printable(f"skipped {error.path}: {error.reason}"), fg="yellow", err=True)


def where(settings: Settings) -> str:
    from citeqa.service.wiring import backend

    return backend(settings).describe()
