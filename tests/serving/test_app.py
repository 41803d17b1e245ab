"""The serving app over real registered models: answers, refusals, logging, routing.

Served by uvicorn on a 127.0.0.1 socket in a thread of the test process; the body-size
cases run through httpx's ASGI transport, where the bytes the app reads are counted.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from loopml.config import Settings
from loopml.domain.deployments import TrafficPolicy
from loopml.serving._app import create_serving_app
from loopml.serving._live import ModelUriSource
from loopml.serving._router import Router
from tests.serving._helpers import (
    ListSink,
    PolicySource,
    register,
    register_regressor,
    serve_app,
    served,
    serving_settings,
    set_alias,
    wait_for,
)

ROW = {"age": 41, "income": 52.5, "plan": "pro"}
ROWS = [
    ROW,
    {"age": 23, "income": 38.0, "plan": "free"},
    {"age": 67, "income": 61.25, "plan": "pro"},
]


@pytest.fixture
def serve_settings(home: Path) -> Settings:
    return serving_settings(home)


@pytest.fixture
def models(serve_settings: Settings) -> list[Pipeline]:
    """Versions 1 and 2 of ``churn``; ``champion`` points at 1."""
    fitted = register(serve_settings, seeds=(0, 1))
    set_alias(serve_settings, "champion", 1)
    return fitted


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def api(serve_settings: Settings, models: list[Pipeline], sink: ListSink) -> Iterator[httpx.Client]:
    with served(ModelUriSource("churn@champion"), serve_settings, sink) as client:
        yield client


def _expected(model: Pipeline, rows: list[dict[str, Any]]) -> list[Any]:
    return model.predict(pd.DataFrame(rows)).tolist()  # type: ignore[no-any-return]


def _metric(client: httpx.Client, line_start: str) -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- answers ------------------------------------------------------------------------------


def test_one_record_is_answered_with_its_version_and_a_new_request_id(
    api: httpx.Client, models: list[Pipeline]
) -> None:
    response = api.post("/predict", json=ROW)
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["x-request-id"] == body["request_id"]
    assert body == {
        "request_id": body["request_id"],
        "model": "churn",
        "version": 1,
        "versions": [1],
        "predictions": _expected(models[0], [ROW]),
    }


@pytest.mark.parametrize(
    "shape",
    ["list", "records", "columns"],
)
def test_every_batch_shape_gets_the_same_predictions_in_order(
    api: httpx.Client, models: list[Pipeline], shape: str
) -> None:
    body: Any = {
        "list": ROWS,
        "records": {"records": ROWS},
        "columns": {"columns": {k: [row[k] for row in ROWS] for k in ROW}},
    }[shape]
    answer = api.post("/predict", json=body).json()
    assert answer["predictions"] == _expected(models[0], ROWS)
    assert answer["versions"] == [1, 1, 1] and answer["version"] == 1


def test_a_large_batch_is_scored_off_the_event_loop_in_order(
    api: httpx.Client, models: list[Pipeline]
) -> None:
    rows = [{"age": 20 + i % 60, "income": 30.0 + i % 40, "plan": "pro"} for i in range(500)]
    answer = api.post("/predict", json=rows).json()
    assert answer["predictions"] == _expected(models[0], rows)


def test_a_sane_request_id_is_echoed_and_an_insane_one_replaced(api: httpx.Client) -> None:
    kept = api.post("/predict", json=ROW, headers={"X-Request-Id": "order-17.a:b"})
    assert kept.json()["request_id"] == "order-17.a:b" == kept.headers["x-request-id"]
    for bad in ("has spaces", "x" * 129, "-leading-dash", "ümlaut".encode(), "a\tb"):
        replaced = api.post("/predict", json=ROW, headers={"X-Request-Id": bad})
        assert replaced.status_code == 200
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.json()["request_id"]), bad


def test_proba_adds_class_probabilities(api: httpx.Client, models: list[Pipeline]) -> None:
    answer = api.post("/predict?proba=true", json=ROWS).json()
    expected = models[0].predict_proba(pd.DataFrame(ROWS))
    np.testing.assert_allclose(answer["probabilities"], expected)
    assert "probabilities" not in api.post("/predict?proba=false", json=ROWS).json()


def test_proba_must_be_a_boolean(api: httpx.Client, sink: ListSink) -> None:
    response = api.post("/predict?proba=maybe", json=ROW)
    assert response.status_code == 422
    assert "'proba' must be true or false, got 'maybe'" in response.json()["error"]["message"]
    assert sink.records == []


def test_proba_of_a_model_without_predict_proba_is_refused(serve_settings: Settings) -> None:
    model = register_regressor(serve_settings)
    with served(ModelUriSource("prices/1"), serve_settings) as client:
        refused = client.post("/predict?proba=true", json={"age": 30, "income": 40.0})
        assert refused.status_code == 422
        assert "has no predict_proba" in refused.json()["error"]["message"]
        answer = client.post("/predict", json={"age": 30, "income": 40.0}).json()
    expected = model.predict(pd.DataFrame([{"age": 30, "income": 40.0}]))
    np.testing.assert_allclose(answer["predictions"], expected)


def test_each_answer_is_logged_once_with_inputs_and_outputs(
    api: httpx.Client, sink: ListSink
) -> None:
    first = api.post("/predict", json=ROW).json()
    second = api.post("/predict", json=ROWS).json()
    assert [r.request_id for r in sink.records] == [first["request_id"], second["request_id"]]
    record = sink.records[1]
    assert (record.model, record.version, record.target, record.deployment) == (
        "churn",
        1,
        "champion",
        None,
    )
    assert record.inputs == ROWS and record.outputs == second["predictions"]
    assert record.latency_ms > 0 and record.time.utcoffset() is not None
    assert record.shadows == {} and record.rows is None  # rows 0, 1, 2 as sent


# -- refusals -----------------------------------------------------------------------------

BAD_RECORDS = [
    pytest.param({"age": 41, "plan": "pro"}, [(0, "income", "missing")], id="missing"),
    pytest.param({**ROW, "colour": "red"}, [(0, "colour", "unexpected")], id="extra"),
    pytest.param({**ROW, "age": "41"}, [(0, "age", "type")], id="text-for-int"),
    pytest.param({**ROW, "age": 41.5}, [(0, "age", "type")], id="float-for-int"),
    pytest.param({**ROW, "plan": ["pro"]}, [(0, "plan", "type")], id="nested"),
    pytest.param({**ROW, "age": None}, [(0, "age", "null")], id="null-int"),
    pytest.param({**ROW, "income": None}, [(0, "income", "null")], id="null-float"),
    pytest.param({**ROW, "age": 2**63}, [(0, "age", "range")], id="out-of-range"),
    pytest.param(
        {"age": "x", "income": None, "plan": 3, "colour": "red"},
        [
            (0, "age", "type"),
            (0, "income", "null"),
            (0, "plan", "type"),
            (0, "colour", "unexpected"),
        ],
        id="all-at-once",
    ),
    pytest.param(
        [ROW, {"age": 1, "plan": 2}, ROW, {**ROW, "x": 1, "income": "rich"}, {}],
        [
            (1, "income", "missing"),
            (1, "plan", "type"),
            (3, "x", "unexpected"),
            (3, "income", "type"),
            (4, "age", "missing"),
            (4, "income", "missing"),
            (4, "plan", "missing"),
        ],
        id="batch",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_RECORDS)
def test_every_bad_field_of_every_record_is_listed(
    api: httpx.Client, sink: ListSink, body: Any, expected: list[tuple[int, str, str]]
) -> None:
    response = api.post("/predict", content=orjson.dumps(body))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "InvalidInput"
    found = {(e["index"], e["field"], e["kind"]) for e in error["errors"]}
    assert found == set(expected)
    assert all(e["message"] for e in error["errors"])
    assert f"{len(expected)} problem" in error["message"]
    assert sink.records == []
    assert _metric(api, 'loopml_serving_rows_total{version="1"}') == 0


def test_a_huge_bad_batch_lists_the_first_thousand_problems(api: httpx.Client) -> None:
    response = api.post("/predict", json=[{"age": 1}] * 600)
    assert response.status_code == 422
    error = response.json()["error"]
    assert len(error["errors"]) == 1000
    assert "The input has 1200 problems" in error["message"]


def test_nan_is_refused_where_the_signature_forbids_it(api: httpx.Client) -> None:
    body = (
        b'[{"age": 41, "income": NaN, "plan": "pro"}, {"age": 1, "income": Infinity, "plan": "x"}]'
    )
    response = api.post("/predict", content=body)
    assert response.status_code == 422
    errors = response.json()["error"]["errors"]
    assert [(e["index"], e["field"], e["kind"]) for e in errors] == [(0, "income", "null")]
    assert "NaN is not allowed" in errors[0]["message"]


def test_input_the_model_itself_refuses_is_a_422_not_a_500(api: httpx.Client) -> None:
    response = api.post("/predict", json={**ROW, "plan": "enterprise"})
    assert response.status_code == 422
    assert "could not score the input" in response.json()["error"]["message"]
    assert "enterprise" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"[]", "The batch is empty", id="empty-list"),
        pytest.param(b'{"records": []}', "The batch is empty", id="empty-records"),
        pytest.param(b'{"columns": {}}', "The batch is empty", id="empty-columns"),
        pytest.param(
            b'{"columns": {"age": [1, 2], "income": [1.0]}}',
            "different numbers of values ('age': 2, 'income': 1)",
            id="ragged-columns",
        ),
        pytest.param(b'{"columns": {"age": 1}}', "must be a list of values", id="scalar-column"),
        pytest.param(b"42", "The request body is a number", id="number"),
        pytest.param(b'"text"', "The request body is text", id="text"),
        pytest.param(b"null", "The request body is null", id="null"),
        pytest.param(
            b'[{"age": 1}, 2, "x"]', "these are not: 1 (a number), 2 (text)", id="not-records"
        ),
    ],
)
def test_a_body_of_another_shape_is_a_422_naming_it(
    api: httpx.Client, sink: ListSink, body: bytes, message: str
) -> None:
    response = api.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert sink.records == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"age": 41,', "not valid JSON", id="truncated"),
        pytest.param(b"{'age': 41}", "not valid JSON", id="single-quotes"),
        pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
        pytest.param(b"", "The request body is empty", id="empty"),
    ],
)
def test_malformed_json_is_a_400_saying_so(
    api: httpx.Client, sink: ListSink, body: bytes, message: str
) -> None:
    response = api.post("/predict", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert sink.records == []
    assert _metric(api, 'loopml_serving_errors_total{reason="malformed_json"}') == 1


class _CountingApp:
    """The app, with the request body bytes it reads counted."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def _post_in_process(
    settings: Settings, content: Any, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, int, ListSink]:
    sink = ListSink()
    app = create_serving_app(ModelUriSource("churn@champion"), settings=settings, sink=sink)
    counting = _CountingApp(app)

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=counting)
            async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
                while (await client.get("/ready")).status_code != 200:
                    await asyncio.sleep(0.02)
                return await client.post("/predict", content=content, headers=headers)

    return asyncio.run(go()), counting.read, sink


