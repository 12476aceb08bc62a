"""The `citeqa` console script: the service's commands and eval's on one typer app.

It is put together here because eval may import service and service never imports eval
(eval calls service): service/cli.py alone would have to reach into eval for its commands.
"""

from __future__ import annotations

import typer

from citeqa.eval import cli as eval_cli
from citeqa.service import cli as service_cli
from citeqa.service import web_cli

app = typer.Typer(help="Extractive, cited question answering over your articles.")
app.add_typer(service_cli.app)
app.add_typer(web_cli.app)
app.add_typer(eval_cli.app)
