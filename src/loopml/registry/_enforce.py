"""Input enforcement: turn what a caller passes to ``predict`` into what the model expects.

A :class:`ColumnEnforcer` is compiled once per signature. Its fast path recognises a
pandas DataFrame that already matches (same columns in the same order, same dtypes) with
one index comparison and one cached look-up of the dtype tuple, and hands the frame on
without a copy. Anything else takes the general path, which reorders, widens and
checks column by column and names the offending column when it refuses.

Widening rules (:func:`can_widen`): any integer or bool becomes a float, a smaller
integer a larger one, float32 float64. Narrowing (float to int, string to number,
float64 to float32) is refused: it would change values silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.registry._tabular import (
    column_dtypes,
    column_values,
    describe_values,
    first_value,
    frame_from_input,
    is_polars_frame,
    polars_to_pandas,
    shown,
)

__all__ = [
    "NUMERIC_DTYPES",
    "ColumnEnforcer",
    "TensorEnforcer",
    "Want",
    "can_widen",
]

Want = Literal["frame", "array"]

NUMERIC_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float32",
        "float64",
    )
}

_MAX_CACHED_LAYOUTS = 64


def can_widen(source: np.dtype[Any], target: np.dtype[Any]) -> bool:
    """Whether values of ``source`` convert to ``target`` without changing any value.

    Any integer (or bool) widens to any float, as the signature vocabulary promises;
    otherwise numpy's ``safe`` casting decides, within numeric kinds only.
    """
    if source == target:
        return True
    if target.kind == "f":
        return source.kind in "biu" or (source.kind == "f" and np.can_cast(source, target))
    if target.kind in "iu":
        return source.kind in "biu" and bool(np.can_cast(source, target, "safe"))
    return False


class ColumnEnforcer:
    """Prepares tabular input for a column signature; built once per signature.

    Args:
        names: the column names, in the signature's order.
        types: each column's type from the signature vocabulary.
        nullables: whether each column may hold nulls.
    """

    def __init__(
        self, names: tuple[str, ...], types: tuple[str, ...], nullables: tuple[bool, ...]
    ) -> None:
        self._names = names
        self._types = types
        self._nullables = nullables
        self._names_list = list(names)
        self._index = pd.Index(self._names_list)
        self._matched_columns: pd.Index | None = None
        self._positions = {name: i for i, name in enumerate(names)}
        self._layouts: dict[tuple[object, ...], tuple[int, ...] | None] = {}
        self._record = _RecordPlan(names, types, nullables)
        numeric = tuple(NUMERIC_DTYPES[t] for t in types if t in NUMERIC_DTYPES)
        self._array_dtype = _array_dtype(numeric) if len(numeric) == len(types) else None

    def prepare(self, data: object, want: Want) -> pd.DataFrame | np.ndarray[Any, Any]:
        """Check ``data`` against the signature and return it in the form ``want`` names.

        Raises:
            InvalidInput: a column is missing, unexpected, of the wrong type or holds
                nulls it may not; or ``data`` is of a kind that cannot be read as rows.
        """
        if isinstance(data, pd.DataFrame):
            return self._from_frame(data, want)
        if isinstance(data, np.ndarray):
            return self._from_array(data, want)
        record = _one_record(data)
        if record is not None:
            fast = self._record.build(record, want, self._index)
            if fast is not None:
                return fast
        if is_polars_frame(data):
            return self._from_frame(polars_to_pandas(data), want)
        return self._from_frame(frame_from_input(data), want)

    def _from_frame(self, frame: pd.DataFrame, want: Want) -> pd.DataFrame | np.ndarray[Any, Any]:
        if self._has_names(frame.columns):
            scans = self._layout(column_dtypes(frame))
            if scans is not None and not any(pd.isna(column_values(frame, i)).any() for i in scans):
                return frame if want == "frame" else self._to_array(frame, self._array_dtype)
        return self._enforce(frame, want)

    def _has_names(self, columns: pd.Index) -> bool:
        """Whether ``columns`` are the signature's names in order.

        pandas indexes are immutable, so the last index that matched is remembered and
        recognised by identity: frames that share their columns skip the comparison.
        """
        if columns is self._matched_columns:
            return True
        if columns.tolist() != self._names_list:
            return False
        self._matched_columns = columns
        return True

    def _layout(self, dtypes: tuple[object, ...]) -> tuple[int, ...] | None:
        """For columns of these dtypes: the positions to scan for nulls, or None when some
        column needs more than a scan (a conversion, a type check or an error)."""
        known = self._layouts.get(dtypes, _MISSING)  # one look-up: another thread may clear
        if not isinstance(known, _Missing):
            return known
        scans: list[int] | None = []
        for i, (dtype, kind, nullable) in enumerate(
            zip(dtypes, self._types, self._nullables, strict=True)
        ):
            need = _fast_need(dtype, kind, nullable)
            if need is None or scans is None:
                scans = None
            elif need:
                scans.append(i)
        if len(self._layouts) >= _MAX_CACHED_LAYOUTS:
            self._layouts.clear()
        layout = None if scans is None else tuple(scans)
        self._layouts[dtypes] = layout
        return layout

    def _from_array(
        self, array: np.ndarray[Any, Any], want: Want
    ) -> pd.DataFrame | np.ndarray[Any, Any]:
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self._names):
            raise InvalidInput(
                f"Input array has shape {array.shape}; the signature expects "
                f"{len(self._names)} columns ({', '.join(self._names)}), so pass an array "
                f"of shape (n, {len(self._names)}) or a DataFrame."
            )
        target = self._record.homogeneous
        # A float column that refuses NaN needs the general path's scan.
        if (
            target is not None
            and can_widen(array.dtype, target)
            and (target.kind != "f" or all(self._nullables))
        ):
            array = array.astype(target, copy=False)
            if want == "array":
                return array
            return pd.DataFrame(array, columns=self._index, copy=False)
        return self._enforce(pd.DataFrame(array, columns=self._index, copy=False), want)

    def _enforce(self, frame: pd.DataFrame, want: Want) -> pd.DataFrame | np.ndarray[Any, Any]:
        """The general path: check names, then each column, converting where allowed."""
        self._check_names(frame)
        columns: dict[str, Any] = {}
        unchanged = frame.columns.tolist() == self._names_list
        for name, kind, nullable in zip(self._names, self._types, self._nullables, strict=True):
            series = frame[name]
            values = _enforce_column(name, kind, nullable, series)
            unchanged = unchanged and values is series
            columns[name] = values.array  # arrays, so a repeated index label cannot realign
        result = frame if unchanged else pd.DataFrame(columns, index=frame.index, copy=False)
        if want == "frame":
            return result
        return self._to_array(result, None)

    def _check_names(self, frame: pd.DataFrame) -> None:
        if not frame.columns.is_unique:
            duplicated = frame.columns[frame.columns.duplicated()][0]
            raise InvalidInput(f"Input has column {duplicated!r} more than once.")
        present = set(frame.columns)
        missing = [i for i, name in enumerate(self._names) if name not in present]
        if missing:
            listed = ", ".join(f"{self._names[i]!r} ({self._types[i]})" for i in missing)
            noun = "column" if len(missing) == 1 else "columns"
            raise InvalidInput(
                f"Input is missing {noun} {listed} that the model's signature requires."
            )
        unexpected = [name for name in frame.columns if name not in self._positions]
        if unexpected:
            noun = "column" if len(unexpected) == 1 else "columns"
            listed = ", ".join(repr(name) for name in unexpected)
            raise InvalidInput(
                f"Input has unexpected {noun} {listed}; the signature expects: "
                f"{', '.join(self._names)}."
            )

    def _to_array(self, frame: pd.DataFrame, dtype: np.dtype[Any] | None) -> np.ndarray[Any, Any]:
        if dtype is None:
            numeric = [
                d for d in column_dtypes(frame) if isinstance(d, np.dtype) and d.kind in "biuf"
            ]
            if len(numeric) == frame.shape[1]:
                dtype = _array_dtype(tuple(numeric))
        return frame.to_numpy(dtype=dtype)


class _RecordPlan:
    """Builds the input from one record (a dict of values) without going through pandas'
    type inference, for signatures of numbers and strings; ~10 µs for 30 float columns.

    ``build`` returns None whenever a value is not plainly of its column's type (a None,
    a string in a number column, a datetime column): the general path then decides and
    names the problem.
    """

    def __init__(
        self, names: tuple[str, ...], types: tuple[str, ...], nullables: tuple[bool, ...]
    ) -> None:
        self._names = names
        dtypes = [NUMERIC_DTYPES.get(t) for t in types]
        self._usable = "datetime" not in types
        self._accepted = tuple(
            _scalar_types(d) if d is not None else frozenset({str}) for d in dtypes
        )
        self._check_nan = tuple(
            d is not None and d.kind == "f" and not nullable
            for d, nullable in zip(dtypes, nullables, strict=True)
        )
        self._dtypes = tuple(d if d is not None else np.dtype(object) for d in dtypes)
        self.homogeneous = dtypes[0] if len(set(dtypes)) == 1 and dtypes[0] is not None else None
        self._array_dtype = (
            np.dtype(object) if any(d is None for d in dtypes) else _array_dtype(self._dtypes)
        )

    def build(
        self, record: Mapping[Any, Any], want: Want, index: pd.Index
    ) -> pd.DataFrame | np.ndarray[Any, Any] | None:
        """The prepared input for ``record``, or None to leave it to the general path."""
        if not self._usable or len(record) != len(self._names):
            return None
        row = []
        for name, accepted, check_nan in zip(
            self._names, self._accepted, self._check_nan, strict=True
        ):
            value = record.get(name, _MISSING)
            if type(value) not in accepted or (check_nan and value != value):
                return None
            row.append(value)
        try:
            if self.homogeneous is not None:
                array = np.array([row], dtype=self.homogeneous)
                return array if want == "array" else pd.DataFrame(array, columns=index, copy=False)
            if want == "array":
                return np.array([row], dtype=self._array_dtype)
            columns = {
                name: np.array([value], dtype=dtype)
                for name, value, dtype in zip(self._names, row, self._dtypes, strict=True)
            }
        except OverflowError:  # an integer too large for its column: let the general path say so
            return None
        return pd.DataFrame(columns, copy=False)


class TensorEnforcer:
    """Prepares array input for a tensor signature: dtype widening and a shape check.

    Args:
        dtype: the element type from the signature vocabulary (numeric, bool or string).
        shape: the expected shape; ``-1`` matches any size (the batch dimension).
    """

    def __init__(self, dtype: str, shape: tuple[int, ...]) -> None:
        self._dtype_name = dtype
        self._dtype = NUMERIC_DTYPES.get(dtype)
        self._shape = shape

    def prepare(self, data: object, want: Want) -> np.ndarray[Any, Any]:
        """Check ``data`` against the tensor signature; ``want`` is ignored (always an array).

        Raises:
            InvalidInput: the dtype cannot be widened to the signature's, or the shape differs.
        """
        array = _as_array(data)
        array = self._cast(array)
        if array.ndim == len(self._shape) - 1 and _shape_matches(array.shape, self._shape[1:]):
            array = array[np.newaxis, ...]
        if not _shape_matches(array.shape, self._shape):
            raise InvalidInput(
                f"Input must have shape {_shape_text(self._shape)} (-1: any size), "
                f"got {_shape_text(array.shape)}."
            )
        return array

    def _cast(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if self._dtype is None:  # a string tensor
            if array.dtype.kind == "U" or describe_values(array.ravel()) == "string":
                return array
            raise InvalidInput(f"Input array must hold strings, got {array.dtype}.")
        if can_widen(array.dtype, self._dtype):
            return array.astype(self._dtype, copy=False)
        raise InvalidInput(
            f"Input array must be {self._dtype_name}, got {_dtype_text(array)}; narrowing "
            f"casts are refused, so convert it first (e.g. data.astype('{self._dtype_name}'))."
        )


class _Missing:
    """The marker for a key absent from a record (``None`` is a real value there)."""


_MISSING = _Missing()


def _scalar_types(target: np.dtype[Any]) -> frozenset[type]:
    """The scalar types a record may hold for a ``target`` column on the fast path.

    Python ints that do not fit raise OverflowError when the row is built; numpy
    scalars are only taken when they widen, since numpy would wrap them silently.
    """
    python: set[type] = {bool} if target.kind == "b" else {bool, int}
    if target.kind == "f":
        python.add(float)
    widening = {np.dtype(name).type for name in NUMERIC_DTYPES if can_widen(np.dtype(name), target)}
    return frozenset(python | widening)


def _one_record(data: object) -> Mapping[Any, Any] | None:
    """``data`` as one record when it is a dict of single values or a list of one dict."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or not data:
        return None
    if any(isinstance(v, list | tuple | np.ndarray | pd.Series) for v in data.values()):
        return None
    return data


