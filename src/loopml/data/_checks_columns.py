"""Checks on the values of one column (or a key of columns), row by row, vectorised.

Missing values (null, and NaN in float columns) are judged only by ``not_null`` and
``max_null_share``; every other check here skips them, so one gap is reported once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._checks_result import CheckResult
from loopml.data._checks_table import (
    CheckTable,
    Mask,
    format_value,
    missing_mask,
    plain,
    rows_result,
    to_mask,
)
from loopml.errors import InvalidInput

__all__ = [
    "Bound",
    "InRange",
    "InSet",
    "Matches",
    "MaxNullShare",
    "NotNull",
    "Scalar",
    "Unique",
    "require_column_name",
]

Bound = int | float | date | datetime
"""An ``in_range`` limit: a number, or a date/datetime for temporal columns."""

Scalar = str | int | float | bool | date | datetime
"""An ``in_set`` member."""


def require_column_name(check: str, column: object) -> None:
    """Refuse a column name that is not a non-empty string.

    Raises:
        InvalidInput: naming the check and the value given.
    """
    if not isinstance(column, str) or not column:
        raise InvalidInput(f"{check}: column must be a non-empty string, got {column!r}.")


@dataclass(frozen=True, slots=True)
class NotNull:
    """Every row has a value in ``column`` (no null, no NaN)."""

    column: str

    def __post_init__(self) -> None:
        require_column_name("not_null", self.column)

    @property
    def name(self) -> str:
        return f"not_null({self.column})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        failing = missing_mask(table.column(self.column))
        return rows_result(self.name, table, failing, f"are missing {self.column}", [self.column])

    def to_spec(self) -> dict[str, Any]:
        return {"not_null": self.column}


@dataclass(frozen=True, slots=True)
class Unique:
    """No two rows share a value of ``columns`` (rows missing any key column are skipped)."""

    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise InvalidInput("unique: name at least one column.")
        for column in self.columns:
            require_column_name("unique", column)

    @property
    def name(self) -> str:
        return f"unique({', '.join(self.columns)})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        arrays = [plain(table.column(column)) for column in self.columns]
        failing, repeated = _duplicates(arrays, table.rows)
        key = self.columns[0] if len(self.columns) == 1 else f"({', '.join(self.columns)})"
        what = f"have a duplicate {key}"
        if repeated:
            what += f" ({repeated:,} {'value appears' if repeated == 1 else 'values appear'} more than once)"
        return rows_result(self.name, table, failing, what, self.columns)

    def to_spec(self) -> dict[str, Any]:
        return {"unique": self.columns[0] if len(self.columns) == 1 else list(self.columns)}


def _duplicates(arrays: list[pa.ChunkedArray], rows: int) -> tuple[Mask, int]:
    """Rows whose key occurs more than once, and how many distinct keys do."""
    valid = np.ones(rows, dtype=np.bool_)
    codes = np.zeros(rows, dtype=np.int64)
    for position, array in enumerate(arrays):
        valid &= ~missing_mask(array)
        encoded = pc.dictionary_encode(array.combine_chunks())
        column_codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
        codes = codes * max(len(encoded.dictionary), 1) + column_codes
        if position > 0:
            # re-number the combined key densely so the next product cannot overflow
            codes = np.unique(codes, return_inverse=True)[1].reshape(-1)
    if not valid.any():
        return np.zeros(rows, dtype=np.bool_), 0
    counts = np.bincount(codes[valid], minlength=int(codes.max()) + 1)
    return valid & (counts[codes] > 1), int(np.count_nonzero(counts > 1))


@dataclass(frozen=True, slots=True)
class InRange:
    """Every value of ``column`` lies within ``[min, max]`` (bounds inclusive, either open)."""

    column: str
    min: Bound | None = None
    max: Bound | None = None

    def __post_init__(self) -> None:
        require_column_name("in_range", self.column)
        if self.min is None and self.max is None:
            raise InvalidInput(f"in_range({self.column}) needs min, max or both.")
        for label, bound in (("min", self.min), ("max", self.max)):
            if bound is None:
                continue
            if isinstance(bound, bool) or not isinstance(bound, int | float | date):
                raise InvalidInput(
                    f"in_range({self.column}): {label} must be a number or a date, "
                    f"got {bound!r} ({type(bound).__name__})."
                )
            if isinstance(bound, float) and math.isnan(bound):
                raise InvalidInput(f"in_range({self.column}): {label} must not be NaN.")
        if self.min is not None and self.max is not None:
            if isinstance(self.min, date) != isinstance(self.max, date):
                raise InvalidInput(
                    f"in_range({self.column}): min and max must both be numbers or both dates."
                )
            if _as_comparable(self.min) > _as_comparable(self.max):
                raise InvalidInput(
                    f"in_range({self.column}): min {self.min!r} is above max {self.max!r}."
                )

    @property
    def name(self) -> str:
        bounds = [f"{k}={format_value(v)}" for k, v in self._bounds().items()]
        return f"in_range({', '.join([self.column, *bounds])})"

    def _bounds(self) -> dict[str, Bound]:
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}

    def evaluate(self, table: CheckTable) -> CheckResult:
        column = plain(table.column(self.column))
        kind = column.type
        if isinstance(next(iter(self._bounds().values())), date):
            usable, wanted = pa.types.is_timestamp(kind) or pa.types.is_date(kind), "a date"
        else:
            usable = pa.types.is_integer(kind) or pa.types.is_floating(kind)
            usable, wanted = usable or pa.types.is_decimal(kind), "a numeric"
        if not usable:
            return CheckResult(
                self.name,
                False,
                0,
                f"in_range needs {wanted} column; {self.column} is {table.type_name(self.column)}",
            )
        failing = np.zeros(table.rows, dtype=np.bool_)
        if self.min is not None:
            failing |= to_mask(pc.less(column, _scalar(self.min, kind)))
        if self.max is not None:
            failing |= to_mask(pc.greater(column, _scalar(self.max, kind)))
        return rows_result(
            self.name, table, failing, f"have {self.column} {self._outside()}", [self.column]
        )

    def _outside(self) -> str:
        if self.min is None:
            return f"above {format_value(self.max)}"
        if self.max is None:
            return f"below {format_value(self.min)}"
        return f"outside [{format_value(self.min)}, {format_value(self.max)}]"

    def to_spec(self) -> dict[str, Any]:
        return {"in_range": {"column": self.column, **self._bounds()}}


def _as_comparable(bound: Bound) -> Any:
    if isinstance(bound, datetime):
        return bound if bound.tzinfo else bound.replace(tzinfo=UTC)
    if isinstance(bound, date):
        return datetime.combine(bound, time(), UTC)
    return bound


def _scalar(bound: Bound, kind: pa.DataType) -> pa.Scalar:
    """``bound`` as a pyarrow scalar comparable with a column of type ``kind``."""
    if not isinstance(bound, date):
        return pa.scalar(bound)
    if pa.types.is_date(kind):
        return pa.scalar(bound.date() if isinstance(bound, datetime) else bound, type=kind)
    moment = _as_comparable(bound)
    # naive timestamp columns are read as UTC, the convention of the whole package
    return pa.scalar(moment if kind.tz else moment.astimezone(UTC).replace(tzinfo=None), type=kind)


@dataclass(frozen=True, slots=True)
class InSet:
    """Every value of ``column`` is one of ``values``."""

    column: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        require_column_name("in_set", self.column)
        if not self.values:
            raise InvalidInput(f"in_set({self.column}): values must list at least one value.")
        try:
            pa.array(list(self.values))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"in_set({self.column}): values must all be of one kind (all strings, all "
                f"numbers, ...); got {list(self.values)!r}."
            ) from exc

    @property
    def name(self) -> str:
        return f"in_set({self.column})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        column = plain(table.column(self.column))
        try:
            value_set = pa.array(list(self.values)).cast(column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return CheckResult(
                self.name,
                False,
                0,
                f"values {self._shown()} cannot be compared with {self.column} "
                f"({table.type_name(self.column)})",
            )
        outside = ~to_mask(pc.is_in(column, value_set=value_set)) & ~missing_mask(column)
        what = f"have {self.column} not in {self._shown()}"
        return rows_result(self.name, table, outside, what, [self.column])

    def _shown(self) -> str:
        shown = ", ".join(format_value(v) for v in self.values[:10])
        return "{" + shown + (", ..." if len(self.values) > 10 else "") + "}"

    def to_spec(self) -> dict[str, Any]:
        return {"in_set": {"column": self.column, "values": list(self.values)}}


@dataclass(frozen=True, slots=True)
class Matches:
    """Every value of string column ``column`` contains a match of ``regex`` (``re.search``).

    Anchor the pattern (``^...$``) to require the whole value to match.
    """

    column: str
    regex: str

    def __post_init__(self) -> None:
        require_column_name("matches", self.column)
        if not isinstance(self.regex, str):
            raise InvalidInput(
                f"matches({self.column}): regex must be a string, got {self.regex!r}."
            )
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise InvalidInput(
                f"matches({self.column}): invalid regex {self.regex!r}: {exc}."
            ) from exc

    @property
    def name(self) -> str:
        return f"matches({self.column})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        column = plain(table.column(self.column))
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return CheckResult(
                self.name,
                False,
                0,
                f"matches needs a string column; {self.column} is {table.type_name(self.column)}",
            )
        try:
            matched = to_mask(pc.match_substring_regex(column, self.regex))
        except pa.ArrowInvalid:
            matched = self._match_with_python(column)
        failing = ~matched & ~missing_mask(column)
        what = f"have {self.column} not matching {self.regex!r}"
        return rows_result(self.name, table, failing, what, [self.column])

    def _match_with_python(self, column: pa.ChunkedArray) -> Mask:
        # Arrow's RE2 lacks look-arounds and back-references; Python's re judges each
        # distinct value once instead.
        encoded = pc.dictionary_encode(column.combine_chunks())
        pattern = re.compile(self.regex)
        values = encoded.dictionary.to_pylist()
        verdicts = np.array([pattern.search(v) is not None for v in values], dtype=np.bool_)
        if len(verdicts) == 0:
            return np.zeros(len(column), dtype=np.bool_)
        codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
        return np.asarray(verdicts[codes], dtype=np.bool_)

    def to_spec(self) -> dict[str, Any]:
        return {"matches": {"column": self.column, "regex": self.regex}}


@dataclass(frozen=True, slots=True)
class MaxNullShare:
    """At most ``share`` (0 to 1) of the rows miss a value in ``column``."""

    column: str
    share: float

    def __post_init__(self) -> None:
        require_column_name("max_null_share", self.column)
        valid = isinstance(self.share, int | float) and not isinstance(self.share, bool)
        if not valid or not 0 <= self.share <= 1:
            raise InvalidInput(
                f"max_null_share({self.column}): share must be a number from 0 to 1, "
                f"got {self.share!r}."
            )

    @property
    def name(self) -> str:
        return f"max_null_share({self.column}, {self.share:g})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        missing = missing_mask(table.column(self.column))
        count = int(np.count_nonzero(missing))
        observed = count / table.rows if table.rows else 0.0
        passed = observed <= self.share
        message = (
            f"{_percent(observed)} of rows ({count:,} of {table.rows:,}) are missing "
            f"{self.column}; at most {_percent(self.share)} may be"
        )
        examples = [] if passed else table.examples(missing, [self.column])
        return CheckResult(self.name, passed, 0 if passed else count, message, examples)

    def to_spec(self) -> dict[str, Any]:
        return {"max_null_share": {"column": self.column, "share": self.share}}


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"
