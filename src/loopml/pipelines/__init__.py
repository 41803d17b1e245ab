"""Pipelines: steps in a DAG derived from the code, cached, retried, run locally or on Dask.

Example:
    >>> from loopml import pipeline, step
    >>> @step
    ... def load(rows: int = 1000) -> pd.DataFrame: ...
    >>> @step
    ... def train(df: pd.DataFrame, C: float = 1.0) -> LogisticRegression: ...
    >>> @pipeline
    ... def training(rows: int = 1000, C: float = 1.0):
    ...     return train(load(rows=rows), C=C)
    >>> run = loopml.run_pipeline(training, params={"C": 0.5})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loopml.pipelines._authoring import (
    DatasetInput,
    Graph,
    Node,
    Output,
    Pipeline,
    Step,
    dataset,
    pipeline,
    step,
)
from loopml.pipelines._executors import EXECUTORS, Executor, WorkerLost
from loopml.pipelines._runner import PipelineRun, StepFailed, StepRecord, run_pipeline
from loopml.pipelines._targets import load_target

if TYPE_CHECKING:
    from loopml.pipelines._history import PipelineRerun, rerun_pipeline, resume_pipeline
    from loopml.pipelines._scheduler import Scheduler
    from loopml.pipelines._schedules import (
        delete_schedule,
        list_schedules,
        pause_schedule,
        resume_schedule,
        schedule_history,
        schedule_pipeline,
        upcoming_firings,
    )

# Imported on first use: a script that runs a pipeline needs neither (15 ms of imports).
_LAZY = {
    **dict.fromkeys(("PipelineRerun", "rerun_pipeline", "resume_pipeline"), "_history"),
    "Scheduler": "_scheduler",
    **dict.fromkeys(
        (
            "delete_schedule",
            "list_schedules",
            "pause_schedule",
            "resume_schedule",
            "schedule_history",
            "schedule_pipeline",
            "upcoming_firings",
        ),
        "_schedules",
    ),
}

__all__ = [
    "EXECUTORS",
    "DatasetInput",
    "Executor",
    "Graph",
    "Node",
    "Output",
    "Pipeline",
    "PipelineRerun",
    "PipelineRun",
    "Scheduler",
    "Step",
    "StepFailed",
    "StepRecord",
    "WorkerLost",
    "dataset",
    "delete_schedule",
    "list_schedules",
    "load_target",
    "pause_schedule",
    "pipeline",
    "rerun_pipeline",
    "resume_pipeline",
    "resume_schedule",
    "run_pipeline",
    "schedule_history",
    "schedule_pipeline",
    "step",
    "upcoming_firings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.pipelines' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"loopml.pipelines.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
