"""The segment contract suite against the REST adapter over real HTTP, and what is
particular to the segment routes: their OpenAPI listing, times on the wire, and how
bad input and store errors come back to the client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from loopml.domain.logs import SegmentDraft
from loopml.errors import LoopmlError
from loopml.store import SegmentStore
from loopml.store.rest import HttpTransport, RestSegmentStore
from loopml.store.rest.schemas import API_PREFIX
from loopml.store.sql import SqlSegmentStore, Transactions, create_store_engine
from loopml.testing.segments import SegmentStoreContract
from tests.server.conftest import openapi_routes

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
_US = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def rest_store(transport: HttpTransport) -> RestSegmentStore:
    return RestSegmentStore(transport)


class TestRestSegments(SegmentStoreContract):
    @pytest.fixture
    def segment_store(self, rest_store: RestSegmentStore) -> RestSegmentStore:
        return rest_store


def _stream() -> str:
    return f"t{uuid.uuid4().hex[:8]}:api"


def _draft(stream: str) -> SegmentDraft:
    return SegmentDraft(stream, uuid.uuid4().hex * 2, 10, 400, T0, T0 + timedelta(hours=1))


def _url(live_server: str, path: str) -> str:
    return f"{live_server}{API_PREFIX}{path}"


# -- routes and wire format ---------------------------------------------------------------


def test_openapi_lists_the_segment_routes(live_server: str) -> None:
    assert {
        ("POST", "/segments"),
        ("GET", "/segments"),
        ("GET", "/segment-streams"),
    } <= openapi_routes(live_server)


def test_times_travel_with_a_time_zone(live_server: str, rest_store: RestSegmentStore) -> None:
    stream = _stream()
    rest_store.add_segment(_draft(stream))
    response = httpx.get(
        _url(live_server, "/segments"),
        params={"stream": stream, "since": "2026-03-01T11:00:00+00:00"},
        timeout=10,
    )
    (segment,) = response.json()["segments"]
    assert segment["first_time"] in ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00+00:00")
    assert (segment["stream"], segment["rows"], segment["size"]) == (stream, 10, 400)


def test_a_window_end_in_another_zone_is_the_same_moment(
    rest_store: RestSegmentStore,
) -> None:
    stream = _stream()
    made = rest_store.add_segment(_draft(stream))
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    assert rest_store.list_segments(stream, until=tokyo) == [made]
    assert rest_store.list_segments(stream, until=tokyo - _US) == []


def test_a_missing_stream_is_a_422_naming_the_parameter(live_server: str) -> None:
    response = httpx.get(_url(live_server, "/segments"), timeout=10)
    assert response.status_code == 422
    assert "query parameter 'stream'" in response.json()["error"]["message"]


def test_a_naive_time_sent_raw_is_refused_in_the_store_words(live_server: str) -> None:
    params = {"stream": _stream(), "since": "2026-03-01T10:00:00"}
    response = httpx.get(_url(live_server, "/segments"), params=params, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "since must be a datetime with a time zone"
    )


def test_a_draft_sent_raw_is_checked_by_the_store(live_server: str) -> None:
    body = {
        "stream": _stream(),
        "digest": "ab" * 32,
        "rows": -3,
        "size": 1,
        "first_time": "2026-03-01T10:00:00Z",
        "last_time": "2026-03-01T10:00:00Z",
    }
    response = httpx.post(_url(live_server, "/segments"), json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "type": "InvalidInput",
        "message": "Segment rows must be a whole number from 0, got -3.",
    }


# -- store errors keep their class and message --------------------------------------------


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlSegmentStore]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('local') / 'x.db'}")
    yield SqlSegmentStore(Transactions(engine, actor="local@host"))
    engine.dispose()


_FAILURES: dict[str, Callable[[SegmentStore, SegmentDraft], object]] = {
    "recorded-otherwise": lambda s, draft: s.add_segment(replace(draft, rows=draft.rows + 1)),
    "bad-stream": lambda s, draft: s.add_segment(replace(draft, stream="no-kind")),
    "bad-digest": lambda s, draft: s.add_segment(replace(draft, digest="x")),
    "naive-time": lambda s, draft: s.add_segment(replace(draft, last_time=datetime(2026, 3, 2))),
    "backwards": lambda s, draft: s.add_segment(replace(draft, first_time=T0 + timedelta(hours=2))),
    "empty-window": lambda s, draft: s.list_segments(draft.stream, since=T0, until=T0 - _US),
    "bad-prefix": lambda s, draft: s.list_streams(3),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("failure", list(_FAILURES))
def test_store_errors_come_back_with_the_same_class_and_message(
    rest_store: RestSegmentStore, sql_store: SqlSegmentStore, failure: str
) -> None:
    draft = _draft(_stream())
    caught: list[LoopmlError] = []
    for store in (sql_store, rest_store):
        store.add_segment(draft)
        with pytest.raises(LoopmlError) as error:
            _FAILURES[failure](store, draft)
        caught.append(error.value)
    local, remote = caught
    assert type(remote) is type(local)
    # Segment ids differ between the two stores; the rest of the message may not.
    assert _without_ids(str(remote)) == _without_ids(str(local))


def _without_ids(message: str) -> str:
    return re.sub(r"^Segment \d+ ", "Segment N ", message)
