"""Prefect 3.8: a flow of 3 tasks passing a 200 MB DataFrame between them.

Run with /var/tmp/anchors/venv-prefect's python. Tasks keep Prefect's defaults: results stay
in memory (not persisted), and the default cache policy still hashes each task's inputs,
the DataFrame included. ``seconds`` is the wall time of the flow call, which includes
starting Prefect's ephemeral API server; ``import_seconds`` the time to import prefect,
numpy and pandas.
"""

from __future__ import annotations

import time

import _local
import _work

_local.configure_prefect()
_began = time.perf_counter()
import numpy  # noqa: E402, F401  # timed with prefect: the tasks need them
import pandas  # noqa: E402, F401
from prefect import flow, task  # noqa: E402  # reads its settings at import

IMPORT_SECONDS = time.perf_counter() - _began

make_table = task(_work.make_table)
add_column = task(_work.add_column)
summarise = task(_work.summarise)


@flow
def table() -> float:
    """Make the table, add a column, take the mean."""
    return summarise(add_column(make_table()))


if __name__ == "__main__":
    began = time.perf_counter()
    result = table()
    seconds = time.perf_counter() - began
    _work.report("prefect", "table", seconds, IMPORT_SECONDS, steps=3, result=result)
