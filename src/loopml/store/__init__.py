"""The metadata store: ports and the adapter registry."""

from loopml.store._ports import (
    AliasStore,
    DatasetStore,
    ExperimentStore,
    ModelStore,
    RunStore,
    ScheduleStore,
)
from loopml.store._registry import Stores, open_stores

__all__ = [
    "AliasStore",
    "DatasetStore",
    "ExperimentStore",
    "ModelStore",
    "RunStore",
    "ScheduleStore",
    "Stores",
    "open_stores",
]
