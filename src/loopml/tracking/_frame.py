"""Search results as a pandas DataFrame (pandas is imported only here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from loopml.domain import RunPage

__all__ = ["RUN_COLUMNS", "runs_frame"]

RUN_COLUMNS = (
    "run_id",
    "experiment_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "parent_id",
)


def runs_frame(page: RunPage) -> pd.DataFrame:
    """One row per run in page order; params, metrics and tags as prefixed columns."""
    columns: dict[str, list[Any]] = {name: [] for name in RUN_COLUMNS}
    data_keys: dict[str, None] = {}
    for run in page.runs:
        for prefix, values in (
            ("params", run.params),
            ("metrics", run.metrics),
            ("tags", run.tags),
        ):
            for key in values:
                data_keys.setdefault(f"{prefix}.{key}")
    extra: dict[str, list[Any]] = {name: [] for name in sorted(data_keys, key=_column_order)}
    for run in page.runs:
        columns["run_id"].append(run.id)
        columns["experiment_id"].append(run.experiment_id)
        columns["name"].append(run.name)
        columns["status"].append(run.status.value)
        columns["start_time"].append(run.start_time)
        columns["end_time"].append(run.end_time)
        columns["parent_id"].append(run.parent_id)
        sources: dict[str, Mapping[str, Any]] = {
            "params": run.params,
            "metrics": run.metrics,
            "tags": run.tags,
        }
        for name, column in extra.items():
            prefix, key = name.split(".", 1)
            column.append(sources[prefix].get(key))
    frame = pd.DataFrame({**columns, **extra})
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in extra:
        if name.startswith("metrics."):
            frame[name] = frame[name].astype("float64")
    frame.attrs["next_page_token"] = page.next_page_token
    return frame


def _column_order(name: str) -> tuple[int, str]:
    prefix = name.split(".", 1)[0]
    return ({"params": 0, "metrics": 1, "tags": 2}[prefix], name)
