"""``POST /feedback``: labels for logged predictions, joined to them when the log is read;
bad bodies refused naming the problem, with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sklearn.pipeline import Pipeline

from loopml.config import Settings
from loopml.errors import Unavailable
from loopml.registry import ModelRegistry
from loopml.serving._app import create_serving_app
from loopml.serving._live import ModelUriSource
from loopml.serving._predlog import PredictionLog
from loopml.serving._predlog_query import predictions
from loopml.tracking import Client
from tests.serving._helpers import register, serve_app, served, serving_settings, set_alias
from tests.serving.test_predlog import Delegate, WiredClient

ROW = {"age": 41, "income": 52.5, "plan": "pro"}
ROWS = [
    ROW,
    {"age": 23, "income": 38.0, "plan": "free"},
    {"age": 67, "income": 61.25, "plan": "pro"},
]


@pytest.fixture
def serve_settings(home: Path) -> Settings:
    return serving_settings(home, prediction_flush_seconds=3600)


@pytest.fixture
def models(serve_settings: Settings) -> list[Pipeline]:
    fitted = register(serve_settings)
    set_alias(serve_settings, "champion", 1)
    return fitted


@pytest.fixture
def reader(serve_settings: Settings) -> Iterator[Client]:
    with Client(serve_settings, capture_environment=False) as made:
        yield made


@pytest.fixture
def api(serve_settings: Settings, models: list[Pipeline]) -> Iterator[httpx.Client]:
    with served(ModelUriSource("churn@champion"), serve_settings) as client:
        yield client


def _labels_written(reader: Client) -> int:
    return len(reader.stores.segments.list_segments("labels:churn"))


def test_feedback_labels_join_the_logged_predictions(
    serve_settings: Settings, models: list[Pipeline], reader: Client
) -> None:
    log = PredictionLog("churn", settings=serve_settings)
    with served(ModelUriSource("churn@champion"), serve_settings, log) as client:
        one = client.post("/predict", json=ROW).json()["request_id"]
        batch = client.post("/predict", json=ROWS).json()["request_id"]
        many = client.post(
            "/feedback",
            json={"labels": [{"request_id": one, "label": 1}, {"request_id": batch, "label": 0}]},
        )
        single = client.post("/feedback", json={"request_id": batch, "label": 1, "row": 2})
        metrics = client.get("/metrics").text
    assert (many.status_code, many.json()) == (200, {"logged": 2})
    assert (single.status_code, single.json()) == (200, {"logged": 1})
    assert 'loopml_serving_feedback_requests_total{code="200"} 2' in metrics
    assert "loopml_serving_feedback_labels_total 3" in metrics

    frame = predictions("churn", with_labels=True, client=reader)

    got = {
        (r, int(row)): int(label) for r, row, label in frame[["request_id", "row", "label"]].values
    }
    assert got == {(one, 0): 1, (batch, 0): 0, (batch, 1): 0, (batch, 2): 1}
    assert frame["label_time"].notna().all()


BAD_BODIES = [
    pytest.param([{"request_id": "a", "label": 1}], "The feedback body must be", id="a-list"),
    pytest.param({"labels": "a"}, "'labels' must be a list of label objects", id="labels-text"),
    pytest.param({"labels": [{"request_id": "a"}]}, "labels[0] has no 'label'", id="no-label"),
    pytest.param({"label": 1}, "has no 'request_id'", id="no-request-id"),
    pytest.param(
        {"request_id": "a", "label": 1, "colour": "red"}, "unknown field(s) ['colour']", id="extra"
    ),
    pytest.param(
        {"labels": [], "more": 1}, "unknown field(s) ['more'] beside 'labels'", id="extra-beside"
    ),
    pytest.param(
        {"request_id": "a", "label": {"x": 1}},
        "label must be a number, a boolean or text",
        id="obj",
    ),
    pytest.param(
        {"request_id": "a", "label": 1, "row": -1}, "row must be a whole number from 0", id="row"
    ),
    pytest.param({"request_id": " ", "label": 1}, "request_id must be non-empty text", id="blank"),
    pytest.param(
        {"labels": [{"request_id": "a", "label": 1}, {"request_id": "b", "label": None}]},
        "labels[1]: label must be a number",
        id="second-bad",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_a_bad_body_is_a_422_naming_the_problem_and_nothing_is_written(
    api: httpx.Client, reader: Client, body: Any, message: str
) -> None:
    response = api.post("/feedback", content=orjson.dumps(body))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput" and message in error["message"]
    assert _labels_written(reader) == 0
    assert 'loopml_serving_feedback_requests_total{code="422"} 1' in api.get("/metrics").text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"request_id": "a", ', "not valid JSON", id="truncated"),
        pytest.param(b"  ", "The request body is empty", id="empty"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(
    api: httpx.Client, reader: Client, body: bytes, message: str
) -> None:
    response = api.post("/feedback", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert '{"labels": [{"request_id"' in response.json()["error"]["message"]  # what to send
    assert _labels_written(reader) == 0


def test_a_body_over_the_limit_is_a_413(home: Path, models: list[Pipeline], reader: Client) -> None:
    settings = serving_settings(home, serving_max_body_bytes=200)
    labels = [{"request_id": f"r{i}", "label": i} for i in range(20)]
    with served(ModelUriSource("churn@champion"), settings) as client:
        response = client.post("/feedback", json={"labels": labels})
    assert response.status_code == 413
    assert "larger than 200 bytes" in response.json()["error"]["message"]
    assert _labels_written(reader) == 0


def test_before_a_model_loads_feedback_is_a_503(
    serve_settings: Settings, models: list[Pipeline], reader: Client
) -> None:
    with served(ModelUriSource("churn@missing"), serve_settings, ready=False) as client:
        response = client.post("/feedback", json={"request_id": "a", "label": 1})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "Unavailable"
    assert _labels_written(reader) == 0


class DownSegments(Delegate):
    def add_segment(self, draft: Any) -> Any:
        raise Unavailable("Cannot reach the metadata store: connection refused.")


def test_a_store_that_cannot_be_reached_is_a_503(
    serve_settings: Settings, models: list[Pipeline], reader: Client
) -> None:
    wired = WiredClient(serve_settings, segments=DownSegments)
    app = create_serving_app(
        ModelUriSource("churn@champion"), settings=serve_settings, registry=ModelRegistry(wired)
    )
    try:
        with serve_app(app) as client:
            response = client.post("/feedback", json={"request_id": "a", "label": 1})
    finally:
        wired.close()
    assert response.status_code == 503
    assert "connection refused" in response.json()["error"]["message"]
    assert _labels_written(reader) == 0


def test_openapi_describes_the_feedback_body_and_answers(api: httpx.Client) -> None:
    feedback = api.get("/openapi.json").json()["paths"]["/feedback"]["post"]
    body = feedback["requestBody"]["content"]["application/json"]["schema"]
    assert [option["title"] for option in body["oneOf"]] == ["Labels", "Label"]
    assert {"200", "400", "413", "422", "503"} == set(feedback["responses"])
    answer = feedback["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["required"] == ["logged"]
