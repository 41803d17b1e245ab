"""loopml: a 3-step pipeline passing a 200 MB DataFrame between steps, local executor.

Run with loopml's venv python. The tracking home is ``$ANCHOR_WORKDIR/loopml-home`` (a
fresh one per measurement). Steps ``make_table``, ``add_column`` and ``summarise`` run in
the local pool's worker processes; the table travels as a step output (Parquet in the
blob store, read back by the next step). ``cache=False``: every step executes.
``seconds`` is the wall time of the ``run_pipeline`` call plus reading the result back;
``import_seconds`` the time to import numpy, pandas and loopml's pipelines and client.
"""

from __future__ import annotations

import time

import _work

_began = time.perf_counter()
import numpy  # noqa: E402, F401  # timed with loopml, as direct_table.py times them
import pandas  # noqa: E402, F401

from loopml.config import Settings, load_settings  # noqa: E402
from loopml.pipelines import pipeline, run_pipeline, step  # noqa: E402
from loopml.tracking import Client  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _began

make_table = step(_work.make_table)
add_column = step(_work.add_column)
summarise = step(_work.summarise)


@pipeline
def table():
    """Make the table, add a column, take the mean."""
    return summarise(add_column(make_table()))


def _settings() -> Settings:
    """A home in the work folder; ``LOOPML_*`` variables of the caller do not apply."""
    return load_settings({"home": str(_work.workdir() / "loopml-home")}, environ={})


if __name__ == "__main__":
    began = time.perf_counter()
    with Client(_settings()) as client:
        run = run_pipeline(table, cache=False, client=client)
        result = run.output()
    seconds = time.perf_counter() - began
    _work.report("loopml", "table", seconds, IMPORT_SECONDS, steps=3, result=result)
