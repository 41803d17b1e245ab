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

__all__ = ["Segment", "SegmentDraft", "check_stream_name"]

_STREAM = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}")


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
