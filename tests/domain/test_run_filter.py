"""The run-search filter language: parsing, type rules, error messages, order_by."""

from __future__ import annotations

from datetime import UTC, datetime

import hypothesis
import hypothesis.strategies
import pytest

from loopml.domain import run_filter
from loopml.domain.run_filter import (
    And,
    Comparison,
    Ident,
    Node,
    Not,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from loopml.errors import InvalidInput


def _cmp(text: str) -> Comparison:
    """Parse a filter that must be a single comparison."""
    node = parse_filter(text)
    assert isinstance(node, Comparison)
    return node


def _shape(node: Node | None) -> object:
    """The tree without positions: nested tuples that read like the filter."""
    if isinstance(node, Comparison):
        return (f"{node.ident.entity}.{node.ident.key}", node.op, node.value)
    if isinstance(node, And | Or):
        return (type(node).__name__, *(_shape(item) for item in node.items))
    if isinstance(node, Not):
        return ("Not", _shape(node.item))
    return node


def _error(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    return str(caught.value)


# --- the happy paths -------------------------------------------------------------------


def test_issue_example_parses_to_three_comparisons() -> None:
    text = "metrics.acc > 0.9 and params.model = 'rf' and tags.team = 'x'"
    assert parse_filter(text) == And(
        (
            Comparison(Ident("metrics", "acc", 1), ">", 0.9, True, 1),
            Comparison(Ident("params", "model", 23), "=", "rf", False, 23),
            Comparison(Ident("tags", "team", 47), "=", "x", False, 47),
        )
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\t "], ids=["empty", "spaces", "whitespace"])
def test_empty_filter_is_no_filter(text: str) -> None:
    assert parse_filter(text) is None


A, B, C = ("metrics.a", "=", 1), ("metrics.b", "=", 2), ("metrics.c", "=", 3)


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("metrics.a = 1 or metrics.b = 2 and metrics.c = 3", ("Or", A, ("And", B, C))),
        ("metrics.a = 1 and metrics.b = 2 or metrics.c = 3", ("Or", ("And", A, B), C)),
        ("(metrics.a = 1 or metrics.b = 2) and metrics.c = 3", ("And", ("Or", A, B), C)),
        ("metrics.a = 1 and (metrics.b = 2 or metrics.c = 3)", ("And", A, ("Or", B, C))),
        ("((metrics.a = 1))", A),
        ("metrics.a = 1 and metrics.b = 2 and metrics.c = 3", ("And", A, B, C)),
        ("metrics.a = 1 or metrics.b = 2 or metrics.c = 3", ("Or", A, B, C)),
        ("not metrics.a = 1 and metrics.b = 2", ("And", ("Not", A), B)),
        ("not (metrics.a = 1 or metrics.b = 2)", ("Not", ("Or", A, B))),
        ("not not metrics.a = 1", ("Not", ("Not", A))),
        ("metrics.a=1 AND NOT(metrics.b=2)", ("And", A, ("Not", B))),
    ],
    ids=[
        "and-binds-tighter-than-or",
        "and-then-or",
        "parens-override-precedence",
        "parens-on-the-right",
        "redundant-parens",
        "and-chain-is-flat",
        "or-chain-is-flat",
        "not-binds-tighter-than-and",
        "not-of-a-group",
        "double-not",
        "no-spaces",
    ],
)
def test_boolean_structure(text: str, shape: object) -> None:
    assert _shape(parse_filter(text)) == shape


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("METRICS.acc > 1 AnD Status In ('RUNNING')", ("And", ("metrics.acc", ">", 1), ("attributes.status", "IN", ("running",)))),
        ("tags.x Like 'a%' oR tags.y iLiKe 'B%'", ("Or", ("tags.x", "LIKE", "a%"), ("tags.y", "ILIKE", "B%"))),
        ("NoT metrics.x iS nOt NuLl", ("Not", ("metrics.x", "IS NOT NULL", None))),
        ("params.flag = True", ("params.flag", "=", True)),
        ("params.flag != fAlSe", ("params.flag", "!=", False)),
    ],
    ids=["and-in", "like-or-ilike", "not-is-not-null", "true", "false"],
)  # fmt: skip
def test_keywords_are_case_insensitive(text: str, shape: object) -> None:
    assert _shape(parse_filter(text)) == shape


