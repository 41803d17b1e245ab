"""The registry and dataset contract suites against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from loopml.domain import VersionDraft
from loopml.store.sql import (
    SqlAliasStore,
    SqlDatasetStore,
    SqlExperimentStore,
    SqlModelStore,
    SqlRunStore,
    Transactions,
    create_store_engine,
)
from loopml.testing.datasets import DatasetStoreContract, DatasetStores
from loopml.testing.registry import AliasStoreContract, ModelStoreContract, RegistryStores


def _stores(engine: Engine, actor: str = "ana@host") -> RegistryStores:
    tx = Transactions(engine, actor=actor)
    return RegistryStores(
        SqlExperimentStore(tx), SqlRunStore(tx), SqlModelStore(tx), SqlAliasStore(tx)
    )


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('reg') / 'loopml.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine(postgres_uri: str) -> Iterator[Engine]:
    engine = create_store_engine(postgres_uri)
    yield engine
    engine.dispose()


class TestSqliteRegistry(ModelStoreContract, AliasStoreContract):
    @pytest.fixture
    def registry_stores(self, sqlite_engine: Engine) -> RegistryStores:
        return _stores(sqlite_engine)


@pytest.mark.postgres
class TestPostgresRegistry(ModelStoreContract, AliasStoreContract):
    @pytest.fixture
    def registry_stores(self, postgres_engine: Engine) -> RegistryStores:
        return _stores(postgres_engine)


def test_registry_changes_write_audit_events(sqlite_engine: Engine) -> None:
    from loopml.store.sql._schema import audit_events

    stores = _stores(sqlite_engine, actor="auditor@host")
    stores.models.create_model("audited", protected_aliases=("champion",))
    stores.models.create_version(VersionDraft("audited", "sklearn", "{}", "ab" * 32))
    request = stores.aliases.request_approval("req1", "audited", "champion", 1)
    stores.aliases.decide_approval(request.id, approve=True, comment="looks good")
    with sqlite_engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.object_id).where(
                audit_events.c.actor == "auditor@host"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("model.create", "audited"),
        ("model_version.create", "audited/1"),
        ("approval.request", "req1"),
        ("alias.move", "audited"),
        ("approval.approve", "req1"),
    ]


class TestSqliteDatasets(DatasetStoreContract):
    @pytest.fixture
    def dataset_stores(self, sqlite_engine: Engine) -> DatasetStores:
        tx = Transactions(sqlite_engine, actor="ana@host")
        return DatasetStores(SqlExperimentStore(tx), SqlRunStore(tx), SqlDatasetStore(tx))


@pytest.mark.postgres
class TestPostgresDatasets(DatasetStoreContract):
    @pytest.fixture
    def dataset_stores(self, postgres_engine: Engine) -> DatasetStores:
        tx = Transactions(postgres_engine, actor="ana@host")
        return DatasetStores(SqlExperimentStore(tx), SqlRunStore(tx), SqlDatasetStore(tx))
