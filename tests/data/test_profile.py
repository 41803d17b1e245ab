"""Column profiles: numeric, categorical, datetime; exact values, JSON-safe, lean."""

from __future__ import annotations

import gc
import json
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from loopml.data.profile import (
    HISTOGRAM_BINS,
    QUANTILES,
    TOP_VALUES,
    profile_column,
    profile_file,
    profile_table,
)
from loopml.errors import InvalidInput

# Proxy memory pools whose buffers outlived a test: kept so that freeing them later
# never reaches a destroyed pool.
_POOLS_IN_USE: list[pa.MemoryPool] = []


def _random_floats(n: int, seed: int) -> tuple[pa.Array, np.ndarray]:
    """A float column with ~10% nulls, and the numpy array of its present values."""
    rng = np.random.default_rng(seed)
    values = rng.normal(loc=3.0, scale=2.0, size=n)
    missing = rng.random(n) < 0.1
    return pa.array(values, mask=missing), values[~missing]


def _json(profile: dict[str, Any]) -> str:
    return json.dumps(profile, allow_nan=False)


def test_numeric_profile_matches_numpy() -> None:
    column, present = _random_floats(500, seed=7)

    profile = profile_column(column)

    assert profile["kind"] == "numeric"
    assert (profile["count"], profile["nulls"], profile["infinite"]) == (
        len(present),
        500 - len(present),
        0,
    )
    assert profile["min"] == present.min()
    assert profile["max"] == present.max()
    assert profile["mean"] == pytest.approx(present.mean(), rel=1e-12)
    assert profile["std"] == pytest.approx(present.std(), rel=1e-12)


def test_quantiles_are_numpys_linear_quantiles() -> None:
    column, present = _random_floats(333, seed=11)

    quantiles = profile_column(column)["quantiles"]

    assert list(quantiles) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    expected = np.quantile(present, list(QUANTILES.values()))
    assert list(quantiles.values()) == pytest.approx(expected.tolist(), rel=1e-12)


def test_histogram_is_numpys_over_min_max_and_sums_to_count() -> None:
    column, present = _random_floats(1000, seed=3)

    histogram = profile_column(column)["histogram"]

    counts, edges = np.histogram(present, bins=HISTOGRAM_BINS, range=(present.min(), present.max()))
    assert histogram["counts"] == counts.tolist()
    assert histogram["edges"] == edges.tolist()
    assert len(histogram["edges"]) == HISTOGRAM_BINS + 1
    assert sum(histogram["counts"]) == len(present)


def test_integer_column_keeps_exact_integer_extremes() -> None:
    big = 2**62 + 1
    profile = profile_column(pa.array([big, -5, None, 7], pa.int64()))

    assert (profile["min"], profile["max"]) == (-5, big)
    assert isinstance(profile["max"], int)
    assert (profile["count"], profile["nulls"]) == (3, 1)


def test_nan_is_missing_and_infinity_is_counted_apart() -> None:
    column = pa.array([1.0, float("nan"), float("inf"), None, -float("inf"), 3.0])

    profile = profile_column(column)

    assert (profile["count"], profile["nulls"], profile["infinite"]) == (4, 2, 2)
    assert (profile["min"], profile["max"], profile["mean"]) == (1.0, 3.0, 2.0)
    assert sum(profile["histogram"]["counts"]) == profile["count"] - profile["infinite"]
    _json(profile)


def test_column_without_finite_values_has_no_statistics() -> None:
    profile = profile_column(pa.array([float("inf"), float("nan"), None]))

    assert (profile["count"], profile["nulls"], profile["infinite"]) == (1, 2, 1)
    assert all(
        profile[key] is None for key in ("min", "max", "mean", "std", "quantiles", "histogram")
    )
    _json(profile)


def test_values_near_the_float_limit_give_none_not_inf() -> None:
    profile = profile_column(pa.array([1.7e308, 1.7e308, -1.7e308]))

    assert profile["histogram"] is None  # max - min overflows
    assert profile["mean"] is None  # the sum overflows
    assert profile["max"] == 1.7e308
    _json(profile)


