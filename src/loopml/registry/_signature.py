"""Model signatures: the columns (or tensor) a model takes and the tensor it returns.

A signature is stored in the model's manifest and enforced on every ``predict``: the
input is checked and, where it is safe, converted (see :mod:`loopml.registry._enforce`).

Column types are named from a small vocabulary: ``bool``, ``int8`` … ``int64``,
``uint8`` … ``uint64``, ``float32``, ``float64``, ``string`` and ``datetime`` (timezone-
naive, any unit). A pandas categorical of strings counts as ``string``.

Inference marks a column ``nullable`` when the example holds a null in it, except that
float columns are always nullable: NaN is a float value that XGBoost, LightGBM and
scikit-learn's histogram models read as "missing", and checking every float of every
request for NaN would cost as much as the prediction itself. Pass an explicit
:class:`Signature` with ``nullable=False`` on a float column to have NaN refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.registry._enforce import NUMERIC_DTYPES, ColumnEnforcer, TensorEnforcer, Want
from loopml.registry._tabular import (
    columns_from_records,
    describe_values,
    is_nested,
    is_polars_frame,
    shown,
)

__all__ = [
    "COLUMN_TYPES",
    "TENSOR_TYPES",
    "ColumnSpec",
    "Signature",
    "TensorSpec",
    "infer_signature",
]

COLUMN_TYPES: tuple[str, ...] = (*NUMERIC_DTYPES, "string", "datetime")
"""Every type a :class:`ColumnSpec` may name."""

TENSOR_TYPES: tuple[str, ...] = (*NUMERIC_DTYPES, "string")
"""Every element type a :class:`TensorSpec` may name."""

_POLARS_TYPES = {
    **{name.capitalize().replace("Uint", "UInt"): name for name in NUMERIC_DTYPES},
    "Boolean": "bool",
    "String": "string",
    "Utf8": "string",
    "Categorical": "string",
    "Enum": "string",
    "Datetime": "datetime",
}
_EXAMPLE_KINDS = (
    "a pandas or polars DataFrame, a dict of columns, a list of records (dicts) or a numpy array"
)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One named input column.

    Attributes:
        name: the column name.
        type: a type from :data:`COLUMN_TYPES`.
        nullable: whether the column may hold nulls (None, NaN, NaT).
    """

    name: str
    type: str
    nullable: bool = False

    def __post_init__(self) -> None:
        _check_column(self.name, self.type, self.nullable, "column")

    def to_dict(self) -> dict[str, Any]:
        """The column as a JSON-ready dict."""
        return {"name": self.name, "type": self.type, "nullable": self.nullable}

    @classmethod
    def from_dict(cls, data: object) -> ColumnSpec:
        """Read a column written by :meth:`to_dict`.

        Raises:
            InvalidInput: a field is missing or invalid; the message names it.
        """
        return _column_from(data, "column")


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An n-dimensional array of one element type.

    Attributes:
        dtype: an element type from :data:`TENSOR_TYPES`.
        shape: the size of each dimension; ``-1`` means any size (the batch dimension).
    """

    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        _check_tensor(self.dtype, self.shape, "tensor")

    def to_dict(self) -> dict[str, Any]:
        """The tensor as a JSON-ready dict."""
        return {"dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: object) -> TensorSpec:
        """Read a tensor written by :meth:`to_dict`.

        Raises:
            InvalidInput: a field is missing or invalid; the message names it.
        """
        return _tensor_from(data, "tensor")


@dataclass(frozen=True, slots=True)
class Signature:
    """What a model takes and returns; enforced on its input by :meth:`prepare`.

    Attributes:
        inputs: named columns, or one tensor for models that take plain arrays.
        outputs: the tensor ``predict`` returns, when known.

    Example:
        >>> sig = Signature((ColumnSpec("age", "int64"), ColumnSpec("city", "string")))
        >>> sig.prepare({"city": "Oslo", "age": 41}, want="frame")
           age  city
        0   41  Oslo
    """

    inputs: tuple[ColumnSpec, ...] | TensorSpec
    outputs: TensorSpec | None = None
    _enforcer: ColumnEnforcer | TensorEnforcer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.inputs, TensorSpec):
            enforcer: ColumnEnforcer | TensorEnforcer = TensorEnforcer(
                self.inputs.dtype, self.inputs.shape
            )
        else:
            object.__setattr__(self, "inputs", tuple(self.inputs))
            enforcer = _column_enforcer(self.inputs)
        object.__setattr__(self, "_enforcer", enforcer)

    @property
    def has_columns(self) -> bool:
        """Whether the inputs are named columns (rather than one tensor)."""
        return not isinstance(self.inputs, TensorSpec)

    def prepare(self, data: object, *, want: Want = "frame") -> pd.DataFrame | np.ndarray[Any, Any]:
        """Check ``data`` against the inputs and return it ready for the model.

        Columns are reordered to the signature's order and safely widened (int to float,
        int32 to int64, float32 to float64); nothing is copied when nothing changes.

        Args:
            data: a pandas or polars DataFrame, a dict of columns, a list of records, one
                record (a dict of values) or a numpy array (its columns by position).
            want: ``"frame"`` for a DataFrame, ``"array"`` for a 2-D numpy array (float64
                when all columns are numeric). Tensor signatures always give an array.

        Returns:
            The prepared input.

        Raises:
            InvalidInput: a column is missing, unexpected, of the wrong type or holds
                nulls it may not; or a tensor's dtype or shape does not fit.
        """
        return self._enforcer.prepare(data, want)

    def to_dict(self) -> dict[str, Any]:
        """The signature as a JSON-ready dict: columns as a list, a tensor as a dict."""
        inputs: Any = (
            self.inputs.to_dict()
            if isinstance(self.inputs, TensorSpec)
            else [column.to_dict() for column in self.inputs]
        )
        outputs = None if self.outputs is None else self.outputs.to_dict()
        return {"inputs": inputs, "outputs": outputs}

    @classmethod
    def from_dict(cls, data: object) -> Signature:
        """Read a signature written by :meth:`to_dict`.

        Raises:
            InvalidInput: a field is missing or invalid; the message names it.
        """
        fields = _mapping(data, "signature", ("inputs", "outputs"))
        raw_inputs = fields["inputs"]
        inputs: tuple[ColumnSpec, ...] | TensorSpec
        if isinstance(raw_inputs, list):
            inputs = tuple(_column_from(item, f"inputs[{i}]") for i, item in enumerate(raw_inputs))
        else:
            inputs = _tensor_from(raw_inputs, "inputs")
        raw_outputs = fields["outputs"]
        outputs = None if raw_outputs is None else _tensor_from(raw_outputs, "outputs")
        return cls(inputs, outputs)


def infer_signature(input_example: object, output: object = None) -> Signature:
    """Infer a signature from an example of the model's input (and, optionally, output).

    Args:
        input_example: a pandas or polars DataFrame, a dict of columns, a list of records
            or a numpy array (which gives a tensor input; a 2-D array of ``n`` columns has
            shape ``(-1, n)``).
        output: an example of what ``predict`` returns, as an array-like.

    Returns:
        The inferred signature; see the module docstring for how nulls are read.

    Raises:
        InvalidInput: the example is empty, a scalar, ragged, nested, or has a column of
            mixed or unsupported types; the message says which and why.

    Example:
        >>> infer_signature(pd.DataFrame({"age": [41, 35]})).inputs
        (ColumnSpec(name='age', type='int64', nullable=False),)
    """
    inputs = _infer_inputs(input_example)
    outputs = None if output is None else tensor_of(np.asarray(output), "output")
    return Signature(inputs, outputs)


def tensor_of(array: np.ndarray[Any, Any], what: str) -> TensorSpec:
    """The tensor spec of ``array`` with a ``-1`` batch dimension.

    Raises:
        InvalidInput: the array is a scalar, has no rows or no columns, or its dtype is
            not in :data:`TENSOR_TYPES`.
    """
    if array.ndim == 0:
        raise InvalidInput(f"The {what} is a single value; pass an array with one row per sample.")
    if 0 in array.shape:
        raise InvalidInput(
            f"The {what} has shape {array.shape}; it needs at least one row and one column."
        )
    if array.dtype.name in NUMERIC_DTYPES:
        dtype = array.dtype.name
    elif array.dtype.kind == "U" or (
        array.dtype.kind == "O" and describe_values(array.ravel()) == "string"
    ):
        dtype = "string"
    else:
        raise InvalidInput(
            f"The {what} has dtype {array.dtype}, which signatures cannot describe; use one "
            f"of: {', '.join(TENSOR_TYPES)}."
        )
    return TensorSpec(dtype, (-1, *array.shape[1:]))


def _infer_inputs(example: object) -> tuple[ColumnSpec, ...] | TensorSpec:
    if isinstance(example, np.ndarray):
        return tensor_of(example, "input example")
    if isinstance(example, pd.DataFrame):
        return _columns_of_frame(example)
    if is_polars_frame(example):
        return _columns_of_polars(example)
    if isinstance(example, Mapping) and example:
        return _columns_of_dict(example)
    if isinstance(example, list | tuple) and example:
        if all(isinstance(record, Mapping) for record in example):
            return _columns_of_dict(columns_from_records(example))
        raise InvalidInput(
            "The input example is a list that is not a list of records (dicts); pass records, "
            "or convert arrays with numpy.asarray."
        )
    if isinstance(example, Mapping | list | tuple):
        raise InvalidInput("The input example is empty; pass at least one row.")
    raise InvalidInput(
        f"Cannot infer a signature from a {type(example).__name__}; pass {_EXAMPLE_KINDS}."
    )


def _columns_of_frame(frame: pd.DataFrame) -> tuple[ColumnSpec, ...]:
    _check_frame_size(frame.shape)
    if not frame.columns.is_unique:
        duplicated = frame.columns[frame.columns.duplicated()][0]
        raise InvalidInput(f"The input example has column {duplicated!r} more than once.")
    return tuple(_column_of_series(_column_name(name), frame[name]) for name in frame.columns)


def _columns_of_dict(columns: Mapping[Any, Any]) -> tuple[ColumnSpec, ...]:
    listed = {
        key: value if isinstance(value, list | tuple | np.ndarray | pd.Series) else [value]
        for key, value in columns.items()
    }
    lengths = {len(value) for value in listed.values()}
    if len(lengths) > 1:
        raise InvalidInput(
            "The columns of the input example have different lengths "
            f"({', '.join(f'{key!r}: {len(value)}' for key, value in listed.items())})."
        )
    _check_frame_size((lengths.pop(), len(listed)))
    specs = []
    for key, values in listed.items():
        name = _column_name(key)
        if isinstance(values, np.ndarray | pd.Series) and values.dtype != object:
            specs.append(_column_of_series(name, pd.Series(values)))
        else:
            specs.append(_column_of_values(name, pd.Series(list(values), dtype=object)))
    return tuple(specs)


def _columns_of_polars(frame: Any) -> tuple[ColumnSpec, ...]:
    _check_frame_size(frame.shape)
    specs = []
    for name in frame.columns:
        series = frame.get_column(name)
        dtype = series.dtype
        kind = _POLARS_TYPES.get(type(dtype).__name__)
        if kind == "datetime" and getattr(dtype, "time_zone", None):
            raise _timezone_error(name, str(dtype))
        if kind is None:
            values = pd.Series(list(series.to_list()), dtype=object)
            specs.append(_column_of_values(_column_name(name), values))
            continue
        nullable = series.null_count() > 0 or kind.startswith("float")
        specs.append(ColumnSpec(_column_name(name), kind, nullable))
    return tuple(specs)


def _column_of_series(name: str, series: pd.Series) -> ColumnSpec:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        raise _timezone_error(name, str(dtype))
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
        if not (isinstance(dtype, pd.StringDtype) or getattr(dtype, "kind", "") == "O"):
            raise InvalidInput(
                f"Column {name!r} is a category of {dtype}; only categories of strings are "
                "supported. Convert it with .astype(...) to its values' type."
            )
        return _column_of_values(name, series.astype(object))
    if isinstance(dtype, pd.StringDtype):
        return ColumnSpec(name, "string", bool(series.isna().any()))
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)
    if isinstance(numpy_dtype, np.dtype):
        if numpy_dtype.name in NUMERIC_DTYPES:
            kind = numpy_dtype.name
            return ColumnSpec(name, kind, kind.startswith("float") or bool(series.isna().any()))
        if numpy_dtype.kind == "M":
            return ColumnSpec(name, "datetime", bool(series.isna().any()))
        if numpy_dtype.kind == "O":
            return _column_of_values(name, series)
    raise InvalidInput(
        f"Column {name!r} has dtype {dtype}, which signatures cannot describe; convert it to "
        f"one of: {', '.join(COLUMN_TYPES)}."
    )


def _column_of_values(name: str, series: pd.Series) -> ColumnSpec:
    """Infer a column's type from Python values (an object column, a list)."""
    missing = series.isna().to_numpy()
    present = series[~missing]
    if not len(present):
        raise InvalidInput(
            f"Column {name!r} holds only nulls, so its type cannot be inferred; pass an "
            "example with values or an explicit signature."
        )
    nested = next((value for value in present if is_nested(value)), None)
    if nested is not None:
        raise InvalidInput(
            f"Column {name!r} holds nested values (e.g. {shown(nested)}); signature columns "
            "hold single values, so flatten it into several columns."
        )
    kind = describe_values(present.to_numpy())
    if kind == "mixed values":
        first = present.iloc[0]
        other = next(value for value in present if type(value) is not type(first))
        raise InvalidInput(
            f"Column {name!r} mixes value types (e.g. {shown(first)} and {shown(other)}); "
            "give every value of a column the same type."
        )
    if kind not in COLUMN_TYPES:
        raise InvalidInput(
            f"Column {name!r} holds {kind} values (e.g. {shown(present.iloc[0])}), which "
            f"signatures cannot describe; convert them to one of: {', '.join(COLUMN_TYPES)}."
        )
    if kind == "datetime" and any(getattr(value, "tzinfo", None) for value in present):
        raise _timezone_error(name, "timezone-aware datetimes")
    return ColumnSpec(name, kind, bool(missing.any()) or kind == "float64")


