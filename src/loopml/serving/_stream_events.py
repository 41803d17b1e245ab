"""Stream events: what a message of the input stream holds, and what the consumer writes.

**An input event** is one Redis stream message (``XADD IN * data ...``) with these fields:

``data`` (required)
    One record: a JSON object of field values, ``{"age": 41, "plan": "pro"}``. One event
    is one record; a list or any other JSON value is refused. The record is checked
    against the served version's signature exactly as ``POST /predict`` checks it, every
    bad field named.
``key`` (optional)
    The entity the event is about (a user id, say), as text. When the traffic policy
    routes on a sticky field that the record lacks, ``key`` is that field's value, so the
    same key always meets the same route. Copied to the output entry.
``request_id`` (optional)
    The id of the prediction in the prediction log and the output entry: 1-128 letters,
    digits or ``. _ : -``, starting with a letter or digit. Default: the message id.

Any other field, a missing ``data``, text that is not UTF-8 or JSON: the event is
refused, and dead-lettered with every such problem named. (Its record is checked against
the signature only once the event's fields are well formed.)

**An output entry** (``XADD OUT``) per answered event: ``input_id`` (the input message's
id: delivery is at least once, so a reader dedupes on it), ``request_id``, ``model``,
``version``, ``target`` (the route that answered: ``champion``, ``7``), ``prediction``
(the prediction as JSON) and ``key`` when the event had one.

**A dead-letter entry** (``XADD DEAD``) per refused event: ``input_id``, ``stream`` and
``group`` (where it was read), ``reason`` (one line: what is wrong and what to send),
``errors`` (JSON, when fields of the record are wrong: a list of ``{"field", "kind",
"message"}`` as in the REST API's 422 answers) and every field of the event as it came,
named ``original.<field>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from loopml.serving._inputs import FieldError

__all__ = [
    "EVENT_FIELDS",
    "Message",
    "Refusal",
    "StreamEvent",
    "dead_letter_fields",
    "output_fields",
    "parse_event",
    "record_refusal",
]

EVENT_FIELDS = ("data", "key", "request_id")
"""The fields an input event may have; ``data`` is required."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
_SHOWN_CHARS = 60
_EXAMPLE = '{"age": 41, "plan": "pro"}'


@dataclass(frozen=True, slots=True)
class Message:
    """One message as read from the input stream.

    Attributes:
        id: the message id (``1718000000000-0``).
        fields: its fields as bytes, or None when the message was deleted from the stream
            after it was delivered and before it was acknowledged.
    """

    id: str
    fields: dict[bytes, bytes] | None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An event whose fields are well formed: a record to score."""

    message: Message
    record: dict[str, Any]
    request_id: str
    key: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event that goes to the dead-letter stream.

    Attributes:
        message: the event.
        reason: what is wrong and what to send instead, on one line.
        errors: the record's field problems (``{"field", "kind", "message"}``), if any.
    """

    message: Message
    reason: str
    errors: list[dict[str, Any]] = field(default_factory=list)


def parse_event(message: Message) -> StreamEvent | Refusal:
    """The event of ``message``, or why it is refused (every problem of its fields)."""
    if message.fields is None:
        return Refusal(
            message,
            "The message was deleted from the input stream (XDEL, or trimmed by MAXLEN) "
            "after it was delivered and before it was processed; its fields are lost.",
        )
    fields = message.fields
    problems = [_unexpected(name) for name in fields if _text_or_none(name) not in EVENT_FIELDS]
    record, problem = _record(fields.get(b"data"))
    problems += [problem] if problem else []
    key, problem = _key(fields.get(b"key"))
    problems += [problem] if problem else []
    request_id, problem = _request_id(fields.get(b"request_id"), message.id)
    problems += [problem] if problem else []
    if problems or record is None:
        return Refusal(message, "; ".join(problems) + ".")
    return StreamEvent(message, record, request_id, key)


