"""The ``loopml`` script's entry point.

``loopml data status`` is run before anything else is loaded: it is the command people
run constantly, and the CLI framework (Typer, Rich, and the pydantic they import) costs
more than the whole answer, which comes from a stat cache. Every other command, and
``data status`` with options, goes to :func:`loopml.cli.main`.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``loopml`` command; ``argv`` defaults to the command line.

    As the script (no ``argv``), a fast ``data status`` ends the process itself (see
    :func:`_status_process`); given ``argv``, it raises :class:`SystemExit` like any command.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if (
        args[:2] == ["data", "status"]
        and len(args) <= 3
        and not any(a.startswith("-") for a in args)
    ):
        name = args[2] if len(args) == 3 else None
        if argv is None:
            _status_process(name)
        sys.exit(_data_status(name))
    from loopml.cli import main as cli_main

    cli_main(args)


def _status_process(name: str | None) -> NoReturn:
    # The process is ours and ends here, so two costs nothing needs can go: the cycle
    # collector (it would only traverse the walk's tuples, one per file, which reference
    # counting frees: 2-4 ms for 20,000 files) and the interpreter's teardown (freeing every
    # module and object: 8-10 ms, a tenth of the answer). The output is flushed here and
    # status closes its databases; the one exit hook this path can register (by
    # concurrent.futures, when files are hashed) has nothing to join once status returns.
    gc.disable()
    code = _data_status(name)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