def test_constant_column_widens_the_histogram_range_like_numpy() -> None:
    histogram = profile_column(pa.array([4.0] * 5))["histogram"]

    assert (histogram["edges"][0], histogram["edges"][-1]) == (3.5, 4.5)
    assert sum(histogram["counts"]) == 5


def test_categorical_top_values_by_count_then_value() -> None:
    column = pa.array(["b", "a", "c", "a", None, "b", "d", "a"])

    profile = profile_column(column)

    assert profile == {
        "kind": "categorical",
        "count": 7,
        "nulls": 1,
        "distinct": 4,
        "top": [
            {"value": "a", "count": 3, "frequency": 3 / 7},
            {"value": "b", "count": 2, "frequency": 2 / 7},
            {"value": "c", "count": 1, "frequency": 1 / 7},
            {"value": "d", "count": 1, "frequency": 1 / 7},
        ],
        "other": 0,
    }


def test_categorical_keeps_twenty_values_and_counts_the_rest() -> None:
    rng = np.random.default_rng(5)
    labels = np.array([f"v{i:02d}" for i in range(30)])
    drawn = labels[rng.integers(0, 30, 3000)]
    values, counts = np.unique(drawn, return_counts=True)
    expected = sorted(
        zip(values.tolist(), counts.tolist(), strict=True), key=lambda p: (-p[1], p[0])
    )

    profile = profile_column(pa.array(drawn))

    top = [(entry["value"], entry["count"]) for entry in profile["top"]]
    assert top == expected[:TOP_VALUES]
    assert profile["distinct"] == 30
    assert profile["other"] == 3000 - sum(n for _, n in expected[:TOP_VALUES])


def test_ties_at_the_cut_are_broken_by_value() -> None:
    labels = [f"id{i:03d}" for i in range(100)]  # every value once: all tied

    top = profile_column(pa.array(labels[::-1]))["top"]

    assert [entry["value"] for entry in top] == labels[:TOP_VALUES]
    assert [entry["frequency"] for entry in top] == [0.01] * TOP_VALUES


@pytest.mark.parametrize("variant", [pa.large_string(), pa.string_view()], ids=str)
def test_string_variants_profile_like_strings(variant: pa.DataType) -> None:
    values = ["b", "a", None, "b"]

    assert profile_column(pa.array(values, variant)) == profile_column(pa.array(values))


def test_bool_and_dictionary_columns_are_categorical() -> None:
    flags = profile_column(pa.array([True, False, True, None]))
    coded = profile_column(
        pa.chunked_array(
            [
                pa.array(["x", "y"]).dictionary_encode(),
                pa.array(["y", "y", None]).dictionary_encode(),
            ]
        )
    )

    assert flags["top"] == [
        {"value": True, "count": 2, "frequency": 2 / 3},
        {"value": False, "count": 1, "frequency": 1 / 3},
    ]
    assert coded["kind"] == "categorical"
    assert [(e["value"], e["count"]) for e in coded["top"]] == [("y", 3), ("x", 1)]
    assert coded["nulls"] == 1


def test_datetime_profile_gives_iso_extremes() -> None:
    stamps = pa.array(
        [datetime(2024, 3, 1, 12, 30), None, datetime(2023, 1, 2, tzinfo=None)],
        pa.timestamp("us"),
    )
    zoned = pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("ns", tz="UTC"))
    days = pa.array([date(2020, 5, 17), date(2019, 1, 1)], pa.date32())

    assert profile_column(stamps) == {
        "kind": "datetime",
        "count": 2,
        "nulls": 1,
        "min": "2023-01-02T00:00:00",
        "max": "2024-03-01T12:30:00",
    }
    assert profile_column(zoned)["min"] == "2024-01-01T00:00:00+00:00"
    assert (profile_column(days)["min"], profile_column(days)["max"]) == (
        "2019-01-01",
        "2020-05-17",
    )


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([None, None], pa.float64()), "numeric"),
        (pa.array([None, None], pa.string()), "categorical"),
        (pa.array([None, None], pa.timestamp("s")), "datetime"),
        (pa.nulls(2), "other"),
    ],
    ids=["float", "string", "timestamp", "null-type"],
)
def test_all_null_column(column: pa.Array, kind: str) -> None:
    profile = profile_column(column)

    assert (profile["kind"], profile["count"], profile["nulls"]) == (kind, 0, 2)
    _json(profile)


