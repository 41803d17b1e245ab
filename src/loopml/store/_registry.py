"""Choosing the store adapters by URI scheme, through one small registry."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopml.errors import InvalidInput, StoreError

if TYPE_CHECKING:
    from loopml.blobs import BlobStore
    from loopml.config import Settings
    from loopml.store._ports import (
        AliasStore,
        DatasetStore,
        DeploymentStore,
        ExperimentStore,
        ModelStore,
        RunStore,
        ScheduleStore,
        SegmentStore,
    )

__all__ = ["Stores", "open_stores"]


@dataclass(frozen=True, slots=True)
class Stores:
    """The adapters one client works with, and how to release them."""

    experiments: ExperimentStore
    runs: RunStore
    models: ModelStore
    aliases: AliasStore
    datasets: DatasetStore
    schedules: ScheduleStore
    deployments: DeploymentStore
    segments: SegmentStore
    blobs: BlobStore
    close: Callable[[], None] = field(default=lambda: None)


# scheme -> ("module:factory", the extra that provides its driver)
_ADAPTERS: dict[str, tuple[str, str | None]] = {
    "sqlite": ("loopml.store.sql:open_sql_stores", None),
    "postgresql": ("loopml.store.sql:open_sql_stores", "postgres"),
    "http": ("loopml.store.rest:open_rest_stores", None),
    "https": ("loopml.store.rest:open_rest_stores", None),
}


def open_stores(settings: Settings) -> Stores:
    """Open the adapters the settings point at: a loopml server when ``tracking_uri`` is
    set, else the database at ``store_uri`` and the blobs at ``blob_uri``.

    Raises:
        InvalidInput: an unknown scheme (the message lists the known ones).
        StoreError: the scheme's optional dependency is not installed.
    """
    uri = settings.tracking_uri or settings.store_uri
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _ADAPTERS:
        known = ", ".join(sorted(_ADAPTERS))
        raise InvalidInput(f"Unknown store URI scheme {scheme!r} in {uri!r}; known: {known}.")
    target, extra = _ADAPTERS[scheme]
    module_name, factory_name = target.split(":")
    try:
        factory: Callable[[Settings], Stores] = getattr(
            importlib.import_module(module_name), factory_name
        )
        return factory(settings)
    except ModuleNotFoundError as exc:
        hint = f"; run: pip install 'loopml[{extra}]'" if extra else ""
        raise StoreError(f"Cannot open {uri!r}: {exc.name} is not installed{hint}.") from exc
