"""The body of ``POST /predict``: read within a size limit, parsed, shaped into records
(``POST /feedback`` reads and parses its body with the same functions).

Accepted shapes, all JSON:

* one record: ``{"age": 41, "plan": "pro"}``;
* a list of records: ``[{"age": 41, ...}, {"age": 35, ...}]``;
* ``{"records": [...]}``, the same list wrapped;
* ``{"columns": {"age": [41, 35], "plan": ["pro", "free"]}}``, one list per field.

An object is a wrapper only when ``records`` (a list) or ``columns`` (an object) is
its one key, so a record never reads as one. JSON has no NaN, yet Python's ``json``
writes it; a body that holds ``NaN`` or ``Infinity`` is read by the standard library
(the slow path, after orjson refused it) so that the signature, not the parser, decides.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import orjson

__all__ = ["RequestProblem", "parse_json", "parse_records", "read_limited"]

_SHAPES = (
    "send one record (a JSON object of field values), a list of records, "
    '{"records": [...]} or {"columns": {"field": [values...], ...}}'
)


class RequestProblem(Exception):
    """A request refused before any model saw it.

    Attributes:
        status: the HTTP status (400 malformed JSON, 413 too large, 422 wrong shape).
        message: what is wrong and what to send instead.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_large(limit: int) -> RequestProblem:
    """The refusal of a body over ``limit`` bytes."""
    return RequestProblem(
        413,
        f"The request body is larger than {limit:,} bytes (serving_max_body_bytes); send "
        "fewer records per request.",
    )


async def read_limited(
    content_length: str | None, chunks: AsyncIterator[bytes], limit: int
) -> bytes:
    """The whole body, refusing it from ``Content-Length`` before reading when it is
    over ``limit``, and otherwise as soon as the bytes read pass the limit (chunked
    bodies): the rest is never read.

    Raises:
        RequestProblem: 413 for a body over the limit, 400 for a malformed length.
    """
    if content_length is not None:
        if not (content_length.isascii() and content_length.isdigit()):
            raise RequestProblem(400, f"Content-Length {content_length!r} is not a number.")
        if int(content_length) > limit:
            raise too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_records(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The records of a request body.

    Returns:
        The records, and whether the body was one bare record.

    Raises:
        RequestProblem: 400 when the body is not JSON, 422 when it is JSON of another
            shape, an empty batch, or columns of different lengths.
    """
    document = parse_json(body, _SHAPES)
    if isinstance(document, dict):
        if len(document) == 1:
            if isinstance(document.get("records"), list):
                return _records(document["records"]), False
            if isinstance(document.get("columns"), dict):
                return _from_columns(document["columns"]), False
        return [document], True
    if isinstance(document, list):
        return _records(document), False
    raise RequestProblem(422, f"The request body is {_kind(document)}; {_SHAPES}.")


def parse_json(body: bytes, expected: str) -> Any:
    """The JSON document of a request body (NaN, Infinity and integers beyond 64 bits
    included: see the module docstring).

    Args:
        body: the body's bytes.
        expected: what to send instead, for the message of a refusal.

    Raises:
        RequestProblem: 400 when the body is empty or not JSON.
    """
    if not body.strip():
        raise RequestProblem(400, f"The request body is empty; {expected}.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        refusal = exc
    try:  # NaN, Infinity and integers beyond 64 bits: the standard library reads them
        return json.loads(body)
    except (ValueError, RecursionError):
        pass
    raise RequestProblem(
        400,
        f"The request body is not valid JSON ({refusal.msg} at line {refusal.lineno}, "
        f"column {refusal.colno}); {expected}, with Content-Type: application/json.",
    )


def _records(items: list[Any]) -> list[dict[str, Any]]:
    if not items:
        raise RequestProblem(422, f"The batch is empty; {_SHAPES}, with at least one record.")
    bad = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if bad:
        shown = ", ".join(f"{i} ({_kind(items[i])})" for i in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise RequestProblem(
            422, f"Records must be JSON objects of field values; these are not: {shown}{more}."
        )
    return items


def _from_columns(columns: dict[str, Any]) -> list[dict[str, Any]]:
    if not columns:
        raise RequestProblem(422, "The batch is empty: 'columns' names no field.")
    not_lists = [name for name, values in columns.items() if not isinstance(values, list)]
    if not_lists:
        raise RequestProblem(
            422,
            "Each field of 'columns' must be a list of values; these are not: "
            + ", ".join(repr(name) for name in not_lists)
            + ".",
        )
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name!r}: {size}" for name, size in lengths.items())
        raise RequestProblem(
            422, f"The fields of 'columns' have different numbers of values ({listed})."
        )
    names = list(columns)
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return _records(records)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"
