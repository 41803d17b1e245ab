"""How ``loopml schedule`` shows schedules and their firings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from loopml.domain.schedules import Firing, Schedule

__all__ = ["firings_table", "schedule_lines", "schedules_table"]

_STATE_STYLE = {
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
    "missed": "yellow",
}


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(firing: Firing | None) -> str:
    if firing is None:
        return "[dim]never fired[/]"
    style = _STATE_STYLE.get(firing.state.value, "")
    return f"[{style}]{firing.state.value}[/] {_when(firing.fired_at)}"


def _next(schedule: Schedule) -> str:
    if not schedule.enabled:
        return "[dim]paused[/]"
    if schedule.next_fire_at is not None:
        return _when(schedule.next_fire_at)
    return f"after version {schedule.seen_version}"


def schedules_table(rows: Sequence[tuple[Schedule, Firing | None]]) -> Table:
    """One line per schedule: trigger, pipeline, next firing, last firing."""
    table = Table("name", "trigger", "pipeline", "next", "last firing", title="Schedules")
    for schedule, last in rows:
        table.add_row(
            escape(schedule.name),
            escape(schedule.trigger),
            escape(schedule.target),
            _next(schedule),
            _state(last),
        )
    return table


def schedule_lines(schedule: Schedule, upcoming: Sequence[datetime]) -> list[str]:
    """What a schedule is, as ``key: value`` lines."""
    params = ", ".join(f"{key}={value!r}" for key, value in schedule.params.items()) or "-"
    lines = [
        f"[bold]{escape(schedule.name)}[/] ({'enabled' if schedule.enabled else 'paused'})",
        f"  pipeline:  {escape(schedule.target)}",
        f"  trigger:   {escape(schedule.trigger)}",
        f"  params:    {escape(params)}",
        f"  executor:  {schedule.executor}    catch-up: {schedule.catchup.value}",
        f"  folder:    {escape(schedule.workdir or '-')}",
        f"  created:   {_when(schedule.created_at)} by {escape(schedule.author)}",
    ]
    if upcoming:
        lines.append("  next:      " + ", ".join(_when(moment) for moment in upcoming))
    elif schedule.seen_version is not None:
        lines.append(f"  next:      when version {schedule.seen_version + 1} arrives")
    return lines


def firings_table(firings: Sequence[Firing]) -> Table:
    """The firings, newest first: state, reason, run, error."""
    table = Table("fired", "state", "reason", "run", "error", title="Firings")
    for firing in firings:
        style = _STATE_STYLE.get(firing.state.value, "")
        table.add_row(
            _when(firing.fired_at),
            f"[{style}]{firing.state.value}[/]",
            escape(firing.reason),
            firing.run_id or "-",
            escape(firing.error or ""),
        )
    return table
