"""Fixtures shared by the whole suite: real services, started and stopped here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings, load_settings
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
