"""Engines for the metadata store, and the schema migrations applied on first use."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from loopml.errors import InvalidInput, MigrationRequired, StoreError, Unavailable
from loopml.store.sql._schema import metadata

__all__ = [
    "HEAD_REVISION",
    "create_schema",
    "create_store_engine",
    "current_revision",
    "upgrade_schema",
]

# The newest migration in migrations/versions; a test keeps it equal to Alembic's head.
HEAD_REVISION = "0005_deployments"
_MIGRATIONS = Path(__file__).parent / "migrations"
# Every older revision: a database at one of them is migrated, not refused as newer.
_KNOWN_REVISIONS = {"0001_tracking", "0002_registry", "0003_data", "0004_schedules"}
_SQLITE_BUSY_TIMEOUT_MS = 60_000


def create_store_engine(uri: str, *, auto_upgrade: bool = True) -> Engine:
    """Open the database at ``uri``, tuned for its dialect, with the schema up to date:
    an empty database gets the current schema at once, an older one its migrations.

    Args:
        uri: ``sqlite:///path`` or ``postgresql+psycopg://user@host/db``.
        auto_upgrade: apply pending migrations (default); otherwise raise
            MigrationRequired when the schema is behind.

    Raises:
        InvalidInput: malformed URI or unsupported database.
        Unavailable: the database cannot be reached.
        MigrationRequired: the schema is newer than this loopml, or behind and
            ``auto_upgrade`` is off.
    """
    url = _parse(uri)
    try:
        if url.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InvalidInput(f"Cannot open store {uri!r}: {exc}") from exc
    revision = current_revision(engine)
    if revision != HEAD_REVISION:
        if revision is not None and revision not in _KNOWN_REVISIONS:
            raise MigrationRequired(
                f"The database at {url.render_as_string(hide_password=True)} is at schema "
                f"revision {revision!r}, newer than this loopml knows; upgrade loopml."
            )
        if not auto_upgrade:
            raise MigrationRequired(
                f"The database schema is at {revision!r}, this loopml needs "
                f"{HEAD_REVISION!r}; run `loopml db upgrade`."
            )
        if revision is None:
            create_schema(engine)
        else:
            upgrade_schema(engine)
    return engine


def _parse(uri: str) -> URL:
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise InvalidInput(
            f"Malformed store URI {uri!r}: expected sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB."
        ) from exc
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InvalidInput(
            f"Unsupported store URI scheme {url.drivername!r} in {uri!r}; "
            "known schemes: sqlite, postgresql+psycopg."
        )
    if backend == "postgresql" and url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred
        # only), so that writers can take the lock up front with BEGIN IMMEDIATE and
        # never fail on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, None when it has none yet."""
    try:
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, "alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except OperationalError as exc:
        raise Unavailable(f"Cannot reach the metadata store: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot read the schema revision: {exc}") from exc
    return None if row is None else str(row[0])


def create_schema(engine: Engine) -> str:
    """Give an empty database the current schema directly, stamped at the head revision.

    Creating the tables from their definitions takes milliseconds where replaying every
    migration takes a third of a second; a test keeps the two identical. A database that
    has any table already (another process won the race, or it is not empty) goes
    through :func:`upgrade_schema` instead.
    """
    with _migration_lock(engine):
        with engine.connect() as conn:
            is_empty = not engine.dialect.get_table_names(conn)
        if not is_empty:
            _apply_migrations(engine)
            return current_revision(engine) or ""
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                metadata.create_all(conn)
                version = Table(
                    "alembic_version",
                    MetaData(),
                    Column("version_num", String(32), primary_key=True),
                )
                version.create(conn)
                conn.execute(version.insert().values(version_num=HEAD_REVISION))
    return HEAD_REVISION


def upgrade_schema(engine: Engine) -> str:
    """Apply every pending migration, once, even with many processes starting together.

    Returns the revision the database is at afterwards.
    """
    with _migration_lock(engine):
        _apply_migrations(engine)
    return current_revision(engine) or ""


def _apply_migrations(engine: Engine) -> None:
    # Alembic is imported only here: most processes find the schema current and skip it.
    from alembic import command
    from alembic.config import Config

    with engine.connect() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(7400001)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(7400001)"))
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
