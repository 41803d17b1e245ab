"""Tabular files of dataset versions: which files are tables, reading them, their schema.

A dataset version is a set of files; those whose suffix is in :data:`TABULAR_SUFFIXES`
are tables that loopml can read, describe (:func:`table_schema`), profile
(:mod:`loopml.data.profile`) and compare (:mod:`loopml.data._tablediff`). Reading goes
through pyarrow's multi-threaded readers; the errors they raise are translated here into
:class:`InvalidInput` messages that name the file and, for a ragged CSV or a broken JSON
Lines file, the offending line.

Column types are reported in a small vocabulary built on pyarrow's type strings
(:func:`type_name`): ``int64``, ``float64``, ``bool``, ``string``, ``binary``,
``timestamp[us]``, ``timestamp[ns, tz=UTC]``, ``date32``, ``decimal128(10, 2)``,
``dictionary<string>``, ``list<int64>``, ``struct<a: int64>``, ... Physical variants of
one logical type (``string``/``large_string``, ``binary``/``large_binary``) share a name,
so that a dataset rewritten by another library does not look like a schema change.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pa_parquet

from loopml.data._formats import TABULAR_SUFFIXES, is_tabular
from loopml.errors import InvalidInput, NotFound, PermissionDenied

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = [
    "TABULAR_SUFFIXES",
    "TableFlavor",
    "check_unique_names",
    "is_tabular",
    "open_table",
    "read_table",
    "table_schema",
    "type_name",
]

TableFlavor = Literal["pandas", "polars", "arrow"]

_SNIPPET = 80  # characters of an offending line quoted in an error message
_TYPE_CHANGE = re.compile(r"Column\(([^)]*)\) changed from (\w+) to (\w+)")
_SOURCE_PREFIX = re.compile(r"^Could not open \w+ input source '.*?': ")


def read_table(path: str | Path) -> pa.Table:
    """Read a CSV, TSV, Parquet or JSON Lines file into a pyarrow table.

    Column types are inferred by pyarrow (CSV, JSON) or stored in the file (Parquet);
    an empty CSV field is a null in every column, as pandas and polars read it.

    Args:
        path: the file; its suffix picks the format (see :data:`TABULAR_SUFFIXES`).

    Returns:
        The whole file as one table.

    Raises:
        NotFound: the file does not exist.
        PermissionDenied: the file may not be read.
        InvalidInput: the suffix is not tabular, the path is a folder, or the file is
            empty, malformed (the message names the offending line of a ragged CSV or
            a broken JSON Lines file) or has two columns of one name.

    Example:
        >>> table = read_table(Path("data/train.csv"))
        >>> table.num_rows
        1000
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        kind = f"'{path.suffix}' files" if path.suffix else "files without a suffix"
        raise InvalidInput(
            f"{path}: loopml reads tables from {', '.join(TABULAR_SUFFIXES)} files, not "
            f"from {kind}; convert the file or rename it if its suffix is wrong."
        )
    if not path.exists():
        raise NotFound(f"Table file {path} does not exist; check the path.")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a table file; name a file inside it.")
    try:
        table = reader(path)
    except FileNotFoundError as exc:
        raise NotFound(f"Table file {path} does not exist; check the path.") from exc
    except PermissionError as exc:
        raise PermissionDenied(f"Table file {path} may not be read: {exc.strerror}.") from exc
    except OSError as exc:
        raise InvalidInput(f"{path} could not be read as a table: {exc}.") from exc
    check_unique_names(table, str(path))
    return table


@overload
def open_table(path: str | Path, as_: Literal["arrow"] = ...) -> pa.Table: ...
@overload
def open_table(path: str | Path, as_: Literal["pandas"]) -> pd.DataFrame: ...
@overload
def open_table(path: str | Path, as_: Literal["polars"]) -> pl.DataFrame: ...


