from __future__ import annotations

from collections.abc import Iterator

import pytest

import loopml
from loopml.config import Settings
from loopml.tracking import Client, set_default_client


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """A client over an empty project home, also used by the fluent functions."""
    made = Client(settings, capture_environment=False)
    set_default_client(made)
    yield made
    while loopml.active_run() is not None:
        loopml.end_run()
    made.close()
    set_default_client(None)
