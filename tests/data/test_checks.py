"""Data checks: each check passing and failing, the three table kinds, reports, YAML."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from loopml.data.checks import (
    Check,
    CheckReport,
    CheckResult,
    Checks,
    columns,
    custom,
    fresher_than,
    in_range,
    in_set,
    load_checks,
    matches,
    max_null_share,
    not_null,
    parse_duration,
    row_count,
    schema_matches,
    unique,
)
from loopml.errors import GateFailed, InvalidInput, NotFound

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def income_positive(frame: pd.DataFrame) -> pd.Series:
    """A custom predicate importable by name, for the YAML tests."""
    return frame["income"] > 0


def people() -> pd.DataFrame:
    """Eight customers with one flaw of each kind the checks look for."""
    return pd.DataFrame(
        {
            "customer_id": pd.array([1, 2, 3, 4, 5, 6, 7, 7], dtype="Int64"),
            "age": pd.array([25, 40, 17, 130, None, 33, 51, 62], dtype="Int64"),
            "plan": ["free", "pro", "team", "gold", None, "pro", "free", "team"],
            "email": ["a@x.io", "b@x.io", "nope", "d@x.io", "e@x.io", None, "g@x.io", "h@x.io"],
            "income": [10.0, 20.0, np.nan, -5.0, 30.0, 40.0, 50.0, 60.0],
            "signup_at": pd.to_datetime([f"2024-03-0{day}" for day in range(1, 9)], utc=True),
        }
    )


def run_one(check: Check, table: object = None, **kwargs: Any) -> CheckResult:
    report = Checks([check]).run(people() if table is None else table, **kwargs)
    return report.results[0]


# -- per-row checks ------------------------------------------------------------------


def test_not_null_fails_on_null_rows_with_examples() -> None:
    result = run_one(not_null("age"))
    assert (result.check, result.passed, result.failed_rows) == ("not_null(age)", False, 1)
    assert result.message == "1 of 8 rows are missing age"
    assert result.examples[0]["row"] == 4
    assert result.examples[0]["values"]["age"] is None
    assert result.examples[0]["values"]["customer_id"] == 5


def test_not_null_passes_on_complete_column() -> None:
    result = run_one(not_null("customer_id"))
    assert (result.passed, result.failed_rows, result.examples) == (True, 0, [])
    assert result.message == "0 of 8 rows are missing customer_id"


def test_not_null_counts_nan_as_missing_in_arrow_tables() -> None:
    table = pa.table({"x": pa.array([1.0, float("nan"), None, 2.0])})
    result = run_one(not_null("x"), table)
    assert result.failed_rows == 2
    assert result.examples[0]["values"]["x"] == "nan"


def test_unique_fails_on_every_row_sharing_a_value() -> None:
    result = run_one(unique("customer_id"))
    assert (result.passed, result.failed_rows) == (False, 2)
    assert (
        result.message
        == "2 of 8 rows have a duplicate customer_id (1 value appears more than once)"
    )
    assert [example["row"] for example in result.examples] == [6, 7]


def test_unique_over_several_columns_compares_the_combination() -> None:
    table = pa.table({"a": [1, 1, 1, 2], "b": ["x", "y", "x", "x"]})
    result = run_one(unique(["a", "b"]), table)
    assert (result.check, result.failed_rows) == ("unique(a, b)", 2)
    assert [example["row"] for example in result.examples] == [0, 2]


def test_unique_skips_rows_with_a_missing_key() -> None:
    table = pa.table({"a": [None, None, 1.0, float("nan"), float("nan")]})
    assert run_one(unique("a"), table).passed


def test_unique_finds_duplicates_across_chunks() -> None:
    table = pa.concat_tables([pa.table({"a": ["x", "y"]}), pa.table({"a": ["z", "x"]})])
    result = run_one(unique("a"), table)
    assert [example["row"] for example in result.examples] == [0, 3]


def test_unique_passes_on_distinct_values() -> None:
    assert run_one(unique("email")).passed


@pytest.mark.parametrize(
    ("check", "failed", "message"),
    [
        (in_range("age", min=18, max=120), 2, "2 of 8 rows have age outside [18, 120]"),
        (in_range("age", min=18), 1, "1 of 8 rows have age below 18"),
        (in_range("age", max=120), 1, "1 of 8 rows have age above 120"),
        (in_range("income", min=-10, max=100), 0, "0 of 8 rows have income outside [-10, 100]"),
    ],
    ids=["both-bounds", "min-only", "max-only", "passing-with-nan"],
)
def test_in_range_counts_rows_outside_the_bounds(check: Check, failed: int, message: str) -> None:
    result = run_one(check)
    assert (result.passed, result.failed_rows, result.message) == (failed == 0, failed, message)


def test_in_range_examples_show_the_offending_rows() -> None:
    result = run_one(in_range("age", min=18, max=120))
    assert [(e["row"], e["values"]["age"]) for e in result.examples] == [(2, 17), (3, 130)]


def test_in_range_with_dates_on_a_timestamp_column() -> None:
    result = run_one(in_range("signup_at", min=date(2024, 3, 3), max=datetime(2024, 3, 6)))
    assert result.failed_rows == 4
    assert result.examples[0]["values"]["signup_at"] == "2024-03-01T00:00:00+00:00"


def test_in_range_on_a_text_column_fails_with_a_message() -> None:
    result = run_one(in_range("plan", min=0))
    assert not result.passed
    assert result.message == "in_range needs a numeric column; plan is large_string"


def test_in_set_fails_on_other_values_and_skips_nulls() -> None:
    result = run_one(in_set("plan", ["free", "pro", "team"]))
    assert (result.passed, result.failed_rows) == (False, 1)
    assert result.message == "1 of 8 rows have plan not in {free, pro, team}"
    assert result.examples == [
        {"row": 3, "values": {"plan": "gold", **_others(people().iloc[3], skip="plan")}}
    ]


def test_in_set_on_a_categorical_column() -> None:
    frame = pd.DataFrame({"plan": pd.Categorical(["free", "pro", "gold"])})
    assert run_one(in_set("plan", ["free", "pro"]), frame).failed_rows == 1


def test_in_set_with_values_of_another_type_fails_with_a_message() -> None:
    result = run_one(in_set("age", ["young", "old"]))
    assert not result.passed
    assert result.message.startswith("values {young, old} cannot be compared with age")


def test_matches_fails_on_values_without_a_match() -> None:
    result = run_one(matches("email", r"^[^@]+@[^@]+$"))
    assert (result.passed, result.failed_rows) == (False, 1)
    assert result.message == "1 of 8 rows have email not matching '^[^@]+@[^@]+$'"
    assert result.examples[0]["values"]["email"] == "nope"


def test_matches_falls_back_to_python_for_look_arounds() -> None:
    result = run_one(matches("email", r"^(?!nope)"))
    assert (result.failed_rows, result.examples[0]["row"]) == (1, 2)


def test_matches_on_a_numeric_column_fails_with_a_message() -> None:
    assert run_one(matches("age", "1")).message == "matches needs a string column; age is int64"


def test_max_null_share_fails_above_the_share() -> None:
    result = run_one(max_null_share("income", 0.1))
    assert (result.passed, result.failed_rows) == (False, 1)
    assert result.message == "12.5% of rows (1 of 8) are missing income; at most 10% may be"
    assert result.examples[0]["row"] == 2


def test_max_null_share_passes_within_the_share() -> None:
    result = run_one(max_null_share("income", 0.2))
    assert (result.passed, result.failed_rows, result.examples) == (True, 0, [])


# -- whole-table checks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "passed", "message"),
    [
        (row_count(min=5), True, "table has 8 rows; expected at least 5"),
        (row_count(min=10), False, "table has 8 rows; expected at least 10 (2 too few)"),
        (row_count(max=5), False, "table has 8 rows; expected at most 5 (3 too many)"),
        (row_count(min=1, max=8), True, "table has 8 rows; expected between 1 and 8"),
    ],
    ids=["min-met", "too-few", "too-many", "between"],
)
def test_row_count(check: Check, passed: bool, message: str) -> None:
    result = run_one(check)
    assert (result.passed, result.message) == (passed, message)


def test_fresher_than_passes_on_recent_data() -> None:
    result = run_one(fresher_than("signup_at", timedelta(days=7), now=NOW))
    assert result.passed
    assert result.message == (
        "newest signup_at is 2024-03-08T00:00:00+00:00, 2d12h old; at most 7d allowed"
    )


def test_fresher_than_fails_on_stale_data() -> None:
    result = run_one(fresher_than("signup_at", "1d", now=NOW))
    assert not result.passed
    assert "2d12h old; at most 1d allowed" in result.message


def test_fresher_than_uses_the_run_clock_when_it_has_none() -> None:
    assert not run_one(fresher_than("signup_at", "2d"), now=NOW).passed
    assert run_one(fresher_than("signup_at", "3d"), now=NOW).passed


def test_fresher_than_reads_naive_timestamps_and_dates_as_utc() -> None:
    naive = pa.table({"t": pa.array([datetime(2024, 3, 10, 11)], pa.timestamp("ns"))})
    assert run_one(fresher_than("t", "1h"), naive, now=NOW).passed
    days = pa.table({"t": [date(2024, 3, 9)]})
    assert run_one(fresher_than("t", "1d12h"), days, now=NOW).passed
    assert not run_one(fresher_than("t", "1d"), days, now=NOW).passed


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"t": pa.array([None], pa.timestamp("us"))}), "t has no timestamps"),
        (
            pa.table({"t": ["2024-03-10"]}),
            "fresher_than needs a timestamp or date column; t is string",
        ),
    ],
    ids=["all-null", "text"],
)
def test_fresher_than_fails_without_usable_timestamps(table: pa.Table, message: str) -> None:
    result = run_one(fresher_than("t", "1d"), table, now=NOW)
    assert (result.passed, result.message) == (False, message)


def test_columns_passes_with_families_and_exact_names() -> None:
    spec = {
        "age": "int64",
        "customer_id": "int",
        "plan": "string",
        "income": "float64",
        "signup_at": "timestamp[us, tz=UTC]",
    }
    result = run_one(columns(spec))
    assert result.passed, result.message


def test_columns_names_missing_columns_and_wrong_types() -> None:
    result = run_one(columns({"age": "string", "plan": "string", "score": "float"}))
    assert not result.passed
    assert result.message == "missing columns: score; wrong types: age is int64, expected string"


def test_columns_refuses_an_unknown_type_name() -> None:
    with pytest.raises(
        InvalidInput, match=r"unknown type 'integer' for column 'age'; did you mean 'int'"
    ):
        columns({"age": "integer"})


def test_schema_matches_passes_across_string_encodings_and_aliases() -> None:
    schema = {
        "columns": [
            {"name": "plan", "type": "string", "nullable": True},
            {"name": "income", "type": "float64", "nullable": False},
            {"name": "kind", "type": "dictionary<string>", "nullable": False},
        ]
    }
    frame = pd.DataFrame(
        {"plan": ["a", None], "income": [1.0, 2.0], "kind": pd.Categorical(["x", "y"])}
    )
    assert run_one(schema_matches(schema, ref="churn@v3"), frame).passed


def test_schema_matches_names_extra_missing_and_retyped_columns() -> None:
    schema = {
        "columns": [
            {"name": "customer_id", "type": "int64", "nullable": False},
            {"name": "age", "type": "float64", "nullable": True},
            {"name": "country", "type": "string", "nullable": True},
        ]
    }
    table = pa.table({"customer_id": [1], "age": [30], "plan": ["pro"]})
    result = run_one(schema_matches(schema, ref="churn@v3"), table)
    assert (result.check, result.passed) == ("schema_matches(churn@v3)", False)
    assert result.message == (
        "missing columns: country; unexpected columns: plan; "
        "type differences: age is int64, the schema says float64"
    )


def test_schema_matches_refuses_a_malformed_schema() -> None:
    with pytest.raises(InvalidInput, match=r"columns\[0\] needs name"):
        schema_matches({"columns": [{"name": "age"}]})


# -- custom ----------------------------------------------------------------------------


def test_custom_row_wise_counts_rows_that_do_not_pass() -> None:
    result = run_one(custom("positive_income", income_positive))
    assert (result.check, result.failed_rows) == ("custom(positive_income)", 2)
    assert result.message == "2 of 8 rows fail positive_income"
    assert [example["row"] for example in result.examples] == [2, 3]


@pytest.mark.parametrize(
    ("fn", "passed", "message"),
    [
        (lambda frame: len(frame) > 5, True, "the table passes big"),
        (lambda frame: bool(frame["age"].max() < 100), False, "the table fails big"),
        (lambda frame: frame["nope"], False, "big raised KeyError: 'nope'"),
        (lambda frame: frame["age"], False, "big returned Series for 8 rows; return one bool"),
        (
            lambda frame: np.ones(3, dtype=bool),
            False,
            "big returned 3 values for 8 rows; return one bool",
        ),
    ],
    ids=["whole-table-pass", "whole-table-fail", "raises", "not-boolean", "wrong-length"],
)
def test_custom_whole_table_and_misbehaving_predicates(
    fn: Callable[[pd.DataFrame], Any], passed: bool, message: str
) -> None:
    result = run_one(custom("big", fn))
    assert result.passed is passed
    assert result.message.startswith(message)


def test_custom_counts_missing_verdicts_as_failing() -> None:
    result = run_one(custom("adult", lambda frame: frame["age"] >= 18))
    assert result.failed_rows == 2  # age 17 and the missing age


def test_custom_gets_pandas_from_arrow_and_polars() -> None:
    for table in (pa.Table.from_pandas(people()), pl.from_pandas(people())):
        assert run_one(custom("positive_income", income_positive), table).failed_rows == 2


# -- runs and reports -------------------------------------------------------------------


def full_suite() -> Checks:
    return Checks(
        [
            columns({"age": "int", "plan": "string"}),
            not_null("age"),
            unique("customer_id"),
            in_range("age", min=18, max=120),
            in_set("plan", ["free", "pro", "team"]),
            matches("email", r"^[^@]+@[^@]+$"),
            row_count(min=1),
            fresher_than("signup_at", "7d"),
            max_null_share("income", 0.05),
            custom("positive_income", income_positive),
        ],
        name="churn-input",
    )


@pytest.mark.parametrize(
    "convert",
    [
        lambda f: f,
        pa.Table.from_pandas,
        pl.from_pandas,
        lambda f: pa.Table.from_pandas(f).to_batches()[0],
    ],
    ids=["pandas", "arrow", "polars", "record-batch"],
)
def test_every_table_kind_gives_the_same_report(convert: Callable[[pd.DataFrame], object]) -> None:
    expected = full_suite().run(people(), now=NOW).to_dict()
    assert full_suite().run(convert(people()), now=NOW).to_dict() == expected


def test_a_missing_column_fails_its_check_and_the_run_goes_on() -> None:
    report = Checks([not_null("agee"), in_range("nope", min=1), not_null("customer_id")]).run(
        people()
    )
    messages = [(r.passed, r.failed_rows, r.message) for r in report.results]
    assert messages[0] == (False, 0, "column 'agee' is missing; did you mean 'age'?")
    assert messages[1][2].startswith("column 'nope' is missing (the table has: customer_id, age")
    assert messages[2][0] is True
    assert not report.passed


def test_a_mixed_type_column_fails_its_checks_only() -> None:
    frame = pd.DataFrame({"a": [1, "x", 2.5], "b": [1, 2, 3]})
    report = Checks([not_null("a"), columns({"a": "int"}), not_null("b")]).run(frame)
    assert report.results[0].message == (
        "column 'a' cannot be checked: its values mix Python types (float, int, str)"
    )
    assert report.results[1].message == "wrong types: a is mixed, expected int"
    assert report.results[2].passed


def test_an_unsupported_table_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="pandas DataFrame, a polars DataFrame or a pyarrow Table"):
        Checks([not_null("a")]).run([{"a": 1}])


def test_raise_for_failures_lists_failed_checks_and_by_how_much() -> None:
    report = Checks([not_null("age"), row_count(min=10), unique("email")], name="gate").run(
        people()
    )
    with pytest.raises(GateFailed) as caught:
        report.raise_for_failures()
    assert str(caught.value) == (
        "Data checks 'gate' failed 2 of 3 checks on 8 rows:\n"
        "  - not_null(age): 1 of 8 rows are missing age\n"
        "  - row_count(min=10): table has 8 rows; expected at least 10 (2 too few)"
    )


def test_raise_for_failures_returns_a_passing_report() -> None:
    report = Checks([row_count(min=1)]).run(people())
    assert report.raise_for_failures() is report


def test_report_json_is_strict_with_nan_and_infinite_data() -> None:
    table = pa.table({"x": [1.0, float("nan"), float("inf"), float("-inf"), None]})
    report = Checks([in_range("x", max=0), not_null("x")]).run(table)
    text = report.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert [e["values"]["x"] for e in report.results[0].examples] == [1.0, "inf"]
    assert [e["values"]["x"] for e in report.results[1].examples] == ["nan", None]
    assert CheckReport.from_json(text) == report


def test_report_json_round_trips_timestamps_as_text() -> None:
    report = full_suite().run(people(), now=NOW)
    again = CheckReport.from_json(report.to_json())
    assert again == report
    assert again.results[1].examples[0]["values"]["signup_at"] == "2024-03-05T00:00:00+00:00"


def test_check_result_json_round_trip() -> None:
    result = run_one(not_null("age"))
    assert CheckResult.from_json(result.to_json()) == result


@pytest.mark.parametrize(
    "text",
    [
        '{"passed": true, "rows": NaN, "results": []}',
        "[1]",
        "{",
        '{"passed": 1, "rows": 2, "results": []}',
    ],
    ids=["nan", "not-object", "broken", "wrong-type"],
)
def test_report_from_json_refuses_bad_text(text: str) -> None:
    with pytest.raises(InvalidInput):
        CheckReport.from_json(text)


# -- YAML -------------------------------------------------------------------------------

EXAMPLE = """
name: churn-input
checks:
  - columns: {age: int64, plan: string}
  - not_null: age
  - unique: customer_id
  - in_range: {column: age, min: 18, max: 120}
  - in_set: {column: plan, values: [free, pro, team]}
  - matches: {column: email, regex: '^[^@]+@[^@]+$'}
  - row_count: {min: 1000}
  - fresher_than: {column: signup_at, max_age: 7d}
  - max_null_share: {column: income, share: 0.05}
  - custom: {name: positive_income, module: tests.data.test_checks, function: income_positive}
  - schema_matches: churn@v3
