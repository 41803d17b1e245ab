"""The REST API over HTTP: bad input, error bodies and statuses, docs, blobs, the reaper."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import blake3
import httpx
import pytest
from fastapi import FastAPI

from loopml import errors
from loopml.config import Settings, load_settings
from loopml.server import create_app
from loopml.server.errors import HTTP_STATUS, status_of
from loopml.store import RunStore, Stores
from tests.server.conftest import serve_in_thread

API = "/api/v1"
T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _run(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    exp = api.post(f"{API}/experiments", json={"name": f"e-{uuid.uuid4().hex[:8]}"})
    assert exp.status_code == 201, exp.text
    body = {
        "id": uuid.uuid4().hex,
        "experiment_id": exp.json()["id"],
        "name": "r",
        "status": "running",
        "start_time": T0.isoformat(),
        **fields,
    }
    created = api.post(f"{API}/runs", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _error(response: httpx.Response, status: int, type_name: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == type_name
    return str(body["error"]["message"])


# -- bad input ------------------------------------------------------------------------


def test_non_json_body_is_422_saying_so(api: httpx.Client) -> None:
    run = _run(api)
    response = api.post(
        f"{API}/runs/{run['id']}/batch",
        content=b"metrics: lots",
        headers={"Content-Type": "application/json"},
    )
    message = _error(response, 422, "InvalidInput")
    assert "not valid JSON" in message and "character 0" in message


def test_body_without_json_content_type_is_422_saying_so(api: httpx.Client) -> None:
    run = _run(api)
    response = api.post(f"{API}/runs/{run['id']}/batch", content=b"{}")
    assert "not JSON" in _error(response, 422, "InvalidInput")


def test_malformed_field_is_422_naming_it(api: httpx.Client) -> None:
    run = _run(api)
    batch = {"metrics": {"keys": ["a"], "values": ["lots"], "steps": [0], "timestamps_us": [0]}}
    response = api.post(f"{API}/runs/{run['id']}/batch", json=batch)
    message = _error(response, 422, "InvalidInput")
    assert "'metrics.values.0'" in message and "'lots'" in message


def test_columns_of_different_lengths_are_422(api: httpx.Client) -> None:
    run = _run(api)
    batch = {"metrics": {"keys": ["a", "b"], "values": [1], "steps": [0], "timestamps_us": [0]}}
    message = _error(api.post(f"{API}/runs/{run['id']}/batch", json=batch), 422, "InvalidInput")
    assert "same length" in message


def test_naive_time_is_422_naming_the_field(api: httpx.Client) -> None:
    run = _run(api)
    response = api.post(
        f"{API}/runs/{run['id']}/end",
        json={"status": "finished", "end_time": "2026-01-01T12:00:00"},
    )
    assert "'end_time'" in _error(response, 422, "InvalidInput")


def test_missing_query_parameter_is_422_naming_it(api: httpx.Client) -> None:
    run = _run(api)
    response = api.get(f"{API}/runs/{run['id']}/metric-history")
    assert _error(response, 422, "InvalidInput") == "Missing query parameter 'key'."


def test_bad_key_is_400_from_the_store(api: httpx.Client) -> None:
    run = _run(api)
    response = api.post(f"{API}/runs/{run['id']}/batch", json={"params": {"a/b": 1}})
    assert "'a/b'" in _error(response, 400, "InvalidInput")


def test_unknown_run_is_404_with_error_body(api: httpx.Client) -> None:
    response = api.get(f"{API}/runs/nope")
    assert response.json() == {"error": {"type": "NotFound", "message": "No run with id 'nope'."}}
    assert response.status_code == 404


def test_unknown_route_is_404_with_error_body(api: httpx.Client) -> None:
    assert "/api/v1/nothing" in _error(api.get(f"{API}/nothing"), 404, "NotFound")


def test_logging_to_a_finished_run_is_409(api: httpx.Client) -> None:
    run = _run(api)
    end = {"status": "finished", "end_time": (T0 + timedelta(minutes=1)).isoformat()}
    assert api.post(f"{API}/runs/{run['id']}/end", json=end).json()["status"] == "finished"
    response = api.post(f"{API}/runs/{run['id']}/batch", json={"tags": {"a": "b"}})
    assert "finished" in _error(response, 409, "Conflict")
    assert _error(api.post(f"{API}/runs/{run['id']}/end", json=end), 409, "Conflict")


def test_changed_param_is_409_and_changes_nothing(api: httpx.Client) -> None:
    run = _run(api)
    api.post(f"{API}/runs/{run['id']}/batch", json={"params": {"depth": 8}})
    refused = {"params": {"depth": 9, "new": "x"}, "tags": {"t": "v"}}
    response = api.post(f"{API}/runs/{run['id']}/batch", json=refused)
    assert "'depth'" in _error(response, 409, "Conflict")
    after = api.get(f"{API}/runs/{run['id']}").json()
    assert (after["params"], after["tags"]) == ({"depth": 8}, {})


def test_malformed_filter_is_400_pointing_at_the_token(api: httpx.Client) -> None:
    run = _run(api)
    query = {"experiment_ids": [run["experiment_id"]], "filter": "metrics.acc foo 0.9"}
    message = _error(api.post(f"{API}/runs:search", json=query), 400, "InvalidInput")
    assert "foo" in message


# -- values that JSON cannot carry ----------------------------------------------------


def test_nan_and_inf_round_trip_as_strings(api: httpx.Client) -> None:
    run = _run(api)
    batch = {
        "metrics": {
            "keys": ["odd"] * 4,
            "values": ["NaN", "Infinity", "-Infinity", 0.1],
            "steps": [0, 1, 2, 3],
            "timestamps_us": [1, 2, 3, 4],
        }
    }
    assert api.post(f"{API}/runs/{run['id']}/batch", json=batch).status_code == 204
    history = api.get(f"{API}/runs/{run['id']}/metric-history", params={"key": "odd"}).json()
    assert history == batch["metrics"]
    nan_last = {"metrics": {"keys": ["n"], "values": ["NaN"], "steps": [9], "timestamps_us": [5]}}
    api.post(f"{API}/runs/{run['id']}/batch", json=nan_last)
    assert api.get(f"{API}/runs/{run['id']}").json()["metrics"] == {"odd": 0.1, "n": "NaN"}


def test_times_round_trip_to_the_microsecond(api: httpx.Client) -> None:
    run = _run(api)
    assert run["start_time"] == "2026-01-01T12:00:00.123456Z"


# -- docs, health, blobs ------------------------------------------------------------------


def test_docs_and_openapi_are_served(api: httpx.Client) -> None:
    assert "swagger" in api.get("/docs").text.lower()
    paths = api.get("/openapi.json").json()["paths"]
    assert {f"{API}/runs/{{run_id}}/batch", f"{API}/runs:search", f"{API}/blobs"} <= set(paths)


def test_health_names_the_version(api: httpx.Client) -> None:
    from loopml import __version__

    assert api.get(f"{API}/health").json() == {"status": "ok", "version": __version__}


def test_blob_upload_head_download_delete(api: httpx.Client) -> None:
    content = b"weights " * 100_000
    digest = blake3.blake3(content).hexdigest()
    assert api.head(f"{API}/blobs/{digest}").status_code == 404
    stored = api.put(f"{API}/blobs", content=iter([content[:1000], content[1000:]]))
    assert stored.json() == {"digest": digest, "size": len(content)}
    assert api.head(f"{API}/blobs/{digest}").headers["content-length"] == str(len(content))
    assert api.get(f"{API}/blobs/{digest}").content == content
    assert api.get(f"{API}/blobs").text == f"{digest}\n"
    assert api.delete(f"{API}/blobs/{digest}").status_code == 204
    assert "not found" in _error(api.get(f"{API}/blobs/{digest}"), 404, "NotFound")


def test_malformed_digest_is_400(api: httpx.Client) -> None:
    assert "Invalid blob digest" in _error(api.get(f"{API}/blobs/xyz"), 400, "InvalidInput")


def test_uploads_leave_no_temp_files(api: httpx.Client, settings: Settings) -> None:
    api.put(f"{API}/blobs", content=b"abc")
    assert list((settings.home / "tmp" / "uploads").iterdir()) == []


# -- errors that are not the caller's ---------------------------------------------------


class _Broken:
    """A run store whose reads fail with the exception given."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_run(self, run_id: str) -> None:
        raise self.exc


