"""Read paths over Python's own ``sqlite3``: resolving a model version or a dataset
version without importing SQLAlchemy.

A process that only loads a model (a scoring job, a server's cold start) resolves one
alias and reads one version. Through the SQL adapter that costs the SQLAlchemy import,
about 0.2 s, more than everything else loopml does to load a model; this reader answers
the same two questions in about a millisecond. It reads the tables the SQL adapter
writes (``store/sql/_schema.py``) and only a database at the schema revision it knows;
anything else is left to the SQL adapter, which migrates. A test keeps its answers equal
to the adapter's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.domain import DatasetVersion, ModelVersion, RegisteredModel, VersionStatus
from loopml.errors import NotFound
from loopml.store._rows import (
    dataset_version_record,
    model_record,
    no_dataset_message,
    no_model_message,
    version_record,
)

__all__ = ["SqliteModelReader", "open_sqlite_reader"]

# The Alembic revision whose tables this reader knows (store/sql/_engine.HEAD_REVISION;
# a test keeps the two equal).
KNOWN_REVISION = "0005_deployments"


def open_sqlite_reader(store_uri: str) -> SqliteModelReader | None:
    """A reader of the SQLite database at ``store_uri``, or None when it cannot serve:
    not a SQLite file URI, no database yet, or a schema at another revision."""
    prefix = "sqlite:///"
    if not store_uri.startswith(prefix) or "?" in store_uri:
        return None
    path = Path(store_uri[len(prefix) :])
    if not path.is_file():
        return None
    reader = SqliteModelReader(path)
    try:
        revision = reader.revision()
    except sqlite3.Error:
        return None
    return reader if revision == KNOWN_REVISION else None


class SqliteModelReader:
    """``get_model`` and ``get_version`` of the ModelStore port, and ``get_version`` and
    ``latest_version`` of the DatasetStore port (as ``get_dataset_version`` and
    ``latest_dataset_version``), read-only, over sqlite3.

    Each call opens its own read-only connection: cheap, and safe from any thread.
    """

    def __init__(self, path: Path) -> None:
        self._uri = f"{path.resolve().as_uri()}?mode=ro"

    def revision(self) -> str | None:
        """The schema revision stamped in the database."""
        with self._connect() as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version. Raises NotFound."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM registered_models WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(no_model_message(name))
            tags = _pairs(conn, "SELECT key, value FROM model_tags WHERE name = ?", (name,))
            aliases = _pairs(
                conn,
                "SELECT alias, version FROM model_aliases WHERE name = ? AND version IS NOT NULL",
                (name,),
            )
            latest = conn.execute(
                "SELECT max(version) FROM model_versions WHERE name = ? AND status = ?",
                (name, VersionStatus.READY.value),
            ).fetchone()[0]
        return model_record(row, tags, aliases, latest)

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version with its tags, aliases and parents. Raises NotFound."""
        key = (name, version)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM model_versions WHERE name = ? AND version = ?", key
            ).fetchone()
            if row is None:
                known = conn.execute(
                    "SELECT 1 FROM registered_models WHERE name = ?", (name,)
                ).fetchone()
                raise NotFound(
                    no_model_message(name)
                    if known is None
                    else f"Model {name!r} has no version {version}."
                )
            tags = _pairs(
                conn,
                "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                key,
            )
            aliases = conn.execute(
                "SELECT alias FROM model_aliases WHERE name = ? AND version = ?", key
            ).fetchall()
            parents = conn.execute(
                "SELECT parent_name, parent_version FROM model_version_parents "
                "WHERE name = ? AND version = ?",
                key,
            ).fetchall()
        return version_record(row, tags, (alias for (alias,) in aliases), parents)

    def get_dataset_version(self, name: str, version: int) -> DatasetVersion:
        """One dataset version (DatasetStore.get_version). Raises NotFound."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM dataset_versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if row is None:
                known = conn.execute("SELECT 1 FROM datasets WHERE name = ?", (name,)).fetchone()
                raise NotFound(
                    no_dataset_message(name)
                    if known is None
                    else f"Dataset {name!r} has no version {version}."
                )
        return dataset_version_record(row)

    def latest_dataset_version(self, name: str) -> DatasetVersion:
        """The newest version of a dataset (DatasetStore.latest_version). Raises NotFound."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
        if row is None:
            raise NotFound(no_dataset_message(name))
        return dataset_version_record(row)

    def _connect(self) -> _Closing:
        conn = sqlite3.connect(self._uri, uri=True, timeout=5.0)
        conn.row_factory = sqlite3.Row
        return _Closing(conn)


class _Closing:
    """A connection that closes (not only commits) at the end of its ``with`` block."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc_info: object) -> None:
        self._conn.close()


def _pairs(conn: sqlite3.Connection, query: str, args: Sequence[Any]) -> list[tuple[Any, Any]]:
    return [(first, second) for first, second in conn.execute(query, tuple(args)).fetchall()]
