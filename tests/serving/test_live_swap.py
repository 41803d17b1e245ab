"""Keeping served models current: resolve, load once, warm, swap, release, survive
failures; and, over HTTP, an alias moved under load."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from loopml.config import Settings
from loopml.domain.deployments import TrafficPolicy
from loopml.errors import Unavailable
from loopml.registry import Manifest, ModelRegistry
from loopml.registry._model import PackagedModel
from loopml.serving._live import LiveModels, ModelUriSource, ServingPlan
from loopml.tracking import Client
from tests.serving._helpers import (
    ListSink,
    PolicySource,
    register,
    served,
    serving_settings,
    set_alias,
    wait_for,
)

ROW = {"age": 41, "income": 52.5, "plan": "pro"}


class CountingRegistry(ModelRegistry):
    """The real registry, counting the loads it serves and letting a test wrap them."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.loads: Counter[str] = Counter()
        self.on_load: Callable[[PackagedModel], None] | None = None

    def load_model(self, uri: str, *, record_input: bool = True) -> PackagedModel:
        self.loads[uri] += 1
        model = super().load_model(uri, record_input=record_input)
        if self.on_load is not None:
            self.on_load(model)
        return model


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def serve_settings(home: Path) -> Settings:
    return serving_settings(home)


@pytest.fixture
def models(serve_settings: Settings) -> list[Pipeline]:
    fitted = register(serve_settings, seeds=(0, 1))
    set_alias(serve_settings, "champion", 1)
    return fitted


@pytest.fixture
def registry(serve_settings: Settings, models: list[Pipeline]) -> Iterator[CountingRegistry]:
    client = Client(serve_settings, capture_environment=False)
    yield CountingRegistry(client)
    client.close()


def _live(source: Any, registry: ModelRegistry, clock: Clock | None = None) -> LiveModels:
    return LiveModels(source, registry, poll_seconds=0.05, clock=clock or Clock())


def _corrupt(settings: Settings, uri: str) -> Callable[[], None]:
    """Overwrite the stored pickle of ``uri`` (same size, other bytes); return a repair."""
    client = Client(settings, capture_environment=False)
    manifest = Manifest.from_json(ModelRegistry(client).resolve(uri).manifest)
    client.close()
    entry = next(f for f in manifest.files if f.path.endswith(".pkl"))
    path = settings.home / "blobs" / entry.digest[:2] / entry.digest[2:]
    original = path.read_bytes()
    os.chmod(path, 0o644)
    path.write_bytes(b"\0" * len(original))
    return lambda: path.write_bytes(original)


# -- LiveModels -----------------------------------------------------------------------------


def test_every_target_resolves_and_each_version_loads_once(registry: CountingRegistry) -> None:
    set_alias_latest = TrafficPolicy.of({"champion": 60, "1": 40}, shadows=["latest"])
    live = _live(PolicySource(set_alias_latest), registry)
    assert live.snapshot is None
    assert live.refresh() is True
    snapshot = live.snapshot
    assert snapshot is not None
    assert snapshot.versions == {"champion": 1, "1": 1, "latest": 2}
    assert snapshot.served["champion"] is snapshot.served["1"]
    assert registry.loads == {"churn/1": 1, "churn/2": 1}
    assert live.refresh() is False and live.snapshot is snapshot
    assert registry.loads == {"churn/1": 1, "churn/2": 1}
    assert (live.swaps, live.load_errors, live.loaded_versions) == (1, 0, [1, 2])


def test_a_moved_alias_swaps_in_a_new_snapshot_and_releases_the_old_version(
    serve_settings: Settings, registry: CountingRegistry
) -> None:
    live = _live(ModelUriSource("churn@champion"), registry)
    live.refresh()
    before = live.snapshot
    assert before is not None
    set_alias(serve_settings, "champion", 2)
    assert live.refresh() is True
    after = live.snapshot
    assert after is not None and after is not before
    assert after.versions == {"champion": 2} and before.versions == {"champion": 1}
    assert live.loaded_versions == [2] and live.swaps == 2
    set_alias(serve_settings, "champion", 1)
    assert live.refresh() is True
    assert registry.loads == {"churn/1": 2, "churn/2": 1}  # released, so loaded again