def _check_frame_size(shape: tuple[int, int]) -> None:
    rows, columns = shape
    if rows == 0 or columns == 0:
        raise InvalidInput(
            f"The input example has {rows} rows and {columns} columns; it needs at least one "
            "of each to infer a signature."
        )


def _column_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput(
            f"Column names must be strings, got {name!r} ({type(name).__name__}); rename the "
            "columns, or pass a numpy array for a model without column names."
        )
    return name


def _timezone_error(name: str, got: str) -> InvalidInput:
    return InvalidInput(
        f"Column {name!r} holds {got}; signatures take timezone-naive datetimes, so convert "
        "it to UTC and drop the timezone (e.g. .dt.tz_convert('UTC').dt.tz_localize(None))."
    )


def _column_enforcer(columns: tuple[ColumnSpec, ...]) -> ColumnEnforcer:
    if not columns:
        raise InvalidInput("A signature needs at least one input column.")
    for column in columns:
        if not isinstance(column, ColumnSpec):
            raise InvalidInput(
                f"Signature inputs must be ColumnSpec objects or a TensorSpec, got {column!r}."
            )
    names = tuple(column.name for column in columns)
    duplicated = next((name for name in names if names.count(name) > 1), None)
    if duplicated is not None:
        raise InvalidInput(f"The signature names column {duplicated!r} more than once.")
    types = tuple(column.type for column in columns)
    return ColumnEnforcer(names, types, tuple(column.nullable for column in columns))


