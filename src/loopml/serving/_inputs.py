"""JSON records in, model input out: every problem of every record named at once.

The registry's signature enforcement (:meth:`loopml.registry.Signature.prepare`) stops
at the first problem it meets, which is right for a Python caller and wrong for a REST
client that wants to fix its request in one go. An :class:`InputBuilder` is compiled
once per served version from its column signature and

* builds a batch of records into a DataFrame of exactly the signature's dtypes, column
  by column: a column whose values are all plainly of its type (one set of the value
  types) becomes one numpy array; only a column that is not takes the slow path, which
  looks at each value;
* lists, for records the model refused, every missing, unexpected, mistyped, null or
  out-of-range field with the record's index.

A single record skips the builder: the registry's one-record fast path is quicker, and
the builder only runs to explain a refusal. The rules follow the registry's: integers
(and booleans) widen to floats; a float is refused in an integer column; text is taken
for datetimes when it is ISO 8601 without a timezone; null (and NaN) only in nullable
columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.registry import ColumnSpec

__all__ = ["MAX_LISTED_ERRORS", "FieldError", "InputBuilder", "InvalidRecords"]

MAX_LISTED_ERRORS = 1000
"""The most field errors one answer lists (a huge bad batch would otherwise answer with
a body larger than the request)."""

_SHOWN_CHARS = 40
_INT_KINDS: frozenset[type] = frozenset({int, bool})
_FLOAT_KINDS: frozenset[type] = frozenset({int, float, bool})
_BOOL_KINDS: frozenset[type] = frozenset({bool})
_TEXT_KINDS: frozenset[type] = frozenset({str})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem of one record.

    Attributes:
        index: the record's position in the request (0 for a single record), or None
            for a problem of the whole request.
        field: the field concerned, or None for a problem of the whole record.
        kind: ``missing``, ``unexpected``, ``null``, ``type``, ``range`` or ``record``.
        message: what is wrong and what was expected.
    """

    index: int | None
    field: str | None
    kind: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The error as JSON values."""
        return {
            "index": self.index,
            "field": self.field,
            "kind": self.kind,
            "message": self.message,
        }


class InvalidRecords(InvalidInput):
    """Records that do not fit the model's signature; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[FieldError], total: int | None = None) -> None:
        self.errors = list(errors)
        self.total = len(self.errors) if total is None else total
        first = self.errors[0]
        where = "the request" if first.index is None else f"record {first.index}"
        where += f", field {first.field!r}" if first.field else ""
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        noun = "problem" if self.total == 1 else "problems"
        super().__init__(
            f"The input has {self.total} {noun}; {where}: {first.message}{more}. "
            "Every problem is listed in 'errors'."
        )


class InputBuilder:
    """Builds and checks model input for one column signature.

    Args:
        columns: the signature's input columns.
    """

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        self.columns = tuple(columns)
        self.names = frozenset(column.name for column in self.columns)
        self._checks = tuple(_ColumnCheck(column) for column in self.columns)

    def frame(
        self,
        records: Sequence[dict[str, Any]],
        indexes: Sequence[int],
        ignore: str | None = None,
    ) -> pd.DataFrame:
        """The records as a DataFrame of the signature's columns and dtypes.

        Args:
            records: the records (dicts of field values).
            indexes: each record's position in the request, for the error messages.
            ignore: a field records may have besides the signature's (the sticky key).

        Raises:
            InvalidRecords: listing every problem of every record.
        """
        errors = self._key_errors(records, indexes, ignore)
        arrays: dict[str, Any] = {}
        for check in self._checks:
            values = [record.get(check.name, _ABSENT) for record in records]
            array = check.fast(values)
            if array is None:
                array = check.slow(values, indexes, errors)
            arrays[check.name] = array
        if errors:
            raise _refusal(errors)
        return pd.DataFrame(arrays, copy=False)

    def errors(
        self,
        records: Sequence[dict[str, Any]],
        indexes: Sequence[int],
        ignore: str | None = None,
    ) -> list[FieldError]:
        """Every problem of ``records`` (empty when they fit the signature)."""
        try:
            self.frame(records, indexes, ignore)
        except InvalidRecords as exc:
            return exc.errors
        return []

    def _key_errors(
        self, records: Sequence[dict[str, Any]], indexes: Sequence[int], ignore: str | None
    ) -> list[FieldError]:
        errors: list[FieldError] = []
        names = self.names
        allowed = names if ignore is None else names | {ignore}
        for record, index in zip(records, indexes, strict=True):
            keys = record.keys()
            if keys in (names, allowed):
                continue
            for check in self._checks:
                if check.name not in record:
                    errors.append(
                        FieldError(index, check.name, "missing", f"missing; expected {check.kind}")
                    )
            for key in record:
                if key not in allowed:
                    errors.append(
                        FieldError(
                            index,
                            str(key),
                            "unexpected",
                            "not a field of the model's signature; expected only: "
                            + ", ".join(c.name for c in self.columns),
                        )
                    )
        return errors


