"""loopml: the whole machine-learning loop in one package.

The public Python API. Names load on first use, so ``import loopml`` stays fast and
heavy libraries (SQLAlchemy, pandas, boto3) load only when a feature needs them.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="churn", name="rf-baseline") as run:
    ...     loopml.log_params({"model": "rf", "depth": 8})
    ...     loopml.log_metric("loss", 0.31, step=3)
    >>> loopml.get_run(run.id).status
    <RunStatus.FINISHED: 'finished'>
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loopml.errors import (
    AlreadyExists,
    Conflict,
    GateFailed,
    InvalidInput,
    LoopmlError,
    MigrationRequired,
    NotFound,
    PermissionDenied,
    StoreError,
    Unavailable,
)

if TYPE_CHECKING:
    from loopml.config import Settings, load_settings
    from loopml.domain import (
        Artifact,
        Experiment,
        Metric,
        ModelVersion,
        RegisteredModel,
        Run,
        RunStatus,
    )
    from loopml.pipelines import (
        pipeline,
        rerun_pipeline,
        resume_pipeline,
        run_pipeline,
        schedule_pipeline,
        step,
    )
    from loopml.registry import ModelRegistry, load_model, log_model, set_alias
    from loopml.registry.autolog import autolog
    from loopml.serving import log_labels, predict_files, predictions
    from loopml.tracking import (
        ActiveRun,
        Client,
        active_run,
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
        set_tag,
        set_tags,
        start_run,
    )

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Settings": "loopml.config",
    "load_settings": "loopml.config",
    "Artifact": "loopml.domain",
    "Experiment": "loopml.domain",
    "Metric": "loopml.domain",
    "Run": "loopml.domain",
    "RunStatus": "loopml.domain",
    "ModelVersion": "loopml.domain",
    "RegisteredModel": "loopml.domain",
    "ModelRegistry": "loopml.registry",
    "load_model": "loopml.registry",
    "log_model": "loopml.registry",
    "set_alias": "loopml.registry",
    "autolog": "loopml.registry.autolog",
    **{name: "loopml.serving" for name in ("log_labels", "predict_files", "predictions")},
    **{
        name: "loopml.pipelines"
        for name in (
            "pipeline",
            "rerun_pipeline",
            "resume_pipeline",
            "run_pipeline",
            "schedule_pipeline",
            "step",
        )
    },
    **{
        name: "loopml.tracking"
        for name in (
            "ActiveRun",
            "Client",
            "active_run",
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
            "set_tag",
            "set_tags",
            "start_run",
        )
    },
}

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "Artifact",
    "Client",
    "Conflict",
    "Experiment",
    "GateFailed",
    "InvalidInput",
    "LoopmlError",
    "Metric",
    "MigrationRequired",
    "ModelRegistry",
    "ModelVersion",
    "NotFound",
    "PermissionDenied",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "Settings",
    "StoreError",
    "Unavailable",
    "__version__",
    "active_run",
    "autolog",
    "data",
    "end_run",
    "get_metric_history",
    "get_run",
    "load_model",
    "load_settings",
    "log_artifact",
    "log_artifacts",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "pipeline",
    "predict_files",
    "predictions",
    "rerun_pipeline",
    "resume_pipeline",
    "run_pipeline",
    "schedule_pipeline",
    "search_runs",
    "set_alias",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]


# Subpackages reachable as attributes (``loopml.data.add(...)``), imported on first use.
_SUBPACKAGES = frozenset({"data", "serving"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        package = importlib.import_module(f"loopml.{name}")
        globals()[name] = package
        return package
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
