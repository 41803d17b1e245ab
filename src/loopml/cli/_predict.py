"""``loopml predict``: score CSV or Parquet files with a registered model (batch scoring).

The command parses, calls :func:`loopml.serving._batch.predict_files` with a Rich
progress bar over rows, and prints one summary line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._context import client_of

if TYPE_CHECKING:
    from loopml.serving._batch import BatchResult

__all__ = ["predict"]


def predict(
    ctx: typer.Context,
    model_uri: Annotated[str, typer.Argument(help="name/3, name@alias or name@latest.")],
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="A CSV or Parquet file, a folder of them, or a dataset version NAME@vN.",
        ),
    ],
    output: Annotated[Path, typer.Argument(help="Output file (.parquet, .pq, .csv) or folder.")],
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="Input column to copy to the output (repeat it); default: every "
            "column the model does not take.",
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="About how many rows per chunk.")
    ] = 100_000,
    proba: Annotated[bool, typer.Option("--proba", help="Add proba_<class> columns.")] = False,
    executor: Annotated[str, typer.Option(help="local, or dask (LOOPML_DASK_ADDRESS).")] = "local",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the output.")] = False,
) -> None:
    """Score files with a registered model in chunks; the job is a run of 'batch-scoring'."""
    from loopml.serving._batch import predict_files

    with _row_progress(f"Scoring with {model_uri}") as show:
        result = predict_files(
            model_uri,
            source,
            output,
            keys=key or None,
            chunk_rows=chunk_rows,
            proba=proba,
            executor=executor,
            overwrite=overwrite,
            client=client_of(ctx),
            on_progress=show,
        )
    typer.echo(summary_line(result))


def summary_line(result: BatchResult) -> str:
    """One line after a job: rows, time, rate, version and run."""
    return (
        f"Scored {result.rows:,} rows of {result.files:,} file(s) in {result.seconds:.2f} s "
        f"({result.rows_per_second:,.0f} rows/s) with {result.model}/{result.version} into "
        f"{result.output}; run {result.run_id}"
    )


@contextlib.contextmanager
def _row_progress(label: str) -> Iterator[Any]:
    """A transient Rich progress bar over rows: count, rows/s and, when the total is
    known, the bar and the time left. Yields ``show(done, total)``."""
    from rich.progress import BarColumn, Progress, ProgressColumn, Task, TimeRemainingColumn
    from rich.text import Text

    from loopml.cli._render import console

    class Rows(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = f"/{task.total:,.0f}" if task.total is not None else ""
            rate = f"  {task.speed:,.0f} rows/s" if task.speed else ""
            return Text(f"{task.completed:,.0f}{total} rows{rate}", style="progress.download")

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        Rows(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def show(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield show