@pytest.fixture
def broken_app(settings: Settings) -> Iterator[tuple[FastAPI, httpx.Client]]:
    """The app served in-process, and a client of it; tests break its stores."""
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        yield app, client


def _break_runs(app: FastAPI, exc: Exception) -> None:
    """Make every ``get_run`` of the app's run store raise ``exc``."""
    stores: Stores = app.state.stores
    app.state.stores = replace(stores, runs=cast(RunStore, _Broken(exc)))


def test_unexpected_error_is_500_without_details(
    broken_app: tuple[FastAPI, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = broken_app
    _break_runs(app, RuntimeError("secret detail"))
    with caplog.at_level(logging.ERROR, logger="loopml.server"):
        response = client.get(f"{API}/runs/x")
    message = _error(response, 500, "StoreError")
    assert "secret detail" not in response.text and "Traceback" not in response.text
    error_id = message.split("error id ")[1].split(")")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.Unavailable("db down"), 503),
        (errors.MigrationRequired("old schema"), 503),
        (errors.StoreError("disk full"), 500),
        (errors.PermissionDenied("no"), 403),
        (errors.GateFailed("refused"), 422),
    ],
    ids=["unavailable", "migration", "store", "permission", "gate"],
)
def test_store_failures_keep_their_class_and_status(
    broken_app: tuple[FastAPI, httpx.Client], exc: errors.LoopmlError, status: int
) -> None:
    app, client = broken_app
    _break_runs(app, exc)
    assert _error(client.get(f"{API}/runs/x"), status, type(exc).__name__) == exc.message


def test_every_error_class_has_a_status() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert set(classes) == set(HTTP_STATUS)

    class Custom(errors.Conflict):
        pass

    assert status_of(Custom("x")) == 409


# -- the reaper -------------------------------------------------------------------------


def test_runs_without_heartbeat_are_failed_by_the_server(settings: Settings) -> None:
    quick = load_settings({"home": settings.home, "tracking_heartbeat_timeout": 0.2}, environ={})
    app = create_app(quick, reap_interval=0.05)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        beat = datetime.now(UTC)
        silent = _run(client, heartbeat_at=(beat - timedelta(hours=1)).isoformat())
        deadline = time.monotonic() + 10
        while client.get(f"{API}/runs/{silent['id']}").json()["status"] == "running":
            assert time.monotonic() < deadline, "the reaper did not fail the silent run"
            time.sleep(0.05)
        assert client.get(f"{API}/runs/{silent['id']}").json()["status"] == "failed"
