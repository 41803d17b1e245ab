"""The run-search filter language: filter text in, a checked syntax tree out.

Users narrow a run search with a small SQL-like language::

    metrics.acc > 0.9 and params.model = 'rf' and (tags.team = 'x' or status = 'failed')

This module parses and type-checks only; the SQL adapter compiles the tree. It does no
I/O, so the client and the server reject the same filters with the same messages, each
pointing at the offending token with its column and a caret.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn, TypeAlias

from loopml.domain.tracking import RunStatus
from loopml.errors import InvalidInput

__all__ = [
    "And",
    "Comparison",
    "Ident",
    "Node",
    "Not",
    "Or",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]

_MAX_FILTER_LENGTH = 10_000
_MAX_ORDER_BY_KEYS = 10
# Each level of parentheses or NOT costs a few Python frames; this keeps a hostile
# filter far below the recursion limit while no real filter comes near it.
_MAX_DEPTH = 50

_Entity = Literal["metrics", "params", "tags", "attributes"]
_Literal = str | int | float | bool
_Scalar = str | int | float | bool | datetime

# fmt: off
_ENTITIES: dict[str, _Entity] = {
    "metrics": "metrics", "metric": "metrics", "params": "params", "param": "params",
    "tags": "tags", "tag": "tags",
    "attributes": "attributes", "attribute": "attributes", "attr": "attributes",
}
_ATTRIBUTES = {
    "status": "status", "name": "name", "run_name": "name", "run_id": "run_id", "id": "run_id",
    "experiment_id": "experiment_id", "parent_id": "parent_id", "start_time": "start_time",
    "end_time": "end_time", "git_commit": "git_commit",
}
_SYMBOLS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# fmt: on
_TIMES = ("start_time", "end_time")
_STATUSES = tuple(status.value for status in RunStatus)

_ORDERING = ("<", "<=", ">", ">=")
_COMPARE = ("=", "!=", *_ORDERING)
_PATTERN = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
_SET = ("IN", "NOT IN")
_NULL = ("IS NULL", "IS NOT NULL")
_OPERATORS = _COMPARE + _PATTERN + _SET + _NULL
# The NOT forms of LIKE and ILIKE are left out of the hint: the list reads better short.
_OPERATOR_HINT = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"

_OPERATOR_RE = re.compile(r"==|!=|<>|<=|>=|=|<|>")
_WORD_RE = re.compile(r"[A-Za-z0-9_:.+\-]+")
_KEY_RE = re.compile(r"[A-Za-z0-9_:\-]+(?:\.[A-Za-z0-9_:\-]+)*")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER_RE = re.compile(r"[+-]?\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What the parser expected, and the messages of every other error, in one place.
_FIELD = "a field such as metrics.acc, params.lr, tags.team or status"
_VALUE = "a value (a number, a quoted string such as 'rf', TRUE or FALSE)"
_UNKNOWN_ENTITY = "unknown entity {} in {}; expected one of metrics, params, tags, attributes"
_UNKNOWN_ATTRIBUTE = (
    "unknown attribute {}{}; expected one of "
    + ", ".join(dict.fromkeys(_ATTRIBUTES.values()))
    + ", or a key such as metrics.{}"
)
_BAD_KEY = (
    "invalid key {} in {}: a bare key is letters, digits, _, - and : with single dots inside;"
    " quote other keys with backticks (metrics.`my key`)"
)
_EMPTY_KEY = (
    "missing key in {}; write ENTITY.key such as metrics.acc, and quote keys with other"
    " characters in backticks (metrics.`my key`)"
)
_UNCLOSED = "unclosed quote: {} never ends; close it with {}"
_NOT_FINITE = "{} is not allowed as a value; compare with a finite number"
_NULL_VALUE = "NULL is not a value; write IS NULL or IS NOT NULL"
_OUT_OF_RANGE = (
    "the number {} is out of range; integers must fit in 64 bits and floats must be finite"
)
_BAD_OPERATOR = "{} is not allowed on {}; use one of {}"
_NEEDS_PATTERN = "{} needs a quoted pattern such as '%rf%', got {}"
_NEEDS_NUMBER = "metrics are numbers; compare {} with a number, got {}"
_NEEDS_STRING = "{} holds strings; quote the value ('{}'), got {}"
_BOOL_ORDER = "{} does not order booleans; compare {} with = or !=, got {}"
_MIXED = "expected {} like the first value of the list, got {}"
_UNKNOWN_STATUS = "unknown status: expected one of " + ", ".join(_STATUSES) + ", got {}"
_BAD_TIME = (
    "{} is compared with an ISO-8601 time such as '2024-05-01T12:00:00' or with epoch"
    " milliseconds, got {}"
)
_TOO_DEEP = f"the filter nests more than {_MAX_DEPTH} levels of parentheses and NOT at {{}}"
_TWO_DIRECTIONS = "the direction is given twice, by {} and by {}; keep one"


@dataclass(frozen=True, slots=True)
class Ident:
    """A field of a run: ``metrics.acc`` is ``Ident("metrics", "acc", position)``.

    Attributes:
        entity: the part of the run the key names; bare attributes such as ``status``
            belong to ``"attributes"``.
        key: the key as written, quotes removed; for attributes the canonical name.
        position: 1-based column of the field in the text it was parsed from.
    """

    entity: _Entity
    key: str
    position: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """One condition, such as ``metrics.acc > 0.9``.

    Attributes:
        ident: the field compared.
        op: one of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``, ``ILIKE``,
            ``NOT LIKE``, ``NOT ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``, ``IS NOT NULL``.
        value: a tuple for IN lists, ``None`` for the IS forms, an aware UTC
            ``datetime`` for start_time and end_time, a lowercase string for status.
        is_numeric: whether to compare as numbers: always for metrics; for params,
            stored as text, it tells the compiler to cast.
        position: 1-based column where the condition starts.
    """

    ident: Ident
    op: str
    value: _Scalar | tuple[_Scalar, ...] | None
    is_numeric: bool
    position: int


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold (two or more)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` holds (two or more)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``item`` does not hold."""

    item: Node


