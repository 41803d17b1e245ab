"""Column profiles of a table: the reference that drift monitoring compares against.

:func:`profile_table` summarises every column of a pyarrow table in JSON-able data
(plain ``int``/``float``/``str``/``bool``/``None``, lists and dicts; NaN and infinity
never appear: a statistic that is undefined or overflows is ``None``)::

    {"rows": n, "columns": {name: profile, ...}}

Each column profile has ``kind``, ``count`` (values present) and ``nulls`` (values
missing); ``count + nulls`` is the number of rows. The other keys depend on the kind:

``numeric`` (integer, floating point and decimal columns)
    A float NaN counts as missing, in ``nulls``, like an Arrow null (pandas writes NaN for
    a missing float). ``infinite`` counts the values that are +inf or -inf; they are in
    ``count`` but left out of every statistic below, which are taken over the *finite*
    values only and are ``None`` when there is none:

    - ``min``, ``max``: exact (``int`` for integer columns, ``float`` otherwise).
    - ``mean``; ``std``: the population standard deviation (``ddof=0``).
    - ``quantiles``: ``p01``, ``p05``, ``p25``, ``p50``, ``p75``, ``p95``, ``p99``, exact,
      computed by :func:`numpy.quantile` with its default ``"linear"`` method (Hyndman
      and Fan type 7): for sorted values ``x[0..n-1]`` and level ``q``, with
      ``h = (n - 1) * q``, the quantile is ``x[floor(h)] + (h - floor(h)) *
      (x[floor(h) + 1] - x[floor(h)])``.
    - ``histogram``: ``edges``, 21 floats, and ``counts``, 20 ints, of
      :func:`numpy.histogram` with 20 equal-width bins over ``[min, max]``: bin ``i``
      holds ``edges[i] <= x < edges[i + 1]``, the last bin also holds ``max``, so
      ``sum(counts) == count - infinite``. When ``min == max`` the range is widened to
      ``[min - 0.5, max + 0.5]`` (as numpy does); when ``max - min`` overflows a float
      the histogram is ``None``.

``categorical`` (string, boolean and dictionary-encoded columns)
    ``distinct``: the number of distinct present values. ``top``: up to 20 entries
    ``{"value", "count", "frequency"}`` of the most frequent values, by count descending
    and then value ascending (so ties are broken the same way every time); ``frequency``
    is ``count`` divided by the column's ``count`` (its share of present values).
    ``other``: how many present values are not in ``top``.

``datetime`` (timestamp, date and time-of-day columns)
    ``min`` and ``max`` as ISO 8601 strings (with the offset for a zoned timestamp).

``other`` (anything else: binary, duration, lists, structs, all-null columns)
    ``count`` and ``nulls`` only.

Columns are profiled one at a time, from their Arrow buffers through numpy and
:mod:`pyarrow.compute`, without converting the table to pandas: the extra memory at
any moment is a few copies of one column.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._tables import check_unique_names, read_table, table_schema

__all__ = [
    "HISTOGRAM_BINS",
    "QUANTILES",
    "TOP_VALUES",
    "profile_column",
    "profile_file",
    "profile_table",
]

QUANTILES: Final = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
"""The quantile levels of a numeric profile, by key."""

HISTOGRAM_BINS: Final = 20
"""Equal-width bins of a numeric profile's histogram."""

TOP_VALUES: Final = 20
"""Most frequent values kept in a categorical profile."""


