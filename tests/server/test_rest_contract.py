"""The store and blob contract suites against the REST adapters, over real HTTP.

The metadata contracts run against the session's server process; the blob contract,
which needs an empty store for each test, against the app served in-process over a
fresh blob folder per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from loopml.blobs import BlobStore
from loopml.config import Settings, load_settings
from loopml.server import create_app
from loopml.store import ExperimentStore, RunStore
from loopml.store.rest import HttpTransport, RestBlobStore, RestExperimentStore, RestRunStore
from loopml.store.sql import create_store_engine
from loopml.testing.blobs import BlobStoreContract
from loopml.testing.stores import ExperimentStoreContract, RunStoreContract
from tests.server.conftest import serve_in_thread


@pytest.fixture(scope="module")
def transport(live_server: str) -> Iterator[HttpTransport]:
    http = HttpTransport(live_server, timeout=30)
    yield http
    http.close()


class TestRestExperiments(ExperimentStoreContract):
    @pytest.fixture
    def experiment_store(self, transport: HttpTransport) -> ExperimentStore:
        return RestExperimentStore(transport)


class TestRestRuns(RunStoreContract):
    @pytest.fixture
    def run_store(self, transport: HttpTransport) -> tuple[ExperimentStore, RunStore]:
        return RestExperimentStore(transport), RestRunStore(transport)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite store migrated once, shared by the in-process apps of the blob tests."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('db') / 'loopml.db'}"
    engine: Engine = create_store_engine(uri)
    engine.dispose()
    yield uri


class TestRestBlobs(BlobStoreContract):
    @pytest.fixture
    def blob_store(
        self, settings: Settings, migrated_db: str, tmp_path: Path
    ) -> Iterator[BlobStore]:
        fresh = load_settings(
            {"home": settings.home, "store_uri": migrated_db, "blob_uri": str(tmp_path / "b")},
            environ={},
        )
        with serve_in_thread(create_app(fresh)) as url:
            store = RestBlobStore(url)
            yield store
            store.close()
