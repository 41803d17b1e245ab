"""Input examples stored in a model package, as JSON that reads back to the same data.

Tabular examples are stored by column with each column's dtype; arrays with their dtype
and shape. Nulls are JSON ``null``; datetimes ISO 8601 text. Examples are capped at
:data:`MAX_EXAMPLE_ROWS` rows: they document the input, they are not a dataset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, StoreError
from loopml.registry._tabular import frame_from_input, is_polars_frame, polars_to_pandas

__all__ = ["EXAMPLE_NAME", "MAX_EXAMPLE_ROWS", "example_head", "example_json", "read_example"]

EXAMPLE_NAME = "input_example.json"
MAX_EXAMPLE_ROWS = 100


def example_head(example: object, rows: int = MAX_EXAMPLE_ROWS) -> object:
    """The first ``rows`` rows of an example, in the example's own form."""
    if isinstance(example, pd.DataFrame):
        return example.head(rows)
    if isinstance(example, np.ndarray | list | tuple):
        return example[:rows]
    if is_polars_frame(example):
        return example.head(rows)  # type: ignore[attr-defined]
    if isinstance(example, Mapping) and any(
        isinstance(v, list | tuple | np.ndarray | pd.Series) for v in example.values()
    ):
        return {
            key: value.iloc[:rows] if isinstance(value, pd.Series) else value[:rows]
            for key, value in example.items()
        }
    return example


def example_json(example: object) -> str:
    """The example (already capped) as JSON.

    Raises:
        InvalidInput: the example is of a kind that cannot be stored.
    """
    if isinstance(example, np.ndarray):
        document: dict[str, Any] = {
            "kind": "array",
            "dtype": example.dtype.str if example.dtype.kind == "U" else example.dtype.name,
            "shape": list(example.shape),
            "data": _array_values(example),
        }
    else:
        frame = (
            polars_to_pandas(example)
            if is_polars_frame(example)
            else (example if isinstance(example, pd.DataFrame) else frame_from_input(example))
        )
        document = {
            "kind": "columns",
            "columns": [str(name) for name in frame.columns],
            "dtypes": [str(dtype) for dtype in frame.dtypes],
            "data": [_column_values(frame.iloc[:, i]) for i in range(frame.shape[1])],
        }
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The input example cannot be stored as JSON: {exc}.") from exc


def read_example(text: str) -> pd.DataFrame | np.ndarray[Any, Any]:
    """Read back an example written by :func:`example_json`.

    Raises:
        StoreError: the stored example is malformed.
    """
    try:
        document = json.loads(text)
        if document["kind"] == "array":
            return np.array(document["data"], dtype=document["dtype"]).reshape(document["shape"])
        columns = {
            name: _restore(values, dtype)
            for name, dtype, values in zip(
                document["columns"], document["dtypes"], document["data"], strict=True
            )
        }
        return pd.DataFrame(columns)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"The stored input example is malformed: {exc}.") from exc


def _array_values(array: np.ndarray[Any, Any]) -> Any:
    if array.dtype.kind == "f":
        cells = array.astype(object)
        cells[np.isnan(array)] = None
        return cells.tolist()
    if array.dtype.kind in "biuU":
        return array.tolist()
    return [_json_value(value) for value in array.ravel().tolist()]


def _column_values(series: pd.Series) -> list[Any]:
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "M":
        texts = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").to_numpy(dtype=object)
        return [None if gone else text for text, gone in zip(texts, missing, strict=True)]
    values = series.to_numpy(dtype=object)
    return [None if gone else _json_value(v) for v, gone in zip(values, missing, strict=True)]


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _restore(values: list[Any], dtype: str) -> pd.Series:
    series = pd.Series(values)
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(series, format="ISO8601"))
    if dtype == "category":
        return series.astype("category")
    try:
        numeric: np.dtype[Any] | None = np.dtype(dtype)
    except TypeError:  # a pandas dtype name, such as "str" or "Int64"
        numeric = None
    if numeric is not None and numeric.kind in "biuf" and not series.isna().any():
        return series.astype(numeric)
    return series