def profile_table(table: pa.Table) -> dict[str, Any]:
    """Profile every column of a table (see the module docstring for the fields).

    Args:
        table: the table; its columns are profiled one at a time.

    Returns:
        ``{"rows": n, "columns": {name: profile}}``, JSON-serialisable with
        ``allow_nan=False``.

    Raises:
        InvalidInput: two columns share a name.

    Example:
        >>> profile = profile_table(pa.table({"x": [1.0, 2.0, None]}))
        >>> profile["columns"]["x"]["nulls"]
        1
    """
    check_unique_names(table, "the table to profile")
    columns = {
        name: profile_column(column)
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
    return {"rows": table.num_rows, "columns": columns}


def profile_column(column: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
    """Profile one column.

    Args:
        column: a pyarrow array or chunked array.

    Returns:
        The column's profile, whose ``kind`` is ``numeric``, ``categorical``,
        ``datetime`` or ``other``.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    t = pa.types
    kind = column.type
    if t.is_integer(kind) or t.is_floating(kind) or t.is_decimal(kind):
        return _numeric(column)
    if (
        t.is_string(kind)
        or t.is_large_string(kind)
        or t.is_string_view(kind)
        or t.is_boolean(kind)
        or t.is_dictionary(kind)
    ):
        return _categorical(column)
    if t.is_timestamp(kind) or t.is_date(kind) or t.is_time(kind):
        return _datetime(column)
    return {"kind": "other", "count": len(column) - column.null_count, "nulls": column.null_count}


def profile_file(path: str | Path) -> dict[str, Any]:
    """Read a table file, then describe and profile it.

    Args:
        path: a CSV, TSV, Parquet or JSON Lines file.

    Returns:
        ``{"schema": table_schema(table), "profile": profile_table(table)}``.

    Raises:
        NotFound: the file does not exist.
        InvalidInput: the file is not a readable table.
    """
    table = read_table(path)
    return {"schema": table_schema(table), "profile": profile_table(table)}


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    present = column.drop_null()
    if pa.types.is_decimal(present.type):
        present = pc.cast(present, pa.float64())
    values = present.to_numpy()
    missing = column.null_count
    if values.dtype.kind == "f":
        floats = values.astype(np.float64, copy=False)
        finite_mask = np.isfinite(floats)
        non_finite = len(floats) - int(np.count_nonzero(finite_mask))
        nan = int(np.count_nonzero(np.isnan(floats))) if non_finite else 0
        finite = floats[finite_mask] if non_finite else floats
        low: int | float | None = float(finite.min()) if len(finite) else None
        high: int | float | None = float(finite.max()) if len(finite) else None
        missing += nan
        infinite = non_finite - nan
    else:
        # Integers: exact extremes from the integers, the rest over a float copy.
        finite = values.astype(np.float64)
        low = int(values.min()) if len(values) else None
        high = int(values.max()) if len(values) else None
        infinite = 0
    profile: dict[str, Any] = {
        "kind": "numeric",
        "count": len(column) - missing,
        "nulls": missing,
        "infinite": infinite,
        "min": low,
        "max": high,
    }
    profile.update(_numeric_stats(finite))
    return profile


def _numeric_stats(finite: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Mean, std, quantiles and histogram of finite values (``None`` when empty)."""
    if len(finite) == 0:
        return {"mean": None, "std": None, "quantiles": None, "histogram": None}
    # Values near the float limits can overflow a sum or a difference: that gives an
    # inf, reported as None, not a warning.
    with np.errstate(all="ignore"):
        mean = float(np.mean(finite))
        std = float(np.std(finite))
        levels = np.quantile(finite, list(QUANTILES.values()))
        low, high = float(finite.min()), float(finite.max())
        histogram = None
        if math.isfinite(high - low):
            counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS, range=(low, high))
            histogram = {
                "edges": [_json_float(edge) for edge in edges.tolist()],
                "counts": counts.tolist(),
            }
    return {
        "mean": _json_float(mean),
        "std": _json_float(std),
        "quantiles": {
            key: _json_float(level) for key, level in zip(QUANTILES, levels.tolist(), strict=True)
        },
        "histogram": histogram,
    }


def _categorical(column: pa.ChunkedArray) -> dict[str, Any]:
    count = len(column) - column.null_count
    if pa.types.is_string_view(column.type):  # few kernels take views yet
        column = pc.cast(column, pa.large_string())
    counted = pc.value_counts(column)
    values = counted.field("values")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    present = values.is_valid()
    values = values.filter(present)
    counts = counted.field("counts").filter(present).to_numpy()
    chosen = _top_indices(values, counts)
    top = [
        {"value": _json_value(value), "count": n, "frequency": n / count}
        for value, n in zip(values.take(chosen).to_pylist(), counts[chosen].tolist(), strict=True)
    ]
    return {
        "kind": "categorical",
        "count": count,
        "nulls": column.null_count,
        "distinct": len(values),
        "top": top,
        "other": count - sum(entry["count"] for entry in top),
    }


def _top_indices(values: pa.Array, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Indices of the :data:`TOP_VALUES` most frequent values, count desc then value asc.

    Sorting all distinct values would cost a full sort for an id-like column; instead
    the count threshold is found by partitioning, and only the values tied at it are
    ranked by value.
    """
    chosen = np.arange(len(counts))
    if len(counts) > TOP_VALUES:
        threshold = np.partition(counts, len(counts) - TOP_VALUES)[len(counts) - TOP_VALUES]
        above = np.flatnonzero(counts > threshold)
        tied = np.flatnonzero(counts == threshold)
        wanted = TOP_VALUES - len(above)
        if len(tied) > wanted:
            smallest = pc.bottom_k_unstable(values.take(tied), wanted).to_numpy()
            tied = tied[smallest]
        chosen = np.concatenate([above, tied])
    ranked = pa.table({"count": counts[chosen], "value": values.take(chosen)})
    order = pc.sort_indices(ranked, sort_keys=[("count", "descending"), ("value", "ascending")])
    result: npt.NDArray[np.intp] = chosen[order.to_numpy()]
    return result


def _datetime(column: pa.ChunkedArray) -> dict[str, Any]:
    extremes = pc.min_max(column)
    return {
        "kind": "datetime",
        "count": len(column) - column.null_count,
        "nulls": column.null_count,
        "min": _iso(extremes["min"].as_py()),
        "max": _iso(extremes["max"].as_py()),
    }


def _iso(value: datetime | date | time | None) -> str | None:
    # pandas.Timestamp (for nanosecond columns) has the same isoformat.
    return None if value is None else value.isoformat()


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_value(value: object) -> Any:
    """A categorical value as JSON: str, bool, int and finite float pass; others are text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
