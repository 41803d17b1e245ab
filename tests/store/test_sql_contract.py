"""The store contract suites against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from loopml.store import ExperimentStore, RunStore
from loopml.store.sql import SqlExperimentStore, SqlRunStore, Transactions, create_store_engine
from loopml.testing.stores import ExperimentStoreContract, RunStoreContract


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite") / "loopml.db"
    engine = create_store_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine(postgres_uri: str) -> Iterator[Engine]:
    engine = create_store_engine(postgres_uri)
    yield engine
    engine.dispose()


class TestSqliteExperiments(ExperimentStoreContract):
    @pytest.fixture
    def experiment_store(self, sqlite_engine: Engine) -> ExperimentStore:
        return SqlExperimentStore(Transactions(sqlite_engine))


class TestSqliteRuns(RunStoreContract):
    @pytest.fixture
    def run_store(self, sqlite_engine: Engine) -> tuple[ExperimentStore, RunStore]:
        tx = Transactions(sqlite_engine)
        return SqlExperimentStore(tx), SqlRunStore(tx)


@pytest.mark.postgres
class TestPostgresExperiments(ExperimentStoreContract):
    @pytest.fixture
    def experiment_store(self, postgres_engine: Engine) -> ExperimentStore:
        return SqlExperimentStore(Transactions(postgres_engine))


@pytest.mark.postgres
class TestPostgresRuns(RunStoreContract):
    @pytest.fixture
    def run_store(self, postgres_engine: Engine) -> tuple[ExperimentStore, RunStore]:
        tx = Transactions(postgres_engine)
        return SqlExperimentStore(tx), SqlRunStore(tx)


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_changes_write_audit_events_in_their_transaction(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from loopml.domain import Run, RunStatus, RunUpdate
    from loopml.errors import Conflict
    from loopml.store.sql._schema import audit_events

    engine = create_store_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    tx = Transactions(engine, actor="ana@host")
    experiment = SqlExperimentStore(tx).create_experiment("audited")
    runs = SqlRunStore(tx)
    now = datetime.now(UTC)
    run = runs.create_run(Run("r1", experiment.id, "r", RunStatus.RUNNING, now))
    runs.log_run_data("r1", RunUpdate(params={"lr": 0.1}, tags={"team": "x"}))
    with pytest.raises(Conflict):
        runs.log_run_data("r1", RunUpdate(params={"lr": 0.2}))  # refused: no event either
    runs.end_run(run.id, RunStatus.FINISHED, now)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.id)).all()
    engine.dispose()
    assert [(r.action, r.object_id, r.actor) for r in rows] == [
        ("experiment.create", experiment.id, "ana@host"),
        ("run.create", "r1", "ana@host"),
        ("run.log", "r1", "ana@host"),
        ("run.end", "r1", "ana@host"),
    ]
    assert '"lr": 0.1' in rows[2].details
