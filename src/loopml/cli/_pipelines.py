"""``loopml pipeline``: run, resume, rerun and show pipeline runs.

Each command parses, calls one function of :mod:`loopml.pipelines` with a live view of
the steps as its ``on_event``, and renders the outcome. A step that fails prints its
traceback once and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from loopml.cli._context import client_of

if TYPE_CHECKING:
    from loopml.cli._render_pipelines import StepBoard
    from loopml.domain import Run
    from loopml.tracking import Client

__all__ = ["app", "check_key_values", "key_values"]

T = TypeVar("T")

app = typer.Typer(
    help="Run pipelines of steps; resume, reproduce and inspect their runs.",
    no_args_is_help=True,
)


def _executor_name(value: str) -> str:
    from loopml.pipelines import EXECUTORS

    if value not in EXECUTORS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(EXECUTORS)}.")
    return value


def check_key_values(values: list[str] | None) -> list[str]:
    for item in values or []:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --param rows=1000).")
    return values or []


def key_values(items: list[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` options as a mapping (already checked by their callback)."""
    return dict(item.split("=", 1) for item in items or [])


RunId = Annotated[str, typer.Argument(help="Pipeline run id (the parent run, not a step's).")]
ExecutorName = Annotated[
    str,
    typer.Option(
        callback=_executor_name,
        help="Where steps run: local (a process pool), dask (LOOPML_DASK_ADDRESS or a "
        "local cluster), inline (this process, one at a time).",
    ),
]
Workers = Annotated[
    int | None, typer.Option(min=1, help="Processes of the local pool or Dask cluster.")
]


@app.command("run")
def run(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="FILE.py:NAME or module:NAME, e.g. train.py:training.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", callback=check_key_values, help="KEY=VALUE parameter (repeatable)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step, reusing nothing.")
    ] = False,
    executor: ExecutorName = "local",
    workers: Workers = None,
    experiment: Annotated[
        str | None, typer.Option(help="Experiment of the runs (default: the pipeline's name).")
    ] = None,
) -> None:
    """Run a pipeline: one tracked run, a child run per step; unchanged steps are cached."""
    from loopml.pipelines import load_target, run_pipeline

    params = key_values(param)
    pipeline = load_target(target)
    _watch(
        pipeline.name,
        lambda on_event: run_pipeline(
            pipeline,
            params,
            executor=executor,
            cache=not no_cache,
            experiment=experiment,
            client=client_of(ctx),
            on_event=on_event,
            workers=workers,
            target=target,  # made absolute by the runner
        ),
    )


@app.command("resume")
def resume(
    ctx: typer.Context, run_id: RunId, executor: ExecutorName = "local", workers: Workers = None
) -> None:
    """Continue a pipeline run from its failed step, reusing every step that finished."""
    from loopml.pipelines import resume_pipeline

    _watch(
        f"resuming {run_id}",
        lambda on_event: resume_pipeline(
            run_id, executor=executor, client=client_of(ctx), on_event=on_event, workers=workers
        ),
    )


@app.command("rerun")
def rerun(
    ctx: typer.Context, run_id: RunId, executor: ExecutorName = "local", workers: Workers = None
) -> None:
    """Execute a pipeline run again without cache, with the same parameters and dataset
    versions, and compare every step's output.

    Exits 0 when reproduced (identical outputs, same commit), 1 when outputs differ or
    the commit changed.
    """
    from loopml.cli._render_pipelines import rerun_parts
    from loopml.pipelines import rerun_pipeline

    board, again = _watched(
        f"rerunning {run_id}",
        lambda on_event: rerun_pipeline(
            run_id, executor=executor, client=client_of(ctx), on_event=on_event, workers=workers
        ),
    )
    for part in rerun_parts(again, board.order):
        _print(part)
    if not again.reproduced:
        raise typer.Exit(1)


@app.command("show")
def show(ctx: typer.Context, run_id: RunId) -> None:
    """The steps of a recorded pipeline run in DAG order, then its edges (a -> b)."""
    from loopml.cli._render_pipelines import history_parts

    client = client_of(ctx)
    parent = client.get_run(run_id)
    nodes = _spec(client, parent)["nodes"]
    children = client.search_runs_page(filter=f"parent_id = '{run_id}'", limit=10_000).runs
    for part in history_parts(parent, nodes, children):
        _print(part)


def _watch(title: str, call: Callable[[Callable[[str, str, str], None]], Any]) -> None:
    """Run ``call(on_event)`` under the live view, then print the summary and run id."""
    from loopml.cli._render_pipelines import run_line, summary_table

    board, outcome = _watched(title, call)
    _print(summary_table(outcome, board.order))
    _print(run_line(outcome))


def _watched(
    title: str, call: Callable[[Callable[[str, str, str], None]], T]
) -> tuple[StepBoard, T]:
    """``call(on_event)`` under the live view. A failed step prints the summary, its
    traceback once and the error line, then exits 1."""
    from loopml.cli._render_pipelines import StepBoard, run_line, summary_table
    from loopml.pipelines import StepFailed

    board = StepBoard(title)
    try:
        with board.live():
            return board, call(board.update)
    except StepFailed as exc:
        _print(summary_table(exc.run, board.order))
        _print(run_line(exc.run))
        typer.echo(exc.traceback.rstrip(), err=True)
        typer.secho(f"Error: {exc}", err=True, fg="red")
        raise typer.Exit(exc.exit_code) from None


def _spec(client: Client, parent: Run) -> dict[str, Any]:
    import orjson

    from loopml.blobs import read_bytes
    from loopml.errors import InvalidInput
    from loopml.pipelines._runner import TAG_SPEC

    if TAG_SPEC not in parent.tags:
        raise InvalidInput(f"Run {parent.id} is not a pipeline run (it has no {TAG_SPEC} tag).")
    spec: dict[str, Any] = orjson.loads(read_bytes(client.stores.blobs, parent.tags[TAG_SPEC]))
    return spec


def _print(renderable: object) -> None:
    from loopml.cli._render import console

    console.print(renderable, soft_wrap=isinstance(renderable, str))