@pytest.mark.parametrize(
    ("text", "entity", "key"),
    [
        ("metric.acc = 1", "metrics", "acc"),
        ("param.lr = 1", "params", "lr"),
        ("tag.team = 'x'", "tags", "team"),
        ("attribute.status = 'running'", "attributes", "status"),
        ("attr.status = 'running'", "attributes", "status"),
        ("attributes.run_name = 'x'", "attributes", "name"),
        ("run_name = 'x'", "attributes", "name"),
        ("id = 'x'", "attributes", "run_id"),
        ("Git_Commit = 'abc'", "attributes", "git_commit"),
        ("metrics.val.acc = 1", "metrics", "val.acc"),
        ("metrics.a.b.c = 1", "metrics", "a.b.c"),
        ("params.opt:lr-0_x = 1", "params", "opt:lr-0_x"),
        ("metrics.`my key` = 1", "metrics", "my key"),
        ("metrics.`a.b (x)` = 1", "metrics", "a.b (x)"),
        ('params."lr.0" = 1', "params", "lr.0"),
        ("tags.`it's` = 'x'", "tags", "it's"),
        ("metrics.Acc = 1", "metrics", "Acc"),
    ],
    ids=[
        "metric-alias",
        "param-alias",
        "tag-alias",
        "attribute-alias",
        "attr-alias",
        "run_name-alias-dotted",
        "run_name-alias-bare",
        "id-alias",
        "attribute-name-any-case",
        "dotted-key",
        "deeply-dotted-key",
        "colon-dash-underscore-key",
        "backtick-key",
        "backtick-key-with-dots-and-parens",
        "double-quoted-key",
        "backtick-key-with-single-quote",
        "key-keeps-its-case",
    ],
)
def test_fields_are_normalised(text: str, entity: str, key: str) -> None:
    ident = _cmp(text).ident
    assert (ident.entity, ident.key, ident.position) == (entity, key, 1)


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("metrics.a = 1", "="),
        ("metrics.a == 1", "="),
        ("metrics.a != 1", "!="),
        ("metrics.a <> 1", "!="),
        ("metrics.a < 1", "<"),
        ("metrics.a <= 1", "<="),
        ("metrics.a > 1", ">"),
        ("metrics.a >= 1", ">="),
        ("tags.a like 'x'", "LIKE"),
        ("tags.a ilike 'x'", "ILIKE"),
        ("tags.a not like 'x'", "NOT LIKE"),
        ("tags.a not ilike 'x'", "NOT ILIKE"),
        ("tags.a in ('x')", "IN"),
        ("tags.a not in ('x')", "NOT IN"),
        ("tags.a is null", "IS NULL"),
        ("tags.a is not null", "IS NOT NULL"),
    ],
)
def test_operators_are_normalised(text: str, op: str) -> None:
    assert _cmp(text).op == op


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("metrics.a = 3", 3),
        ("metrics.a = -3", -3),
        ("metrics.a = +3", 3),
        ("metrics.a = 0.5", 0.5),
        ("metrics.a = .5", 0.5),
        ("metrics.a = 5.", 5.0),
        ("metrics.a = -1.5e-3", -0.0015),
        ("metrics.a = 2E+2", 200.0),
        ("metrics.a>-1", -1),
        ("metrics.a = 9223372036854775807", 2**63 - 1),
        ("tags.a = 'it\\'s'", "it's"),
        ('tags.a = "say \\"hi\\""', 'say "hi"'),
        ("tags.a = 'back\\\\slash'", "back\\slash"),
        ("tags.a = 'a\\d'", "a\\d"),
        ('tags.a = "it\'s"', "it's"),
        ("tags.a = ''", ""),
        ("tags.a = 'and or not ( )'", "and or not ( )"),
    ],
    ids=[
        "int",
        "negative-int",
        "plus-sign",
        "float",
        "leading-dot",
        "trailing-dot",
        "scientific",
        "scientific-upper",
        "sign-after-operator",
        "int64-max",
        "escaped-single-quote",
        "escaped-double-quote",
        "escaped-backslash",
        "other-backslash-kept",
        "single-quote-in-double-quotes",
        "empty-string",
        "keywords-inside-string",
    ],
)
def test_literal_values(text: str, value: object) -> None:
    parsed = _cmp(text).value
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "value", "is_numeric"),
    [
        ("metrics.a in (1, 2.5)", (1, 2.5), True),
        ("metrics.a not in (-1)", (-1,), True),
        ("params.lr in (0.1, 0.01)", (0.1, 0.01), True),
        ("params.model in ('rf', 'gbm')", ("rf", "gbm"), False),
        ("tags.team IN ('a','b','c')", ("a", "b", "c"), False),
        ("status in ('Running', 'KILLED')", ("running", "killed"), False),
        ("name not in ('x')", ("x",), False),
    ],
    ids=["metrics", "metrics-not-in", "params-numbers", "params-strings", "tags", "status", "name"],
)
def test_in_lists_become_tuples(text: str, value: tuple[object, ...], is_numeric: bool) -> None:
    comparison = _cmp(text)
    assert (comparison.value, comparison.is_numeric) == (value, is_numeric)


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("metrics.loss is null", "IS NULL"),
        ("metrics.loss is not null", "IS NOT NULL"),
        ("params.lr IS NULL", "IS NULL"),
        ("tags.team is not null", "IS NOT NULL"),
        ("parent_id is null", "IS NULL"),
        ("git_commit is not null", "IS NOT NULL"),
    ],
    ids=["metric-absent", "metric-present", "param", "tag", "parent_id", "git_commit"],
)
def test_is_null_has_no_value(text: str, op: str) -> None:
    comparison = _cmp(text)
    assert (comparison.op, comparison.value, comparison.is_numeric) == (op, None, False)


