"""Checks on a table's columns and types: ``columns`` and ``schema_matches``.

Type names are pyarrow's (``int64``, ``double``, ``large_string``, ``timestamp[us, tz=UTC]``),
plus loose families (``int``, ``float``, ``string``, ``timestamp``, ...) that accept any
width or encoding. Dictionary columns (pandas categoricals) are judged by their values' type.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa

from loopml.data._checks_result import CheckResult
from loopml.data._checks_table import CheckTable
from loopml.errors import InvalidInput

__all__ = [
    "Columns",
    "SchemaColumn",
    "SchemaMatches",
    "canonical_type",
    "parse_schema",
    "type_matches",
    "validate_type_name",
]


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
    )


_FAMILIES: dict[str, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "float": pa.types.is_floating,
    "numeric": lambda k: bool(
        pa.types.is_integer(k) or pa.types.is_floating(k) or pa.types.is_decimal(k)
    ),
    "decimal": pa.types.is_decimal,
    "string": _is_text,
    "str": _is_text,
    "utf8": _is_text,
    "binary": _is_bytes,
    "bool": pa.types.is_boolean,
    "boolean": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
    "datetime": pa.types.is_timestamp,
    "date": pa.types.is_date,
    "list": lambda k: bool(pa.types.is_list(k) or pa.types.is_large_list(k)),
}
# what an unknown type name is compared with to suggest the closest one
_KNOWN_NAMES = [
    *_FAMILIES,
    *(f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)),
    *(f"float{bits}" for bits in (16, 32, 64)),
    *("double", "large_string", "date32"),
    *(f"timestamp[{unit}]" for unit in ("s", "ms", "us", "ns")),
]


def _exact_type(name: str) -> pa.DataType | None:
    try:
        return pa.type_for_alias(name)
    except ValueError:
        return None


def validate_type_name(check: str, column: str, name: object) -> None:
    """Refuse a type name that is neither a family nor a pyarrow type string.

    Raises:
        InvalidInput: naming the column, the type given and the closest known name.
    """
    if isinstance(name, str) and (
        name in _FAMILIES or _exact_type(name) is not None or any(c in name for c in "[<(")
    ):
        return
    close = difflib.get_close_matches(str(name), _KNOWN_NAMES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InvalidInput(
        f"{check}: unknown type {name!r} for column {column!r}; {hint}use a pyarrow type name "
        "(int64, double, large_string, timestamp[us], ...) or a family "
        f"({', '.join(sorted(set(_FAMILIES) - {'str', 'utf8', 'boolean', 'datetime'}))})."
    )


def type_matches(expected: str, actual: pa.DataType) -> bool:
    """Whether a column of type ``actual`` satisfies the type name ``expected``."""
    kind = actual.value_type if pa.types.is_dictionary(actual) else actual
    if expected in _FAMILIES:
        return _FAMILIES[expected](kind)
    exact = _exact_type(expected)
    if exact is not None:
        return bool(kind == exact)
    return canonical_type(expected) in (canonical_type(str(kind)), canonical_type(str(actual)))


@dataclass(frozen=True, slots=True)
class Columns:
    """The table has each column of ``spec`` (name → type name) with a matching type."""

    spec: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.spec:
            raise InvalidInput("columns: name at least one column and its type.")
        for column, type_name in self.spec:
            if not isinstance(column, str) or not column:
                raise InvalidInput(
                    f"columns: column names must be non-empty strings, got {column!r}."
                )
            validate_type_name("columns", column, type_name)

    @property
    def name(self) -> str:
        return f"columns({', '.join(column for column, _ in self.spec)})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        schema = table.arrow.schema
        missing = [column for column, _ in self.spec if column not in schema.names]
        wrong = [
            f"{column} is {table.type_name(column)}, expected {type_name}"
            for column, type_name in self.spec
            if column in schema.names
            and (column in table.unusable or not type_matches(type_name, schema.field(column).type))
        ]
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if wrong:
            problems.append(f"wrong types: {'; '.join(wrong)}")
        if problems:
            return CheckResult(self.name, False, 0, "; ".join(problems))
        return CheckResult(
            self.name, True, 0, f"all {len(self.spec)} columns present with the expected types"
        )

    def to_spec(self) -> dict[str, Any]:
        return {"columns": dict(self.spec)}


class SchemaColumn(NamedTuple):
    """One column of a recorded schema."""

    name: str
    type: str
    nullable: bool = True


def parse_schema(schema: object) -> tuple[SchemaColumn, ...]:
    """Read ``{"columns": [{"name", "type", "nullable"}, ...]}``, the shape a dataset
    version records.

    Raises:
        InvalidInput: naming the part of ``schema`` that is malformed.
    """
    entries = schema.get("columns") if isinstance(schema, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidInput(
            "schema_matches: a schema is a mapping with a 'columns' list of "
            f"{{name, type, nullable}}; got {schema!r:.200}."
        )
    columns = []
    for position, entry in enumerate(entries):
        if (
            not isinstance(entry, Mapping)
            or not isinstance(entry.get("name"), str)
            or not isinstance(entry.get("type"), str)
            or not isinstance(entry.get("nullable", True), bool)
        ):
            raise InvalidInput(
                f"schema_matches: columns[{position}] needs name (string), type (string) and "
                f"optionally nullable (true/false); got {entry!r}."
            )
        columns.append(SchemaColumn(entry["name"], entry["type"], entry.get("nullable", True)))
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise InvalidInput(f"schema_matches: the schema repeats column names: {names}.")
    return tuple(columns)


_ALIASES = {
    "double": "float64",
    "float": "float32",
    "halffloat": "float16",
    "large_string": "string",
    "string_view": "string",
    "utf8": "string",
    "large_utf8": "string",
    "large_binary": "binary",
    "binary_view": "binary",
    "date32[day]": "date32",
    "date64[ms]": "date64",
}
_DICTIONARY = re.compile(r"dictionary<(?:values=)?(.+?)(?:,indices=.*)?>")
_LIST = re.compile(r"(?:large_)?list(?:_view)?<(?:\w+:)?(.+)>")


def canonical_type(type_name: str) -> str:
    """A type string with encodings that keep the values undone (dictionary, large and
    view variants) and pyarrow's names folded into loopml's schema vocabulary
    (``double`` is ``float64``), so a recorded schema matches the same data however read.
    """
    name = type_name.replace(" ", "")
    for pattern, template in ((_DICTIONARY, "{}"), (_LIST, "list<{}>")):
        found = pattern.fullmatch(name)
        if found:
            return template.format(canonical_type(found.group(1)))
    return _ALIASES.get(name, name)


@dataclass(frozen=True, slots=True)
class SchemaMatches:
    """The table has exactly the columns of a recorded schema, with the same types.

    ``nullable`` is not enforced: a recorded schema notes whether that version held nulls,
    which new data may well differ in; use ``not_null`` or ``max_null_share`` for that.
    """

    columns: tuple[SchemaColumn, ...]
    ref: str | None = None

    @property
    def name(self) -> str:
        return f"schema_matches({self.ref or f'{len(self.columns)} columns'})"

    def evaluate(self, table: CheckTable) -> CheckResult:
        schema = table.arrow.schema
        expected = {column.name for column in self.columns}
        problems = []
        missing = [column.name for column in self.columns if column.name not in schema.names]
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        extra = [name for name in schema.names if name not in expected]
        if extra:
            problems.append(f"unexpected columns: {', '.join(extra)}")
        types = [
            f"{column.name} is {table.type_name(column.name)}, the schema says {column.type}"
            for column in self.columns
            if column.name in schema.names
            and (
                column.name in table.unusable
                or canonical_type(str(schema.field(column.name).type))
                != canonical_type(column.type)
            )
        ]
        if types:
            problems.append(f"type differences: {'; '.join(types)}")
        if problems:
            return CheckResult(self.name, False, 0, "; ".join(problems))
        return CheckResult(self.name, True, 0, f"all {len(self.columns)} columns match the schema")

    def to_spec(self) -> dict[str, Any]:
        if self.ref:
            return {"schema_matches": self.ref}
        return {"schema_matches": {"columns": [column._asdict() for column in self.columns]}}
