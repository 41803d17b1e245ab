"""What the serving tests share: real registered models, a list sink, a served app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from fastapi import FastAPI
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.config import Settings, load_settings
from loopml.domain.deployments import TrafficPolicy
from loopml.registry import ColumnSpec, ModelRegistry, Signature
from loopml.serving._app import create_serving_app
from loopml.serving._live import ServingPlan
from loopml.serving._records import PredictionRecord, PredictionSink
from loopml.tracking import Client
from tests.server.conftest import serve_in_thread

__all__ = [
    "SIGNATURE",
    "ListSink",
    "PolicySource",
    "frame",
    "register",
    "register_regressor",
    "serve_app",
    "served",
    "serving_settings",
    "set_alias",
    "wait_for",
]

SIGNATURE = Signature(
    (
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64", nullable=False),
        ColumnSpec("plan", "string"),
    )
)
"""The churn models' inputs: nulls refused everywhere (an explicit signature, since an
inferred one makes float columns nullable)."""


def frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Training rows of the churn models."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50, 10, rows),
            "plan": rng.choice(["free", "pro"], rows),
        }
    )


def _fit(seed: int) -> tuple[Pipeline, pd.DataFrame]:
    data = frame(seed=seed)
    # Each seed draws another threshold: versions answer differently on some rows.
    threshold = 45 + 10 * np.random.default_rng(seed + 100).random()
    target = (data["income"] > threshold).astype(int)
    encode = make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(max_iter=500)).fit(data, target), data


def register(
    settings: Settings, seeds: tuple[int, ...] = (0,), name: str = "churn"
) -> list[Pipeline]:
    """Register one version of ``name`` per seed (version i+1 from seeds[i]); returns the
    fitted models, in version order."""
    client = Client(settings, capture_environment=False)
    try:
        registry = ModelRegistry(client)
        models = []
        for seed in seeds:
            model, data = _fit(seed)
            registry.log_model(model, name, input_example=data.head(), signature=SIGNATURE)
            models.append(model)
        return models
    finally:
        client.close()


def register_regressor(settings: Settings, name: str = "prices") -> LinearRegression:
    """Register a model without ``predict_proba``."""
    data = frame()[["age", "income"]]
    model = LinearRegression().fit(data, data["income"] * 2)
    client = Client(settings, capture_environment=False)
    try:
        ModelRegistry(client).log_model(model, name, input_example=data.head())
    finally:
        client.close()
    return model


def set_alias(settings: Settings, alias: str, version: int, name: str = "churn") -> None:
    """Point ``alias`` at ``version``, as another process would."""
    client = Client(settings, capture_environment=False)
    try:
        ModelRegistry(client).set_alias(name, alias, version)
    finally:
        client.close()


def serving_settings(home: Path, poll: float = 0.05, **more: object) -> Settings:
    """Settings over ``home`` with a short poll interval."""
    return load_settings({"home": home, "serving_poll_seconds": poll, **more}, environ={})


class ListSink:
    """A prediction sink that keeps every record, for the tests to read."""

    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []
        self.closed = False
        self._lock = threading.Lock()

    def log(self, record: PredictionRecord) -> None:
        with self._lock:
            self.records.append(record)

    def close(self) -> None:
        self.closed = True


class PolicySource:
    """A source serving a fixed policy of model ``churn`` (what a deployment gives)."""

    def __init__(self, policy: TrafficPolicy, model: str = "churn") -> None:
        self.plan = ServingPlan(model, policy, deployment="churn-api", revision=3)

    def current(self) -> ServingPlan:
        return self.plan


def wait_for(condition: object, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")


@contextmanager
def served(
    source: object, settings: Settings, sink: PredictionSink | None = None, ready: bool = True
) -> Iterator[httpx.Client]:
    """The serving app over ``source`` on a real uvicorn socket in a thread of this
    process; yields an HTTP client of it, once ready (unless ``ready`` is False)."""
    app = create_serving_app(source, settings=settings, sink=sink)  # type: ignore[arg-type]
    with serve_app(app, ready) as client:
        yield client


@contextmanager
def serve_app(app: FastAPI, ready: bool = True) -> Iterator[httpx.Client]:
    """``app`` on a real uvicorn socket in a thread of this process; an HTTP client of it."""
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        if ready:
            wait_for(lambda: client.get("/ready").status_code == 200, what="/ready")
        yield client
