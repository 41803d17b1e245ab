"""The SegmentStore port over HTTP, to a loopml server."""

from __future__ import annotations

from datetime import datetime

from loopml.domain.logs import (
    Segment,
    SegmentDraft,
    check_segment_draft,
    check_stream_name,
    check_stream_prefix,
    check_window,
)
from loopml.store.rest._http import HttpTransport
from loopml.store.rest.deployment_schemas import (
    SegmentBody,
    SegmentDraftBody,
    SegmentList,
    StreamList,
)

__all__ = ["RestSegmentStore"]


class RestSegmentStore:
    """The index of log segments kept by a loopml server; errors are those of the
    server's store. Drafts, stream names and windows are checked here first, by the same
    checks and with the same messages as the store's.

    Every call is retried after a dropped connection, adding a segment included: the
    same draft again returns the segment already recorded.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestSegmentStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.list_streams("predictions:")
        ['predictions:churn-api']
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestSegmentStore({self._http.base_uri!r})"

    def add_segment(self, draft: SegmentDraft) -> Segment:
        """Record a segment, or return the one this same draft recorded. Raises
        InvalidInput, Conflict (the same file recorded otherwise)."""
        body = SegmentDraftBody.from_domain(check_segment_draft(draft))
        reply = self._http.call_model(SegmentBody, "POST", "/segments", body=body, idempotent=True)
        return reply.to_domain()

    def list_segments(
        self, stream: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Segment]:
        """The stream's segments overlapping ``[since, until]``, by first time, then id.
        Raises InvalidInput (stream name, times)."""
        check_stream_name(stream)
        check_window(since, until)
        params = {"stream": stream}
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        reply = self._http.call_model(
            SegmentList, "GET", "/segments", params=params, idempotent=True
        )
        return reply.to_domain()

    def list_streams(self, prefix: str = "") -> list[str]:
        """The streams that have segments and start with ``prefix``, sorted. Raises
        InvalidInput (prefix not text)."""
        check_stream_prefix(prefix)
        params = {"prefix": prefix} if prefix else None
        reply = self._http.call_model(
            StreamList, "GET", "/segment-streams", params=params, idempotent=True
        )
        return reply.streams