@pytest.mark.parametrize(
    ("text", "is_numeric"),
    [
        ("metrics.acc = 1", True),
        ("params.lr > 0.1", True),
        ("params.epochs = 10", True),
        ("params.model = 'rf'", False),
        ("params.model > 'a'", False),
        ("params.early_stop = true", False),
        ("params.model like 'r%'", False),
        ("tags.x = '1'", False),
    ],
    ids=["metric", "param-float", "param-int", "param-string", "param-string-order", "param-bool", "param-like", "tag"],
)  # fmt: skip
def test_numeric_flag(text: str, is_numeric: bool) -> None:
    assert _cmp(text).is_numeric is is_numeric


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start_time > '2024-05-01'", datetime(2024, 5, 1, tzinfo=UTC)),
        ("start_time >= '2024-05-01T12:30:00'", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("end_time < '2024-05-01T12:30:00+02:00'", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("end_time < '2024-05-01T12:30:00Z'", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("start_time = 1714566600000", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("start_time != 0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("start_time > 1.5", datetime(1970, 1, 1, 0, 0, 0, 1500, tzinfo=UTC)),
    ],
    ids=["date-only", "naive-is-utc", "offset-converted", "zulu", "epoch-ms", "epoch-zero", "fractional-ms"],
)  # fmt: skip
def test_times_become_aware_utc_datetimes(text: str, expected: datetime) -> None:
    value = _cmp(text).value
    assert value == expected
    assert isinstance(value, datetime)
    assert value.utcoffset() is not None


def test_positions_are_one_based_columns() -> None:
    node = parse_filter("  metrics.a = 1 or (tags.b = 'x')")
    assert isinstance(node, Or)
    assert [item.position for item in node.items if isinstance(item, Comparison)] == [3, 21]


# --- errors ----------------------------------------------------------------------------


def test_operator_error_message_is_exact() -> None:
    assert _error("metrics.acc foo 0.9") == (
        "Invalid filter at column 13: expected a comparison operator (=, !=, <, <=, >, >=, "
        "LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL) after 'metrics.acc', got 'foo'.\n"
        "  metrics.acc foo 0.9\n"
        "              ^"
    )


ERRORS = [
    # syntax
    ("dangling-and", "metrics.a = 1 and", 18, "and", "expected a field"),
    ("dangling-or", "metrics.a = 1 OR ", 18, "OR", "the end of the filter"),
    ("dangling-not", "not", 4, "not", "expected a field"),
    ("unclosed-paren", "(metrics.a = 1", 15, "'('", "to close the '(' at column 1"),
    ("unclosed-nested-paren", "metrics.a = 1 and ((metrics.b = 2)", 35, "column 19", "close"),
    ("stray-close-paren", "metrics.a = 1)", 14, "')'", "AND, OR or the end"),
    ("trailing-garbage", "metrics.a = 1 foo", 15, "'foo'", "AND, OR or the end"),
    ("two-values", "metrics.a = 1 2", 15, "'2'", "AND, OR or the end"),
    ("empty-parens", "()", 2, "')'", "expected a field"),
    ("missing-value", "metrics.a =", 12, "'='", "expected a value"),
    ("operator-as-value", "metrics.a = = 1", 13, "'='", "expected a value"),
    ("bare-word-value", "status = running", 10, "'running'", "quoted string"),
    ("value-first", "0.9 < metrics.acc", 1, "'0.9'", "expected a field"),
    ("string-first", "'rf' = params.model", 1, "'rf'", "expected a field"),
    ("unclosed-single-quote", "tags.a = 'abc", 10, "'abc", "unclosed quote"),
    ("unclosed-double-quote", 'tags.a = "abc', 10, '"abc', "unclosed quote"),
    ("unclosed-backtick", "metrics.`abc = 1", 9, "`abc", "unclosed quote"),
    ("escaped-closing-quote", "tags.a = 'abc\\'", 10, "'abc", "unclosed quote"),
    ("ampersand", "metrics.a = 1 && metrics.b = 2", 15, "'&'", "AND and OR"),
    ("semicolon", "metrics.a = 1;", 14, "';'", "unexpected character"),
    ("not-without-like", "tags.a not = 'x'", 12, "'='", "LIKE, ILIKE or IN after 'not'"),
    ("is-without-null", "tags.a is 'x'", 11, "'x'", "NULL after 'IS'"),
    ("is-not-without-null", "tags.a is not 1", 15, "'1'", "NULL after 'IS NOT'"),
    ("in-without-parens", "tags.a in 'x'", 11, "'x'", "'(' to open the list"),
    ("empty-in-list", "tags.a in ()", 12, "')'", "expected a value"),
    ("trailing-comma", "tags.a in ('x',)", 16, "')'", "expected a value"),
    ("unclosed-in-list", "tags.a in ('x'", 15, "the end of the filter", "list opened at column 11"),
    ("in-list-missing-comma", "tags.a in ('x' 'y')", 16, "'y'", "',' or ')'"),
    # fields
    ("unknown-entity", "foo.bar = 1", 1, "'foo'", "metrics, params, tags, attributes"),
    ("unknown-attribute", "bogus = 1", 1, "'bogus'", "status, name, run_id, experiment_id"),
    ("unknown-dotted-attribute", "attributes.bogus = 1", 1, "'bogus'", "git_commit"),
    ("empty-key", "metrics. = 1", 1, "'metrics.'", "missing key"),
    ("empty-backtick-key", "metrics.`` = 1", 1, "'metrics.'", "missing key"),
    ("entity-without-key", "metrics = 1", 1, "'metrics'", "missing key"),
    ("single-quoted-key", "metrics.'a' = 1", 1, "'metrics.'", "backticks"),
    ("spaced-quoted-key", "metrics. `a` = 1", 1, "'metrics.'", "missing key"),
    ("double-dot-key", "metrics.a..b = 1", 1, "'a..b'", "single dots"),
    ("trailing-dot-key", "metrics.a. = 1", 1, "'a.'", "single dots"),
    ("plus-in-key", "metrics.a+b = 1", 1, "'a+b'", "invalid key"),
    ("non-ascii-key", "metrics.précision = 1", 11, "'é'", "unexpected character"),
    # literals
    ("inf", "metrics.a = inf", 13, "'inf'", "finite"),
    ("minus-inf", "metrics.a < -inf", 13, "'-inf'", "finite"),
    ("nan", "metrics.a = NaN", 13, "'NaN'", "finite"),
    ("infinity", "metrics.a = Infinity", 13, "'Infinity'", "finite"),
    ("float-overflow", "metrics.a = 1e999", 13, "'1e999'", "out of range"),
    ("int-overflow", "metrics.a = 9223372036854775808", 13, "'9223372036854775808'", "64 bits"),
    ("huge-int", "metrics.a = " + "9" * 5000, 13, "'999", "out of range"),
    ("null-value", "metrics.a = null", 13, "NULL", "IS NULL"),
    ("null-in-list", "tags.a in ('x', NULL)", 17, "NULL", "IS NULL"),
    ("underscore-number", "metrics.a = 1_000", 13, "'1_000'", "expected a value"),
    # type rules
    ("like-on-metric", "metrics.acc LIKE '0.9%'", 13, "LIKE", "not allowed on metrics.acc"),
    ("not-ilike-on-metric", "metrics.acc not ilike 'x'", 13, "NOT ILIKE", "not allowed"),
    ("string-metric", "metrics.acc > '0.9'", 15, "'0.9'", "metrics are numbers"),
    ("bool-metric", "metrics.acc = true", 15, "TRUE", "metrics are numbers"),
    ("string-in-metric-list", "metrics.a in (1, 'x')", 18, "'x'", "metrics are numbers"),
    ("number-tag", "tags.team = 1", 13, "the number 1", "holds strings"),
    ("bool-tag", "tags.team = false", 13, "FALSE", "holds strings"),
    ("number-in-tag-list", "tags.team in ('a', 2)", 20, "the number 2", "holds strings"),
    ("like-number-param", "params.lr like 0.1", 16, "the number 0.1", "quoted pattern"),
    ("ordered-bool-param", "params.flag > true", 15, "TRUE", "does not order booleans"),
    ("mixed-param-list", "params.x in (1, 'a')", 17, "the string 'a'", "expected a number like"),
    ("mixed-param-list-string-first", "params.x in ('a', 1)", 19, "the number 1", "a string like"),
    ("unknown-status", "status = 'done'", 10, "'done'", "running, finished, failed, killed"),
    ("number-status", "status = 1", 10, "the number 1", "running, finished"),
    ("unknown-status-in-list", "status in ('running', 'ok')", 23, "'ok'", "unknown status"),
    ("ordered-status", "status > 'running'", 8, ">", "not allowed on status"),
    ("like-status", "status like 'run%'", 8, "LIKE", "use one of =, !=, IN, NOT IN"),
    ("status-is-null", "status is null", 8, "IS NULL", "not allowed on status"),
    ("bad-time-string", "start_time > 'yesterday'", 14, "'yesterday'", "ISO-8601"),
    ("bool-time", "end_time < true", 12, "TRUE", "epoch milliseconds"),
    ("time-out-of-range", "start_time > 1e300", 14, "1e300", "ISO-8601"),
    ("like-time", "start_time like '2024%'", 12, "LIKE", "not allowed on start_time"),
    ("in-time", "end_time in (1, 2)", 10, "IN", "not allowed on end_time"),
    ("number-name", "name = 3", 8, "the number 3", "name holds strings"),
    ("ordered-run-id", "run_id < 'abc'", 8, "<", "not allowed on run_id"),
    ("number-experiment-id", "experiment_id in (1)", 19, "the number 1", "holds strings"),
]


@pytest.mark.parametrize(
    ("text", "column", "token", "detail"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_invalid_filter_points_at_the_offending_token(
    text: str, column: int, token: str, detail: str
) -> None:
    message = _error(text)
    first_line, _, caret = message.split("\n")
    assert first_line.startswith(f"Invalid filter at column {column}: ")
    assert token in first_line
    assert detail in first_line
    assert first_line.endswith(".")
    assert caret == "  " + " " * (column - 1) + "^"


def test_caret_sits_under_the_column_in_short_filters() -> None:
    text = "tags.a = 1 and\tmetrics.b = 'x'"
    _, shown, caret = _error(text).split("\n")
    assert shown == "  tags.a = 1 and metrics.b = 'x'"  # the tab is shown as a space
    assert caret == "  " + " " * 9 + "^"


def test_long_filters_show_a_window_around_the_column() -> None:
    text = " or ".join(f"metrics.m{i} = {i}" for i in range(20)) + " or metrics.x foo 1"
    column = text.index("foo") + 1
    first_line, shown, caret = _error(text).split("\n")
    assert first_line.startswith(f"Invalid filter at column {column}: ")
    assert shown.startswith("  ...") and len(shown) < 100
    assert shown[caret.index("^") :].startswith("foo")


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    text = "(" * 60 + "metrics.a = 1" + ")" * 60
    assert "more than 50 levels" in _error(text)
    assert _error("not " * 60 + "metrics.a = 1").startswith("Invalid filter at column 201: ")


def test_fifty_levels_of_nesting_are_allowed() -> None:
    assert _shape(parse_filter("(" * 50 + "metrics.a = 1" + ")" * 50)) == A


def test_too_long_filter_names_its_length_and_the_limit() -> None:
    text = "metrics.a = 1 or " * 600
    assert len(text) > 10_000
    message = _error(text)
    assert f"{len(text):,} characters" in message
    assert "10,000" in message


def test_filter_of_exactly_the_limit_is_parsed() -> None:
    text = "metrics.a = 1".ljust(10_000)
    assert _shape(parse_filter(text)) == A


def test_non_string_filter_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="filter must be a str, got int"):
        parse_filter(3)  # type: ignore[arg-type]


# --- order_by --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("metrics.acc", OrderKey(Ident("metrics", "acc", 1), False)),
        ("-metrics.acc", OrderKey(Ident("metrics", "acc", 2), True)),
        ("+params.lr", OrderKey(Ident("params", "lr", 2), False)),
        ("metrics.acc DESC", OrderKey(Ident("metrics", "acc", 1), True)),
        ("start_time asc", OrderKey(Ident("attributes", "start_time", 1), False)),
        ("  - tags.team  ", OrderKey(Ident("tags", "team", 5), True)),
        ("status", OrderKey(Ident("attributes", "status", 1), False)),
        ("run_name desc", OrderKey(Ident("attributes", "name", 1), True)),
        ("-metrics.`my key`", OrderKey(Ident("metrics", "my key", 2), True)),
        ("metric.val.acc Desc", OrderKey(Ident("metrics", "val.acc", 1), True)),
    ],
    ids=["bare", "minus", "plus", "desc", "asc", "spaced-sign", "status", "alias", "quoted", "dotted"],
)  # fmt: skip
def test_order_by_forms(item: str, expected: OrderKey) -> None:
    assert parse_order_by([item]) == [expected]


def test_order_by_keeps_the_order_of_items() -> None:
    keys = parse_order_by(["-metrics.acc", "start_time"])
    assert [(key.ident.key, key.descending) for key in keys] == [
        ("acc", True),
        ("start_time", False),
    ]
    assert parse_order_by([]) == []


@pytest.mark.parametrize(
    ("items", "prefix", "detail"),
    [
        (["-metrics.acc desc"], "item 1 ('-metrics.acc desc') at column 14", "given twice"),
        (["+metrics.acc ASC"], "item 1 ('+metrics.acc ASC') at column 14", "given twice"),
        (["start_time", "metrics.acc up"], "item 2 ('metrics.acc up') at column 13", "'up'"),
        (["bogus"], "item 1 ('bogus') at column 1", "unknown attribute 'bogus'"),
        (["foo.bar"], "item 1 ('foo.bar') at column 1", "unknown entity 'foo'"),
        ([""], "item 1 ('') at column 1", "the end of the order_by item"),
        (["-"], "item 1 ('-') at column 2", "expected a field"),
        (["metrics."], "item 1 ('metrics.') at column 1", "missing key"),
        (["metrics.acc, start_time"], "item 1 ('metrics.acc, start_time') at column 12", "','"),
        (["metrics.`acc"], "item 1 ('metrics.`acc') at column 9", "unclosed quote"),
    ],
    ids=["sign-and-desc", "sign-and-asc", "unknown-direction", "unknown-attribute", "unknown-entity", "empty", "sign-only", "empty-key", "comma-in-item", "unclosed-backtick"],
)  # fmt: skip
def test_invalid_order_by_names_the_item(items: list[str], prefix: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by(items)
    first_line = str(caught.value).split("\n")[0]
    assert first_line.startswith(f"Invalid order_by {prefix}: ")
    assert detail in first_line


def test_order_by_refuses_more_than_ten_items() -> None:
    assert len(parse_order_by(["metrics.a"] * 10)) == 10
    with pytest.raises(InvalidInput, match="it has 11 items and the limit is 10"):
        parse_order_by(["metrics.a"] * 11)


def test_order_by_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        parse_order_by("-metrics.acc")


def test_order_by_refuses_non_string_items() -> None:
    with pytest.raises(TypeError, match="order_by items must be str, got int"):
        parse_order_by([1])  # type: ignore[list-item]


def test_public_names_are_exported_sorted() -> None:
    assert run_filter.__all__ == sorted(run_filter.__all__)
    assert all(hasattr(run_filter, name) for name in run_filter.__all__)


# --- property --------------------------------------------------------------------------

SOUP = ["metrics.a", "params.`k`", 'tags."t"', "status", "start_time", "name", "foo.bar", "and",
        "OR", "not", "(", ")", ",", "=", "<>", ">=", "like", "in", "is", "null", "'x'", '"y',
        "1", "-2.5e3", "1e999", "inf", "true", "`", "\\", "'running'", "'2024-01-01'", ".", "-"]  # fmt: skip


def test_parse_filter_raises_nothing_but_invalid_input() -> None:
    st = hypothesis.strategies
    soup = st.lists(st.sampled_from(SOUP), max_size=12).map(" ".join)

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(st.one_of(st.text(max_size=60), soup))
    def check(text: str) -> None:
        try:
            parse_filter(text)
        except InvalidInput as error:
            assert str(error).startswith("Invalid filter")

    check()