def test_a_version_is_warmed_before_it_can_take_traffic(registry: CountingRegistry) -> None:
    seen: list[tuple[int | None, object]] = []
    live = _live(ModelUriSource("churn@champion"), registry)

    def record_warm_up(model: PackagedModel) -> None:
        predict = model.predict

        def spy(data: object) -> Any:
            seen.append((model.version, live.snapshot))
            return predict(data)

        model.predict = spy  # type: ignore[method-assign]

    registry.on_load = record_warm_up
    live.refresh()
    # On the example, then on its first row (timed), both before any snapshot exists.
    assert seen == [(1, None), (1, None)]
    assert live.snapshot is not None


def test_a_model_that_fails_its_warm_up_never_serves(
    serve_settings: Settings, registry: CountingRegistry
) -> None:
    live = _live(ModelUriSource("churn@champion"), registry)
    live.refresh()

    def break_predict(model: PackagedModel) -> None:
        def broken(data: object) -> Any:
            raise RuntimeError("CUDA out of memory")

        model.predict = broken  # type: ignore[method-assign]

    registry.on_load = break_predict
    set_alias(serve_settings, "champion", 2)
    assert live.refresh() is False
    assert live.snapshot is not None and live.snapshot.versions == {"champion": 1}
    assert live.last_error is not None
    assert "RuntimeError: CUDA out of memory" in live.last_error.message


def test_a_failed_load_keeps_the_old_snapshot_and_is_retried_after_a_back_off(
    serve_settings: Settings, registry: CountingRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    live = _live(ModelUriSource("churn@champion"), registry, clock)
    live.refresh()
    repair = _corrupt(serve_settings, "churn/2")
    set_alias(serve_settings, "champion", 2)
    assert live.refresh() is False
    assert live.snapshot is not None and live.snapshot.versions == {"champion": 1}
    error = live.last_error
    assert error is not None and error.version == 2
    assert error.message.startswith("Cannot load churn/2: ")
    assert (live.load_errors, live.is_current, registry.loads["churn/2"]) == (1, False, 1)
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.name for r in warned] == ["loopml.serving"]
    assert "Cannot load churn/2" in warned[0].getMessage()
    assert "still serving the previous models" in warned[0].getMessage()
    live.refresh()  # within the back-off: not tried again
    assert (live.load_errors, registry.loads["churn/2"]) == (1, 1)
    clock.now += 0.06
    live.refresh()
    assert (live.load_errors, registry.loads["churn/2"]) == (2, 2)
    clock.now += 0.06  # the back-off doubled: 0.1 s now
    live.refresh()
    assert registry.loads["churn/2"] == 2
    repair()
    clock.now += 0.05
    assert live.refresh() is True
    assert live.snapshot.versions == {"champion": 2} and live.is_current


@pytest.mark.parametrize(
    ("uri", "policy", "versions"),
    [
        ("churn@champion", "champion 100%", {"champion": 1}),
        ("models:/churn/2", "2 100%", {"2": 2}),
        ("churn@latest", "latest 100%", {"latest": 2}),
    ],
)
def test_a_model_uri_is_a_one_route_policy(
    registry: CountingRegistry, uri: str, policy: str, versions: dict[str, int]
) -> None:
    source = ModelUriSource(uri)
    plan = source.current()
    assert (plan.model, plan.policy.describe(), plan.deployment, plan.revision) == (
        "churn",
        policy,
        None,
        None,
    )
    live = _live(source, registry)
    live.refresh()
    assert live.snapshot is not None and live.snapshot.versions == versions


def test_latest_follows_new_versions(serve_settings: Settings, registry: CountingRegistry) -> None:
    live = _live(ModelUriSource("churn@latest"), registry)
    live.refresh()
    register(serve_settings, seeds=(2,))
    assert live.refresh() is True
    assert live.snapshot is not None and live.snapshot.versions == {"latest": 3}


def test_a_source_that_fails_keeps_the_snapshot(registry: CountingRegistry) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.fail = False

        def current(self) -> ServingPlan:
            if self.fail:
                raise Unavailable("The deployment store at db:5432 is unreachable.")
            return ServingPlan("churn", TrafficPolicy.of({"champion": 100}))

    source = Flaky()
    live = _live(source, registry)
    live.refresh()
    source.fail = True
    assert live.refresh() is False
    assert live.snapshot is not None and live.snapshot.versions == {"champion": 1}
    assert live.last_error is not None
    assert "unreachable" in live.last_error.message and live.load_errors == 1


