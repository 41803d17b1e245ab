from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

import loopml
from loopml.config import Settings, load_settings
from loopml.tracking import Client, set_default_client


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
