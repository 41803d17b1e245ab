"""The REST adapters against a real server: the tracking client remotely, failures of
the network and of foreign servers, and many processes writing at once."""

from __future__ import annotations

import http.server
import math
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from loopml.config import Settings, load_settings
from loopml.domain import Metric, RunStatus, RunUpdate
from loopml.errors import InvalidInput, NotFound, StoreError, Unavailable
from loopml.store import open_stores
from loopml.store.rest import HttpTransport, RestRunStore, open_rest_stores
from loopml.tracking import Client
from tests._services.net import free_port

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def client(remote_settings: Settings) -> Iterator[Client]:
    tracking = Client(remote_settings)
    yield tracking
    tracking.close()


def test_registry_opens_the_rest_adapters_for_http(remote_settings: Settings) -> None:
    stores = open_stores(remote_settings)
    try:
        assert isinstance(stores.runs, RestRunStore)
        assert stores.blobs.uri == remote_settings.tracking_uri
    finally:
        stores.close()


def test_tracking_client_works_remotely_end_to_end(client: Client, tmp_path: Path) -> None:
    run = client.create_run("remote", name="rf", tags={"team": "risk"})
    client.log_params(run.id, {"model": "rf", "depth": 8, "big": 2**70})
    for step in range(100):
        client.log_metric(run.id, "loss", 1 / (step + 1), step=step)
    client.log_metric(run.id, "odd", math.nan)
    client.set_tags(run.id, {"stage": "dev"})
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"w" * 3_000_000)
    (tmp_path / "model" / "config.json").write_text("{}")
    logged = client.log_artifact(run.id, tmp_path / "model", "model")
    ended = client.end_run(run.id)
    assert ended.status is RunStatus.FINISHED

    fetched = client.get_run(run.id)
    assert fetched.params == {"model": "rf", "depth": 8, "big": 2**70}
    assert fetched.tags == {"team": "risk", "stage": "dev"}
    assert fetched.metrics["loss"] == 1 / 100 and math.isnan(fetched.metrics["odd"])
    history = client.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert client.list_artifacts(run.id, "model/") == sorted(logged, key=lambda a: a.path)
    written = client.download_artifacts(run.id, tmp_path / "copy")
    assert (tmp_path / "copy" / "model" / "weights.bin").read_bytes() == b"w" * 3_000_000
    assert len(written) == 2
    assert client.get_environment(run.id)["python"]

    frame = client.search_runs("remote", filter="metrics.loss < 0.02 and params.model = 'rf'")
    assert list(frame["run_id"]) == [run.id]


def test_times_and_odd_values_round_trip_exactly(remote_settings: Settings) -> None:
    stores = open_rest_stores(remote_settings)
    try:
        client = Client(remote_settings, clock=lambda: T0, capture_environment=False)
        run = client.create_run("exact")
        values = [Metric("v", v, i, T0) for i, v in enumerate([math.inf, -math.inf, 5e-324])]
        stores.runs.log_run_data(run.id, RunUpdate(metrics=values))
        assert stores.runs.get_metric_history(run.id, "v") == values
        assert stores.runs.get_run(run.id).start_time == T0
        client.close()
    finally:
        stores.close()


def test_non_finite_param_is_refused_before_sending(client: Client) -> None:
    run = client.create_run("params")
    with pytest.raises(InvalidInput, match="finite"):
        client.stores.runs.log_run_data(run.id, RunUpdate(params={"lr": math.nan}))


def test_server_errors_keep_their_class(client: Client) -> None:
    with pytest.raises(NotFound, match="nope"):
        client.get_run("nope")
    with pytest.raises(InvalidInput, match="foo"):
        client.search_runs_page(filter="metrics.acc foo 1")


def test_unavailable_when_nothing_listens(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = load_settings({"tracking_uri": url, "home": tmp_path, "http_timeout": 1}, environ={})
    client = Client(settings)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=url.replace(".", r"\.")):
        client.list_experiments()
    assert time.monotonic() - started < 2
    client.close()


def test_unavailable_when_the_server_does_not_answer(tmp_path: Path) -> None:
    with _silent_listener() as url:
        settings = load_settings(
            {"tracking_uri": url, "home": tmp_path, "http_timeout": 0.3}, environ={}
        )
        stores = open_rest_stores(settings)
        with pytest.raises(Unavailable, match="did not answer"):
            stores.experiments.list_experiments()
        stores.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, StoreError), (502, Unavailable), (404, NotFound), (200, StoreError)],
    ids=["500", "502-proxy", "404", "200-html"],
)
def test_foreign_answers_are_translated(status: int, error: type[Exception]) -> None:
    with _foreign_server(status) as url:
        transport = HttpTransport(url, timeout=5)
        with pytest.raises(error, match="loopml server"):
            RestRunStore(transport).get_run("x")
        transport.close()


def test_token_is_sent_as_a_bearer_header(tmp_path: Path) -> None:
    seen: list[Message] = []
    with _foreign_server(404, seen) as url:
        settings = load_settings(
            {"tracking_uri": url, "home": tmp_path, "tracking_token": "s3cret"}, environ={}
        )
        stores = open_rest_stores(settings)
        with pytest.raises(NotFound):
            stores.runs.get_run("x")
        stores.close()
    assert seen[0]["Authorization"] == "Bearer s3cret"
    assert seen[0]["User-Agent"].startswith("loopml/")


# -- many writers -----------------------------------------------------------------------

_WRITERS = 8
_VALUES_PER_WRITER = 2_000


def _write_metrics(url: str, home: str, writer: int) -> str:
    """In a fresh process: one run, 2,000 metric values in many background batches."""
    settings = load_settings(
        {"tracking_uri": url, "home": home, "tracking_flush_interval": 0.02}, environ={}
    )
    client = Client(settings, capture_environment=False)
    run = client.create_run("crowd", name=f"writer-{writer}")
    for step in range(_VALUES_PER_WRITER):
        client.log_metric(run.id, "loss", step / 7, step=step)
    client.end_run(run.id)
    client.close()
    return run.id


@pytest.mark.slow
def test_concurrent_processes_lose_nothing(remote_settings: Settings, tmp_path: Path) -> None:
    url = remote_settings.tracking_uri
    assert url is not None
    context = multiprocessing.get_context("spawn")
    args = [(url, str(tmp_path / f"w{i}"), i) for i in range(_WRITERS)]
    with context.Pool(_WRITERS) as pool:
        run_ids = pool.starmap(_write_metrics, args)
    stores = open_rest_stores(remote_settings)
    try:
        for run_id in run_ids:
            history = stores.runs.get_metric_history(run_id, "loss")
            assert [m.step for m in history] == list(range(_VALUES_PER_WRITER))
            assert stores.runs.get_run(run_id).status is RunStatus.FINISHED
    finally:
        stores.close()


# -- servers that are not loopml's ------------------------------------------------------


class _Foreign(http.server.BaseHTTPRequestHandler):
    status = 500
    seen: list[Message]

    def do_GET(self) -> None:
        self.seen.append(self.headers)
        body = b"<html>Bad Gateway</html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _foreign_server(status: int, seen: list[Message] | None = None) -> Iterator[str]:
    """A real HTTP server that answers every GET with HTML and ``status``, keeping the
    request headers in ``seen``."""
    handler = type("Handler", (_Foreign,), {"status": status, "seen": [] if seen is None else seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def _silent_listener() -> Iterator[str]:
    """A socket that accepts connections (in its backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
