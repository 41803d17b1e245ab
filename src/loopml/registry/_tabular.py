"""Reading the many shapes of tabular input (dicts, records, polars) and naming value types.

Shared by signature inference and input enforcement, so both read a dict or a list of
records the same way and describe a column's values with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput

__all__ = [
    "column_dtypes",
    "column_values",
    "columns_from_records",
    "describe_values",
    "first_value",
    "frame_from_input",
    "is_nested",
    "is_polars_frame",
    "polars_to_pandas",
    "shown",
]

# pandas.api.types.infer_dtype's names for object values, in the signature's words.
_DESCRIBED = {
    "string": "string",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "boolean": "bool",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
    "empty": "empty",
    "mixed": "mixed values",
    "mixed-integer": "mixed values",
}
_SHOWN_CHARS = 40
_NESTED = (dict, list, tuple, set, np.ndarray)
_COLUMN_VALUES = (list, tuple, np.ndarray, pd.Series)

_SUPPORTED = (
    "a pandas or polars DataFrame, a dict of columns, a list of records (dicts), "
    "one record (a dict of values) or a numpy array"
)


def is_polars_frame(data: object) -> bool:
    """Whether ``data`` is a polars DataFrame, checked without importing polars."""
    cls = type(data)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".", 1)[0] == "polars"


def polars_to_pandas(frame: Any) -> pd.DataFrame:
    """A polars DataFrame as pandas, column by column (so pyarrow is not required).

    Integers with nulls become float64 with NaN and strings become object columns, the
    forms the enforcement rules accept for nullable integer and string columns.
    """
    return pd.DataFrame(
        {name: frame.get_column(name).to_numpy() for name in frame.columns}, copy=False
    )


def frame_from_input(data: object) -> pd.DataFrame:
    """Read a dict of columns, one record or a list of records as a pandas DataFrame.

    Raises:
        InvalidInput: ``data`` is none of the supported kinds, a record is not a dict, or
            the columns of a dict have different lengths.
    """
    if isinstance(data, Mapping):
        listed = [isinstance(v, _COLUMN_VALUES) for v in data.values()]
        if not any(listed):
            return pd.DataFrame({key: [value] for key, value in data.items()})
        if not all(listed):
            scalar = next(key for key, is_list in zip(data, listed, strict=True) if not is_list)
            raise InvalidInput(
                f"Input dict mixes lists of values with a single value for {scalar!r}; pass "
                "either one record (a value per column) or a list of values per column."
            )
        _check_lengths(data)
        return pd.DataFrame(dict(data))
    if isinstance(data, list | tuple):
        for position, record in enumerate(data):
            if not isinstance(record, Mapping):
                raise InvalidInput(
                    f"Input record {position} is a {type(record).__name__}; a list input must "
                    "hold records (dicts of column values). Pass arrays as numpy arrays."
                )
        return pd.DataFrame(list(data))
    raise InvalidInput(f"Cannot use a {type(data).__name__} as model input; pass {_SUPPORTED}.")


def columns_from_records(records: Sequence[Any]) -> dict[str, list[Any]]:
    """Turn records into columns, refusing records whose keys differ.

    Raises:
        InvalidInput: a record is not a dict or has other keys than the first record.
    """
    columns: dict[str, list[Any]] = {}
    keys: list[Any] = []
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInput(
                f"Record {position} is a {type(record).__name__}; every record must be a "
                "dict of column values."
            )
        if position == 0:
            keys = list(record)
            columns = {key: [] for key in keys}
        elif list(record) != keys and set(record) != set(keys):
            raise InvalidInput(
                f"Record {position} has keys {sorted(map(str, record))} but record 0 has "
                f"{sorted(map(str, keys))}; every record must have the same columns."
            )
        for key in keys:
            columns[key].append(record[key])
    return columns


def describe_values(values: np.ndarray[Any, Any]) -> str:
    """The signature type name of the non-null values of an object array.

    Returns ``"empty"`` when every value is null and ``"mixed values"`` when the values
    have different types.
    """
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    return _DESCRIBED.get(inferred, inferred)


def is_nested(value: object) -> bool:
    """Whether ``value`` is a container (a nested value no column type can hold)."""
    return isinstance(value, _NESTED)


def first_value(series: pd.Series) -> object:
    """The first non-null value of ``series``, or None when all are null."""
    present = series[series.notna()]
    return present.iloc[0] if len(present) else None


def shown(value: object) -> str:
    """``repr`` of a value for an error message: numpy scalars as Python, long text cut."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _check_lengths(columns: Mapping[Any, Any]) -> None:
    lengths = {key: len(value) for key, value in columns.items()}
    if len(set(lengths.values())) > 1:
        (first, size), *_ = lengths.items()
        other = next(key for key, length in lengths.items() if length != size)
        raise InvalidInput(
            f"Column {other!r} has {lengths[other]} values but column {first!r} has {size}; "
            "every column of a dict input must have the same length."
        )


def column_dtypes(frame: pd.DataFrame) -> tuple[object, ...]:
    """The dtype of each column of ``frame``, in order.

    ``DataFrame.dtypes`` builds a Series, which costs 10-30 µs on a one-row frame (more
    than the whole fast path of ``predict`` should); the block manager knows the dtypes
    already. The public route remains for pandas versions without it.
    """
    manager = getattr(frame, "_mgr", None)
    get_dtypes = getattr(manager, "get_dtypes", None)
    if get_dtypes is not None:
        return tuple(get_dtypes())
    return tuple(frame.dtypes)


def column_values(frame: pd.DataFrame, position: int) -> Any:
    """The array of the column at ``position``, without building a Series when possible."""
    get_array = getattr(frame, "_get_column_array", None)
    if get_array is not None:
        return get_array(position)
    return frame.iloc[:, position].array
