"""Rich rendering of tracking records: tables of runs and experiments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table

from loopml.domain import Experiment, ParamValue, Run, RunStatus

__all__ = [
    "console",
    "experiments_table",
    "format_value",
    "run_detail",
    "runs_compare",
    "runs_table",
]

console = Console()
_STATUS_STYLE = {
    RunStatus.RUNNING: "cyan",
    RunStatus.FINISHED: "green",
    RunStatus.FAILED: "red",
    RunStatus.KILLED: "yellow",
}


def format_value(value: ParamValue | float) -> str:
    """A param or metric value as shown in tables (floats to 6 significant digits)."""
    if value is None:
        return ""
    if isinstance(value, float) and not isinstance(value, bool):
        return str(value) if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: Run) -> str:
    if run.end_time is None:
        return ""
    seconds = (run.end_time - run.start_time).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def _status(run: Run) -> str:
    return f"[{_STATUS_STYLE[run.status]}]{run.status.value}[/]"


def runs_table(runs: Sequence[Run], metric_keys: Sequence[str]) -> Table:
    """One row per run: id, name, status, start, duration and the chosen metrics."""
    table = Table(title=f"{len(runs)} run(s)", header_style="bold")
    table.add_column("run id", no_wrap=True)  # kept whole so it can be copied
    for column in ("name", "status", "started", "duration", *metric_keys):
        table.add_column(column, overflow="fold")
    for run in runs:
        metrics = [format_value(run.metrics.get(key)) for key in metric_keys]
        table.add_row(
            run.id, run.name, _status(run), _when(run.start_time), _duration(run), *metrics
        )
    return table


def run_detail(run: Run, experiment: Experiment) -> list[Table]:
    """The run's attributes, params, latest metrics and tags as tables."""
    about = Table(title=f"Run {run.id}", show_header=False)
    about.add_column(style="bold")
    about.add_column()
    for label, value in (
        ("name", run.name),
        ("experiment", f"{experiment.name} ({experiment.id})"),
        ("status", _status(run)),
        ("started", _when(run.start_time)),
        ("ended", _when(run.end_time)),
        ("duration", _duration(run)),
        ("parent", run.parent_id or ""),
        ("git commit", (run.git_commit or "") + (" (dirty)" if run.git_dirty else "")),
        ("python", run.python_version or ""),
        ("host / pid", f"{run.host or ''} / {run.pid or ''}"),
    ):
        about.add_row(label, value)
    tables = [about]
    for title, values in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags)):
        if values:
            table = Table(title=title, header_style="bold")
            table.add_column("key")
            table.add_column("value")
            for key in sorted(values):
                table.add_row(key, format_value(values[key]))
            tables.append(table)
    return tables


def runs_compare(runs: Sequence[Run]) -> Table:
    """Params and latest metrics side by side, one column per run; differing rows bold."""
    table = Table(title="Run comparison", header_style="bold")
    table.add_column("")
    for run in runs:
        table.add_column(f"{run.name}\n{run.id[:12]}")
    table.add_row("status", *(_status(run) for run in runs))
    for kind in ("params", "metrics"):
        keys = sorted({key for run in runs for key in getattr(run, kind)})
        for key in keys:
            cells = [format_value(getattr(run, kind).get(key)) for run in runs]
            style = "bold yellow" if len(set(cells)) > 1 else None
            table.add_row(f"{kind}.{key}", *cells, style=style)
    return table


def experiments_table(experiments: Sequence[Experiment]) -> Table:
    """One row per experiment."""
    table = Table(title=f"{len(experiments)} experiment(s)", header_style="bold")
    for column in ("id", "name", "created", "description"):
        table.add_column(column)
    for exp in experiments:
        table.add_row(exp.id, exp.name, _when(exp.created_at), exp.description)
    return table