def test_the_poll_thread_starts_loads_and_stops(registry: CountingRegistry) -> None:
    live = _live(ModelUriSource("churn@champion"), registry)
    live.start()
    try:
        wait_for(lambda: live.snapshot is not None, what="the first snapshot")
    finally:
        live.stop()
    assert not any(t.name == "loopml-serving-poll" for t in threading.enumerate())


def test_a_serving_process_freezes_its_heap_after_a_swap(registry: CountingRegistry) -> None:
    live = LiveModels(ModelUriSource("churn@champion"), registry, poll_seconds=1, freeze_gc=True)
    try:
        live.refresh()
        assert gc.get_freeze_count() > 0
    finally:
        live.stop()
    assert gc.get_freeze_count() == 0


# -- over HTTP ----------------------------------------------------------------------------


class Hammer:
    """Sends predictions from a thread until stopped; keeps every answer."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.answers: list[tuple[float, int, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.client.post("/predict", json=ROW)
                self.answers.append((time.monotonic(), response.status_code, response.json()))
            except httpx.HTTPError as exc:  # a failed request is what the test looks for
                self.answers.append((time.monotonic(), 0, repr(exc)))

    def versions_since(self, moment: float) -> list[int]:
        return [a[2]["version"] for a in self.answers if a[0] > moment and a[1] == 200]


def test_an_alias_moved_under_load_fails_no_request(home: Path, models: list[Pipeline]) -> None:
    poll = 0.1
    settings = serving_settings(home, poll=poll)
    sink = ListSink()
    with (
        served(ModelUriSource("churn@champion"), settings, sink) as client,
        Hammer(client) as hammer,
    ):
        wait_for(lambda: len(hammer.answers) >= 20, what="requests before the move")
        moved = time.monotonic()
        set_alias(settings, "champion", 2)
        wait_for(lambda: 2 in hammer.versions_since(moved), timeout=20, what="version 2")
        switched = next(
            a[0] for a in hammer.answers if a[0] > moved and a[1] == 200 and a[2]["version"] == 2
        )
        count = len(hammer.answers)
        wait_for(lambda: len(hammer.answers) >= count + 20, what="requests after the move")
    failures = [a for a in hammer.answers if a[1] != 200]
    assert failures == []
    versions = [a[2]["version"] for a in hammer.answers]
    first_two = versions.index(2)
    assert set(versions[:first_two]) == {1} and set(versions[first_two:]) == {2}
    # Within a few poll intervals, plus the load and warm-up of version 2.
    assert switched - moved < 10 * poll + 0.5, switched - moved
    expected = models[1].predict(pd.DataFrame([ROW])).tolist()
    assert hammer.answers[-1][2]["predictions"] == expected
    assert {r.version for r in sink.records} == {1, 2}


def test_a_failed_load_during_a_swap_shows_in_health_and_metrics(
    home: Path, models: list[Pipeline]
) -> None:
    settings = serving_settings(home, poll=0.05)
    repair = _corrupt(settings, "churn/2")
    with served(ModelUriSource("churn@champion"), settings) as client:
        set_alias(settings, "champion", 2)
        wait_for(lambda: client.get("/health").json()["last_error"] is not None, what="the error")
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["targets"] == {"champion": 1}
        assert health["last_error"]["version"] == 2
        assert "Cannot load churn/2" in health["last_error"]["message"]
        answer = client.post("/predict", json=ROW)
        assert answer.status_code == 200 and answer.json()["version"] == 1
        metrics = client.get("/metrics").text
        errors = next(
            line
            for line in metrics.splitlines()
            if line.startswith("loopml_serving_model_load_errors_total ")
        )
        assert int(errors.split()[1]) >= 1
        assert 'loopml_serving_target_version{target="champion"} 1' in metrics
        repair()
        wait_for(
            lambda: client.post("/predict", json=ROW).json()["version"] == 2,
            timeout=20,
            what="version 2 after the repair",
        )
        assert client.get("/health").json()["status"] == "serving"