def _array_dtype(dtypes: tuple[np.dtype[Any], ...]) -> np.dtype[Any]:
    """float64 for numeric columns, unless their common type is already a float."""
    common = np.result_type(*dtypes)
    return common if common.kind == "f" else np.dtype("float64")


def _fast_need(dtype: object, kind: str, nullable: bool) -> bool | None:
    """What a column of ``dtype`` needs to satisfy ``kind`` as it is.

    Returns:
        False: nothing. True: a scan for nulls. None: more (conversion, checks, an error).
    """
    expected = NUMERIC_DTYPES.get(kind)
    if expected is not None:
        if dtype != expected:
            return None
        # int and bool columns cannot hold nulls.
        return not nullable and expected.kind == "f"
    if kind == "string":
        return None if not isinstance(dtype, pd.StringDtype) else not nullable
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return not nullable
    return None


def _enforce_column(name: str, kind: str, nullable: bool, series: pd.Series) -> Any:
    """Check one column; return ``series`` itself when it needs no conversion."""
    target = NUMERIC_DTYPES.get(kind)
    if target is not None:
        return _numeric_column(name, kind, target, nullable, series)
    if kind == "string":
        return _string_column(name, nullable, series)
    return _datetime_column(name, nullable, series)


def _numeric_column(
    name: str, kind: str, target: np.dtype[Any], nullable: bool, series: pd.Series
) -> Any:
    dtype = series.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind == "O":
        values = _numeric_values(name, kind, nullable, series)
        if values is None:
            raise _wrong_type(name, kind, series)
        series = pd.Series(values, index=series.index, name=name, copy=False)
        dtype = values.dtype
    if dtype.kind == "f" and target.kind != "f":
        return _float_as_int(name, kind, target, nullable, series)
    if not can_widen(dtype, target):
        raise _wrong_type(name, kind, series)
    if dtype.kind == "f" and not nullable:
        _refuse_nulls(name, int(np.isnan(series.to_numpy()).sum()))
    return series if dtype == target else series.astype(target)


