"""Migrations: one head, upgrade from empty on both databases, schema equals the tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from loopml.errors import InvalidInput, MigrationRequired
from loopml.store.sql import (
    HEAD_REVISION,
    create_schema,
    create_store_engine,
    current_revision,
    upgrade_schema,
)
from loopml.store.sql._schema import metadata

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "loopml" / "store" / "sql" / "migrations"


def test_there_is_one_head_and_the_code_knows_it() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def _assert_schema_matches_tables(uri: str) -> None:
    """Replay every migration on an empty database; the result must equal the tables
    that create_schema() builds for a new store."""
    engine = create_engine(uri)
    try:
        assert upgrade_schema(engine) == HEAD_REVISION
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_upgrades_from_empty_to_head(tmp_path: Path) -> None:
    _assert_schema_matches_tables(f"sqlite:///{tmp_path / 'new.db'}")


@pytest.mark.postgres
def test_postgres_upgrades_from_empty_to_head(postgres_uri: str) -> None:
    admin = create_engine(postgres_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE migrate_check"))
    admin.dispose()
    _assert_schema_matches_tables(postgres_uri.rsplit("/", 1)[0] + "/migrate_check")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'future.db'}"
    create_store_engine(uri).dispose()
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(MigrationRequired, match="9999_future"):
        create_store_engine(uri)


@pytest.mark.parametrize(
    "uri", ["mysql://x/y", "not a uri", "oracle+cx://u@h/d"], ids=["mysql", "garbage", "oracle"]
)
def test_unsupported_store_uri_lists_known_schemes(uri: str) -> None:
    with pytest.raises(InvalidInput, match="sqlite"):
        create_store_engine(uri)


def test_a_new_store_gets_the_schema_directly_and_stamped(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert create_schema(engine) == HEAD_REVISION
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    engine.dispose()


def test_create_schema_on_a_database_with_tables_migrates_instead(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'half.db'}"
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    assert create_schema(engine) == HEAD_REVISION
    engine.dispose()
    create_store_engine(uri).dispose()  # opens cleanly at the head