def test_empty_table_profiles_every_column_as_empty() -> None:
    table = pa.table({"x": pa.array([], pa.float64()), "s": pa.array([], pa.string())})

    profile = profile_table(table)

    assert profile["rows"] == 0
    assert profile["columns"]["x"]["quantiles"] is None
    assert profile["columns"]["s"]["top"] == []
    assert profile_table(pa.table({})) == {"rows": 0, "columns": {}}


def test_profile_of_a_mixed_table_is_strict_json() -> None:
    table = pa.table(
        {
            "x": [1.5, float("nan"), float("inf"), None],
            "n": pa.array([1, 2, 3, None], pa.int32()),
            "d": pa.array([1, 2, None, 4], pa.decimal128(6, 2)),
            "s": ["a", None, "a", "b"],
            "t": pa.array([1, 2, None, 3], pa.timestamp("ms")),
            "l": [[1], [], None, [2, 3]],
            "b": pa.array([b"x", b"y", None, b"x"]),
        }
    )

    profile = profile_table(table)

    assert json.loads(_json(profile)) == profile
    assert {name: c["kind"] for name, c in profile["columns"].items()} == {
        "x": "numeric",
        "n": "numeric",
        "d": "numeric",
        "s": "categorical",
        "t": "datetime",
        "l": "other",
        "b": "other",
    }


def test_chunked_column_profiles_like_one_chunk() -> None:
    column, _ = _random_floats(400, seed=2)
    chunked = pa.chunked_array([column.slice(0, 150), column.slice(150)])

    assert profile_column(chunked) == profile_column(column)


def test_duplicate_column_names_are_refused() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])

    with pytest.raises(InvalidInput, match="column name 'a' occurs more than once"):
        profile_table(table)


def test_profile_file_gives_schema_and_profile(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,s\n1.5,a\n2.5,\n,b\n")

    result = profile_file(path)

    assert result["schema"]["columns"] == [
        {"name": "x", "type": "float64", "nullable": True},
        {"name": "s", "type": "string", "nullable": True},
    ]
    assert result["profile"]["columns"]["x"]["mean"] == 2.0
    assert result["profile"]["columns"]["s"]["distinct"] == 2
    _json(result)


def _wide_table(rows: int) -> pa.Table:
    """15 float columns and 5 string columns of 10 categories each."""
    rng = np.random.default_rng(0)
    categories = pa.array([f"category_{i}" for i in range(10)])
    columns: dict[str, pa.Array] = {f"f{i}": pa.array(rng.normal(size=rows)) for i in range(15)}
    for i in range(5):
        columns[f"s{i}"] = pc.take(categories, pa.array(rng.integers(0, 10, rows)))
    return pa.table(columns)


@pytest.mark.slow
def test_profiling_a_million_rows_peaks_under_three_times_the_table() -> None:
    table = _wide_table(1_000_000)
    parent = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(parent)  # counts only what profiling allocates in Arrow
    pa.set_memory_pool(pool)
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        profile = profile_table(table)
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(parent)
        gc.collect()
        if pool.bytes_allocated():
            _POOLS_IN_USE.append(pool)

    # Both peaks added up: an upper bound of the extra memory at any one moment.
    peak = table.nbytes + python_peak + pool.max_memory()
    assert peak < 3 * table.nbytes
    assert len(profile["columns"]) == 20
    assert profile["columns"]["s0"]["distinct"] == 10