def _numeric_values(
    name: str, kind: str, nullable: bool, series: pd.Series
) -> np.ndarray[Any, Any] | None:
    """Numbers held in an object or extension column as a numpy array, or None if not numbers."""
    described = describe_values(series.to_numpy(dtype=object))
    allowed = {"bool", "empty"} if kind == "bool" else {"bool", "int64", "float64", "empty"}
    if described not in allowed:
        return None
    nulls = int(series.isna().sum())
    if nulls and not nullable:
        _refuse_nulls(name, nulls)
    if nulls or described == "float64" or described == "empty":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return series.to_numpy(dtype=np.bool_ if described == "bool" else np.int64)
    except OverflowError as exc:  # Python integers beyond int64: no column type holds them
        huge = next(v for v in series if not -(2**63) <= v < 2**63)
        raise InvalidInput(
            f"Column {name!r} must be {kind}, got an integer out of its range (e.g. {huge})."
        ) from exc


def _float_as_int(
    name: str, kind: str, target: np.dtype[Any], nullable: bool, series: pd.Series
) -> Any:
    """A nullable integer column may arrive as float64 with NaN for its nulls."""
    values = series.to_numpy()
    missing = np.isnan(values)
    nulls = int(missing.sum())
    if nulls and not nullable:
        _refuse_nulls(name, nulls)
    present = values[~missing] if nulls else values
    if target.kind == "b":
        unfit = np.ones(present.shape, dtype=bool)
    else:
        limits = np.iinfo(target)
        unfit = (present != np.round(present)) | (present < limits.min) | (present > limits.max)
    if not nullable or unfit.any():
        example = present[unfit][0] if unfit.any() else first_value(series)
        raise InvalidInput(
            f"Column {name!r} must be {kind}, got {series.dtype} (e.g. {shown(example)})."
        )
    return series if nulls else series.astype(target)


