"""The words of ``loopml data status``, shared by the Rich CLI and the fast entry point
(which prints them plain, without loading the CLI framework)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.data._repo import DatasetStatus

__all__ = ["status_lines"]

_SHOWN = 50


def status_lines(reports: Sequence[DatasetStatus], *, markup: bool) -> str:
    """Each working copy: up to date, or its modified/added/removed files.

    Args:
        reports: the statuses to show.
        markup: Rich markup (bold names, coloured verdicts) or plain text.
    """
    if not reports:
        return "No tracked datasets; `loopml data add PATH` tracks one."

    def styled(text: str, style: str) -> str:
        return f"[{style}]{_escape(text)}[/]" if markup else text

    def plain(text: str) -> str:
        return _escape(text) if markup else text

    lines = []
    for report in reports:
        head = f"{styled(f'{report.name}@v{report.version}', 'bold')} at {plain(str(report.path))}"
        if report.is_clean:
            lines.append(f"{head}: {styled('up to date', 'green')}")
            continue
        lines.append(f"{head}: {styled('changed', 'yellow')}")
        for label, paths in (
            ("modified", report.modified),
            ("added", report.added),
            ("removed", report.removed),
        ):
            lines.extend(f"  {label}: {plain(path)}" for path in paths[:_SHOWN])
            if len(paths) > _SHOWN:
                lines.append(f"  ... {len(paths) - _SHOWN:,} more {label}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    # Rich reads "[word]" as markup; a backslash before "[" prints it as written.
    return text.replace("[", "\\[")
