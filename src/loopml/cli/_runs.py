"""``loopml runs``: list, show and compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._context import client_of

__all__ = ["app"]

app = typer.Typer(help="Search, show and compare runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name (repeatable).")
    ] = None,
    filter: Annotated[
        str,
        typer.Option("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\""),
    ] = "",
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. -metrics.acc")
    ] = None,
    limit: Annotated[int, typer.Option(help="Most runs to show.")] = 50,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Metric column to show (repeatable; default: all)."),
    ] = None,
) -> None:
    """List runs, newest first, optionally filtered and ordered."""
    from loopml.cli._render import console, runs_table

    page = client_of(ctx).search_runs_page(experiment, filter, order_by or (), limit)
    keys = metric or sorted({key for run in page.runs for key in run.metrics})[:6]
    console.print(runs_table(page.runs, keys))
    if page.next_page_token:
        console.print(f"[dim]More runs match; raise --limit (now {limit}) to see them.[/]")


@app.command("show")
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Show one run: attributes, params, latest metrics and tags."""
    from loopml.cli._render import console, run_detail

    client = client_of(ctx)
    run = client.get_run(run_id)
    for table in run_detail(run, client.stores.experiments.get_experiment(run.experiment_id)):
        console.print(table)


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    html: Annotated[
        Path | None, typer.Option(help="Also write an HTML report with metric charts here.")
    ] = None,
) -> None:
    """Params and latest metrics of several runs side by side."""
    from loopml.cli._render import console, runs_compare
    from loopml.errors import InvalidInput

    if len(run_ids) < 2:
        raise InvalidInput("Compare needs at least two run ids.")
    client = client_of(ctx)
    console.print(runs_compare([client.get_run(run_id) for run_id in run_ids]))
    if html is not None:
        html.write_text(client.compare_report(run_ids), encoding="utf-8")
        console.print(f"Report with charts written to [bold]{html}[/]")
