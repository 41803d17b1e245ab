"""The SQL adapter of the metadata store: SQLite (default) and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.store.sql._aliases import SqlAliasStore
from loopml.store.sql._datasets import SqlDatasetStore
from loopml.store.sql._deployments import SqlDeploymentStore
from loopml.store.sql._engine import (
    HEAD_REVISION,
    create_schema,
    create_store_engine,
    current_revision,
    upgrade_schema,
)
from loopml.store.sql._experiments import SqlExperimentStore
from loopml.store.sql._models import SqlModelStore
from loopml.store.sql._runs import SqlRunStore
from loopml.store.sql._schedules import SqlScheduleStore
from loopml.store.sql._segments import SqlSegmentStore
from loopml.store.sql._tx import Transactions

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.store._registry import Stores

__all__ = [
    "HEAD_REVISION",
    "SqlAliasStore",
    "SqlDatasetStore",
    "SqlDeploymentStore",
    "SqlExperimentStore",
    "SqlModelStore",
    "SqlRunStore",
    "SqlScheduleStore",
    "SqlSegmentStore",
    "Transactions",
    "create_schema",
    "create_store_engine",
    "current_actor",
    "current_revision",
    "open_sql_stores",
    "upgrade_schema",
]


def current_actor() -> str:
    """``user@host`` of this process: whom local changes are attributed to."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def open_sql_stores(settings: Settings) -> Stores:
    """The SQL adapters over ``settings.store_uri`` and the blob store at ``blob_uri``."""
    from loopml.blobs import open_blob_store
    from loopml.store._registry import Stores

    engine = create_store_engine(settings.store_uri)
    tx = Transactions(engine, actor=current_actor())
    return Stores(
        experiments=SqlExperimentStore(tx),
        runs=SqlRunStore(tx),
        models=SqlModelStore(tx),
        aliases=SqlAliasStore(tx),
        datasets=SqlDatasetStore(tx),
        schedules=SqlScheduleStore(tx),
        deployments=SqlDeploymentStore(tx),
        segments=SqlSegmentStore(tx),
        blobs=open_blob_store(settings.blob_uri, settings),
        close=engine.dispose,
    )
