"""Plain records of high-volume logs: Parquet segments in the blob store, indexed.

A log (predictions, labels, ...) is a stream of rows. Writers append them in batches,
each batch one immutable Parquet file stored as a blob; the metadata store keeps one
**segment** record per file (which stream, which blob, how many rows, the time span of
its rows), so that readers fetch only the files that overlap the window they ask for.
Streams are named ``KIND:NAME``: ``predictions:churn-api``, ``labels:churn-api``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from loopml.errors import InvalidInput

__all__ = [
    "Segment",
    "SegmentDraft",
    "check_segment_draft",
    "check_stream_name",
    "check_stream_prefix",
    "check_window",
]

_STREAM = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_COUNT = 2**63  # counts are stored as 64-bit integers


def check_stream_name(stream: object) -> str:
    """Return ``stream`` if it can name a log stream (``KIND:NAME``).

    Raises:
        InvalidInput: not a lowercase kind, ``:``, and a name of letters, digits,
            ``_ . -`` (e.g. ``predictions:churn-api``).
    """
    if not isinstance(stream, str) or not _STREAM.fullmatch(stream) or ".." in stream:
        raise InvalidInput(
            f"Log stream {stream!r} is invalid: use KIND:NAME, a lowercase kind and a name "
            "of letters, digits, '_', '.' or '-' (e.g. 'predictions:churn-api')."
        )
    return stream


def check_stream_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start stream names (any text; ``""`` matches all).

    Raises:
        InvalidInput: not text.
    """
    if not isinstance(prefix, str):
        raise InvalidInput(f"A stream prefix must be text, got {prefix!r}.")
    return prefix


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    """A Parquet file of ``rows`` rows, stored as blob ``digest`` (``size`` bytes), whose
    rows' times run from ``first_time`` to ``last_time`` (both included)."""

    stream: str
    digest: str
    rows: int
    size: int
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True, slots=True)
class Segment:
    """A stored segment; ``id`` grows with each segment added anywhere."""

    id: int
    stream: str
    digest: str
    rows: int
    size: int
    first_time: datetime
    last_time: datetime
    created_at: datetime


def check_segment_draft(draft: SegmentDraft) -> SegmentDraft:
    """Return ``draft`` if it can be stored: a valid stream name, a blob digest, counts
    from 0, and times with a time zone, ``first_time`` not after ``last_time``.

    Raises:
        InvalidInput: naming the field and what was expected.
    """
    check_stream_name(draft.stream)
    if not isinstance(draft.digest, str) or not _DIGEST.fullmatch(draft.digest):
        raise InvalidInput(
            f"Segment digest {draft.digest!r} is invalid: expected the 64 lowercase "
            "hexadecimal characters of a blob's BLAKE3 digest."
        )
    _check_count("rows", draft.rows)
    _check_count("size", draft.size)
    _check_moment("first_time", draft.first_time)
    _check_moment("last_time", draft.last_time)
    if draft.first_time > draft.last_time:
        raise InvalidInput(
            f"Segment first_time {draft.first_time.isoformat()} is after last_time "
            f"{draft.last_time.isoformat()}: the times must span the segment's rows."
        )
    return draft


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Check a time window of a query: either end may be open (None).

    Raises:
        InvalidInput: an end that is not a datetime with a time zone, or ``since``
            after ``until``.
    """
    for field, moment in (("since", since), ("until", until)):
        if moment is not None:
            _check_moment(field, moment)
    if since is not None and until is not None and since > until:
        raise InvalidInput(
            f"The time window is empty: since {since.isoformat()} is after until "
            f"{until.isoformat()}."
        )


def _check_count(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_COUNT:
        raise InvalidInput(f"Segment {field} must be a whole number from 0, got {value!r}.")


def _check_moment(field: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must be a datetime with a time zone (e.g. datetime.now(UTC)), got {value!r}."
        )
