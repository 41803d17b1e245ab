"""How ``serve()`` builds each process's app: what a target names, the prediction log
on by default (and off on request), the heap frozen only in loopml's own processes."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.serving._deployment_source import DeploymentSource
from loopml.serving._deployments import create_deployment
from loopml.serving._live import ModelUriSource, resolve_source
from loopml.serving._predlog import PredictionLog
from loopml.serving._predlog_query import predictions
from loopml.serving._records import NullSink
from loopml.serving._server import build_serving_app, serve
from loopml.tracking import Client
from tests.serving._helpers import (
    ListSink,
    register,
    serve_app,
    served,
    serving_settings,
    set_alias,
)

ROW = {"age": 41, "income": 52.5, "plan": "pro"}
ROWS = [ROW, {"age": 23, "income": 38.0, "plan": "free"}]


@pytest.fixture
def serve_settings(home: Path) -> Settings:
    return serving_settings(home, prediction_flush_seconds=3600)


@pytest.fixture
def models(serve_settings: Settings) -> list[Pipeline]:
    """Versions 1 and 2 of ``churn``; ``champion`` → 1; deployment ``churn-api`` serves
    champion."""
    fitted = register(serve_settings, seeds=(0, 1))
    set_alias(serve_settings, "champion", 1)
    with Client(serve_settings, capture_environment=False) as client:
        create_deployment("churn-api", "churn", {"champion": 100}, client=client)
    return fitted


def _list_sink(settings: Settings) -> ListSink:
    return ListSink()


# -- what a target names ------------------------------------------------------------------


def test_a_name_without_at_or_slash_is_a_deployment(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    source = resolve_source("churn-api", serve_settings)
    try:
        assert isinstance(source, DeploymentSource)
        assert source.current().deployment == "churn-api"
    finally:
        source.close()
    assert isinstance(resolve_source("churn@champion", serve_settings), ModelUriSource)


def test_an_unknown_deployment_says_how_to_create_one(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    with pytest.raises(NotFound) as caught:
        resolve_source("ghost", serve_settings)
    assert "No deployment named 'ghost' to serve" in str(caught.value)
    assert "loopml deploy create ghost --model MODEL --route champion=100" in str(caught.value)
    with pytest.raises(InvalidInput, match="Deployment name 'no way'"):
        resolve_source("no way", serve_settings)


# -- the prediction log -------------------------------------------------------------------


def test_a_deployment_is_logged_under_its_name_and_the_source_closed_at_shutdown(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    app = build_serving_app("churn-api", serve_settings)
    state = app.state.serving
    assert isinstance(state.sink, PredictionLog) and state.sink.stream == "predictions:churn-api"
    with serve_app(app) as client:
        first = client.post("/predict", json=ROW).json()
        second = client.post("/predict", json=ROWS).json()
        health = client.get("/health").json()
        metrics = client.get("/metrics").text
    assert (health["deployment"], health["revision"]) == ("churn-api", 1)
    assert "loopml_serving_prediction_log_logged_rows_total 3" in metrics
    assert "loopml_serving_prediction_log_flushed_rows_total 0" in metrics  # an hour's timer
    assert "loopml_serving_prediction_log_held_rows 3" in metrics
    assert "loopml_serving_prediction_log_dropped_rows_total 0" in metrics
    assert "loopml_serving_prediction_log_segments_total 0" in metrics
    assert "loopml_serving_prediction_log_failed_flushes_total 0" in metrics
    assert state.live.source._owned is None  # its client was released
    with Client(serve_settings, capture_environment=False) as reader:
        frame = predictions("churn-api", client=reader)
    assert frame["request_id"].tolist().count(first["request_id"]) == 1
    assert frame["request_id"].tolist().count(second["request_id"]) == 2
    assert set(frame["deployment"]) == {"churn-api"} and set(frame["version"]) == {1}


def test_a_model_uri_is_logged_under_the_model_name(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    app = build_serving_app("churn@champion", serve_settings)
    try:
        assert app.state.serving.sink.stream == "predictions:churn"
    finally:
        app.state.serving.close()


def test_without_the_log_nothing_is_logged_or_counted(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    app = build_serving_app("churn@champion", serve_settings, prediction_log=False)
    assert isinstance(app.state.serving.sink, NullSink)
    with serve_app(app) as client:
        assert client.post("/predict", json=ROW).status_code == 200
        assert "prediction_log" not in client.get("/metrics").text
    with Client(serve_settings, capture_environment=False) as reader:
        assert predictions("churn", client=reader).empty


def test_a_sink_factory_replaces_the_log(serve_settings: Settings, models: list[Pipeline]) -> None:
    app = build_serving_app("churn@champion", serve_settings, _list_sink)
    try:
        assert isinstance(app.state.serving.sink, ListSink)
    finally:
        app.state.serving.close()


def test_a_sink_factory_without_the_log_is_refused_before_anything_starts(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    with pytest.raises(ValueError, match="sink_factory replaces the prediction log"):
        build_serving_app("churn-api", serve_settings, _list_sink, prediction_log=False)
    with pytest.raises(ValueError, match="sink_factory replaces the prediction log"):
        serve("churn-api", settings=serve_settings, sink_factory=_list_sink, prediction_log=False)


# -- the heap is frozen only in loopml's own processes -----------------------------------


def test_an_app_built_in_a_users_process_never_freezes_the_heap(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    with served(ModelUriSource("churn@champion"), serve_settings) as client:
        assert client.post("/predict", json=ROW).status_code == 200
        assert gc.get_freeze_count() == 0
    app = build_serving_app("churn@champion", serve_settings, prediction_log=False)
    with serve_app(app) as client:
        assert client.post("/predict", json=ROW).status_code == 200
        assert gc.get_freeze_count() == 0


def test_the_app_serve_builds_freezes_the_heap_after_each_swap(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    app = build_serving_app("churn@champion", serve_settings, prediction_log=False, freeze_gc=True)
    try:
        with serve_app(app) as client:
            assert client.post("/predict", json=ROW).status_code == 200
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0  # released at shutdown
    finally:
        gc.unfreeze()
