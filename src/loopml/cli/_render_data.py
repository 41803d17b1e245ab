"""How ``loopml data`` shows dataset versions, statuses, diffs and check reports."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn
from rich.table import Table

from loopml.cli._render import console
from loopml.domain import DatasetVersion, FileEntry

if TYPE_CHECKING:
    from loopml.data import DatasetDiff, DatasetStatus
    from loopml.data.checks import CheckReport

__all__ = [
    "ByteProgress",
    "added_line",
    "byte_progress",
    "check_table",
    "diff_detail",
    "status_lines",
    "version_detail",
    "versions_table",
]


class ByteProgress:
    """``advance(done)`` and ``set_total(total)`` for a Rich progress bar over bytes."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, done: int) -> None:
        """Show ``done`` bytes processed so far."""
        self._progress.update(self._task, completed=done)

    def set_total(self, total: int) -> None:
        """Set the bar's length once the work's size is known."""
        self._progress.update(self._task, total=total or None)


@contextlib.contextmanager
def byte_progress(label: str) -> Iterator[ByteProgress]:
    """A transient Rich progress bar over bytes, its total set once known."""
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield ByteProgress(progress, progress.add_task(label, total=None))


def added_line(version: DatasetVersion) -> str:
    """One line after ``add``."""
    return (
        f"[bold]{escape(version.ref)}[/]: {version.file_count:,} file(s), "
        f"{_bytes(version.total_bytes)}, by {escape(version.author)}"
        + (f" — {escape(version.message)}" if version.message else "")
    )


def versions_table(versions: Sequence[DatasetVersion], title: str) -> Table:
    """One row per version."""
    table = Table(title=title, header_style="bold")
    for column in ("version", "files", "size", "created", "run"):
        table.add_column(
            column, no_wrap=True, justify="right" if column in ("files", "size") else "left"
        )
    table.add_column("message", overflow="fold", min_width=12)
    for version in versions:
        table.add_row(
            escape(version.ref),
            f"{version.file_count:,}",
            _bytes(version.total_bytes),
            f"{version.created_at:%Y-%m-%d %H:%M:%S} {escape(version.author)}",
            (version.run_id or "")[:12],
            escape(version.message),
        )
    return table


def version_detail(
    version: DatasetVersion, entries: Sequence[FileEntry], profiles: dict[str, Any]
) -> list[Any]:
    """A version's summary, up to 20 of its files, and its tables' columns."""
    parts: list[Any] = [added_line(version)]
    files = Table(title="files", header_style="bold")
    for column in ("path", "size", "blake3"):
        files.add_column(column, no_wrap=column != "path")
    for entry in entries[:20]:
        files.add_row(escape(entry.path), _bytes(entry.size), entry.digest[:16])
    if len(entries) > 20:
        files.caption = f"... and {len(entries) - 20:,} more"
    parts.append(files)
    for path, profile in profiles.items():
        parts.append(_profile_table(path, profile))
    return parts


def _profile_table(path: str, profile: dict[str, Any]) -> Table:
    table = Table(title=f"{escape(path)}: {profile.get('rows', 0):,} rows", header_style="bold")
    for column in ("column", "kind", "nulls", "summary"):
        table.add_column(column, overflow="fold")
    for name, column in profile.get("columns", {}).items():
        if column.get("kind") == "numeric":
            summary = f"min {column.get('min')}  mean {_short(column.get('mean'))}  max {column.get('max')}"
        elif column.get("kind") == "categorical":
            top = ", ".join(
                f"{t.get('value')} ({t.get('count')})" for t in column.get("top", [])[:3]
            )
            summary = f"{column.get('distinct')} distinct: {top}"
        else:
            summary = f"{column.get('min')} .. {column.get('max')}"
        table.add_row(
            escape(str(name)), str(column.get("kind")), str(column.get("nulls")), escape(summary)
        )
    return table


def status_lines(reports: Sequence[DatasetStatus]) -> str:
    """Each working copy: clean, or its added/modified/removed files."""
    from loopml.data._status_text import status_lines as lines

    return lines(reports, markup=True)


def diff_detail(diff: DatasetDiff) -> str:
    """Files added/removed/changed and, per changed table, rows and schema changes."""
    lines = [f"[bold]{escape(diff.before)} → {escape(diff.after)}[/]"]
    for label, paths in (
        ("added", diff.added),
        ("removed", diff.removed),
        ("changed", diff.changed),
    ):
        lines.append(f"{label}: {len(paths):,} file(s)")
        lines.extend(f"  {escape(p)}" for p in paths[:50])
    for path, table in diff.tables.items():
        lines.append(
            f"{escape(path)}: rows {table.get('rows_before'):,} → {table.get('rows_after'):,} "
            f"(+{table.get('rows_added'):,} / -{table.get('rows_removed'):,})"
        )
        for key in ("columns_added", "columns_removed"):
            if table.get(key):
                lines.append(f"  {key.replace('_', ' ')}: {escape(', '.join(table[key]))}")
        for change in table.get("type_changes", []):
            lines.append(
                f"  type of {escape(str(change.get('column')))}: {change.get('before')} → {change.get('after')}"
            )
    return "\n".join(lines)


def check_table(report: CheckReport) -> Table:
    """One row per check: passed or failed, how many rows failed, and why."""
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    table = Table(title=f"data checks: {verdict} ({report.rows:,} rows)", header_style="bold")
    for column in ("check", "result", "failed rows", "message"):
        table.add_column(column, overflow="fold")
    for result in report.results:
        table.add_row(
            escape(result.check),
            "[green]ok[/]" if result.passed else "[red]FAIL[/]",
            f"{result.failed_rows:,}",
            escape(result.message),
        )
    return table


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
