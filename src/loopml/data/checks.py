"""Data checks: expectations over a table, written in code or YAML, run before training.

A :class:`Checks` suite runs each check on a pandas DataFrame, a polars DataFrame or a
pyarrow Table and returns a :class:`CheckReport`; a failing check never stops the others,
and a check on a missing column fails with a message instead of crashing the run. Checks
work on pyarrow arrays (a million rows take milliseconds per check); only ``custom``
predicates see pandas.

Missing values (null, and NaN in float columns) are judged only by ``not_null`` and
``max_null_share``: every other per-row check skips them.

Example:
    >>> from loopml.data.checks import Checks, in_range, not_null
    >>> suite = Checks([not_null("age"), in_range("age", min=0, max=120)], name="churn")
    >>> report = suite.run(frame)  # doctest: +SKIP
    >>> report.raise_for_failures()  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopml.data._checks_columns import (
    Bound,
    InRange,
    InSet,
    Matches,
    MaxNullShare,
    NotNull,
    Scalar,
    Unique,
)
from loopml.data._checks_durations import parse_duration
from loopml.data._checks_result import CheckReport, CheckResult
from loopml.data._checks_schema import Columns, SchemaMatches, parse_schema
from loopml.data._checks_table import Check, CheckTable, ColumnProblem
from loopml.data._checks_table_level import Custom, FresherThan, Predicate, RowCount
from loopml.data._checks_yaml import SchemaResolver, dump_checks, parse_checks
from loopml.errors import InvalidInput, NotFound

__all__ = [
    "Check",
    "CheckReport",
    "CheckResult",
    "Checks",
    "SchemaResolver",
    "columns",
    "custom",
    "fresher_than",
    "in_range",
    "in_set",
    "load_checks",
    "matches",
    "max_null_share",
    "not_null",
    "parse_duration",
    "row_count",
    "schema_matches",
    "unique",
]


@dataclass(frozen=True, slots=True, init=False)
class Checks:
    """A named suite of checks, run together on one table.

    Args:
        checks: the checks, in the order they run and are reported.
        name: the suite's name, shown in reports and errors.

    Example:
        >>> suite = Checks([not_null("age"), unique("customer_id")], name="churn-input")
        >>> suite.run(frame).passed  # doctest: +SKIP
        True
    """

    checks: tuple[Check, ...]
    name: str

    def __init__(self, checks: Iterable[Check], name: str = "") -> None:
        items = tuple(checks)
        for item in items:
            if not callable(getattr(item, "evaluate", None)):
                raise TypeError(
                    f"Checks holds checks made by loopml.data.checks (not_null, ...); got {item!r}."
                )
        object.__setattr__(self, "checks", items)
        object.__setattr__(self, "name", name)

    def __len__(self) -> int:
        return len(self.checks)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def run(self, table: object, *, now: datetime | None = None) -> CheckReport:
        """Run every check on ``table``.

        Args:
            table: a pandas DataFrame, a polars DataFrame or a pyarrow Table.
            now: the time ``fresher_than`` checks measure against, unless they were given
                their own (default: the current UTC time).

        Returns:
            One result per check; ``passed`` only if all passed.

        Raises:
            TypeError: if ``table`` is not one of the supported kinds.
            InvalidInput: if a pandas DataFrame repeats a column name.
        """
        data = CheckTable(table, now=now)
        results = [_evaluate(check, data) for check in self.checks]
        return CheckReport(all(r.passed for r in results), data.rows, results, self.name)

    def to_yaml(self) -> str:
        """This suite as YAML that :func:`load_checks` reads back.

        Raises:
            InvalidInput: if a custom check wraps a function that cannot be named in YAML
                (a lambda, a nested function, or one defined in ``__main__``).
        """
        return dump_checks(self.name, list(self.checks))


def _evaluate(check: Check, table: CheckTable) -> CheckResult:
    try:
        return check.evaluate(table)
    except ColumnProblem as exc:
        return CheckResult(check.name, False, 0, str(exc))


def load_checks(
    path_or_text: str | os.PathLike[str], *, resolve_schema: SchemaResolver | None = None
) -> Checks:
    """Load a suite of checks from a YAML file or YAML text.

    Args:
        path_or_text: a path (a :class:`~pathlib.Path`, or a one-line string ending in
            ``.yaml``/``.yml``) or the YAML text itself.
        resolve_schema: returns the recorded schema of a dataset version such as
            ``churn@v3``; needed only by ``schema_matches: NAME@vN`` entries.

    Returns:
        The suite, named by the file's ``name`` key.

    Raises:
        NotFound: if the path does not exist.
        InvalidInput: for malformed YAML (with its line), an unknown check (with its
            position ``checks[i]`` and the closest known name), a field of the wrong type,
            or ``schema_matches: NAME@vN`` without ``resolve_schema``.

    Example:
        >>> suite = load_checks("checks/churn.yaml")  # doctest: +SKIP
        >>> suite.run(frame).raise_for_failures()  # doctest: +SKIP
    """
    source = ""
    text = os.fspath(path_or_text)
    is_path = isinstance(path_or_text, os.PathLike) or (
        "\n" not in text and text.strip().endswith((".yaml", ".yml"))
    )
    if is_path:
        path = Path(text)
        if not path.is_file():
            raise NotFound(f"Checks file {str(path)!r} does not exist.")
        source, text = str(path), path.read_text(encoding="utf-8")
    name, checks = parse_checks(text, source=source, resolve_schema=resolve_schema)
    return Checks(checks, name=name)


def columns(spec: Mapping[str, str]) -> Check:
    """The table has these columns with these types.

    Args:
        spec: column name → type: a pyarrow type string (``int64``, ``double``,
            ``large_string``, ``timestamp[us, tz=UTC]``) or a loose family (``int``,
            ``float``, ``numeric``, ``string``, ``bool``, ``timestamp``, ``date``, ...).

    Raises:
        InvalidInput: if ``spec`` is empty or names an unknown type.

    Example:
        >>> columns({"age": "int64", "plan": "string"}).name
        'columns(age, plan)'
    """
    return Columns(tuple(spec.items()))


def not_null(column: str) -> Check:
    """Every row has a value in ``column`` (no null, no NaN).

    Example:
        >>> not_null("age").name
        'not_null(age)'
    """
    return NotNull(column)


def unique(columns: str | Sequence[str]) -> Check:
    """No two rows share a value of ``columns`` (one name, or several forming a key).

    Rows missing a value in any key column are not compared; add ``not_null`` for them.

    Example:
        >>> unique(["customer_id", "day"]).name
        'unique(customer_id, day)'
    """
    return Unique((columns,) if isinstance(columns, str) else tuple(columns))


def in_range(column: str, min: Bound | None = None, max: Bound | None = None) -> Check:
    """Every value of ``column`` lies within ``[min, max]``, bounds inclusive.

    Args:
        column: a numeric column, or a date/timestamp column when the bounds are dates.
        min: the lowest allowed value (``None``: no lower bound).
        max: the highest allowed value (``None``: no upper bound).

    Raises:
        InvalidInput: if neither bound is given, a bound is not a number or date, or
            ``min > max``.

    Example:
        >>> in_range("age", min=0, max=120).name
        'in_range(age, min=0, max=120)'
    """
    return InRange(column, min, max)


def in_set(column: str, values: Iterable[Scalar]) -> Check:
    """Every value of ``column`` is one of ``values``.

    Example:
        >>> in_set("plan", ["free", "pro", "team"]).name
        'in_set(plan)'
    """
    return InSet(column, tuple(values))


def matches(column: str, regex: str) -> Check:
    """Every value of string column ``column`` contains a match of ``regex``.

    The search is :func:`re.search`-like; anchor with ``^...$`` to match whole values.

    Example:
        >>> matches("email", r"^[^@]+@[^@]+$").name
        'matches(email)'
    """
    return Matches(column, regex)


def row_count(min: int | None = None, max: int | None = None) -> Check:
    """The table has at least ``min`` and at most ``max`` rows.

    Example:
        >>> row_count(min=1000).name
        'row_count(min=1000)'
    """
    return RowCount(min, max)


def fresher_than(column: str, max_age: timedelta | str, now: datetime | None = None) -> Check:
    """The newest timestamp in ``column`` is at most ``max_age`` old.

    Args:
        column: a timestamp column (naive values are read as UTC) or a date column.
        max_age: a duration, or its text such as ``"7d"``, ``"12h"``, ``"30m"``.
        now: the time to measure against (default: the run's ``now``, else the current time).

    Example:
        >>> fresher_than("signup_at", "7d").name
        'fresher_than(signup_at, 7d)'
    """
    age = parse_duration(max_age) if isinstance(max_age, str) else max_age
    return FresherThan(column, age, now)


def max_null_share(column: str, share: float) -> Check:
    """At most ``share`` (from 0 to 1) of the rows miss a value in ``column``.

    Example:
        >>> max_null_share("income", 0.05).name
        'max_null_share(income, 0.05)'
    """
    return MaxNullShare(column, share)


def custom(name: str, fn: Predicate) -> Check:
    """Rows pass a predicate of your own, given the whole table as a pandas DataFrame.

    Args:
        name: the check's name in reports.
        fn: returns a boolean Series or array marking the passing rows (missing values
            fail), or one bool for the whole table. An exception fails the check.

    Example:
        >>> check = custom("positive_income", lambda df: df["income"] > 0)
        >>> check.name
        'custom(positive_income)'
    """
    return Custom(name, fn)


def schema_matches(schema: Mapping[str, Any], *, ref: str | None = None) -> Check:
    """The table has exactly the columns and types of a recorded schema.

    Args:
        schema: ``{"columns": [{"name", "type", "nullable"}, ...]}``, as a dataset version
            records it. String encodings (``string``/``large_string``) and dictionary
            columns compare by their values' type.
        ref: the dataset version the schema belongs to, e.g. ``"churn@v3"``.

    Raises:
        InvalidInput: if ``schema`` is not of that shape.

    Example:
        >>> schema_matches({"columns": [{"name": "age", "type": "int64"}]}).name
        'schema_matches(1 columns)'
    """
    if ref is not None and not isinstance(ref, str):
        raise InvalidInput(f"schema_matches: ref must be a string like 'churn@v3', got {ref!r}.")
    return SchemaMatches(parse_schema(schema), ref)
