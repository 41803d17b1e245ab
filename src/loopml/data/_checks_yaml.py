"""Check suites as YAML: parse a ``checks:`` file into checks, and write checks back.

Grammar (every entry of ``checks`` is a mapping with one key, the check's name)::

    name: churn-input                      # optional
    checks:
      - columns: {age: int64, plan: string}
      - not_null: age                      # or {column: age}
      - unique: customer_id                # or [a, b], or {columns: [a, b]}
      - in_range: {column: age, min: 18, max: 120}
      - in_set: {column: plan, values: [free, pro, team]}
      - matches: {column: email, regex: '^[^@]+@[^@]+$'}
      - row_count: {min: 1000, max: 5000000}
      - fresher_than: {column: signup_at, max_age: 7d}
      - max_null_share: {column: income, share: 0.05}
      - custom: {name: positive_income, module: mypkg.checks, function: income_positive}
      - schema_matches: churn@v3           # or {columns: [{name, type, nullable}, ...]}
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import reduce
from typing import Any

import yaml

from loopml.data._checks_columns import InRange, InSet, Matches, MaxNullShare, NotNull, Unique
from loopml.data._checks_durations import parse_duration
from loopml.data._checks_schema import Columns, SchemaMatches, parse_schema
from loopml.data._checks_table import Check
from loopml.data._checks_table_level import Custom, FresherThan, RowCount
from loopml.errors import InvalidInput, LoopmlError

__all__ = ["KNOWN_CHECKS", "SchemaResolver", "dump_checks", "parse_checks"]

SchemaResolver = Callable[[str], Mapping[str, Any]]
"""Returns the recorded schema of a dataset version named like ``churn@v3``."""

_REF = re.compile(r"[^@\s]+@v\d+")


class _Args:
    """The arguments of one check entry, read with errors that say where and what."""

    def __init__(self, check: str, raw: object, fields: tuple[str, ...], short: str) -> None:
        self.check = check
        if not isinstance(raw, Mapping):
            raw = {short: raw}
        unknown = [key for key in raw if key not in fields]
        if unknown:
            raise InvalidInput(
                f"{check} has no field {unknown[0]!r}; its fields are {', '.join(fields)}."
            )
        self.raw: Mapping[str, Any] = raw

    def get(self, key: str, expected: str, accepts: Callable[[object], bool], need: bool) -> Any:
        if key not in self.raw or self.raw[key] is None:
            if need:
                raise InvalidInput(f"{self.check}.{key} is required ({expected}).")
            return None
        value = self.raw[key]
        if not accepts(value):
            raise InvalidInput(
                f"{self.check}.{key} must be {expected}, got {value!r} ({type(value).__name__})."
            )
        return value

    def text(self, key: str, need: bool = True) -> Any:
        return self.get(key, "a string", lambda v: isinstance(v, str) and bool(v), need)

    def number(self, key: str, need: bool = False) -> Any:
        return self.get(key, "a number", _is_number, need)

    def count(self, key: str) -> Any:
        return self.get(
            key, "a whole number", lambda v: _is_number(v) and isinstance(v, int), False
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _columns(raw: object) -> Check:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise InvalidInput(
            f"columns must map column names to type names, like {{age: int64}}; got {raw!r}."
        )
    return Columns(tuple((str(column), kind) for column, kind in raw.items()))


def _unique(raw: object) -> Check:
    if isinstance(raw, Mapping):
        args = _Args("unique", raw, ("column", "columns"), "column")
        raw = args.raw.get("columns", args.raw.get("column"))
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidInput(
            f"unique needs a column name or a list of them, got {raw!r} ({type(raw).__name__})."
        )
    return Unique(tuple(names))


def _in_range(raw: object) -> Check:
    args = _Args("in_range", raw, ("column", "min", "max"), "column")
    low, high = (args.get(key, "a number or a date", _is_bound, False) for key in ("min", "max"))
    return InRange(args.text("column"), low, high)


def _is_bound(value: object) -> bool:
    return _is_number(value) or isinstance(value, date)


def _row_count(raw: object) -> Check:
    args = _Args("row_count", raw, ("min", "max"), "min")
    return RowCount(args.count("min"), args.count("max"))


def _in_set(raw: object) -> Check:
    args = _Args("in_set", raw, ("column", "values"), "column")
    values = args.get("values", "a list of values", lambda v: isinstance(v, list) and bool(v), True)
    scalar = (str, int, float, bool, date)
    bad = [v for v in values if not isinstance(v, scalar)]
    if bad:
        raise InvalidInput(f"in_set.values must hold plain values, got {bad[0]!r}.")
    return InSet(args.text("column"), tuple(values))


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except InvalidInput as exc:
        raise InvalidInput(
            f"fresher_than.max_age must be a duration like 7d, 12h or 30m (units: w, d, h, "
            f"m, s), got {text!r}."
        ) from exc


def _custom(raw: object) -> Check:
    args = _Args("custom", raw, ("name", "module", "function"), "name")
    label, module_name, function = args.text("name"), args.text("module"), args.text("function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"custom.module {module_name!r} cannot be imported: {exc}.") from exc
    try:
        fn = reduce(getattr, function.split("."), module)
    except AttributeError as exc:
        raise InvalidInput(f"custom.function: {module_name} has no {function!r}.") from exc
    if not callable(fn):
        raise InvalidInput(f"custom.function: {module_name}.{function} is not callable.")
    return Custom(label, fn, (module_name, function))


def _schema_matches(raw: object, resolve: SchemaResolver | None) -> Check:
    if isinstance(raw, Mapping):
        return SchemaMatches(parse_schema(raw))
    if not isinstance(raw, str) or not _REF.fullmatch(raw):
        raise InvalidInput(
            "schema_matches needs a dataset version like churn@v3 or an inline schema "
            f"{{columns: [{{name, type, nullable}}]}}; got {raw!r}."
        )
    if resolve is None:
        raise InvalidInput(
            f"schema_matches: {raw} names a dataset version, and no schema resolver was "
            "given; pass resolve_schema= to load_checks to look it up."
        )
    return SchemaMatches(parse_schema(resolve(raw)), raw)


def _one_column(check: str, build: Callable[..., Check], *fields: str) -> Callable[[object], Check]:
    """Parser of a check taking a column plus ``fields``; a bare string is the column."""

    def parse(raw: object) -> Check:
        args = _Args(check, raw, ("column", *fields), "column")
        return build(args, args.text("column"))

    return parse


_PARSERS: dict[str, Callable[[object], Check]] = {
    "columns": _columns,
    "not_null": _one_column("not_null", lambda a, c: NotNull(c)),
    "unique": _unique,
    "in_range": _in_range,
    "in_set": _in_set,
    "matches": _one_column("matches", lambda a, c: Matches(c, a.text("regex")), "regex"),
    "row_count": _row_count,
    "fresher_than": _one_column(
        "fresher_than", lambda a, c: FresherThan(c, _duration(a.text("max_age"))), "max_age"
    ),
    "max_null_share": _one_column(
        "max_null_share", lambda a, c: MaxNullShare(c, a.number("share", need=True)), "share"
    ),
    "custom": _custom,
}
KNOWN_CHECKS = (*_PARSERS, "schema_matches")


def parse_checks(
    text: str, *, source: str = "", resolve_schema: SchemaResolver | None = None
) -> tuple[str, list[Check]]:
    """Parse a check file's text into its name and checks.

    Args:
        text: the YAML document.
        source: the file's name, to prefix messages with (empty for text).
        resolve_schema: looks up the schema of ``schema_matches: NAME@vN`` entries.

    Returns:
        The suite's name (``""`` when absent) and its checks, in order.

    Raises:
        InvalidInput: for malformed YAML (with its line), an unknown check (with its
            position and the closest known name) or a field of the wrong type.
    """
    prefix = f"{source}: " if source else ""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInput(f"{prefix}malformed YAML{where}: {exc.problem or exc}.") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{prefix}malformed YAML: {exc}.") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("checks"), list):
        raise InvalidInput(
            f"{prefix}a check file is a mapping with a 'checks' list (and optionally a "
            f"'name'); got {document!r:.100}."
        )
    unknown = sorted(str(key) for key in document if key not in ("name", "checks"))
    if unknown:
        raise InvalidInput(f"{prefix}unknown top-level key {unknown[0]!r}; use name and checks.")
    name = document.get("name") or ""
    if not isinstance(name, str):
        raise InvalidInput(f"{prefix}name must be a string, got {name!r}.")
    checks = []
    for position, entry in enumerate(document["checks"]):
        where = f"{prefix}checks[{position}]"
        try:
            checks.append(_parse_entry(entry, resolve_schema))
        except LoopmlError as exc:
            raise type(exc)(f"{where}: {exc.message}") from exc
    return name, checks


def _parse_entry(entry: object, resolve: SchemaResolver | None) -> Check:
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise InvalidInput(
            f"each check is a mapping with one key, like 'not_null: age'; got {entry!r:.100}."
        )
    ((kind, raw),) = entry.items()
    if kind == "schema_matches":
        return _schema_matches(raw, resolve)
    if kind not in _PARSERS:
        close = difflib.get_close_matches(str(kind), KNOWN_CHECKS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            f"unknown check {kind!r}; {hint}known checks: {', '.join(sorted(KNOWN_CHECKS))}."
        )
    return _PARSERS[kind](raw)


class _Inline(dict[str, Any]):
    """A check's arguments, written on the check's line: ``- in_range: {column: age}``."""


class _InlineList(list[Any]):
    """A list of arguments written on one line: ``- unique: [a, b]``."""


class _Dumper(yaml.SafeDumper):
    """Block style for the document, flow style for each check's arguments."""


def _represent_inline(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


def _represent_inline_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(_Inline, _represent_inline)
_Dumper.add_representer(_InlineList, _represent_inline_list)


def _inline(value: Any) -> Any:
    if isinstance(value, dict):
        return _Inline(value)
    return _InlineList(value) if isinstance(value, list) else value


def dump_checks(name: str, checks: list[Check]) -> str:
    """Write checks as a YAML document that :func:`parse_checks` reads back.

    Raises:
        InvalidInput: if a check cannot be named in YAML (a custom check on a lambda).
    """
    document: dict[str, Any] = {"name": name} if name else {}
    document["checks"] = [
        {kind: _inline(args) for kind, args in check.to_spec().items()} for check in checks
    ]
    text = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return str(text)