Node: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One sort key of a run search: a field and a direction."""

    ident: Ident
    descending: bool


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "op", "string", "backtick", "(", ")", "," or "end"
    text: str  # as written, quotes included
    start: int  # 0-based index into the text
    value: str = ""  # the content of a quoted token, escapes resolved

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_Raw: TypeAlias = list[tuple[_Literal, _Token]]  # values as parsed, with their tokens


class _SyntaxError(Exception):
    """A problem at ``index`` (0-based) of the text; the entry points add the caret."""

    def __init__(self, index: int, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.detail = detail


def _error(token: _Token, template: str, *args: str) -> _SyntaxError:
    return _SyntaxError(token.start, template.format(*args))


def parse_filter(text: str) -> Node | None:
    """Parse and type-check a run filter.

    Example::

        parse_filter("metrics.acc > 0.9 and status = 'finished'")
        # And(items=(Comparison(Ident("metrics", "acc", 1), ">", 0.9, ...), ...))

    Args:
        text: the filter as the user wrote it; keywords are case-insensitive.

    Returns:
        The syntax tree, or ``None`` when ``text`` is empty or only whitespace.

    Raises:
        InvalidInput: the filter is longer than 10,000 characters or is
            malformed; the message gives the column, the offending token and a caret.
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"filter must be a str, got {type(text).__name__}")
    if len(text) > _MAX_FILTER_LENGTH:
        raise InvalidInput(
            f"Invalid filter: it is {len(text):,} characters long and the limit is "
            f"{_MAX_FILTER_LENGTH:,}; shorten it, for example with IN lists."
        )
    if not text.strip():
        return None
    try:
        parser = _Parser(text, "filter")
        node = parser.disjunction()
        parser.expect_end("AND, OR or the end of the filter")
    except _SyntaxError as error:
        raise _invalid("Invalid filter", text, error) from None
    return node


def parse_order_by(items: Sequence[str]) -> list[OrderKey]:
    """Parse the sort keys of a run search.

    Example::

        parse_order_by(["-metrics.acc", "start_time asc"])
        # [OrderKey(Ident("metrics", "acc", 2), True), OrderKey(Ident(...), False)]

    Args:
        items: at most 10 fields, the most significant first, each
            with an optional direction: ``"metrics.acc"``, ``"-metrics.acc"``,
            ``"+params.lr"``, ``"metrics.acc DESC"``, ``"start_time asc"``.

    Returns:
        One ``OrderKey`` per item, in the same order.

    Raises:
        InvalidInput: there are too many items, or one is malformed; the message names
            the item and what is wrong with it.
        TypeError: ``items`` is a single string or holds something other than strings.
    """
    if isinstance(items, str):
        raise TypeError(f"order_by must be a sequence of strings such as [{items!r}], not a str")
    if len(items) > _MAX_ORDER_BY_KEYS:
        raise InvalidInput(
            f"Invalid order_by: it has {len(items)} items and the limit is "
            f"{_MAX_ORDER_BY_KEYS}; keep the most significant ones."
        )
    return [_order_key(number, item) for number, item in enumerate(items, start=1)]


