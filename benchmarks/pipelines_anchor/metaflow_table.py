"""Metaflow 2.19: a 3-step flow passing a 200 MB DataFrame between steps, fully local.

Run as ``python metaflow_table.py`` (no arguments) with /var/tmp/anchors/venv-metaflow's
python. Step ``start`` makes the table, ``add_column`` adds a column, ``end`` takes the mean;
the table travels as a Metaflow artifact (pickled and gzipped into the local datastore, read
back by the next step's subprocess). ``seconds`` is the wall time of the whole run;
``import_seconds`` the time to import metaflow, numpy and pandas.
"""

from __future__ import annotations

import sys
import time

import _local
import _work

_local.configure_metaflow()
_began = time.perf_counter()
import numpy  # noqa: E402, F401  # timed with metaflow: the steps need them
import pandas  # noqa: E402, F401
from metaflow import FlowSpec, step  # noqa: E402  # reads its settings at import

IMPORT_SECONDS = time.perf_counter() - _began


class TableFlow(FlowSpec):
    """Make a 200 MB table, add a column, take the mean."""

    @step
    def start(self) -> None:
        self.table = _work.make_table()
        self.next(self.add_column)

    @step
    def add_column(self) -> None:
        self.table = _work.add_column(self.table)
        self.next(self.end)

    @step
    def end(self) -> None:
        self.result = _work.summarise(self.table)


def run_and_report() -> None:
    """Run the flow as ``python metaflow_table.py run`` would, then print the JSON line."""
    sys.argv = [sys.argv[0], "run"]
    began = time.perf_counter()
    try:
        TableFlow()
    except SystemExit as exc:  # Metaflow's click entry point always exits
        if exc.code not in (0, None):
            raise
    seconds = time.perf_counter() - began
    from metaflow import Flow, namespace

    namespace(None)
    result = Flow("TableFlow").latest_successful_run.data.result
    _work.report("metaflow", "table", seconds, IMPORT_SECONDS, steps=3, result=result)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        run_and_report()
    else:
        TableFlow()
