"""The deployment contract suite against SQLite and PostgreSQL, its audit trail, and the
migration that brings an older store up to the deployment tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, select

from loopml.domain.deployments import DeploymentDraft, TrafficPolicy
from loopml.store.sql import (
    HEAD_REVISION,
    SqlDeploymentStore,
    Transactions,
    create_store_engine,
    current_revision,
)
from loopml.store.sql._schema import audit_events
from loopml.testing.deployments import DeploymentStoreContract

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "loopml" / "store" / "sql" / "migrations"


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('dep') / 'loopml.db'}")
    yield engine
    engine.dispose()


class TestSqliteDeployments(DeploymentStoreContract):
    @pytest.fixture
    def deployment_store(self, sqlite_engine: Engine) -> SqlDeploymentStore:
        return SqlDeploymentStore(Transactions(sqlite_engine, actor="ana@host"))


@pytest.mark.postgres
class TestPostgresDeployments(DeploymentStoreContract):
    @pytest.fixture
    def deployment_store(self, postgres_uri: str) -> Iterator[SqlDeploymentStore]:
        engine = create_store_engine(postgres_uri)
        yield SqlDeploymentStore(Transactions(engine, actor="ana@host"))
        engine.dispose()


def test_deployment_changes_write_audit_events(sqlite_engine: Engine) -> None:
    store = SqlDeploymentStore(Transactions(sqlite_engine, actor="bo@host"))
    store.create_deployment(
        DeploymentDraft("audited", "churn", TrafficPolicy.of({"champion": 100})), reason="go"
    )
    store.update_policy("audited", TrafficPolicy.of({"champion": 90, "8": 10}), reason="canary")
    store.update_policy("audited", TrafficPolicy.of({"champion": 90, "8": 10}))  # no change
    store.rollback("audited", reason="errors")
    store.delete_deployment("audited")
    query = select(audit_events.c.action, audit_events.c.actor, audit_events.c.details).where(
        audit_events.c.object_type == "deployment", audit_events.c.object_id == "audited"
    )
    with sqlite_engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.id)).all()
    assert [(row.action, row.actor) for row in rows] == [
        ("deployment.create", "bo@host"),
        ("deployment.update", "bo@host"),
        ("deployment.rollback", "bo@host"),
        ("deployment.delete", "bo@host"),
    ]
    assert '"policy": "champion 90% / 8 10%"' in rows[1].details
    assert '"reason": "canary"' in rows[1].details
    assert '"restores": 1' in rows[2].details


def test_history_is_attributed_to_the_store_actor(sqlite_engine: Engine) -> None:
    store = SqlDeploymentStore(Transactions(sqlite_engine, actor="cy@host"))
    store.create_deployment(DeploymentDraft("by-cy", "churn", TrafficPolicy.of({"a": 100})))
    assert [c.actor for c in store.policy_history("by-cy")] == ["cy@host"]


def test_a_store_at_the_schedules_revision_is_migrated(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(uri)
    with engine.connect() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0004_schedules")
        conn.commit()
    assert current_revision(engine) == "0004_schedules"
    engine.dispose()
    upgraded = create_store_engine(uri)
    try:
        assert current_revision(upgraded) == HEAD_REVISION == "0005_deployments"
        store = SqlDeploymentStore(Transactions(upgraded))
        made = store.create_deployment(DeploymentDraft("old", "m", TrafficPolicy.of({"a": 100})))
        assert store.get_deployment("old") == made
    finally:
        upgraded.dispose()
