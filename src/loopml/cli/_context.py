"""What every command shares: the settings flags and, once made, a tracking client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.tracking import Client

__all__ = ["CliState", "client_of", "settings_of"]


class CliState:
    """Global flags, resolved into settings and a client only when a command needs them."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._settings: Settings | None = None
        self._client: Client | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from loopml.config import load_settings

            self._settings = load_settings(self.overrides)
        return self._settings

    @property
    def client(self) -> Client:
        if self._client is None:
            from loopml.tracking import Client

            self._client = Client(self.settings, capture_environment=False)
        return self._client


def _state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState({})
    return root.obj


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of this invocation."""
    return _state(ctx).settings


def client_of(ctx: typer.Context) -> Client:
    """The tracking client of this invocation."""
    return _state(ctx).client