def open_table(path: str | Path, as_: TableFlavor = "arrow") -> object:
    """Read a table file as a pyarrow table, a pandas or a polars data frame.

    Args:
        path: the file, as for :func:`read_table`.
        as_: ``"arrow"``, ``"pandas"`` or ``"polars"``.

    Returns:
        The table in the asked-for flavor.

    Raises:
        ValueError: ``as_`` is not one of the three flavors.
        InvalidInput: as for :func:`read_table`, or ``as_="polars"`` without polars.
        NotFound: the file does not exist.

    Example:
        >>> frame = open_table("data/train.parquet", as_="pandas")
    """
    if as_ not in ("arrow", "pandas", "polars"):
        raise ValueError(f"as_ must be 'arrow', 'pandas' or 'polars', not {as_!r}")
    table = read_table(path)
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        try:
            # polars is optional: only this flavor needs it.
            import polars
        except ImportError as exc:
            raise InvalidInput(
                f"Opening {path} as polars needs the polars package; run pip install polars."
            ) from exc
        return polars.from_arrow(table)
    return table


def table_schema(table: pa.Table) -> dict[str, Any]:
    """Describe a table's columns as JSON-able data.

    Args:
        table: any pyarrow table.

    Returns:
        ``{"columns": [{"name", "type", "nullable"}], "rows": n}``; ``type`` is
        :func:`type_name` of the column's type, ``nullable`` whether the column holds
        a null (a float NaN is a value here, not a null).
    """
    columns = [
        {
            "name": name,
            "type": type_name(column.type),
            "nullable": column.null_count > 0,
        }
        for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    return {"columns": columns, "rows": table.num_rows}


def type_name(arrow_type: pa.DataType) -> str:
    """Name a pyarrow type in loopml's schema vocabulary.

    Args:
        arrow_type: any pyarrow data type.

    Returns:
        pyarrow's type string, with floats named by width (``float64``, not
        ``double``), dates without their unit (``date32``), large and view variants
        folded into their plain type and nested types spelt out recursively.
    """
    t = pa.types
    simple = {
        pa.float16(): "float16",
        pa.float32(): "float32",
        pa.float64(): "float64",
        pa.date32(): "date32",
        pa.date64(): "date64",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return "string"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type):
        return "binary"
    if t.is_dictionary(arrow_type):
        return f"dictionary<{type_name(arrow_type.value_type)}>"
    if t.is_fixed_size_list(arrow_type):
        return f"list<{type_name(arrow_type.value_type)}>[{arrow_type.list_size}]"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_list_view(arrow_type):
        return f"list<{type_name(arrow_type.value_type)}>"
    if t.is_map(arrow_type):
        return f"map<{type_name(arrow_type.key_type)}, {type_name(arrow_type.item_type)}>"
    if t.is_struct(arrow_type):
        fields = ", ".join(f"{f.name}: {type_name(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    return str(arrow_type)


def check_unique_names(table: pa.Table, source: str) -> None:
    """Refuse a table in which two columns share a name.

    Args:
        table: the table to check.
        source: what to call the table in the message (a file name, "old table", ...).

    Raises:
        InvalidInput: a column name occurs more than once.
    """
    repeated = [name for name, n in Counter(table.column_names).items() if n > 1]
    if repeated:
        raise InvalidInput(
            f"{source}: column name {repeated[0]!r} occurs more than once; "
            "rename the duplicates so that every column has its own name."
        )


def _read_csv(path: Path, delimiter: str) -> pa.Table:
    # newlines_in_values: a quoted value may span lines (valid CSV); without it the
    # multi-threaded reader can split a block inside such a value.
    options = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    # An empty field is missing in a text column too, as pandas and polars read it.
    convert = pa_csv.ConvertOptions(strings_can_be_null=True)
    try:
        return pa_csv.read_csv(path, parse_options=options, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, delimiter, _arrow_detail(exc)) from exc


def _csv_error(path: Path, delimiter: str, detail: str) -> InvalidInput:
    if detail.startswith("Empty CSV file"):
        return InvalidInput(f"{path} is empty; a table file needs at least a header line.")
    if "Expected" in detail and "columns, got" in detail:
        ragged = _first_ragged_line(path, delimiter)
        if ragged is not None:
            line, expected, found, text = ragged
            sep, one_sep = ("tab", "a tab") if delimiter == "\t" else (f"'{delimiter}'",) * 2
            return InvalidInput(
                f"{path}: line {line} has {_fields(found)} but the header has {expected} "
                f"({_snippet(text)}); fix that line: a missing or extra {sep}, or a value "
                f"containing {one_sep} that is not quoted."
            )
        return InvalidInput(f"{path}: {detail}; every line needs as many fields as the header.")
    return InvalidInput(f"{path} could not be read as a delimited table: {detail}.")


def _first_ragged_line(path: Path, delimiter: str) -> tuple[int, int, int, str] | None:
    """The first record whose field count differs from the header's, by physical line.

    pyarrow reports only a record number (and none when reading with threads), which
    drifts from the line number after blank lines or quoted line breaks. This walk runs
    on the error path only, so a per-record Python loop costs nothing on good files.
    """
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            expected: int | None = None
            for record in reader:
                if not record:  # pyarrow skips empty lines too
                    continue
                if expected is None:
                    expected = len(record)
                elif len(record) != expected:
                    return reader.line_num, expected, len(record), delimiter.join(record)
    except csv.Error:  # a field over csv's size limit: give up on the line number
        return None
    return None


def _read_json_lines(path: Path) -> pa.Table:
    try:
        return pa_json.read_json(path)
    except pa.ArrowInvalid as exc:
        raise _json_error(path, _arrow_detail(exc)) from exc


def _json_error(path: Path, detail: str) -> InvalidInput:
    if detail.startswith("Empty JSON file"):
        return InvalidInput(f"{path} is empty; a JSON Lines file needs at least one object.")
    changed = _TYPE_CHANGE.search(detail)
    if changed is not None and changed.group(1).strip("/"):  # not the root: a field
        field = changed.group(1).strip("/").replace("/", ".")
        return InvalidInput(
            f"{path}: field '{field}' holds {changed.group(2)} values on some lines and "
            f"{changed.group(3)} values on others; give each field one type (or null)."
        )
    bad = _first_bad_json_line(path)
    if bad is not None:
        line, problem = bad
        return InvalidInput(
            f"{path}: line {line} {problem}; each line of a JSON Lines file must be one "
            "JSON object."
        )
    return InvalidInput(f"{path} could not be read as JSON Lines: {detail}.")


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    """The first non-blank line that is not a JSON object; on the error path only."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError as exc:  # JSONDecodeError or bad UTF-8
                reason = getattr(exc, "msg", str(exc))
                return number, f"is not valid JSON ({reason})"
            if not isinstance(value, dict):
                return number, f"is not a JSON object ({_snippet(raw.decode(errors='replace'))})"
    return None


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pa_parquet.read_table(path)
    except pa.ArrowInvalid as exc:
        raise InvalidInput(
            f"{path} is not a readable Parquet file ({_arrow_detail(exc)}); "
            "check that it was written completely."
        ) from exc


def _arrow_detail(exc: Exception) -> str:
    """pyarrow's message without its "CSV parse error: " style prefix."""
    text = str(exc).strip()
    for prefix in ("CSV parse error: ", "JSON parse error: "):
        text = text.removeprefix(prefix)
    # "Could not open Parquet input source '<path>': " repeats the path we name anyway
    return _SOURCE_PREFIX.sub("", text)


def _fields(n: int) -> str:
    return "1 field" if n == 1 else f"{n} fields"


def _snippet(text: str) -> str:
    text = text.rstrip("\r\n")
    return repr(text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "...")


_READERS: Final[dict[str, Callable[[Path], pa.Table]]] = {
    ".csv": lambda path: _read_csv(path, ","),
    ".tsv": lambda path: _read_csv(path, "\t"),
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
    ".jsonl": _read_json_lines,
    ".ndjson": _read_json_lines,
}