def _string_column(name: str, nullable: bool, series: pd.Series) -> Any:
    dtype = series.dtype
    is_text = isinstance(dtype, pd.StringDtype) or (
        (_is_object(dtype) or isinstance(dtype, pd.CategoricalDtype))
        and describe_values(series.to_numpy(dtype=object)) in ("string", "empty")
    )
    if not is_text:
        raise _wrong_type(name, "string", series)
    if not nullable:
        _refuse_nulls(name, int(series.isna().sum()))
    return series


def _datetime_column(name: str, nullable: bool, series: pd.Series) -> Any:
    """Datetime values, or ISO 8601 text (JSON has no datetime type), parsed."""
    dtype = series.dtype
    if not isinstance(dtype, np.dtype | pd.DatetimeTZDtype) or dtype.kind != "M":
        if describe_values(series.to_numpy(dtype=object)) not in ("datetime", "string"):
            raise _wrong_type(name, "datetime", series)
        try:
            series = pd.Series(pd.to_datetime(series, format="ISO8601"), name=name)
        except (ValueError, TypeError) as exc:
            raise _wrong_type(name, "datetime", series) from exc
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        raise InvalidInput(
            f"Column {name!r} must be datetime without a timezone, got {series.dtype}; "
            "convert it with .dt.tz_convert('UTC').dt.tz_localize(None)."
        )
    if not nullable:
        _refuse_nulls(name, int(series.isna().sum()))
    return series


