"""Checks over the table as a whole: row count, freshness, and custom predicates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._checks_columns import require_column_name
from loopml.data._checks_durations import format_duration
from loopml.data._checks_result import CheckResult
from loopml.data._checks_table import CheckTable, Mask, plain, rows_result, to_mask
from loopml.errors import InvalidInput

__all__ = ["Custom", "FresherThan", "Predicate", "RowCount"]

Predicate = Callable[[pd.DataFrame], Any]
"""``fn(frame)`` returning one bool per row (Series, array) or one bool for the table."""


@dataclass(frozen=True, slots=True)
class RowCount:
    """The table has between ``min`` and ``max`` rows (inclusive; either may be open)."""

    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        for label, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int) or bound < 0
            ):
                raise InvalidInput(
                    f"row_count: {label} must be a whole number of rows (0 or more), got {bound!r}."
                )
        if self.min is None and self.max is None:
            raise InvalidInput("row_count needs min, max or both.")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidInput(f"row_count: min {self.min} is above max {self.max}.")

    @property
    def name(self) -> str:
        bounds = [f"{k}={v}" for k, v in (("min", self.min), ("max", self.max)) if v is not None]
        return f"row_count({', '.join(bounds)})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        rows = table.rows
        if self.min is not None and self.max is not None:
            expected = f"between {self.min:,} and {self.max:,}"
        elif self.min is not None:
            expected = f"at least {self.min:,}"
        else:
            expected = f"at most {self.max:,}"
        message = f"table has {rows:,} {'row' if rows == 1 else 'rows'}; expected {expected}"
        if self.min is not None and rows < self.min:
            return CheckResult(self.name, False, 0, f"{message} ({self.min - rows:,} too few)")
        if self.max is not None and rows > self.max:
            return CheckResult(self.name, False, 0, f"{message} ({rows - self.max:,} too many)")
        return CheckResult(self.name, True, 0, message)

    def to_spec(self) -> dict[str, Any]:
        return {
            "row_count": {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
        }


@dataclass(frozen=True, slots=True)
class FresherThan:
    """The newest timestamp in ``column`` is at most ``max_age`` old.

    Naive timestamps are read as UTC; a date column counts from the start of its newest day.
    ``now`` defaults to the run's clock (``Checks.run(table, now=...)``, else the current time).
    """

    column: str
    max_age: timedelta
    now: datetime | None = None

    def __post_init__(self) -> None:
        require_column_name("fresher_than", self.column)
        if not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0):
            raise InvalidInput(
                f"fresher_than({self.column}): max_age must be a positive duration, "
                f"got {self.max_age!r}."
            )
        if self.now is not None and not isinstance(self.now, datetime):
            raise InvalidInput(
                f"fresher_than({self.column}): now must be a datetime, got {self.now!r}."
            )

    @property
    def name(self) -> str:
        return f"fresher_than({self.column}, {format_duration(self.max_age)})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        column = plain(table.column(self.column))
        if not (pa.types.is_timestamp(column.type) or pa.types.is_date(column.type)):
            return CheckResult(
                self.name,
                False,
                0,
                f"fresher_than needs a timestamp or date column; {self.column} is "
                f"{table.type_name(self.column)}",
            )
        newest = _newest(column)
        if newest is None:
            return CheckResult(self.name, False, 0, f"{self.column} has no timestamps")
        now = _utc(self.now or table.now)
        age = timedelta(seconds=round((now - newest).total_seconds()))
        allowed = f"at most {format_duration(self.max_age)} allowed"
        if age < timedelta(0):
            when = f"{format_duration(-age)} after now"
        else:
            when = f"{format_duration(age)} old"
        message = f"newest {self.column} is {newest.isoformat()}, {when}; {allowed}"
        return CheckResult(self.name, age <= self.max_age, 0, message)

    def to_spec(self) -> dict[str, Any]:
        return {"fresher_than": {"column": self.column, "max_age": format_duration(self.max_age)}}


def _newest(column: pa.ChunkedArray) -> datetime | None:
    newest = pc.max(column)
    if not newest.is_valid:
        return None
    if pa.types.is_timestamp(column.type):
        # as_py on nanosecond timestamps gives pandas objects; microseconds give datetime
        value = newest.cast(pa.timestamp("us", tz=column.type.tz), safe=False).as_py()
        return _utc(value)
    day: date = newest.as_py()
    return datetime.combine(day, time(), UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Custom:
    """Rows (or the whole table) pass ``fn``, which receives the table as pandas.

    ``ref`` is ``(module, function)`` when the check came from a file, written back by
    :meth:`to_spec`; otherwise it is found from ``fn`` itself.
    """

    label: str
    fn: Predicate
    ref: tuple[str, str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise InvalidInput(f"custom: name must be a non-empty string, got {self.label!r}.")
        if not callable(self.fn):
            raise InvalidInput(f"custom({self.label}): fn must be callable, got {self.fn!r}.")

    @property
    def name(self) -> str:
        return f"custom({self.label})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        try:
            verdict = self.fn(table.pandas())
        except Exception as exc:  # the user's code: any failure fails this check only
            message = f"{self.label} raised {type(exc).__name__}: {exc}"
            return CheckResult(self.name, False, 0, message)
        if isinstance(verdict, bool | np.bool_):
            outcome = "passes" if verdict else "fails"
            return CheckResult(self.name, bool(verdict), 0, f"the table {outcome} {self.label}")
        passing = _row_verdicts(verdict)
        if passing is None or len(passing) != table.rows:
            got = type(verdict).__name__ if passing is None else f"{len(passing):,} values"
            return CheckResult(
                self.name,
                False,
                0,
                f"{self.label} returned {got} for {table.rows:,} rows; return one bool for "
                "the table or a boolean Series/array with one value per row",
            )
        return rows_result(self.name, table, ~passing, f"fail {self.label}")

    def to_spec(self) -> dict[str, Any]:
        module, function = self.ref or _reference(self.label, self.fn)
        return {"custom": {"name": self.label, "module": module, "function": function}}


def _row_verdicts(verdict: object) -> Mask | None:
    """Per-row booleans from a predicate's result (missing counts as failing), or None."""
    if isinstance(verdict, pa.Array | pa.ChunkedArray):
        return to_mask(verdict) if pa.types.is_boolean(verdict.type) else None
    if isinstance(verdict, pd.Series):
        if verdict.dtype == bool or str(verdict.dtype) == "boolean":
            return np.asarray(verdict.to_numpy(dtype=bool, na_value=False), dtype=np.bool_)
        return None
    if isinstance(verdict, np.ndarray | list):
        array = np.asarray(verdict)
        return array.astype(np.bool_) if array.dtype == np.bool_ and array.ndim == 1 else None
    return None


def _reference(label: str, fn: Predicate) -> tuple[str, str]:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise InvalidInput(
            f"custom({label}) cannot be written to YAML: {fn!r} is not a function importable "
            "by name; define it at the top level of a module."
        )
    return module, qualname