def _check_column(name: object, kind: object, nullable: object, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInput(
            f"Invalid signature: {where}.name must be a non-empty string, got {name!r}."
        )
    if kind not in COLUMN_TYPES:
        raise InvalidInput(
            f"Invalid signature: {where}.type of column {name!r} is {kind!r}; expected one of: "
            f"{', '.join(COLUMN_TYPES)}."
        )
    if not isinstance(nullable, bool):
        raise InvalidInput(
            f"Invalid signature: {where}.nullable must be true or false, got {nullable!r}."
        )


def _check_tensor(dtype: object, shape: Sequence[object], where: str) -> None:
    if dtype not in TENSOR_TYPES:
        raise InvalidInput(
            f"Invalid signature: {where}.dtype is {dtype!r}; expected one of: "
            f"{', '.join(TENSOR_TYPES)}."
        )
    if not shape or not all(type(d) is int and (d == -1 or d > 0) for d in shape):
        raise InvalidInput(
            f"Invalid signature: {where}.shape is {list(shape)!r}; expected a non-empty list of "
            "positive sizes, with -1 for any size."
        )


def _mapping(data: object, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"Invalid signature: {where} must be an object, got {shown(data)}.")
    missing = [key for key in keys if key not in data]
    if missing:
        raise InvalidInput(f"Invalid signature: {where} has no field {missing[0]!r}.")
    unknown = sorted(str(key) for key in data if key not in keys)
    if unknown:
        raise InvalidInput(f"Invalid signature: {where} has unknown field {unknown[0]!r}.")
    return data


def _column_from(data: object, where: str) -> ColumnSpec:
    fields = _mapping(data, where, ("name", "type", "nullable"))
    _check_column(fields["name"], fields["type"], fields["nullable"], where)
    return ColumnSpec(fields["name"], fields["type"], fields["nullable"])


def _tensor_from(data: object, where: str) -> TensorSpec:
    fields = _mapping(data, where, ("dtype", "shape"))
    shape = fields["shape"]
    if not isinstance(shape, list):
        raise InvalidInput(f"Invalid signature: {where}.shape must be a list, got {shown(shape)}.")
    _check_tensor(fields["dtype"], shape, where)
    return TensorSpec(fields["dtype"], tuple(shape))
