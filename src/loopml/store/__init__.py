"""The metadata store: ports and the adapter registry."""

from loopml.store._ports import AliasStore, DatasetStore, ExperimentStore, ModelStore, RunStore
from loopml.store._registry import Stores, open_stores

__all__ = [
    "AliasStore",
    "DatasetStore",
    "ExperimentStore",
    "ModelStore",
    "RunStore",
    "Stores",
    "open_stores",
]
