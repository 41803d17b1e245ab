"""Diffs of two table versions: rows as a multiset, columns and their types."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from loopml.data._tablediff import diff_tables
from loopml.errors import InvalidInput


def _rows(diff: dict[str, Any]) -> tuple[int, int]:
    return diff["rows_added"], diff["rows_removed"]


def test_identical_tables_have_no_differences() -> None:
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})

    assert diff_tables(table, table) == {
        "rows_added": 0,
        "rows_removed": 0,
        "rows_before": 3,
        "rows_after": 3,
        "columns_added": [],
        "columns_removed": [],
        "type_changes": [],
    }


def test_added_and_removed_rows_are_counted() -> None:
    old = pa.table({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"]})
    new = pa.table({"a": [2, 3, 5, 6, 7], "b": ["x", "y", "v", "u", "t"]})

    diff = diff_tables(old, new)

    assert _rows(diff) == (3, 2)
    assert (diff["rows_before"], diff["rows_after"]) == (4, 5)


def test_a_row_changed_in_one_column_is_one_removed_and_one_added() -> None:
    old = pa.table({"a": [1, 2], "b": ["x", "y"]})
    new = pa.table({"a": [1, 2], "b": ["x", "Y"]})

    assert _rows(diff_tables(old, new)) == (1, 1)


def test_row_order_does_not_matter() -> None:
    old = pa.table({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    new = old.take([2, 0, 1])

    assert _rows(diff_tables(old, new)) == (0, 0)


def test_rows_are_a_multiset_so_a_removed_duplicate_counts_once() -> None:
    old = pa.table({"a": [1, 1, 1, 2]})
    new = pa.table({"a": [1, 2, 2]})

    assert _rows(diff_tables(old, new)) == (1, 2)


def test_rows_are_matched_whole_not_column_by_column() -> None:
    old = pa.table({"a": [1, 2], "b": [2, 1]})
    new = pa.table({"a": [2, 1], "b": [1, 2]})

    assert _rows(diff_tables(old, new)) == (0, 0)
    assert _rows(diff_tables(old, pa.table({"b": [1, 2], "a": [1, 2]}))) == (2, 2)


def test_added_and_removed_columns_and_rows_over_common_columns() -> None:
    old = pa.table({"id": [1, 2], "gone": ["p", "q"], "x": [0.1, 0.2]})
    new = pa.table({"fresh": [True, False], "id": [2, 1], "x": [0.2, 0.1], "also": [1, 1]})

    diff = diff_tables(old, new)

    assert diff["columns_added"] == ["fresh", "also"]
    assert diff["columns_removed"] == ["gone"]
    assert _rows(diff) == (0, 0)  # same rows over id and x


def test_no_common_columns_compares_row_counts_only() -> None:
    diff = diff_tables(pa.table({"a": [1, 2]}), pa.table({"b": [1, 2, 3]}))

    assert _rows(diff) == (1, 0)


def test_type_change_is_reported_and_equal_values_stay_equal() -> None:
    old = pa.table({"n": pa.array([1, 2, 3], pa.int64()), "s": ["a", "b", "c"]})
    new = pa.table({"n": pa.array([1.0, 2.0, 3.5], pa.float64()), "s": ["a", "b", "c"]})

    diff = diff_tables(old, new)

    assert diff["type_changes"] == [{"column": "n", "before": "int64", "after": "float64"}]
    assert _rows(diff) == (1, 1)


def test_type_change_without_a_safe_cast_compares_text() -> None:
    old = pa.table({"n": pa.array([1.5, 2.0], pa.float64())})
    new = pa.table({"n": pa.array([1, 2], pa.int64())})

    diff = diff_tables(old, new)

    assert diff["type_changes"] == [{"column": "n", "before": "float64", "after": "int64"}]
    assert _rows(diff) == (1, 1)


@pytest.mark.parametrize("variant", [pa.large_string(), pa.string_view()], ids=str)
def test_physical_variants_of_a_type_are_not_a_type_change(variant: pa.DataType) -> None:
    old = pa.table({"s": pa.array(["a", "b"], pa.string())})
    new = pa.table({"s": pa.array(["b", "a"], variant)})

    diff = diff_tables(old, new)

    assert diff["type_changes"] == []
    assert _rows(diff) == (0, 0)


def test_dictionary_encoding_changes_the_type_but_not_the_rows() -> None:
    old = pa.table({"s": pa.array(["a", "b", "a"])})
    new = pa.table({"s": pa.array(["a", "a", "b"]).dictionary_encode()})

    diff = diff_tables(old, new)

    assert diff["type_changes"] == [
        {"column": "s", "before": "string", "after": "dictionary<string>"}
    ]
    assert _rows(diff) == (0, 0)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (pa.array([None, 1.0]), pa.array([None, 1.0]), 0),
        (pa.array([None, 1.0]), pa.array([0.0, 1.0]), 1),
        (pa.array([float("nan")]), pa.array([float("nan")]), 0),
        (pa.array([-0.0]), pa.array([0.0]), 0),
        (pa.array(["", None]), pa.array([None, ""]), 0),
        (pa.array([None, "x"]), pa.array(["", "x"]), 1),
        (pa.array([True, None]), pa.array([True, False]), 1),
    ],
    ids=[
        "null-equals-null",
        "null-is-not-zero",
        "nan-equals-nan",
        "signed-zero",
        "string-null-vs-empty-swapped",
        "string-null-is-not-empty",
        "bool-null-is-not-false",
    ],
)
def test_null_and_special_values(before: pa.Array, after: pa.Array, changed: int) -> None:
    diff = diff_tables(pa.table({"v": before}), pa.table({"v": after}))

    assert _rows(diff) == (changed, changed)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ([[1, 2], [3]], [[3], [1, 2]], 0),
        ([[1, 2], [3]], [[2, 1], [3]], 1),
        ([[1], []], [[1], None], 1),
        ([[1], [2]], [[1, 2], []], 2),
        ([{"a": 1, "b": "x"}, None], [None, {"a": 1, "b": "x"}], 0),
        ([{"a": 1, "b": "x"}], [{"a": 1, "b": "y"}], 1),
        ([{"k": [1, 2]}], [{"k": [1, 2]}], 0),
    ],
    ids=[
        "lists-reordered-rows",
        "list-elements-reordered",
        "empty-list-is-not-null",
        "elements-moved-between-lists",
        "structs-reordered-rows",
        "struct-field-changed",
        "list-inside-struct",
    ],
)
def test_nested_values(before: list[Any], after: list[Any], changed: int) -> None:
    diff = diff_tables(pa.table({"v": before}), pa.table({"v": after}))

    assert _rows(diff) == (changed, changed)


def test_map_columns_are_compared_by_value() -> None:
    kind = pa.map_(pa.string(), pa.int64())
    old = pa.table({"m": pa.array([[("a", 1)], [("b", 2)]], kind)})
    new = pa.table({"m": pa.array([[("b", 2)], [("a", 3)]], kind)})

    assert _rows(diff_tables(old, new)) == (1, 1)


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(4)
    old = pa.table({"x": rng.integers(0, 50, 300), "s": rng.choice(["a", "b", "c"], 300)})
    new = pa.table({"x": rng.integers(0, 50, 280), "s": rng.choice(["a", "b", "c"], 280)})
    chunked_old = pa.concat_tables([old.slice(0, 100), old.slice(100)])
    chunked_new = pa.concat_tables([new.slice(0, 7), new.slice(7, 200), new.slice(207)])

    assert diff_tables(chunked_old, chunked_new) == diff_tables(old, new)


def test_empty_tables() -> None:
    empty = pa.table({"a": pa.array([], pa.int64())})

    assert _rows(diff_tables(empty, empty)) == (0, 0)
    assert _rows(diff_tables(empty, pa.table({"a": [1, 1]}))) == (2, 0)


def test_temporal_columns() -> None:
    stamps, days = pa.timestamp("us"), pa.date32()
    old = pa.table({"t": pa.array([1, 2, None], stamps), "d": pa.array([1, 2, 3], days)})
    same = pa.table({"t": pa.array([2, None, 1], stamps), "d": pa.array([2, 3, 1], days)})
    other = pa.table({"t": pa.array([2, None, 1], stamps), "d": pa.array([2, 1, 3], days)})

    assert _rows(diff_tables(old, same)) == (0, 0)
    assert _rows(diff_tables(old, other)) == (2, 2)


def test_diff_is_strict_json() -> None:
    old = pa.table({"a": [1, 2], "b": ["x", "y"]})
    new = pa.table({"a": [1.0, 3.0], "c": [None, None]})

    diff = diff_tables(old, new)

    assert json.loads(json.dumps(diff, allow_nan=False)) == diff


def test_duplicate_column_names_are_refused() -> None:
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])

    with pytest.raises(InvalidInput, match="the new table: column name 'a'"):
        diff_tables(pa.table({"a": [1]}), twice)
