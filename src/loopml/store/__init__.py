"""The metadata store: ports and the adapter registry."""

from loopml.store._ports import ExperimentStore, RunStore
from loopml.store._registry import Stores, open_stores

__all__ = ["ExperimentStore", "RunStore", "Stores", "open_stores"]