def test_a_50_mb_body_is_refused_from_its_length_without_reading_it(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    body = b"[" + b" " * (50 * 1024 * 1024) + b"]"
    response, read, sink = _post_in_process(serve_settings, body)
    assert response.status_code == 413
    assert "larger than 10,485,760 bytes" in response.json()["error"]["message"]
    assert read == 0 and sink.records == []


def test_a_chunked_body_is_cut_off_at_the_limit(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    chunk = b" " * (1024 * 1024)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"["
        for _ in range(50):
            sent += len(chunk)
            yield chunk
        yield b"]"

    response, read, sink = _post_in_process(serve_settings, chunks())
    assert response.status_code == 413
    assert read <= 10 * 1024 * 1024 + len(chunk) + 1
    assert sink.records == []


def test_a_client_gone_mid_body_is_counted_not_failed(
    serve_settings: Settings, models: list[Pipeline], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_serving_app(ModelUriSource("churn@champion"), settings=serve_settings)
    messages = [
        {"type": "http.request", "body": b'[{"age": 4', "more_body": True},
        {"type": "http.disconnect"},
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"serving"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> str:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
            return app.state.serving.metrics.render(app.state.serving.live)

    metrics = asyncio.run(go())
    assert sent[0]["status"] == 499
    assert 'loopml_serving_errors_total{reason="disconnected"} 1' in metrics
    assert "Unexpected error" not in caplog.text


def test_a_body_over_the_limit_is_refused_over_a_real_socket(
    home: Path, models: list[Pipeline], sink: ListSink
) -> None:
    settings = serving_settings(home, serving_max_body_bytes=1000)
    with served(ModelUriSource("churn@champion"), settings, sink) as client:
        refused = client.post("/predict", content=orjson.dumps([ROW] * 40))
        assert refused.status_code == 413
        assert "larger than 1,000 bytes" in refused.json()["error"]["message"]
        assert client.post("/predict", json=ROW).status_code == 200
    assert len(sink.records) == 1


# -- health, readiness, metrics, docs ----------------------------------------------------


def test_health_ready_and_metrics_describe_what_is_served(api: httpx.Client) -> None:
    api.post("/predict", json=ROW)
    api.post("/predict", json=ROWS)
    api.post("/predict", json={"age": 1})
    assert api.get("/ready").json() == {"ready": True}
    health = api.get("/health").json()
    assert health["status"] == "serving"
    assert (health["model"], health["deployment"], health["revision"]) == ("churn", None, None)
    assert health["targets"] == {"champion": 1} and health["loaded_versions"] == [1]
    assert health["last_error"] is None and health["uptime_seconds"] > 0
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'loopml_serving_requests_total{version="1",code="200"} 2' in text
    assert 'loopml_serving_requests_total{version="none",code="422"} 1' in text
    assert 'loopml_serving_errors_total{reason="invalid_input"} 1' in text
    assert 'loopml_serving_rows_total{version="1"} 4' in text
    assert 'loopml_serving_request_duration_seconds_count{version="1"} 2' in text
    assert 'loopml_serving_request_duration_seconds_bucket{version="1",le="0.0005"}' in text
    assert 'loopml_serving_request_duration_seconds_bucket{version="1",le="2.5"}' in text
    assert 'loopml_serving_target_version{target="champion"} 1' in text
    assert "loopml_serving_swaps_total 1" in text
    assert "loopml_serving_model_load_errors_total 0" in text
    assert "# TYPE loopml_serving_request_duration_seconds histogram" in text


def test_before_a_model_loads_ready_and_predict_answer_503(
    serve_settings: Settings, models: list[Pipeline]
) -> None:
    with served(ModelUriSource("churn@missing"), serve_settings, ready=False) as client:
        wait_for(lambda: client.get("/health").json()["last_error"] is not None, what="an error")
        ready = client.get("/ready")
        assert ready.status_code == 503 and "no alias 'missing'" in ready.json()["reason"]
        refused = client.post("/predict", json=ROW)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["type"] == "Unavailable"
        health = client.get("/health").json()
        assert health["status"] == "loading" and health["targets"] == {}
        assert "loopml_serving_ready 0" in client.get("/metrics").text
        assert _metric(client, "loopml_serving_model_load_errors_total") >= 1


def test_openapi_describes_the_predict_body_and_answer(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    predict = schema["paths"]["/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    assert [option["title"] for option in body["oneOf"]] == [
        "Record",
        "Records",
        "WrappedRecords",
        "Columns",
    ]
    answer = predict["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"predictions", "versions", "version", "request_id"} <= set(answer["properties"])
    assert {"400", "413", "422", "503"} <= set(predict["responses"])
    assert [p["name"] for p in predict["parameters"]] == ["proba", "X-Request-Id"]
    assert {"/health", "/ready", "/metrics"} <= set(schema["paths"])
    assert api.get("/docs").status_code == 200


def test_unknown_routes_answer_in_the_error_shape(api: httpx.Client) -> None:
    missing = api.get("/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    assert api.get("/predict").status_code == 405


@pytest.mark.parametrize(
    ("is_quick", "rows", "where"),
    [(True, 1, "loop"), (True, 64, "loop"), (True, 65, "worker"), (False, 1, "worker")],
    ids=["quick-one", "quick-64", "quick-65", "slow-one"],
)
def test_quick_models_score_small_requests_on_the_loop_and_the_rest_in_a_worker(
    serve_settings: Settings, models: list[Pipeline], is_quick: bool, rows: int, where: str
) -> None:
    app = create_serving_app(ModelUriSource("churn@champion"), settings=serve_settings)
    threads: list[str] = []
    with serve_app(app) as client:
        snapshot = app.state.serving.live.snapshot
        served_version = snapshot.served["champion"]
        served_version.is_quick = is_quick
        predict = served_version.model.predict

        def spy(data: object) -> Any:
            threads.append(threading.current_thread().name)
            return predict(data)

        served_version.model.predict = spy
        assert client.post("/predict", json=[ROW] * rows).status_code == 200
    assert len(threads) == 1
    # Starlette's worker threads are anyio's; the loop runs in the server's own thread.
    assert threads[0].startswith("AnyIO worker thread") is (where == "worker")


# -- shadows and sticky routing -----------------------------------------------------------


def test_shadow_outputs_reach_the_log_but_not_the_answer(
    serve_settings: Settings, models: list[Pipeline], sink: ListSink
) -> None:
    policy = TrafficPolicy.of({"champion": 100}, shadows=["2"])
    with served(PolicySource(policy), serve_settings, sink) as client:
        response = client.post("/predict", json=ROWS)
        wait_for(lambda: len(sink.records) == 1, what="the logged prediction")
        health = client.get("/health").json()
    answer = response.json()
    assert set(answer) == {"request_id", "model", "version", "versions", "predictions"}
    assert answer["versions"] == [1, 1, 1]
    assert b'"2"' not in response.content
    record = sink.records[0]
    assert record.request_id == answer["request_id"] and record.deployment == "churn-api"
    assert record.outputs == _expected(models[0], ROWS)
    assert record.shadows == {"2": {"version": 2, "outputs": _expected(models[1], ROWS)}}
    assert health["targets"] == {"champion": 1, "2": 2} and health["revision"] == 3


def test_a_sticky_batch_is_split_over_two_versions_and_reassembled_in_order(
    serve_settings: Settings, models: list[Pipeline], sink: ListSink
) -> None:
    policy = TrafficPolicy.of({"champion": 50, "2": 50}, sticky_key="customer")
    rows = [{**ROWS[i % 3], "customer": f"c-{i}"} for i in range(12)]
    router = Router(policy)
    targets = [router.pick(row["customer"]) for row in rows]
    assert set(targets) == {"champion", "2"}  # both routes meet these customers
    wanted = [1 if target == "champion" else 2 for target in targets]
    with served(PolicySource(policy), serve_settings, sink) as client:
        answer = client.post("/predict", json=rows).json()
        again = client.post("/predict", json=rows[::-1]).json()
    plain = [{k: v for k, v in row.items() if k != "customer"} for row in rows]
    expected = [
        _expected(models[version - 1], [row])[0] for version, row in zip(wanted, plain, strict=True)
    ]
    assert answer["versions"] == wanted and answer["version"] is None
    assert answer["predictions"] == expected
    assert again["versions"] == wanted[::-1]
    first = [r for r in sink.records if r.request_id == answer["request_id"]]
    assert sorted(r.version for r in first) == [1, 2]
    for record in first:
        mine = [i for i, v in enumerate(wanted) if v == record.version]
        assert record.rows == mine  # the request's indexes, so the log numbers rows as sent
        assert record.inputs == [rows[i] for i in mine]
        assert record.outputs == [expected[i] for i in mine]