def _order_key(number: int, item: str) -> OrderKey:
    if not isinstance(item, str):
        raise TypeError(f"order_by items must be str, got {type(item).__name__}")
    try:
        return _parse_order_key(item)
    except _SyntaxError as error:
        raise _invalid(f"Invalid order_by item {number} ({item!r})", item, error) from None


def _parse_order_key(item: str) -> OrderKey:
    sign_index = len(item) - len(item.lstrip())
    sign = item[sign_index : sign_index + 1]
    if sign in ("+", "-"):
        # Blank the sign out rather than slicing it off, so columns stay those of item.
        item = item[:sign_index] + " " + item[sign_index + 1 :]
    parser = _Parser(item, "order_by item")
    ident = parser.ident()
    descending = sign == "-"
    if parser.at_keyword("ASC", "DESC"):
        direction = parser.advance()
        if sign in ("+", "-"):
            raise _error(direction, _TWO_DIRECTIONS, repr(sign), _show(direction.text))
        descending = direction.text.upper() == "DESC"
    parser.expect_end("ASC, DESC or the end of the item")
    return OrderKey(ident, descending)


class _Parser:
    """Recursive descent over the tokens of one filter or one order_by item."""

    def __init__(self, text: str, what: str) -> None:
        self._text = text
        self._what = what
        self._tokens = _tokenize(text)
        self._index = 0
        self._depth = 0

    @property
    def _token(self) -> _Token:
        return self._tokens[self._index]

    def advance(self) -> _Token:
        token = self._token
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    def at_keyword(self, *words: str) -> bool:
        return self._token.kind == "word" and self._token.text.upper() in words

    def expect_end(self, expected: str) -> None:
        if self._token.kind != "end":
            self._fail(expected)

    def _fail(self, expected: str, after: str | None = None) -> NoReturn:
        token = self._token
        got = f"the end of the {self._what}" if token.kind == "end" else _shown(token)
        where = f" after {_show(after)}" if after else ""
        raise _SyntaxError(token.start, f"expected {expected}{where}, got {got}")

    def _previous_text(self) -> str | None:
        return self._tokens[self._index - 1].text if self._index else None

    def disjunction(self) -> Node:
        items = [self._conjunction()]
        while self.at_keyword("OR"):
            self.advance()
            items.append(self._conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _conjunction(self) -> Node:
        items = [self._unary()]
        while self.at_keyword("AND"):
            self.advance()
            items.append(self._unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self) -> Node:
        if not (self.at_keyword("NOT") or self._token.kind == "("):
            return self._comparison()
        if self._depth == _MAX_DEPTH:
            raise _error(self._token, _TOO_DEEP, _show(self._token.text))
        self._depth += 1
        opening = self.advance()
        if opening.kind == "(":
            node = self.disjunction()
            if self._token.kind != ")":
                self._fail(f"AND, OR or ')' to close the '(' at column {opening.start + 1}")
            self.advance()
        else:
            node = Not(self._unary())
        self._depth -= 1
        return node

    def _comparison(self) -> Comparison:
        ident = self.ident()
        op_token = self._token
        op = self._operator(self._text[ident.position - 1 : op_token.start].rstrip())
        raw: _Raw = []
        if op in _SET:
            raw = self._value_list(op)
        elif op not in _NULL:
            raw = [self._value()]
        value, is_numeric = _check(ident, op, op_token, raw)
        return Comparison(ident, op, value, is_numeric, ident.position)

    def ident(self) -> Ident:
        """Parse ``ENTITY.key``, ``ENTITY.`quoted key``` or a bare attribute name."""
        token = self._token
        if token.kind != "word" or _NUMBER_RE.fullmatch(token.text):
            self._fail(_FIELD, self._previous_text())
        self.advance()
        head, dot, rest = token.text.partition(".")
        entity = _ENTITIES.get(head.lower())
        if not dot and entity is None:
            return Ident("attributes", _attribute(head, token), token.start + 1)
        if entity is None:
            raise _error(token, _UNKNOWN_ENTITY, _show(head), _show(token.text))
        key = self._key(token, rest) if dot else ""
        if not key:
            raise _error(token, _EMPTY_KEY, _show(token.text))
        if entity == "attributes":
            key = _attribute(key, token)
        return Ident(entity, key, token.start + 1)

    def _key(self, head: _Token, rest: str) -> str:
        """Return the key after ``ENTITY.``: bare, quoted in the next token, or empty."""
        if rest:
            if not _KEY_RE.fullmatch(rest):
                raise _error(head, _BAD_KEY, _show(rest), _show(head.text))
            return rest
        quoted = self._token
        # Single quotes make values, never keys; a key must touch its dot.
        if quoted.kind not in ("backtick", "string") or quoted.text[0] == "'":
            return ""
        if quoted.start != head.end:
            return ""
        self.advance()
        return quoted.value

    def _operator(self, ident_text: str) -> str:
        token = self._token
        word = token.text.upper() if token.kind == "word" else ""
        if token.kind == "op":
            self.advance()
            return _SYMBOLS[token.text]
        if word in ("LIKE", "ILIKE", "IN"):
            self.advance()
            return word
        if word == "NOT":
            self.advance()
            if not self.at_keyword("LIKE", "ILIKE", "IN"):
                self._fail("LIKE, ILIKE or IN", token.text)
            return "NOT " + self.advance().text.upper()
        if word == "IS":
            self.advance()
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if not self.at_keyword("NULL"):
                self._fail("NULL", "IS NOT" if negated else "IS")
            self.advance()
            return "IS NOT NULL" if negated else "IS NULL"
        self._fail(f"a comparison operator ({_OPERATOR_HINT})", ident_text)

    def _value_list(self, op: str) -> _Raw:
        if self._token.kind != "(":
            self._fail("'(' to open the list of values", op)
        opening = self.advance()
        values = [self._value()]
        while self._token.kind == ",":
            self.advance()
            values.append(self._value())
        if self._token.kind != ")":
            self._fail(f"',' or ')' to close the list opened at column {opening.start + 1}")
        self.advance()
        return values

    def _value(self) -> tuple[_Literal, _Token]:
        token = self._token
        literal = _literal(token)
        if literal is None:
            self._fail(_VALUE, self._previous_text())
        self.advance()
        return literal, token


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            tokens.append(_Token("end", "", index))
            return tokens
        tokens.append(_next_token(text, index))
        index = tokens[-1].end


def _next_token(text: str, index: int) -> _Token:
    char = text[index]
    if char in "(),":
        return _Token(char, char, index)
    if char in "'\"`":
        return _quoted(text, index)
    for pattern, kind in ((_OPERATOR_RE, "op"), (_WORD_RE, "word")):
        match = pattern.match(text, index)
        if match:
            return _Token(kind, match.group(), index)
    hint = "; combine conditions with AND and OR" if char in "&|" else ""
    raise _SyntaxError(index, f"unexpected character {char!r}{hint}")


def _quoted(text: str, start: int) -> _Token:
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            kind = "backtick" if quote == "`" else "string"
            return _Token(kind, text[start : index + 1], start, "".join(chars))
        # Backticks have no escapes; in strings a backslash escapes the quote or itself.
        if char == "\\" and quote != "`" and text[index + 1 : index + 2] in (quote, "\\"):
            index += 1
            char = text[index]
        chars.append(char)
        index += 1
    raise _SyntaxError(start, _UNCLOSED.format(_clip(text[start:]), quote))


def _literal(token: _Token) -> _Literal | None:
    """The value a token stands for, or ``None`` if it is not a value at all."""
    if token.kind == "string":
        return token.value
    upper = token.text.upper() if token.kind == "word" else ""
    if upper in ("TRUE", "FALSE"):
        return upper == "TRUE"
    if upper.lstrip("+-") in ("INF", "INFINITY", "NAN"):
        raise _error(token, _NOT_FINITE, _show(token.text))
    if upper == "NULL":
        raise _error(token, _NULL_VALUE)
    return _number(token) if _NUMBER_RE.fullmatch(upper) else None


def _number(token: _Token) -> int | float:
    text = token.text
    is_integer = _INTEGER_RE.fullmatch(text) is not None
    # The 64-bit bound is what SQLite and PostgreSQL integers hold; checking the digit
    # count first also keeps int() from its 4,300-digit ValueError.
    if is_integer and len(text.lstrip("+-")) <= 19 and -(2**63) <= int(text) < 2**63:
        return int(text)
    if not is_integer and math.isfinite(float(text)):
        return float(text)
    raise _error(token, _OUT_OF_RANGE, _show(text))


def _attribute(name: str, token: _Token) -> str:
    canonical = _ATTRIBUTES.get(name.lower())
    if canonical is None:
        where = "" if name == token.text else f" in {_show(token.text)}"
        raise _error(token, _UNKNOWN_ATTRIBUTE, _show(name), where, name)
    return canonical


def _field(ident: Ident) -> str:
    return ident.key if ident.entity == "attributes" else f"{ident.entity}.{ident.key}"


def _allowed_operators(ident: Ident) -> tuple[str, ...]:
    if ident.entity == "metrics":
        return _COMPARE + _SET + _NULL
    if ident.entity != "attributes":
        return _OPERATORS
    if ident.key == "status":
        return ("=", "!=", *_SET)
    if ident.key in _TIMES:
        return _COMPARE
    return ("=", "!=", *_PATTERN, *_SET, *_NULL)


def _check(
    ident: Ident, op: str, op_token: _Token, raw: _Raw
) -> tuple[_Scalar | tuple[_Scalar, ...] | None, bool]:
    """Apply the type rules of the field; return the value and its numeric flag."""
    allowed = _allowed_operators(ident)
    if op not in allowed:
        raise _error(op_token, _BAD_OPERATOR, op, _field(ident), ", ".join(allowed))
    values = [_convert(ident, op, value, token) for value, token in raw]
    numeric = [_is_number(value) for value in values]
    for is_numeric, (value, token) in zip(numeric, raw, strict=True):
        if is_numeric != numeric[0]:
            raise _error(
                token, _MIXED, "a number" if numeric[0] else "a string", _kind(value, token)
            )
    if op in _NULL:
        return None, False
    return (tuple(values) if op in _SET else values[0]), all(numeric)


def _convert(ident: Ident, op: str, value: _Literal, token: _Token) -> _Scalar:
    field, shown = _field(ident), _kind(value, token)
    if op in _PATTERN and not isinstance(value, str):
        raise _error(token, _NEEDS_PATTERN, op, shown)
    if ident.entity == "metrics" and not _is_number(value):
        raise _error(token, _NEEDS_NUMBER, field, shown)
    if ident.entity == "params" and isinstance(value, bool) and op in _ORDERING:
        raise _error(token, _BOOL_ORDER, op, field, shown)
    if ident.entity == "attributes" and ident.key == "status":
        return _status(value, token)
    if ident.entity == "attributes" and ident.key in _TIMES:
        return _timestamp(field, value, token)
    if ident.entity in ("tags", "attributes") and not isinstance(value, str):
        raise _error(token, _NEEDS_STRING, field, token.text, shown)
    return value


def _is_number(value: _Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status(value: _Literal, token: _Token) -> str:
    if isinstance(value, str) and value.lower() in _STATUSES:
        return value.lower()
    raise _error(token, _UNKNOWN_STATUS, _kind(value, token))


def _timestamp(field: str, value: _Literal, token: _Token) -> datetime:
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            # A time without an offset is UTC, the zone loopml records runs in.
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if not isinstance(value, bool):
            return _EPOCH + timedelta(milliseconds=value)
    except (ValueError, OverflowError):
        pass  # falls through to the one message for every unusable time
    raise _error(token, _BAD_TIME, field, _kind(value, token))


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _show(text: str) -> str:
    return repr(_clip(text))


def _shown(token: _Token) -> str:
    """A token for a message: strings as written, quotes and all; anything else quoted."""
    return _clip(token.text) if token.kind == "string" else _show(token.text)


def _kind(value: _Literal, token: _Token) -> str:
    """A value for a message, with its kind, so that 1 and '1' read differently."""
    if isinstance(value, bool):
        return token.text.upper()
    if isinstance(value, str):
        return f"the string {_shown(token)}"
    return f"the number {_clip(token.text)}"


def _invalid(prefix: str, text: str, error: _SyntaxError) -> InvalidInput:
    """The user-facing error: the detail, then the text around the column with a caret."""
    start, end = max(0, error.index - 40), min(len(text), error.index + 40)
    head, tail = ("..." if start else ""), ("..." if end < len(text) else "")
    # Newlines and tabs would break the caret's alignment, so show them as spaces.
    shown = "".join(" " if char.isspace() else char for char in text[start:end])
    caret = " " * (len(head) + error.index - start) + "^"
    column = error.index + 1
    return InvalidInput(
        f"{prefix} at column {column}: {error.detail}.\n  {head}{shown}{tail}\n  {caret}"
    )
