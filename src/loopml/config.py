"""Settings: one frozen object, resolved once, passed explicitly.

Precedence, highest first: explicit overrides (CLI flags, keyword arguments) >
``LOOPML_*`` environment variables > ``LOOPML_HOME/config.toml`` > defaults.
``Settings.origins`` records where each value came from (``loopml config show --origin``).

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from loopml.errors import InvalidInput

__all__ = ["CONFIG_FILE_NAME", "HOME_DIR_NAME", "Origin", "Settings", "find_home", "load_settings"]

HOME_DIR_NAME = ".loopml"
CONFIG_FILE_NAME = "config.toml"
Origin = Literal["flag", "env", "file", "default"]


def find_home(start: Path | None = None) -> Path:
    """Return the project home: the nearest ``.loopml`` folder walking up from ``start``.

    Falls back to ``~/.loopml`` when no ancestor has one, like git finds ``.git``.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / HOME_DIR_NAME
        if candidate.is_dir():
            return candidate
    return Path.home() / HOME_DIR_NAME


class Settings(BaseModel):
    """Every setting of loopml. Build it with :func:`load_settings`.

    Attributes:
        home: the project home (``.loopml``); holds the SQLite file, blobs and config.
        store_uri: SQLAlchemy URI of the metadata store (``sqlite:///...`` or
            ``postgresql+psycopg://...``); defaults to ``HOME/loopml.db``.
        blob_uri: blob store location (``file:///...`` or ``s3://bucket/prefix``);
            defaults to ``HOME/blobs``.
        tracking_uri: ``http://host:port`` of a loopml server to talk to instead of the
            local store; unset means local.
    """

    # A plain model: load_settings() merges the layers (flags, LOOPML_* variables, the
    # config file) itself, to record where each value came from; pydantic-settings would
    # add 60 ms to every start of a process for nothing.
    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    store_uri: str = ""
    blob_uri: str = ""
    tracking_uri: str | None = None
    tracking_token: SecretStr | None = None
    tracking_flush_interval: float = Field(default=1.0, gt=0, le=3600)
    tracking_heartbeat_interval: float = Field(default=10.0, gt=0)
    tracking_heartbeat_timeout: float = Field(default=120.0, gt=0)
    s3_endpoint_url: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8476, ge=1, le=65535)
    http_timeout: float = Field(default=30.0, gt=0)
    origins: dict[str, Origin] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("tracking_uri")
    @classmethod
    def _check_tracking_uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive_locations(self) -> Settings:
        # Frozen model: derived defaults are filled in once, here, never later.
        if not self.store_uri:
            object.__setattr__(self, "store_uri", f"sqlite:///{self.home / 'loopml.db'}")
        if not self.blob_uri:
            object.__setattr__(self, "blob_uri", (self.home / "blobs").as_uri())
        return self

    @property
    def is_remote(self) -> bool:
        """True when the Python API talks to a loopml server instead of local storage."""
        return self.tracking_uri is not None

    def describe(self) -> list[tuple[str, str, Origin]]:
        """Each setting as ``(name, value shown, origin)``; secrets stay masked."""
        rows: list[tuple[str, str, Origin]] = []
        for name in type(self).model_fields:
            if name == "origins":
                continue
            value = getattr(self, name)
            shown = "" if value is None else str(value)
            rows.append((name, shown, self.origins.get(name, "default")))
        return rows


def _env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    layer: dict[str, str] = {}
    for name in Settings.model_fields:
        key = f"LOOPML_{name.upper()}"
        if name != "origins" and environ.get(key, "") != "":
            layer[name] = environ[key]
    return layer


def _file_layer(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"Cannot read config file {path}: {exc}") from exc
    table = data.get("loopml", data)
    unknown = sorted(set(table) - set(Settings.model_fields) - {"origins"})
    if unknown:
        known = ", ".join(n for n in Settings.model_fields if n != "origins")
        raise InvalidInput(f"Unknown setting(s) {unknown} in {path}; known settings: {known}.")
    return dict(table)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve the settings once: overrides > ``LOOPML_*`` env > config file > defaults.

    Args:
        overrides: values given explicitly (CLI flags, ``Client(...)`` keywords);
            ``None`` values are ignored.
        environ: the environment to read; ``os.environ`` when not given.
        cwd: where to start looking for a project home; the working directory when not given.

    Raises:
        InvalidInput: a setting has a malformed value or the config file is unreadable.
    """
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    env = _env_layer(os.environ if environ is None else environ)
    home = Path(flags.get("home") or env.get("home") or find_home(cwd)).expanduser()
    layers: list[tuple[Origin, Mapping[str, Any]]] = [
        ("file", _file_layer(home / CONFIG_FILE_NAME)),
        ("env", env),
        ("flag", flags),
    ]
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for origin, layer in layers:
        for name, value in layer.items():
            values[name] = value
            origins[name] = origin
    values["home"] = home
    origins.setdefault("home", "default")
    try:
        return Settings(**values, origins=origins)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise InvalidInput(f"Invalid settings: {_first_error(exc)}") from exc


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        return f"{field}: {first.get('msg')} (got {first.get('input')!r})"
    return str(exc)
