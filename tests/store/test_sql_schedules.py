"""The schedule contract suite against SQLite and PostgreSQL, and its audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from loopml.domain.schedules import ScheduleDraft, TriggerKind
from loopml.store.sql import SqlScheduleStore, Transactions, create_store_engine
from loopml.store.sql._schema import audit_events
from loopml.testing.schedules import ScheduleStoreContract


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('sch') / 'loopml.db'}")
    yield engine
    engine.dispose()


class TestSqliteSchedules(ScheduleStoreContract):
    @pytest.fixture
    def schedule_store(self, sqlite_engine: Engine) -> SqlScheduleStore:
        return SqlScheduleStore(Transactions(sqlite_engine, actor="ana@host"))


@pytest.mark.postgres
class TestPostgresSchedules(ScheduleStoreContract):
    @pytest.fixture
    def schedule_store(self, postgres_uri: str) -> Iterator[SqlScheduleStore]:
        engine = create_store_engine(postgres_uri)
        yield SqlScheduleStore(Transactions(engine, actor="ana@host"))
        engine.dispose()


def test_schedule_changes_write_audit_events(sqlite_engine: Engine) -> None:
    store = SqlScheduleStore(Transactions(sqlite_engine, actor="bo@host"))
    draft = ScheduleDraft(
        "audited",
        "flows.py:training",
        TriggerKind.CRON,
        cron="@daily",
        next_fire_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    store.create_schedule(draft)
    store.set_enabled("audited", False)
    store.delete_schedule("audited")
    query = select(audit_events.c.action, audit_events.c.actor).where(
        audit_events.c.object_id == "audited"
    )
    with sqlite_engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.id)).all()
    assert [tuple(row) for row in rows] == [
        ("schedule.create", "bo@host"),
        ("schedule.pause", "bo@host"),
        ("schedule.delete", "bo@host"),
    ]
