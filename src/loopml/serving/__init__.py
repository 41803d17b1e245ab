"""Serving: deployments and their traffic policies, the online REST app, batch scoring,
the Redis stream consumer and the prediction log.

Example:
    >>> from loopml import serving
    >>> serving.create_deployment("churn-api", "churn", {"champion": 90, "challenger": 10})
    >>> serving.predict_files("churn@champion", "customers.parquet", "scores.parquet")
    >>> serving.predictions("churn-api", since=datetime(2026, 11, 1, tzinfo=UTC))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.serving._app import create_serving_app
    from loopml.serving._batch import BatchResult, predict_files
    from loopml.serving._deployment_source import DeploymentSource
    from loopml.serving._deployments import (
        create_deployment,
        delete_deployment,
        deployment_history,
        get_deployment,
        list_deployments,
        resolve_deployment,
        rollback_deployment,
        update_deployment,
    )
    from loopml.serving._live import ModelSource, ModelUriSource, ServingPlan, resolve_source
    from loopml.serving._predlog import PredictionLog, open_prediction_log
    from loopml.serving._predlog_labels import log_labels
    from loopml.serving._predlog_query import prediction_relation, predictions
    from loopml.serving._records import NullSink, PredictionRecord, PredictionSink
    from loopml.serving._server import serve
    from loopml.serving._stream import StreamConsumer, StreamStats
    from loopml.serving._stream_run import run_stream

# Each name loads its module on first use: batch scoring pulls in pandas and pyarrow,
# the app FastAPI, the prediction log DuckDB; none of them is needed by the others.
_LAZY: dict[str, str] = {
    "create_serving_app": "_app",
    "BatchResult": "_batch",
    "predict_files": "_batch",
    "DeploymentSource": "_deployment_source",
    **dict.fromkeys(
        (
            "create_deployment",
            "delete_deployment",
            "deployment_history",
            "get_deployment",
            "list_deployments",
            "resolve_deployment",
            "rollback_deployment",
            "update_deployment",
        ),
        "_deployments",
    ),
    **dict.fromkeys(("ModelSource", "ModelUriSource", "ServingPlan", "resolve_source"), "_live"),
    "PredictionLog": "_predlog",
    "open_prediction_log": "_predlog",
    "log_labels": "_predlog_labels",
    "prediction_relation": "_predlog_query",
    "predictions": "_predlog_query",
    **dict.fromkeys(("NullSink", "PredictionRecord", "PredictionSink"), "_records"),
    "serve": "_server",
    "StreamConsumer": "_stream",
    "StreamStats": "_stream",
    "run_stream": "_stream_run",
}

__all__ = [
    "BatchResult",
    "DeploymentSource",
    "ModelSource",
    "ModelUriSource",
    "NullSink",
    "PredictionLog",
    "PredictionRecord",
    "PredictionSink",
    "ServingPlan",
    "StreamConsumer",
    "StreamStats",
    "create_deployment",
    "create_serving_app",
    "delete_deployment",
    "deployment_history",
    "get_deployment",
    "list_deployments",
    "log_labels",
    "open_prediction_log",
    "predict_files",
    "prediction_relation",
    "predictions",
    "resolve_deployment",
    "resolve_source",
    "rollback_deployment",
    "run_stream",
    "serve",
    "update_deployment",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"loopml.serving.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
