"""Fixtures shared by the whole suite: real services, started and stopped here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import loopml
from loopml.config import Settings, load_settings
from loopml.tracking import Client, set_default_client
from tests._services.postgres import postgres_cluster

# The contract suites shipped in loopml.testing show compared values when they fail
# (registered before any test module imports them).
pytest.register_assert_rewrite("loopml.testing")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's ~/.loopml or inherit LOOPML_* from the caller."""
    import os

    for name in [n for n in os.environ if n.startswith("LOOPML_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path_factory.mktemp("default-home") / ".loopml"))


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """URI of a database in a throwaway PostgreSQL cluster, shared by the session."""
    with postgres_cluster() as uri:
        yield uri


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty project home."""
    path = tmp_path / ".loopml"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    """Local settings over an empty project home, independent of the caller's environment."""
    return load_settings({"home": home}, environ={})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """Settings over an empty store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield settings
        return
    server_uri: str = request.getfixturevalue("postgres_uri")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        store_uri = f"{server_uri.rsplit('/', 1)[0]}/{name}"
        yield load_settings({"home": settings.home, "store_uri": store_uri}, environ={})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def client(backend_settings: Settings) -> Iterator[Client]:
    """A client over an empty store, also used by the fluent functions."""
    made = Client(backend_settings, capture_environment=False)
    set_default_client(made)
    yield made
    while loopml.active_run() is not None:
        loopml.end_run()
    made.close()
    set_default_client(None)