def record_refusal(message: Message, errors: Sequence[FieldError]) -> Refusal:
    """The refusal of an event whose record does not fit the model's signature."""
    described = "; ".join(
        f"field {error.field!r}: {error.message}" if error.field else error.message
        for error in errors
    )
    noun = "problem" if len(errors) == 1 else "problems"
    return Refusal(
        message,
        f"The record in 'data' has {len(errors)} {noun}: {described}.",
        [{"field": e.field, "kind": e.kind, "message": e.message} for e in errors],
    )


def output_fields(
    event: StreamEvent, *, model: str, version: int, target: str, prediction: Any
) -> dict[str, str | bytes]:
    """The fields of an output entry (see the module docstring)."""
    fields: dict[str, str | bytes] = {
        "input_id": event.message.id,
        "request_id": event.request_id,
        "model": model,
        "version": str(version),
        "target": target,
        "prediction": orjson.dumps(prediction, option=orjson.OPT_SERIALIZE_NUMPY),
    }
    if event.key is not None:
        fields["key"] = event.key
    return fields


def dead_letter_fields(
    refusal: Refusal, *, stream: str, group: str
) -> dict[str | bytes, str | bytes]:
    """The fields of a dead-letter entry (see the module docstring)."""
    fields: dict[str | bytes, str | bytes] = {
        "input_id": refusal.message.id,
        "stream": stream,
        "group": group,
        "reason": refusal.reason,
    }
    if refusal.errors:
        fields["errors"] = orjson.dumps(refusal.errors)
    for name, value in (refusal.message.fields or {}).items():
        fields[b"original." + name] = value
    return fields


# -- the fields of an event ---------------------------------------------------------------


def _record(raw: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    if raw is None:
        return None, (
            "The event has no 'data' field; put the record in 'data', a JSON object of "
            f"field values such as {_EXAMPLE}"
        )
    if not raw.strip():
        return None, f"Field 'data' is empty; send one record, a JSON object such as {_EXAMPLE}"
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        refusal = exc
    else:
        return _as_record(document)
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        return None, (
            f"Field 'data' is not UTF-8 text (byte {exc.start}): {_shown(raw)}; send one JSON "
            f"object such as {_EXAMPLE}"
        )
    try:  # NaN, Infinity and integers beyond 64 bits: the standard library reads them
        return _as_record(json.loads(text))
    except (ValueError, RecursionError):
        pass
    return None, (
        f"Field 'data' is not valid JSON ({refusal.msg} at line {refusal.lineno}, column "
        f"{refusal.colno}): {_shown(raw)}; send one JSON object such as {_EXAMPLE}"
    )


def _as_record(document: Any) -> tuple[dict[str, Any] | None, str | None]:
    if isinstance(document, dict):
        return document, None
    return None, (
        f"Field 'data' holds {_kind(document)}, not a record; send one JSON object of "
        f"field values per event, such as {_EXAMPLE}"
    )


def _key(raw: bytes | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    text = _text_or_none(raw)
    if text is None or not text:
        return None, f"Field 'key' must be non-empty UTF-8 text, got {_shown(raw)}"
    return text, None


def _request_id(raw: bytes | None, default: str) -> tuple[str, str | None]:
    if raw is None:
        return default, None
    text = _text_or_none(raw)
    if text is None or not _REQUEST_ID.fullmatch(text):
        return default, (
            f"Field 'request_id' must be 1-128 letters, digits or . _ : - starting with a "
            f"letter or digit, got {_shown(raw)}; leave it out to use the message id"
        )
    return text, None


def _unexpected(name: bytes) -> str:
    return (
        f"Unexpected field {_shown(name)}; an event has only 'data' (required), 'key' and "
        "'request_id'"
    )


def _text_or_none(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _shown(raw: bytes) -> str:
    text = _text_or_none(raw)
    shown = repr(text) if text is not None else repr(raw)
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list"
