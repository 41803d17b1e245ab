"""How ``loopml pipeline`` shows steps: live while they run, then as a summary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from loopml.cli._render import console

if TYPE_CHECKING:
    from loopml.domain import Run
    from loopml.pipelines import PipelineRerun, PipelineRun

__all__ = [
    "StepBoard",
    "history_parts",
    "rerun_parts",
    "run_line",
    "summary_table",
]

_STATE_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "cached": "blue",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
}


class StepBoard:
    """Every step's latest state and detail, redrawn in a Rich live table on each event.

    Steps keep the order of their first event; the runner announces every step as
    ``pending`` in the graph's order before any starts, so that is the DAG order.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.states: dict[str, tuple[str, str]] = {}
        self._live: Live | None = None

    @property
    def order(self) -> list[str]:
        """The steps in the order the runner announced them."""
        return list(self.states)

    @contextlib.contextmanager
    def live(self) -> Iterator[StepBoard]:
        """Show the table while the block runs; it disappears when the block ends (the
        summary replaces it), so nothing is left behind in files or pipes."""
        # Redrawn only on events (no refresh thread): events come from the thread that
        # runs the pipeline, and the table is never read while it changes.
        with Live(self._table(), console=console, auto_refresh=False, transient=True) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None

    def update(self, step: str, state: str, detail: str) -> None:
        """The ``on_event`` callback of the runner."""
        self.states[step] = (state, detail)
        if self._live is not None:
            self._live.update(self._table(), refresh=True)

    def _table(self) -> Table:
        table = Table(title=escape(self.title), header_style="bold")
        for column in ("step", "state", "detail"):
            table.add_column(column, overflow="fold")
        for step, (state, detail) in self.states.items():
            table.add_row(escape(step), _state(state), escape(detail))
        return table


def summary_table(run: PipelineRun, order: Sequence[str]) -> Table:
    """One row per step, in ``order`` (any missing from it last): state, time, reuse."""
    table = Table(title=f"pipeline {escape(run.pipeline)}", header_style="bold")
    table.add_column("step", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("cached from", overflow="fold")  # a run id: folded, never cut
    for step in _ordered(run.steps, order):
        record = run.steps[step]
        seconds = f"{record.seconds:.2f} s" if record.state in ("done", "failed") else ""
        table.add_row(escape(step), _state(record.state), seconds, record.cached_from or "")
    return table


def run_line(run: PipelineRun) -> str:
    """The run's id, parameters and status."""
    params = ", ".join(f"{key}={value!r}" for key, value in run.params.items())
    return (
        f"Pipeline run [bold]{run.id}[/] ({escape(run.pipeline)}"
        + (f": {escape(params)}" if params else "")
        + f"): {_status(run.status.value)}"
    )


def rerun_parts(rerun: PipelineRerun, order: Sequence[str]) -> list[Any]:
    """The new run's steps, which outputs changed, the commits and the verdict."""
    parts: list[Any] = [summary_table(rerun.run, order), run_line(rerun.run)]
    if rerun.changed:
        table = Table(title="outputs that differ", header_style="bold")
        for column in ("step", "before", "now"):
            table.add_column(column, no_wrap=True)
        for step in _ordered(rerun.changed, order):
            before, now = rerun.changed[step]
            table.add_row(escape(step), (before or "none")[:16], (now or "none")[:16])
        parts.append(table)
    same = ", ".join(_ordered(rerun.same, order))
    parts.append(f"Same output: {escape(same) or 'no step'}.")
    if rerun.commit_matches:
        parts.append(f"Commit matches: {rerun.commit or 'none recorded (not in git)'}.")
    else:
        parts.append(f"Commit differs: {rerun.original_commit} then, {rerun.commit} now.")
    verdict = (
        f"[green]Reproduced[/] pipeline run {rerun.original}."
        if rerun.reproduced
        else f"[red]Not reproduced[/]: pipeline run {rerun.original} "
        + (f"had different outputs in {len(rerun.changed)} step(s)." if rerun.changed else "")
        + ("" if rerun.commit_matches else " The commit changed.")
    )
    parts.append(verdict)
    return parts


def history_parts(
    parent: Run, nodes: Sequence[Mapping[str, Any]], children: Sequence[Run]
) -> list[Any]:
    """A recorded pipeline run: its steps in DAG order, then its edges as ``a -> b``.

    ``nodes`` are the spec's ``{"name", "step", "upstream"}``; a node without a step run
    never started (it was skipped).
    """
    from loopml.pipelines._runner import TAG_CACHED_FROM, TAG_PIPELINE, TAG_STATE, TAG_STEP

    by_step = {run.tags[TAG_STEP]: run for run in children if TAG_STEP in run.tags}
    name = escape(parent.tags.get(TAG_PIPELINE, parent.name))
    table = Table(
        title=f"pipeline {name}, run {parent.id}: {_status(parent.status.value)}",
        header_style="bold",
    )
    for column in ("step", "state", "time"):
        table.add_column(column, no_wrap=True, justify="right" if column == "time" else "left")
    for column in ("cached from", "step run"):
        table.add_column(column, overflow="fold")  # run ids: folded, never cut
    for node in nodes:
        run = by_step.get(str(node["name"]))
        if run is None:
            table.add_row(escape(str(node["name"])), _state("skipped"), "", "", "")
            continue
        seconds = run.metrics.get("duration_s")
        table.add_row(
            escape(str(node["name"])),
            _state(run.tags.get(TAG_STATE) or run.status.value),
            "" if seconds is None else f"{seconds:.2f} s",
            run.tags.get(TAG_CACHED_FROM, ""),
            run.id,
        )
    edges = [f"{up} -> {node['name']}" for node in nodes for up in node.get("upstream", ())]
    return [table, escape("\n".join(edges)) if edges else "(no edges: the steps are independent)"]


def _ordered(steps: Iterable[str], order: Sequence[str]) -> list[str]:
    """``steps`` in ``order``, any missing from it last."""
    given = list(steps)
    return [s for s in order if s in given] + [s for s in given if s not in order]


def _state(state: str) -> str:
    return f"[{_STATE_STYLE.get(state, 'default')}]{escape(state)}[/]"


def _status(status: str) -> str:
    style = {"finished": "green", "failed": "red", "killed": "yellow"}.get(status, "cyan")
    return f"[{style}]{status}[/]"
