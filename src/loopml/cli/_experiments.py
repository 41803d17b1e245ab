"""``loopml experiments``: list experiments."""

from __future__ import annotations

import typer

from loopml.cli._context import client_of

__all__ = ["app"]

app = typer.Typer(help="List experiments.", no_args_is_help=True)


@app.command("list")
def list_experiments(ctx: typer.Context) -> None:
    """List every experiment, oldest first."""
    from loopml.cli._render import console, experiments_table

    console.print(experiments_table(client_of(ctx).list_experiments()))
