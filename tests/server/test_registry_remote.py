"""The registry through a real server: the same Python API with LOOPML_TRACKING_URI set."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.registry import ModelRegistry
from loopml.tracking import Client


def _model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    target = (frame["a"] > 0).to_numpy().astype(int)
    return LogisticRegression().fit(frame, target), frame


def test_log_alias_and_load_through_the_server(remote_settings: Settings) -> None:
    model, frame = _model()
    name = f"remote-{uuid.uuid4().hex[:8]}"
    with Client(remote_settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        run = client.create_run("remote-registry")
        version = registry.log_model(model, name, input_example=frame.head(), run_id=run.id)
        client.end_run(run.id)
        registry.set_alias(name, "champion", version.version, reason="first")
        loaded = registry.load_model(f"{name}@champion")
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        (move,) = registry.alias_history(name, "champion")
        assert (move.to_version, move.reason) == (1, "first")


def test_lineage_route_returns_the_graph(remote_settings: Settings, live_server: str) -> None:
    model, frame = _model()
    name = f"lineage-{uuid.uuid4().hex[:8]}"
    with Client(remote_settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        first = registry.log_model(model, name, input_example=frame.head())
        registry.log_model(model, name, input_example=frame.head(), parents=[first.ref])
    reply = httpx.get(f"{live_server}/api/v1/models/{name}/versions/2/lineage", timeout=10)
    assert reply.status_code == 200
    graph = reply.json()
    assert graph["root"] == f"model_version:{name}/2"
    kinds = sorted(node["kind"] for node in graph["nodes"])
    assert kinds == ["model_version", "model_version", "run", "run"]
    assert {
        "source": f"model_version:{name}/1",
        "target": f"model_version:{name}/2",
        "relation": "parent of",
    } in graph["edges"]
    missing = httpx.get(f"{live_server}/api/v1/models/{name}/versions/9/lineage", timeout=10)
    assert missing.status_code == 404
    assert "no version 9" in missing.json()["error"]["message"]
