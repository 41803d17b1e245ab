"""The schedule contract suite against the REST adapter over real HTTP, and what is
particular to the schedule routes: their OpenAPI listing, and how bad input, store
errors and lost or repeated claims come back to the client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from loopml.domain.schedules import (
    FiringClaim,
    FiringDraft,
    FiringState,
    FiringUpdate,
    ScheduleDraft,
    TriggerKind,
)
from loopml.errors import InvalidInput, LoopmlError
from loopml.store import ScheduleStore
from loopml.store.rest import HttpTransport, RestScheduleStore
from loopml.store.rest.schedule_schemas import FiringClaimBody
from loopml.store.rest.schemas import API_PREFIX
from loopml.store.sql import SqlScheduleStore, Transactions, create_store_engine
from loopml.testing.schedules import ScheduleStoreContract
from tests.server.conftest import openapi_routes

DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def rest_store(transport: HttpTransport) -> RestScheduleStore:
    return RestScheduleStore(transport)


class TestRestSchedules(ScheduleStoreContract):
    @pytest.fixture
    def schedule_store(self, rest_store: RestScheduleStore) -> RestScheduleStore:
        return rest_store


def _name() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


def _draft(name: str, **fields: object) -> ScheduleDraft:
    draft = ScheduleDraft(
        name, "flows.py:training", TriggerKind.CRON, cron="@daily", next_fire_at=DUE
    )
    return replace(draft, **fields)  # type: ignore[arg-type]


def _claim(name: str, *firings: FiringDraft, at: datetime = DUE) -> FiringClaim:
    return FiringClaim(name, at, None, at + timedelta(days=1), None, firings)


def _firing(firing_id: str | None = None) -> FiringDraft:
    return FiringDraft(firing_id or uuid.uuid4().hex, FiringState.RUNNING, "cron time", DUE)


# -- routes -----------------------------------------------------------------------------


def test_openapi_lists_the_schedule_routes(live_server: str) -> None:
    routes = openapi_routes(live_server)
    assert {
        ("POST", "/schedules"),
        ("GET", "/schedules"),
        ("GET", "/schedules/{name}"),
        ("PUT", "/schedules/{name}/enabled"),
        ("DELETE", "/schedules/{name}"),
        ("POST", "/schedules/{name}/claims"),
        ("GET", "/firings"),
        ("GET", "/firings/{firing_id}"),
        ("PATCH", "/firings/{firing_id}"),
    } <= routes


def test_openapi_lists_the_kinds_a_draft_takes(live_server: str) -> None:
    components = httpx.get(f"{live_server}/openapi.json", timeout=10).json()["components"]
    fields = components["schemas"]["ScheduleDraftBody"]["properties"]
    assert fields["kind"]["enum"] == ["cron", "dataset"]
    assert fields["catchup"]["enum"] == ["latest", "all", "skip"]


def test_a_schedule_named_like_a_route_is_still_reachable(rest_store: RestScheduleStore) -> None:
    rest_store.create_schedule(_draft("firings"))
    try:
        assert rest_store.get_schedule("firings").name == "firings"
    finally:
        rest_store.delete_schedule("firings")


def test_times_travel_with_a_time_zone(live_server: str, rest_store: RestScheduleStore) -> None:
    name = _name()
    rest_store.create_schedule(_draft(name))
    body = httpx.get(f"{live_server}{API_PREFIX}/schedules/{name}", timeout=10).json()
    assert body["next_fire_at"] in ("2026-11-23T08:00:00Z", "2026-11-23T08:00:00+00:00")
    assert (body["kind"], body["catchup"], body["params"]) == ("cron", "latest", {})


# -- bad input --------------------------------------------------------------------------


def test_malformed_body_is_a_422_naming_the_field(live_server: str) -> None:
    url = f"{live_server}{API_PREFIX}/schedules/some-name/enabled"
    response = httpx.put(url, json={"enabled": "sometimes"}, timeout=10)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput" and "field 'enabled'" in error["message"]


def test_malformed_claim_is_invalid_input_naming_the_field(transport: HttpTransport) -> None:
    fields: dict[str, Any] = {
        "expected_next_fire_at": "not a time",
        "expected_seen_version": None,
        "next_fire_at": None,
        "seen_version": None,
        "firings": [],
    }
    body = FiringClaimBody.model_construct(**fields)
    with pytest.raises(InvalidInput, match="field 'expected_next_fire_at'"):
        transport.call("POST", "/schedules/some-name/claims", body=body)


def test_unknown_firing_state_is_invalid_input_naming_it(transport: HttpTransport) -> None:
    with pytest.raises(InvalidInput, match="query parameter 'state'"):
        transport.call("GET", "/firings", params={"state": "asleep"})


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_a_name_that_cannot_be_a_path_segment_is_refused_before_sending(
    rest_store: RestScheduleStore, name: str
) -> None:
    for call in (
        lambda: rest_store.get_schedule(name),
        lambda: rest_store.set_enabled(name, False),
        lambda: rest_store.delete_schedule(name),
        lambda: rest_store.claim_firing(_claim(name, _firing())),
    ):
        with pytest.raises(InvalidInput, match="Schedule name"):
            call()


@pytest.mark.parametrize("firing_id", ["", ".", "..", "a/b"])
def test_a_firing_id_that_cannot_be_a_path_segment_is_refused_before_sending(
    rest_store: RestScheduleStore, firing_id: str
) -> None:
    with pytest.raises(InvalidInput, match="Firing id"):
        rest_store.get_firing(firing_id)
    with pytest.raises(InvalidInput, match="Firing id"):
        rest_store.update_firing(firing_id, FiringUpdate(state=FiringState.FAILED))


def test_a_claim_of_a_firing_that_could_not_be_read_back_is_refused(
    rest_store: RestScheduleStore,
) -> None:
    name = _name()
    rest_store.create_schedule(_draft(name))
    with pytest.raises(InvalidInput, match="Firing id 'a/b'"):
        rest_store.claim_firing(_claim(name, _firing("a/b")))
    assert rest_store.get_schedule(name).next_fire_at == DUE


# -- claims -----------------------------------------------------------------------------


def test_a_lost_claim_comes_back_as_none(live_server: str, rest_store: RestScheduleStore) -> None:
    name = _name()
    rest_store.create_schedule(_draft(name))
    assert rest_store.claim_firing(_claim(name, _firing())) is not None
    assert rest_store.claim_firing(_claim(name, _firing())) is None
    url = f"{live_server}{API_PREFIX}/schedules/{name}/claims"
    body: dict[str, object] = {
        "expected_next_fire_at": DUE.isoformat(),
        "expected_seen_version": None,
        "next_fire_at": DUE.isoformat(),
        "seen_version": None,
        "firings": [],
    }
    response = httpx.post(url, json=body, timeout=10)
    assert (response.status_code, response.json()) == (200, {"firings": None})


def test_a_repeated_claim_that_went_through_returns_its_firings(
    rest_store: RestScheduleStore,
) -> None:
    # What the client sees when the answer to its claim was lost and the claim retried.
    name = _name()
    rest_store.create_schedule(_draft(name))
    claim = _claim(name, _firing(), FiringDraft(uuid.uuid4().hex, FiringState.MISSED, "missed"))
    first = rest_store.claim_firing(claim)
    assert first is not None
    assert rest_store.claim_firing(claim) == first
    assert len(rest_store.list_firings(name)) == 2


def test_a_lost_claim_naming_another_firing_is_not_a_repeat(
    rest_store: RestScheduleStore,
) -> None:
    name = _name()
    rest_store.create_schedule(_draft(name))
    firing = _firing()
    assert rest_store.claim_firing(_claim(name, firing)) is not None
    other = FiringDraft(firing.id, FiringState.RUNNING, "another reason", DUE)
    assert rest_store.claim_firing(_claim(name, other)) is None


# -- store errors keep their class and message ------------------------------------------


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlScheduleStore]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('local') / 'x.db'}")
    yield SqlScheduleStore(Transactions(engine, actor="local@host"))
    engine.dispose()


_FAILURES: dict[str, Callable[[ScheduleStore, str, str], object]] = {
    "no-schedule": lambda s, name, _: s.get_schedule(f"{name}-x"),
    "name-taken": lambda s, name, _: s.create_schedule(_draft(name)),
    "bad-cron": lambda s, name, _: s.create_schedule(_draft(f"{name}-c", cron="0 25 * * *")),
    "bad-params": lambda s, name, _: s.create_schedule(
        _draft(f"{name}-p", params={"at": datetime(2026, 1, 1)})
    ),
    "bad-limit": lambda s, name, _: s.list_firings(name, limit=0),
    "firing-over": lambda s, _, firing_id: s.update_firing(
        firing_id, FiringUpdate(state=FiringState.SUCCEEDED)
    ),
    "no-firing": lambda s, name, _: s.get_firing(f"{name}-x"),
    "firing-taken": lambda s, name, firing_id: s.claim_firing(
        _claim(name, _firing(firing_id), at=DUE + timedelta(days=1))
    ),
}


@pytest.mark.parametrize("failure", list(_FAILURES))
def test_store_errors_come_back_with_the_same_class_and_message(
    rest_store: RestScheduleStore, sql_store: SqlScheduleStore, failure: str
) -> None:
    name, firing_id = _name(), uuid.uuid4().hex
    caught: list[LoopmlError] = []
    for store in (sql_store, rest_store):
        store.create_schedule(_draft(name))
        store.claim_firing(_claim(name, _firing(firing_id)))
        store.update_firing(firing_id, FiringUpdate(state=FiringState.FAILED))
        with pytest.raises(LoopmlError) as error:
            _FAILURES[failure](store, name, firing_id)
        caught.append(error.value)
    local, remote = caught
    assert type(remote) is type(local)
    assert str(remote) == str(local)
