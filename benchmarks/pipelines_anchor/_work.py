"""The work every pipeline in this folder runs, written once so each tool does the same thing.

Imported by the Metaflow and Prefect scripts (in their own venvs) and by the plain-Python
baselines (in loopml's venv). numpy and pandas are imported inside the table functions so
the linear case loads neither.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

STEPS = 10  # the linear pipeline
ROWS = 1_000_000
COLUMNS = 25  # 25 float64 columns x 1,000,000 rows = 200 MB
SEED = 20_240_601


def add_one(value: int) -> int:
    """One trivial step of the linear pipeline."""
    return value + 1


def make_table() -> Any:
    """Step 1 of the table pipeline: a seeded 200 MB DataFrame of float64 columns."""
    import numpy as np
    import pandas as pd

    values = np.random.default_rng(SEED).standard_normal((ROWS, COLUMNS))
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(COLUMNS)])


def add_column(table: Any) -> Any:
    """Step 2: add one derived column (in place) and hand the table on."""
    table["x0_doubled"] = table["x0"] * 2
    return table


def summarise(table: Any) -> float:
    """Step 3: the mean of every value, as a plain float."""
    return float(table.to_numpy().mean())


def workdir() -> Path:
    """The scratch folder for a tool's state: ``$ANCHOR_WORKDIR``, else a new temp folder."""
    given = os.environ.get("ANCHOR_WORKDIR")
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="pipelines-anchor-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def report(tool: str, work: str, seconds: float, import_seconds: float, **extra: Any) -> None:
    """Print the one JSON result line the harness reads (always the last line of stdout)."""
    line = {"tool": tool, "work": work, "seconds": seconds, "import_seconds": import_seconds}
    print(json.dumps(line | extra), flush=True)
