"""The table a check looks at: any supported input, seen once as a pyarrow Table.

Checks work on pyarrow arrays and numpy masks so a million rows cost milliseconds; only
``custom`` checks see pandas, converted once per run and only when asked for.
"""

from __future__ import annotations

import base64
import difflib
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data._checks_result import CheckResult, JsonValue
from loopml.errors import InvalidInput

__all__ = [
    "MAX_EXAMPLES",
    "Check",
    "CheckTable",
    "ColumnProblem",
    "Mask",
    "format_value",
    "json_value",
    "missing_mask",
    "plain",
    "rows_result",
    "to_mask",
]

MAX_EXAMPLES = 5
_MAX_EXAMPLE_COLUMNS = 20

Mask = npt.NDArray[np.bool_]
"""One boolean per row; ``True`` marks a row that breaks the check."""


class ColumnProblem(Exception):
    """A check's column is missing or unusable; the run turns it into a failed result."""


class Check(Protocol):
    """What :class:`~loopml.data.checks.Checks` needs of a check."""

    @property
    def name(self) -> str:
        """The check as shown in reports, e.g. ``not_null(age)``."""
        ...

    def evaluate(self, table: CheckTable) -> CheckResult:
        """Judge ``table``; raise :class:`ColumnProblem` for a missing or unusable column."""
        ...

    def to_spec(self) -> dict[str, Any]:
        """The check as one entry of a YAML ``checks:`` list."""
        ...


class CheckTable:
    """One input table, converted to pyarrow once and shared by every check of a run.

    Args:
        table: a pandas DataFrame, a polars DataFrame, a pyarrow Table or RecordBatch.
        now: the time freshness is measured against (default: the current UTC time).

    Raises:
        TypeError: if ``table`` is none of the supported kinds.
        InvalidInput: if a pandas DataFrame repeats a column name.
    """

    def __init__(self, table: object, now: datetime | None = None) -> None:
        self.now = now if now is not None else datetime.now(UTC)
        self._pandas: pd.DataFrame | None = None
        self.unusable: dict[str, str] = {}
        if isinstance(table, pa.Table):
            self.arrow = table
        elif isinstance(table, pa.RecordBatch):
            self.arrow = pa.Table.from_batches([table])
        elif isinstance(table, pd.DataFrame):
            self._pandas = table
            self.arrow = self._from_pandas(table)
        elif type(table).__module__.split(".")[0] == "polars" and hasattr(table, "to_arrow"):
            # polars is optional: recognised by its module so it is never imported here
            self.arrow = table.to_arrow()
        else:
            raise TypeError(
                "Data checks run on a pandas DataFrame, a polars DataFrame or a pyarrow "
                f"Table; got {type(table).__module__}.{type(table).__qualname__}."
            )
        self.rows: int = self.arrow.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        """The column ``name``.

        Raises:
            ColumnProblem: if the table has no such column or its values mix types.
        """
        if name in self.unusable:
            raise ColumnProblem(f"column {name!r} cannot be checked: {self.unusable[name]}")
        if name not in self.arrow.column_names:
            raise ColumnProblem(f"column {name!r} is missing{self.suggest(name)}")
        return self.arrow.column(name)

    def suggest(self, name: str) -> str:
        """``"; did you mean 'x'?"`` for the closest existing column, or a list of them."""
        names = self.arrow.column_names
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]!r}?"
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f" (the table has: {shown})" if names else " (the table has no columns)"

    def type_name(self, name: str) -> str:
        """How the type of column ``name`` is shown in messages."""
        if name in self.unusable:
            return "mixed"
        return str(self.arrow.schema.field(name).type)

    def pandas(self) -> pd.DataFrame:
        """The table as pandas (the original frame when the input was pandas)."""
        if self._pandas is None:
            self._pandas = self.arrow.to_pandas()
        return self._pandas

    def examples(self, rows: Mask, first: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Up to five rows marked in ``rows``: the ``first`` columns, then the others."""
        positions = np.flatnonzero(rows)[:MAX_EXAMPLES]
        if len(positions) == 0:
            return []
        shown = [name for name in first if name in self.arrow.column_names]
        shown += [name for name in self.arrow.column_names if name not in shown]
        taken = self.arrow.select(shown[:_MAX_EXAMPLE_COLUMNS]).take(pa.array(positions))
        return [
            {"row": int(position), "values": {k: json_value(v) for k, v in record.items()}}
            for position, record in zip(positions, taken.to_pylist(), strict=True)
        ]

    def _from_pandas(self, frame: pd.DataFrame) -> pa.Table:
        names = [str(name) for name in frame.columns]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise InvalidInput(
                f"The DataFrame repeats column names ({', '.join(duplicated)}); data checks "
                "need each column name once."
            )
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
        # Some column mixes Python types: keep it as text so other checks still run, and
        # let every check that names it fail with the reason.
        arrays = []
        for position, name in enumerate(names):
            series = frame.iloc[:, position]
            try:
                arrays.append(pa.array(series, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                kinds = sorted({type(v).__name__ for v in series.dropna().iloc[:10_000]})
                self.unusable[name] = f"its values mix Python types ({', '.join(kinds)})"
                arrays.append(pa.array(series.astype(str)))
        return pa.Table.from_arrays(arrays, names=names)


def plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` with dictionary encoding (pandas categoricals) and string views undone."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string_view(column.type):
        column = column.cast(pa.large_string())
    return column


def missing_mask(column: pa.ChunkedArray) -> Mask:
    """Rows of ``column`` holding null or, in float columns, NaN."""
    return to_mask(pc.is_null(column, nan_is_null=True))


def to_mask(flags: pa.ChunkedArray | pa.Array) -> Mask:
    """A pyarrow boolean array as a numpy mask, nulls counting as ``False``."""
    filled = pc.fill_null(flags, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def rows_result(
    check: str, table: CheckTable, failing: Mask, what: str, columns: Sequence[str] = ()
) -> CheckResult:
    """The result of a per-row check: ``"<n> of <rows> rows <what>"`` and examples."""
    count = int(np.count_nonzero(failing))
    message = f"{count:,} of {table.rows:,} rows {what}"
    if count == 0:
        return CheckResult(check, True, 0, message)
    return CheckResult(check, False, count, message, table.examples(failing, columns))


def json_value(value: object) -> JsonValue:
    """``value`` as plain strict JSON: non-finite floats and dates become strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, np.generic):
        return json_value(value.item())
    return str(value)


def format_value(value: object) -> str:
    """A bound or set member as written in messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
