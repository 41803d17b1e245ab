"""Plain-Python baseline of the table pipeline: the three steps called directly.

Run with loopml's venv python: ``.venv/bin/python direct_table.py``. ``seconds`` is the wall
time of the three calls (make a 200 MB DataFrame, add a column, take the mean);
``import_seconds`` is the time to import numpy and pandas.
"""

from __future__ import annotations

import time

import _work

if __name__ == "__main__":
    began = time.perf_counter()
    import numpy  # noqa: F401  # timed here: the pipeline scripts count these imports too
    import pandas  # noqa: F401

    imported = time.perf_counter()
    result = _work.summarise(_work.add_column(_work.make_table()))
    ended = time.perf_counter()
    _work.report("direct", "table", ended - imported, imported - began, result=result)
