"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts, search."""

from loopml.tracking._system import GitState
from loopml.tracking.client import DEFAULT_EXPERIMENT, Client
from loopml.tracking.fluent import (
    ActiveRun,
    active_run,
    default_client,
    end_run,
    get_metric_history,
    get_run,
    log_artifact,
    log_artifacts,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_runs,
    set_default_client,
    set_tag,
    set_tags,
    start_run,
)

__all__ = [
    "DEFAULT_EXPERIMENT",
    "ActiveRun",
    "Client",
    "GitState",
    "active_run",
    "default_client",
    "end_run",
    "get_metric_history",
    "get_run",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_runs",
    "set_default_client",
    "set_tag",
    "set_tags",
    "start_run",
]
