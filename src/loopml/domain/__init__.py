"""Plain typed records shared by every layer: no I/O, no framework imports."""

from loopml.domain.tracking import (
    Artifact,
    Experiment,
    Metric,
    ParamValue,
    Run,
    RunPage,
    RunQuery,
    RunStatus,
    RunUpdate,
)

__all__ = [
    "Artifact",
    "Experiment",
    "Metric",
    "ParamValue",
    "Run",
    "RunPage",
    "RunQuery",
    "RunStatus",
    "RunUpdate",
]
