"""The segment contract suite against SQLite and PostgreSQL; segments are log data and
write no audit events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from loopml.domain.logs import SegmentDraft
from loopml.store.sql import SqlSegmentStore, Transactions, create_store_engine
from loopml.store.sql._schema import audit_events
from loopml.testing.segments import SegmentStoreContract


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('seg') / 'loopml.db'}")
    yield engine
    engine.dispose()


class TestSqliteSegments(SegmentStoreContract):
    @pytest.fixture
    def segment_store(self, sqlite_engine: Engine) -> SqlSegmentStore:
        return SqlSegmentStore(Transactions(sqlite_engine, actor="ana@host"))


@pytest.mark.postgres
class TestPostgresSegments(SegmentStoreContract):
    @pytest.fixture
    def segment_store(self, postgres_uri: str) -> Iterator[SqlSegmentStore]:
        engine = create_store_engine(postgres_uri)
        yield SqlSegmentStore(Transactions(engine, actor="ana@host"))
        engine.dispose()


def test_adding_segments_writes_no_audit_event(sqlite_engine: Engine) -> None:
    store = SqlSegmentStore(Transactions(sqlite_engine, actor="bo@host"))
    count = select(func.count()).select_from(audit_events)
    with sqlite_engine.connect() as conn:
        before = conn.execute(count).scalar_one()
    at = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(3):
        store.add_segment(SegmentDraft("predictions:quiet", f"{n:064x}", 10, 100, at, at))
    with sqlite_engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before