class _Absent:
    """The value of a field a record lacks (reported by the key check, not per column)."""


_ABSENT = _Absent()


class _ColumnCheck:
    """Turns one column's values into an array of its type, naming each bad value."""

    def __init__(self, column: ColumnSpec) -> None:
        self.name = column.name
        self.kind = column.type
        self.nullable = column.nullable
        self.dtype: np.dtype[Any] | None = (
            None if column.type in ("string", "datetime") else np.dtype(column.type)
        )
        if self.dtype is None:
            self.accepted = _TEXT_KINDS
        elif self.dtype.kind == "b":
            self.accepted = _BOOL_KINDS
        elif self.dtype.kind == "f":
            self.accepted = _FLOAT_KINDS
        else:
            self.accepted = _INT_KINDS

    def fast(self, values: list[Any]) -> Any:
        """The column as an array when every value is plainly of its type, else None."""
        if not set(map(type, values)) <= self.accepted:
            return None
        if self.kind == "datetime":
            return _iso_datetimes(values)
        if self.dtype is None:
            return np.array(values, dtype=object)
        try:
            array = np.array(values, dtype=self.dtype)
        except OverflowError:
            return None
        if self.dtype.kind == "f" and not self.nullable and np.isnan(array).any():
            return None
        return array

    def slow(self, values: list[Any], indexes: Sequence[int], errors: list[FieldError]) -> Any:
        """The column, value by value; each bad value adds a :class:`FieldError`."""
        kept: list[Any] = []
        has_null = is_bad = False
        for value, index in zip(values, indexes, strict=True):
            problem = None if isinstance(value, _Absent) else self._problem(value)
            if problem is not None:
                errors.append(FieldError(index, self.name, problem[0], problem[1]))
            is_bad = is_bad or problem is not None or isinstance(value, _Absent)
            has_null = has_null or _is_null(value)
            kept.append(value)
        return None if is_bad else self._array(kept, has_null)

    def _problem(self, value: object) -> tuple[str, str] | None:
        if _is_null(value):
            if self.nullable:
                return None
            what = "NaN" if value is not None else "null"
            return (
                "null",
                f"{what} is not allowed; expected {self.kind} (the column is not nullable)",
            )
        if type(value) not in self.accepted:
            return "type", f"expected {self.kind}, got {_type_name(value)} {_shown(value)}"
        if self.dtype is not None and self.dtype.kind in "iu" and not _fits(value, self.dtype):
            limits = np.iinfo(self.dtype)
            return (
                "range",
                f"{_shown(value)} is out of range for {self.kind} ({limits.min} to {limits.max})",
            )
        if self.kind == "datetime":
            return _datetime_problem(str(value))
        return None

    def _array(self, values: list[Any], has_null: bool) -> Any:
        if self.kind == "datetime":
            return _datetimes(values)
        if self.dtype is None:
            return np.array(values, dtype=object)
        if self.dtype.kind == "f" or (has_null and self.dtype.kind in "iu"):
            # Nullable integers travel as float64 with NaN, which the registry accepts.
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if has_null:
            return np.array(values, dtype=object)
        return np.array([0 if v is None else v for v in values], dtype=self.dtype)


def _refusal(errors: list[FieldError]) -> InvalidRecords:
    ordered = sorted(errors, key=lambda e: -1 if e.index is None else e.index)
    return InvalidRecords(ordered[:MAX_LISTED_ERRORS], total=len(ordered))


def _is_null(value: object) -> bool:
    return value is None or (type(value) is float and math.isnan(value))


def _fits(value: object, dtype: np.dtype[Any]) -> bool:
    limits = np.iinfo(dtype)
    return bool(limits.min <= int(value) <= limits.max)  # type: ignore[call-overload]


def _iso_datetimes(texts: list[Any]) -> Any:
    """ISO 8601 texts as datetime64 values, or None when one is not that (or has a
    timezone): the slow path then names it."""
    try:
        parsed = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return None
    return parsed.to_numpy()


def _datetime_problem(text: str) -> tuple[str, str] | None:
    try:
        stamp = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return "type", f"expected an ISO 8601 datetime, got {_shown(text)}"
    if stamp.tzinfo is not None:
        return (
            "type",
            f"{_shown(text)} has a timezone; send the UTC time without one "
            "(e.g. '2024-05-01T12:00:00')",
        )
    return None


def _datetimes(values: list[Any]) -> Any:
    """Checked ISO 8601 texts and nulls as datetime64 values (nulls as NaT)."""
    return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").to_numpy()


def _type_name(value: object) -> str:
    names = {str: "text", bool: "a boolean", int: "an integer", float: "a number"}
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
