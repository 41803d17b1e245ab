"""Routes of the index of log segments: parse, call the SegmentStore port, render.

The stream names of ``GET /segments`` travel as a query parameter, not in the path:
a name holds ``:`` and ``.``. The window's ends are read as plain datetimes, so that
the store refuses one without a time zone in its own words; stream names and drafts
are checked by the store as well.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response

from loopml.server._deps import StoresDep, reply
from loopml.store.rest.deployment_schemas import (
    SegmentBody,
    SegmentDraftBody,
    SegmentList,
    StreamList,
)

__all__ = ["router"]

router = APIRouter(tags=["logs"])


@router.post("/segments", status_code=201, response_model=SegmentBody)
def add_segment(body: SegmentDraftBody, stores: StoresDep) -> Response:
    """Record a segment of a log stream (the same draft again returns the segment
    recorded, also 201); 400 for a malformed stream, digest, count or time, 409 when
    the same file is recorded with other counts or times."""
    return reply(SegmentBody.from_domain(stores.segments.add_segment(body.to_domain())), 201)


@router.get("/segments", response_model=SegmentList)
def list_segments(
    stores: StoresDep,
    stream: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """The stream's segments whose time span overlaps ``[since, until]`` (both
    included, either open), by first time, then id."""
    found = stores.segments.list_segments(stream, since=since, until=until)
    return reply(SegmentList.from_domain(found))


@router.get("/segment-streams", response_model=StreamList)
def list_streams(stores: StoresDep, prefix: str = "") -> Response:
    """The names of the streams that have segments and start with ``prefix``, sorted."""
    return reply(StreamList.model_construct(streams=stores.segments.list_streams(prefix)))
