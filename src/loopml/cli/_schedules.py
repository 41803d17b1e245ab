"""``loopml pipeline schedule``, ``loopml schedule ...`` and ``loopml scheduler``.

Creating a schedule checks the pipeline and its parameters at once; the schedule then
fires from the controller in ``loopml server`` or ``loopml scheduler``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._context import client_of, settings_of
from loopml.cli._pipelines import check_key_values

__all__ = ["app", "create", "scheduler"]

app = typer.Typer(help="List, inspect, pause, resume and delete pipeline schedules.")

Name = Annotated[str, typer.Argument(help="The schedule's name.")]


def create(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="FILE.py:NAME or module:NAME.")],
    cron: Annotated[
        str | None,
        typer.Option(help="Cron expression, e.g. '0 8 * * 1-5' or @daily (see --timezone)."),
    ] = None,
    on_dataset: Annotated[
        str | None, typer.Option(help="Run whenever this dataset gets a new version.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Schedule name (default: the pipeline's).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", callback=check_key_values, help="KEY=VALUE parameter (repeatable)."
        ),
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of --cron.")] = "UTC",
    catchup: Annotated[
        str, typer.Option(help="Missed cron times: latest (run once), all, or skip.")
    ] = "latest",
    executor: Annotated[str, typer.Option(help="Where steps run: local, dask, inline.")] = "local",
) -> None:
    """Run a pipeline on a cron timetable or when a dataset gets a new version."""
    from loopml.cli._pipelines import key_values
    from loopml.cli._render import console
    from loopml.cli._render_schedules import schedule_lines
    from loopml.pipelines import schedule_pipeline, upcoming_firings

    schedule = schedule_pipeline(
        target,
        cron=cron,
        on_dataset=on_dataset,
        name=name,
        params=key_values(param),
        timezone=timezone,
        catchup=catchup,
        executor=executor,
        client=client_of(ctx),
    )
    for line in schedule_lines(schedule, upcoming_firings(schedule)):
        console.print(line)
    console.print("It fires from `loopml server` or `loopml scheduler`.")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every schedule with its trigger, next time and last firing."""
    from loopml.cli._render import console
    from loopml.cli._render_schedules import schedules_table
    from loopml.pipelines import list_schedules

    console.print(schedules_table(list_schedules(client_of(ctx))))


@app.command("show")
def show(
    ctx: typer.Context,
    name: Name,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Firings to show.")] = 20,
) -> None:
    """A schedule, its next times and its newest firings with their runs."""
    from loopml.cli._render import console
    from loopml.cli._render_schedules import firings_table, schedule_lines
    from loopml.pipelines import schedule_history, upcoming_firings

    schedule, firings = schedule_history(name, limit, client_of(ctx))
    for line in schedule_lines(schedule, upcoming_firings(schedule)):
        console.print(line)
    console.print(firings_table(firings))


@app.command("pause")
def pause(ctx: typer.Context, name: Name) -> None:
    """Stop firing a schedule until it is resumed."""
    from loopml.cli._render import console
    from loopml.pipelines import pause_schedule

    pause_schedule(name, client_of(ctx))
    console.print(f"Paused schedule [bold]{name}[/].")


@app.command("resume")
def resume(ctx: typer.Context, name: Name) -> None:
    """Fire a paused schedule again (times passed meanwhile follow its catch-up policy)."""
    from loopml.cli._render import console
    from loopml.pipelines import resume_schedule

    resume_schedule(name, client_of(ctx))
    console.print(f"Resumed schedule [bold]{name}[/].")


@app.command("delete")
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a schedule and its firing records (the pipeline runs stay)."""
    from loopml.cli._render import console
    from loopml.pipelines import delete_schedule

    delete_schedule(name, client_of(ctx))
    console.print(f"Deleted schedule [bold]{name}[/].")


def scheduler(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Fire what is due now, wait for it, and exit.")
    ] = False,
    poll: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two looks at the store.")
    ] = 2.0,
) -> None:
    """Fire schedules until interrupted (what `loopml server` does in the background)."""
    from loopml.cli._render import console
    from loopml.cli._render_schedules import firings_table
    from loopml.pipelines import Scheduler

    runner = Scheduler(client_of(ctx).stores, settings_of(ctx), poll=poll)
    if once:
        fired = runner.tick()
        runner.wait()
        store = runner.stores.schedules
        done = [store.get_firing(firing.id) for firing in fired]
        console.print(firings_table(done) if done else "Nothing was due.")
        return
    import logging
    import threading

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    stop = threading.Event()
    try:
        runner.serve(stop)
    except KeyboardInterrupt:
        stop.set()