def _refuse_nulls(name: str, count: int) -> None:
    if count:
        noun = "null value" if count == 1 else "null values"
        raise InvalidInput(
            f"Column {name!r} has {count} {noun}; the signature does not allow nulls."
        )


def _wrong_type(name: str, kind: str, series: pd.Series) -> InvalidInput:
    values = series.to_numpy(dtype=object)
    got = describe_values(values) if _is_object(series.dtype) else _dtype_name(series.dtype)
    return InvalidInput(
        f"Column {name!r} must be {kind}, got {got} (e.g. {shown(first_value(series))})."
    )


def _is_object(dtype: object) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _dtype_name(dtype: object) -> str:
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.CategoricalDtype):
        return f"category of {_dtype_name(dtype.categories.dtype)}"
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return "datetime"
    return str(dtype)


def _as_array(data: object) -> np.ndarray[Any, Any]:
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, pd.DataFrame):
        return data.to_numpy()
    if is_polars_frame(data):
        return polars_to_pandas(data).to_numpy()
    if isinstance(data, list | tuple):
        return np.asarray(data)
    raise InvalidInput(
        f"Cannot use a {type(data).__name__} as model input: this model's signature is a "
        "tensor, so pass a numpy array (or a list convertible with numpy.asarray)."
    )


def _dtype_text(array: np.ndarray[Any, Any]) -> str:
    return "string" if array.dtype.kind == "U" else str(array.dtype)


def _shape_matches(shape: Sequence[int], expected: Sequence[int]) -> bool:
    return len(shape) == len(expected) and all(
        want in (-1, got) for got, want in zip(shape, expected, strict=True)
    )


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
