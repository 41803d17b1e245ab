"""The metadata store: ports and the adapter registry."""

from loopml.store._ports import (
    AliasStore,
    DatasetStore,
    DeploymentStore,
    ExperimentStore,
    ModelStore,
    RunStore,
    ScheduleStore,
    SegmentStore,
)
from loopml.store._registry import Stores, open_stores

__all__ = [
    "AliasStore",
    "DatasetStore",
    "DeploymentStore",
    "ExperimentStore",
    "ModelStore",
    "RunStore",
    "ScheduleStore",
    "SegmentStore",
    "Stores",
    "open_stores",
]
