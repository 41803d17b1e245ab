"""The index of log segments in SQL.

Segments are log data, written at the rate logs are, so adding one writes no audit
event (as metric values do not). A query for a window seeks on ``(stream, first_time)``
and keeps the segments that end at or after the window's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from loopml.domain.logs import (
    Segment,
    SegmentDraft,
    check_segment_draft,
    check_stream_name,
    check_stream_prefix,
    check_window,
)
from loopml.errors import Conflict
from loopml.store.sql._convert import from_micros, to_micros
from loopml.store.sql._models import now_micros
from loopml.store.sql._schema import log_segments
from loopml.store.sql._tx import Transactions

__all__ = ["SqlSegmentStore"]

_MAX_PREFIX = 283  # the longest stream name: a 32-character kind, ':', 250 characters


class SqlSegmentStore:
    """The SegmentStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx

    def add_segment(self, draft: SegmentDraft) -> Segment:
        """Record a segment, or return the one this same draft recorded. See the port."""
        check_segment_draft(draft)
        row = {
            "stream": draft.stream,
            "digest": draft.digest,
            "rows": draft.rows,
            "size": draft.size,
            "first_time": to_micros(draft.first_time),
            "last_time": to_micros(draft.last_time),
        }
        with self._tx.write() as conn:
            stored = _same_file(conn, row)
            if stored is not None:
                return _segment(_repeat(stored, row))
            row["created_at"] = now_micros()
            insert = log_segments.insert().values(row).returning(log_segments.c.id)
            row["id"] = conn.execute(insert).scalar_one()
        return _segment(row)

    def list_segments(
        self, stream: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Segment]:
        """The stream's segments overlapping ``[since, until]``, by first time, then id."""
        check_stream_name(stream)
        check_window(since, until)
        query = select(log_segments).where(log_segments.c.stream == stream)
        if until is not None:
            query = query.where(log_segments.c.first_time <= to_micros(until))
        if since is not None:
            query = query.where(log_segments.c.last_time >= to_micros(since))
        query = query.order_by(log_segments.c.first_time, log_segments.c.id)
        with self._tx.read() as conn:
            return [_segment(row._mapping) for row in conn.execute(query)]

    def list_streams(self, prefix: str = "") -> list[str]:
        """The streams that have segments and start with ``prefix``, sorted."""
        check_stream_prefix(prefix)
        if len(prefix) > _MAX_PREFIX:
            return []  # longer than any stream name: nothing starts with it
        query = select(log_segments.c.stream).distinct().order_by(log_segments.c.stream)
        if prefix:
            # startswith() escapes LIKE wildcards ('_' is common in stream names).
            query = query.where(log_segments.c.stream.startswith(prefix, autoescape=True))
        with self._tx.read() as conn:
            return [row.stream for row in conn.execute(query)]


def _same_file(conn: Connection, row: Mapping[str, Any]) -> Mapping[Any, Any] | None:
    """The segment of this stream, blob and first time, if there is one (the index on
    ``(stream, first_time)`` finds it)."""
    found = conn.execute(
        select(log_segments)
        .where(
            log_segments.c.stream == row["stream"],
            log_segments.c.first_time == row["first_time"],
            log_segments.c.digest == row["digest"],
        )
        .order_by(log_segments.c.id)
    ).first()
    return None if found is None else found._mapping


def _repeat(stored: Mapping[Any, Any], row: Mapping[str, Any]) -> Mapping[Any, Any]:
    """``stored`` if ``row`` records the same file the same way; else Conflict."""
    fields = ("rows", "size", "last_time")
    if all(stored[field] == row[field] for field in fields):
        return stored
    raise Conflict(
        f"Segment {stored['id']} of stream {row['stream']!r} records blob {row['digest']} "
        f"from the same first time with {stored['rows']} rows, {stored['size']} bytes, up "
        f"to {from_micros(stored['last_time']).isoformat()}; a blob's rows are recorded "
        "once."
    )


def _segment(row: Mapping[Any, Any]) -> Segment:
    return Segment(
        id=row["id"],
        stream=row["stream"],
        digest=row["digest"],
        rows=row["rows"],
        size=row["size"],
        first_time=from_micros(row["first_time"]),
        last_time=from_micros(row["last_time"]),
        created_at=from_micros(row["created_at"]),
    )
