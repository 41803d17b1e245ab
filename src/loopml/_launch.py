"""The ``loopml`` script's entry point.

``loopml data status`` is run before anything else is loaded: it is the command people
run constantly, and the CLI framework (Typer, Rich, and the pydantic they import) costs
more than the whole answer, which comes from a stat cache. Every other command, and
``data status`` with options, goes to :func:`loopml.cli.main`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``loopml`` command; ``argv`` defaults to the command line."""
    args = sys.argv[1:] if argv is None else list(argv)
    if (
        args[:2] == ["data", "status"]
        and len(args) <= 3
        and not any(a.startswith("-") for a in args)
    ):
        sys.exit(_data_status(args[2] if len(args) == 3 else None))
    from loopml.cli import main as cli_main

    cli_main(args)


def _data_status(name: str | None) -> int:
    from loopml.config import load_settings
    from loopml.data._repo import DataRepo
    from loopml.data._status_text import status_lines
    from loopml.errors import LoopmlError

    try:
        reports = DataRepo(settings=load_settings()).status(name)
    except LoopmlError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(status_lines(reports, markup=False))
    return 0
