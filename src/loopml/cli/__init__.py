"""The ``loopml`` command: thin commands that parse, call the Python API and render.

Every error loopml raises on purpose prints one line and exits with its ``exit_code``
(2); nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import (
    _admin,
    _data,
    _deploy,
    _experiments,
    _models,
    _pipelines,
    _predict,
    _runs,
    _schedules,
    _serve,
    _stream,
)
from loopml.cli._context import CliState
from loopml.errors import LoopmlError

__all__ = ["app", "main"]

app = typer.Typer(
    name="loopml",
    help="loopml: track, version, pipeline, register, deploy and monitor models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(_runs.app, name="runs")
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_data.app, name="data")
app.add_typer(_models.app, name="models")
_pipelines.app.command("schedule")(_schedules.create)
app.add_typer(_pipelines.app, name="pipeline")
app.add_typer(_schedules.app, name="schedule")
app.add_typer(_deploy.app, name="deploy")
app.add_typer(_admin.db_app, name="db")
app.add_typer(_admin.config_app, name="config")
app.command("init")(_admin.init)
app.command("server")(_admin.server)
app.command("serve")(_serve.serve)
app.command("predict")(_predict.predict)
app.command("stream")(_stream.stream)
app.command("scheduler")(_schedules.scheduler)


@app.callback()
def _options(
    ctx: typer.Context,
    home: Annotated[
        Path | None, typer.Option(help="Project home (default: nearest .loopml, else ~/.loopml).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="http://host:port of a loopml server to use.")
    ] = None,
    store_uri: Annotated[str | None, typer.Option(help="Metadata store URI.")] = None,
) -> None:
    ctx.obj = CliState({"home": home, "tracking_uri": tracking_uri, "store_uri": store_uri})


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``loopml`` script; ``argv`` defaults to the command line."""
    try:
        code = app(args=argv, prog_name="loopml", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's typer.Exit(code)
            sys.exit(code)
    except LoopmlError as exc:
        typer.secho(f"Error: {exc}", err=True, fg="red")
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:  # usage errors carry their own message and exit code
        from click import ClickException

        # typer from 0.29 raises the usage errors of the click it vendors, whose classes
        # derive from typer.TyperException rather than from click's ClickException.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if isinstance(exc, ClickException | typer.TyperException) and callable(show):
            show()
            sys.exit(exit_code if isinstance(exit_code, int) else 2)
        raise
