"""Reading tabular files of dataset versions, and describing their schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet
import pytest

from loopml.data._tables import (
    TABULAR_SUFFIXES,
    is_tabular,
    open_table,
    read_table,
    table_schema,
    type_name,
)
from loopml.errors import InvalidInput, NotFound

SAMPLE = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "score": pa.array([0.5, None, 2.25], pa.float64()),
        "label": pa.array(["cat", "dog", None], pa.string()),
    }
)


def _write(path: Path, table: pa.Table) -> Path:
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(delimiter=delimiter))
    elif suffix in (".parquet", ".pq"):
        pa_parquet.write_table(table, path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
    return path


@pytest.mark.parametrize("suffix", TABULAR_SUFFIXES)
def test_read_table_reads_each_format(tmp_path: Path, suffix: str) -> None:
    path = _write(tmp_path / f"sample{suffix}", SAMPLE)

    table = read_table(path)

    assert table.column_names == ["id", "score", "label"]
    assert table.to_pylist() == SAMPLE.to_pylist()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", True),
        ("a.TSV", True),
        ("dir/a.parquet", True),
        ("a.pq", True),
        ("a.jsonl", True),
        ("a.ndjson", True),
        ("a.json", False),
        ("a.csv.gz", False),
        ("README", False),
        (".csv", False),  # a hidden file with no suffix, as Path.suffix sees it
        ("dir/.csv", False),
        ("dir.csv/data", False),
        ("..csv", True),
    ],
    ids=lambda value: str(value),
)
def test_is_tabular_goes_by_suffix(name: str, expected: bool) -> None:
    assert is_tabular(name) is expected
    assert is_tabular(Path(name)) is expected


def test_read_table_keeps_a_quoted_line_break_inside_a_value(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"two\nlines"\n2,plain\n')

    assert read_table(path).column("note").to_pylist() == ["two\nlines", "plain"]


@pytest.mark.parametrize(
    ("content", "line", "found"),
    [
        ("a,b,c\n1,2,3\n4,5\n6,7,8\n", 3, "2 fields"),
        ("a,b\n1,2\n3,4\n5,6,7\n", 4, "3 fields"),
        ("a,b,c\n1,2,3\n\n\n4\n", 5, "1 field"),
        ('a,b,c\n1,"x\ny",3\n4,5\n', 4, "2 fields"),
    ],
    ids=["too-few", "too-many", "after-blank-lines", "after-quoted-line-break"],
)
def test_ragged_csv_names_the_file_and_the_line(
    tmp_path: Path, content: str, line: int, found: str
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(content)

    with pytest.raises(InvalidInput) as caught:
        read_table(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: line {line} has {found} but the header has ")
    assert "fix that line" in message


def test_ragged_tsv_speaks_of_tabs(tmp_path: Path) -> None:
    path = tmp_path / "ragged.tsv"
    path.write_text("a\tb\n1\t2\n3\n")

    with pytest.raises(InvalidInput, match=r"line 3 has 1 field .* a missing or extra tab"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_empty_file_is_invalid_input(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")

    with pytest.raises(InvalidInput, match=r"empty\.\w+ is empty"):
        read_table(path)


def test_csv_with_only_a_header_is_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")

    table = read_table(path)

    assert (table.column_names, table.num_rows) == (["a", "b"], 0)


def test_corrupt_parquet_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")

    with pytest.raises(InvalidInput, match=r"broken\.parquet is not a readable Parquet file"):
        read_table(path)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ('{"a": 1}\n{"a": \n', r"line 2 is not valid JSON"),
        ('{"a": 1}\n\n[1, 2]\n', r"line 3 is not a JSON object"),
        ('{"a": 1}\n{"a": "x"}\n', r"field 'a' holds number values .* and string values"),
    ],
    ids=["broken-line", "not-an-object", "type-change"],
)
def test_malformed_json_lines_say_where(tmp_path: Path, content: str, pattern: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(content)

    with pytest.raises(InvalidInput, match=pattern):
        read_table(path)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"absent\.csv does not exist"):
        read_table(tmp_path / "absent.csv")


def test_unknown_suffix_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")

    with pytest.raises(InvalidInput, match=r"\.csv, \.tsv, .* not from '\.xlsx' files"):
        read_table(path)


def test_folder_is_invalid_input(tmp_path: Path) -> None:
    folder = tmp_path / "parts.parquet"
    folder.mkdir()

    with pytest.raises(InvalidInput, match="is a folder"):
        read_table(folder)


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("a,b,a\n1,2,3\n")

    with pytest.raises(InvalidInput, match=r"twice\.csv: column name 'a' occurs more than once"):
        read_table(path)


def test_open_table_gives_each_flavor(tmp_path: Path) -> None:
    path = _write(tmp_path / "sample.parquet", SAMPLE)

    arrow = open_table(path)
    frame = open_table(path, as_="pandas")
    polars_frame = open_table(path, as_="polars")

    assert isinstance(arrow, pa.Table)
    assert isinstance(frame, pd.DataFrame)
    assert isinstance(polars_frame, pl.DataFrame)
    assert list(frame["id"]) == [1, 2, 3]
    assert polars_frame["label"].to_list() == ["cat", "dog", None]


def test_open_table_refuses_an_unknown_flavor(tmp_path: Path) -> None:
    path = _write(tmp_path / "sample.csv", SAMPLE)

    with pytest.raises(ValueError, match="as_ must be"):
        open_table(path, as_="spark")  # type: ignore[call-overload]


def test_table_schema_names_types_and_nullability() -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "score": pa.array([1.5, float("nan")], pa.float64()),
            "label": pa.array(["a", None], pa.large_string()),
            "ok": pa.array([True, None]),
            "at": pa.array([datetime(2024, 1, 1, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
            "day": pa.array([date(2024, 1, 1), date(2024, 1, 2)], pa.date32()),
        }
    )

    schema = table_schema(table)

    assert schema == {
        "columns": [
            {"name": "id", "type": "int64", "nullable": False},
            {"name": "score", "type": "float64", "nullable": False},
            {"name": "label", "type": "string", "nullable": True},
            {"name": "ok", "type": "bool", "nullable": True},
            {"name": "at", "type": "timestamp[us, tz=UTC]", "nullable": True},
            {"name": "day", "type": "date32", "nullable": False},
        ],
        "rows": 2,
    }
    json.dumps(schema, allow_nan=False)


@pytest.mark.parametrize(
    ("arrow_type", "name"),
    [
        (pa.float32(), "float32"),
        (pa.int8(), "int8"),
        (pa.large_binary(), "binary"),
        (pa.timestamp("ns"), "timestamp[ns]"),
        (pa.date64(), "date64"),
        (pa.decimal128(10, 2), "decimal128(10, 2)"),
        (pa.dictionary(pa.int32(), pa.string()), "dictionary<string>"),
        (pa.large_list(pa.float64()), "list<float64>"),
        (pa.list_(pa.int64(), 3), "list<int64>[3]"),
        (pa.struct({"a": pa.int64(), "b": pa.large_string()}), "struct<a: int64, b: string>"),
        (pa.map_(pa.string(), pa.float64()), "map<string, float64>"),
        (pa.null(), "null"),
    ],
    ids=str,
)
def test_type_name_uses_a_small_vocabulary(arrow_type: pa.DataType, name: str) -> None:
    assert type_name(arrow_type) == name
