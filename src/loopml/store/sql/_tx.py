"""Transactions of the SQL adapter and the translation of driver errors at its edge."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from loopml.errors import AlreadyExists, Conflict, LoopmlError, StoreError, Unavailable
from loopml.store.sql._convert import to_micros
from loopml.store.sql._schema import audit_events

__all__ = ["Transactions", "insert_for"]


class Transactions:
    """Read and write transactions over one engine, and the audit events written in them.

    A write on SQLite starts with ``BEGIN IMMEDIATE``: it takes the write lock up front,
    so concurrent writers queue on the busy timeout instead of failing on a lock upgrade.

    Args:
        engine: the database.
        actor: who the changes are attributed to in the audit log.
    """

    def __init__(self, engine: Engine, actor: str = "unknown") -> None:
        self.engine = engine
        self.actor = actor

    def audit(
        self,
        conn: Connection,
        action: str,
        object_type: str,
        object_id: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a change inside the transaction ``conn`` that makes it."""
        conn.execute(
            audit_events.insert().values(
                at=to_micros(datetime.now(UTC)),
                actor=self.actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                details=json.dumps(details or {}, sort_keys=True, default=str),
            )
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with _translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: everything inside commits together or not at all."""
        with _translated(), self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn


def insert_for(engine: Engine) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*`` (upserts).

    Imported here, for the engine's dialect only: importing the PostgreSQL dialect also
    loads its async drivers' modules, 20-30 ms that a SQLite store never needs.
    """
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


# Words of driver errors that mean the database could not be reached at all.
_UNREACHABLE = ("connect", "connection", "unable to open", "server closed", "timeout", "terminat")


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except LoopmlError:
        raise
    except IntegrityError as exc:
        # A concurrent writer got there first (unique key) or a reference is dangling.
        text = str(exc.orig).lower()
        if "unique" in text or "duplicate" in text:
            raise AlreadyExists(f"The object exists already: {exc.orig}") from exc
        raise Conflict(f"The store refused a write: {exc.orig}") from exc
    except OperationalError as exc:
        text = str(exc.orig).lower()
        if "locked" in text or "busy" in text:
            raise Unavailable(f"The metadata store is busy, try again: {exc.orig}") from exc
        if exc.connection_invalidated or any(sign in text for sign in _UNREACHABLE):
            raise Unavailable(f"The metadata store is unavailable: {exc.orig}") from exc
        # Anything else (a size limit, a disk error) is the store failing, not absent.
        raise StoreError(f"The metadata store failed: {exc.orig}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(f"Lost the connection to the metadata store: {exc.orig}") from exc
        raise StoreError(f"The metadata store failed: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"The metadata store failed: {exc}") from exc