"""
SCHEMA = {"columns": [{"name": "age", "type": "int64", "nullable": False}]}


def resolve(ref: str) -> dict[str, Any]:
    assert ref == "churn@v3"
    return SCHEMA


def test_load_checks_reads_every_check() -> None:
    suite = load_checks(EXAMPLE, resolve_schema=resolve)
    assert suite.name == "churn-input"
    assert [check.name for check in suite] == [
        "columns(age, plan)",
        "not_null(age)",
        "unique(customer_id)",
        "in_range(age, min=18, max=120)",
        "in_set(plan)",
        "matches(email)",
        "row_count(min=1000)",
        "fresher_than(signup_at, 7d)",
        "max_null_share(income, 0.05)",
        "custom(positive_income)",
        "schema_matches(churn@v3)",
    ]
    assert suite.checks[9] == custom("positive_income", income_positive)


def test_yaml_round_trip_of_every_check() -> None:
    suite = Checks(
        [
            *load_checks(EXAMPLE, resolve_schema=resolve),
            unique(["customer_id", "plan"]),
            in_range("signup_at", min=date(2024, 1, 1)),
            in_range("income", max=1e6),
            fresher_than("signup_at", timedelta(hours=36)),
            schema_matches(SCHEMA),
        ],
        name="churn-input",
    )
    again = load_checks(suite.to_yaml(), resolve_schema=resolve)
    assert again == suite
    assert "- not_null: age\n" in suite.to_yaml()
    assert "- in_range: {column: age, min: 18, max: 120}\n" in suite.to_yaml()


def test_yaml_of_a_lambda_custom_check_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be written to YAML"):
        Checks([custom("x", lambda frame: True)]).to_yaml()


def test_load_checks_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "churn.yaml"
    path.write_text("name: small\nchecks:\n  - not_null: age\n", encoding="utf-8")
    for given in (path, str(path)):
        suite = load_checks(given)
        assert (suite.name, [c.name for c in suite]) == ("small", ["not_null(age)"])


def test_load_checks_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        load_checks(tmp_path / "nope.yaml")


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("checks:\n  - not_nul: age\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"^{path}: checks\[0\]: unknown check"):
        load_checks(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "checks:\n  - not_null: age\n  - not_nul: age\n",
            "checks[1]: unknown check 'not_nul'; did you mean 'not_null'? known checks: columns, "
            "custom, fresher_than, in_range, in_set, matches, max_null_share, not_null, "
            "row_count, schema_matches, unique.",
        ),
        (
            'checks:\n  - in_range: {column: age, min: "x"}\n',
            "checks[0]: in_range.min must be a number or a date, got 'x' (str).",
        ),
        (
            "checks:\n  - not_null: age\n   - unique: id\n",
            "malformed YAML at line 3, column 4: expected <block end>, but found "
            "'<block sequence start>'.",
        ),
        (
            "checks:\n  - schema_matches: churn@v3\n",
            "checks[0]: schema_matches: churn@v3 names a dataset version, and no schema "
            "resolver was given; pass resolve_schema= to load_checks to look it up.",
        ),
        (
            "checks:\n  - in_range: {colum: age, min: 1}\n",
            "checks[0]: in_range has no field 'colum'; its fields are column, min, max.",
        ),
        (
            "checks:\n  - fresher_than: {column: t, max_age: 7x}\n",
            "checks[0]: fresher_than.max_age must be a duration like 7d, 12h or 30m "
            "(units: w, d, h, m, s), got '7x'.",
        ),
        (
            "checks:\n  - custom: {name: c, module: no_such_module_here, function: f}\n",
            "checks[0]: custom.module 'no_such_module_here' cannot be imported: "
            "No module named 'no_such_module_here'.",
        ),
        (
            "checks:\n  - custom: {name: c, module: tests.data.test_checks, function: nope}\n",
            "checks[0]: custom.function: tests.data.test_checks has no 'nope'.",
        ),
        (
            "checks:\n  - row_count: {min: 1.5}\n",
            "checks[0]: row_count.min must be a whole number, got 1.5 (float).",
        ),
        (
            "checks:\n  - max_null_share: {column: a}\n",
            "checks[0]: max_null_share.share is required (a number).",
        ),
        (
            "checks:\n  - max_null_share: {column: a, share: 2}\n",
            "checks[0]: max_null_share(a): share must be a number from 0 to 1, got 2.",
        ),
        (
            "checks:\n  - in_set: {column: a, values: free}\n",
            "checks[0]: in_set.values must be a list of values, got 'free' (str).",
        ),
        (
            "checks:\n  - in_range: {column: a, min: 5, max: 1}\n",
            "checks[0]: in_range(a): min 5 is above max 1.",
        ),
        (
            "checks:\n  - matches: {column: a, regex: '('}\n",
            "checks[0]: matches(a): invalid regex '(': missing ), unterminated subpattern "
            "at position 0.",
        ),
        (
            "checks:\n  - columns: {a: integer}\n",
            "checks[0]: columns: unknown type 'integer' for column 'a'; did you mean 'int'?",
        ),
        ("checks:\n  - not_null\n", "checks[0]: each check is a mapping with one key"),
        ("check: []\n", "a check file is a mapping with a 'checks' list"),
        ("name: x\nchecks: []\nowner: me\n", "unknown top-level key 'owner'"),
        ("name: [1]\nchecks: []\n", "name must be a string, got [1]."),
    ],
    ids=[
        "unknown-check",
        "wrong-type",
        "malformed",
        "no-resolver",
        "unknown-field",
        "bad-duration",
        "bad-module",
        "bad-function",
        "fractional-count",
        "missing-field",
        "share-out-of-range",
        "values-not-list",
        "min-above-max",
        "bad-regex",
        "unknown-type",
        "bare-name",
        "no-checks-list",
        "unknown-top-key",
        "bad-name",
    ],
)
def test_bad_yaml_is_refused_with_a_message(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_checks(text)
    assert str(caught.value).startswith(message)


def test_schema_resolver_errors_carry_the_position() -> None:
    def missing(ref: str) -> dict[str, Any]:
        raise NotFound(f"Dataset version {ref} does not exist.")

    with pytest.raises(NotFound, match=r"^checks\[0\]: Dataset version churn@v9 does not exist"):
        load_checks("checks:\n  - schema_matches: churn@v9\n", resolve_schema=missing)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1.5h", timedelta(minutes=90)),
    ],
    ids=["days", "hours", "minutes", "seconds", "weeks", "combined", "fraction"],
)
def test_parse_duration(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration


def test_parse_duration_refuses_other_text() -> None:
    with pytest.raises(InvalidInput, match="Not a duration: '7 days'"):
        parse_duration("7 days")


# -- a million rows -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_rows_are_checked_with_exact_counts() -> None:
    rows = 1_000_000
    rng = np.random.default_rng(7)
    ages = rng.integers(0, 130, rows).astype("float64")
    ages[rng.random(rows) < 0.01] = np.nan
    ids = np.arange(rows)
    ids[-10:] = ids[:10]
    plans = rng.choice(np.array(["free", "pro", "team", "gold"]), rows)
    table = pa.table({"id": ids, "age": ages, "plan": plans})
    report = Checks(
        [
            not_null("age"),
            in_range("age", min=0, max=120),
            unique("id"),
            in_set("plan", ["free", "pro", "team"]),
        ]
    ).run(table)
    counts = [result.failed_rows for result in report.results]
    present = ages[~np.isnan(ages)]
    assert counts == [
        int(np.isnan(ages).sum()),
        int((present > 120).sum()),
        20,
        int((plans == "gold").sum()),
    ]
    assert all(len(result.examples) == 5 for result in report.results)


def _others(row: pd.Series, skip: str) -> dict[str, Any]:
    """The JSON form of a row of people(), without one column."""
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key == skip:
            continue
        if isinstance(value, pd.Timestamp):
            values[str(key)] = value.isoformat()
        elif isinstance(value, float) and math.isnan(value):
            values[str(key)] = None
        else:
            values[str(key)] = value if not isinstance(value, np.generic) else value.item()
    return values
