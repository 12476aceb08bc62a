"""The `citeqa` console script: every command on one typer app."""

from __future__ import annotations

import typer

from citeqa.cli import evaluate, feedback, service, train, web

app = typer.Typer(help="Extractive, cited question answering over your articles.")
app.add_typer(service.app)
app.add_typer(web.app)
app.add_typer(evaluate.app)
app.add_typer(train.app)
app.add_typer(feedback.app, name="feedback")
