"""``loopml init``, ``loopml server``, ``loopml db upgrade`` and ``loopml config show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._context import settings_of

__all__ = ["config_app", "db_app", "init", "server"]

db_app = typer.Typer(help="Manage the metadata database.", no_args_is_help=True)
config_app = typer.Typer(help="Show the settings in force.", no_args_is_help=True)


def init(
    path: Annotated[Path, typer.Argument(help="Project folder (default: here).")] = Path("."),
) -> None:
    """Create a project home (.loopml) with its database and blob store."""
    from loopml.cli._render import console
    from loopml.project import init_project

    home = init_project(path)
    console.print(f"Initialised loopml project home at [bold]{home}[/]")


def server(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8476).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    scheduler: Annotated[
        bool, typer.Option(help="Fire pipeline schedules from this server.")
    ] = True,
) -> None:
    """Serve the REST API (OpenAPI at /docs) over this project's store, and fire its
    pipeline schedules."""
    from loopml.server import run_server

    run_server(settings_of(ctx), host=host, port=port, workers=workers, scheduler=scheduler)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to the metadata database."""
    from loopml.cli._render import console
    from loopml.store.sql import create_store_engine, current_revision

    engine = create_store_engine(settings_of(ctx).store_uri)
    console.print(f"Database schema at revision [bold]{current_revision(engine)}[/] (latest).")
    engine.dispose()


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    origin: Annotated[
        bool, typer.Option("--origin", help="Show where each value comes from.")
    ] = False,
) -> None:
    """Show every setting in force."""
    from rich.table import Table

    from loopml.cli._render import console

    table = Table(header_style="bold")
    table.add_column("setting")
    table.add_column("value")
    if origin:
        table.add_column("origin")
    for name, value, source in settings_of(ctx).describe():
        table.add_row(name, value, *([source] if origin else []))
    console.print(table)
