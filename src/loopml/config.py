"""Settings: one frozen object, resolved once, passed explicitly.

Precedence, highest first: explicit overrides (CLI flags, keyword arguments) >
``LOOPML_*`` environment variables > ``LOOPML_HOME/config.toml`` > defaults.
``Settings.origins`` records where each value came from (``loopml config show --origin``).

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from loopml.errors import InvalidInput

__all__ = [
    "CONFIG_FILE_NAME",
    "HOME_DIR_NAME",
    "Origin",
    "Secret",
    "Settings",
    "find_home",
    "load_settings",
]

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


class Secret:
    """A secret setting: shown as ``**********`` everywhere, read with
    :meth:`get_secret_value`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of loopml. Build it with :func:`load_settings`.

    A plain frozen dataclass, checked by :func:`load_settings`: loading settings is on
    the path of every process start (loading a model in a fresh process among them), and
    a validation library costs more to import than everything else loopml does there.

    Attributes:
        home: the project home (``.loopml``); holds the SQLite file, blobs and config.
        store_uri: SQLAlchemy URI of the metadata store (``sqlite:///...`` or
            ``postgresql+psycopg://...``); defaults to ``HOME/loopml.db``.
        blob_uri: blob store location (``file:///...`` or ``s3://bucket/prefix``);
            defaults to ``HOME/blobs``.
        tracking_uri: ``http://host:port`` of a loopml server to talk to instead of the
            local store; unset means local.
        data_remote: blob store URI that ``loopml data push/pull`` use by default.
        dask_address: ``tcp://host:port`` of the Dask scheduler that
            ``--executor dask`` uses; unset starts a local cluster of processes.
        serving_poll_seconds: seconds between two checks of a served model's aliases
            and traffic policy by ``loopml serve`` (a moved alias is served within
            about this long).
        serving_max_body_bytes: the largest request body ``loopml serve`` reads (10 MiB
            by default); a larger one is refused with HTTP 413.
        prediction_flush_seconds: seconds between two writes of the prediction log's
            buffer to a Parquet segment; a crash loses at most about this much of it.
        prediction_buffer_rows: the most prediction rows held in memory (buffered,
            being written or waiting for a retry); beyond it new rows are dropped and
            counted, so that a slow store never blocks a request.
    """

    home: Path
    store_uri: str = ""
    blob_uri: str = ""
    tracking_uri: str | None = None
    tracking_token: Secret | None = None
    tracking_flush_interval: float = 1.0
    tracking_heartbeat_interval: float = 10.0
    tracking_heartbeat_timeout: float = 120.0
    s3_endpoint_url: str | None = None
    data_remote: str | None = None
    dask_address: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = 8476
    http_timeout: float = 30.0
    serving_poll_seconds: float = 2.0
    serving_max_body_bytes: int = 10 * 1024 * 1024
    prediction_flush_seconds: float = 1.0
    prediction_buffer_rows: int = 100_000
    origins: dict[str, Origin] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: derived defaults are filled in once, here, never later.
        if not self.store_uri:
            object.__setattr__(self, "store_uri", f"sqlite:///{self.home / 'loopml.db'}")
        if not self.blob_uri:
            object.__setattr__(self, "blob_uri", (self.home / "blobs").as_uri())

    @property
    def is_remote(self) -> bool:
        """True when the Python API talks to a loopml server instead of local storage."""
        return self.tracking_uri is not None

    def describe(self) -> list[tuple[str, str, Origin]]:
        """Each setting as ``(name, value shown, origin)``; secrets stay masked."""
        rows: list[tuple[str, str, Origin]] = []
        for name in SETTING_NAMES:
            value = getattr(self, name)
            shown = "" if value is None else str(value)
            rows.append((name, shown, self.origins.get(name, "default")))
        return rows


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings) if f.name != "origins")


def _text(value: object) -> str:
    if not isinstance(value, str | Path):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _optional_text(value: object) -> str | None:
    return _text(value) or None


def _tracking_uri(value: object) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {text!r}")
    return text.rstrip("/")


def _secret(value: object) -> Secret | None:
    if isinstance(value, Secret):
        return value
    text = _optional_text(value)
    return None if text is None else Secret(text)


def _number(
    kind: type[float] | type[int],
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Callable[[object], float]:
    """A check that parses a number (from text too) and keeps it within bounds."""
    wanted = "a whole number" if kind is int else "a number"

    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"expected {wanted}, got {value!r}")
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except ValueError:
            raise ValueError(f"expected {wanted}, got {value!r}") from None
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected {wanted}, got {value!r}")
        if number != number:  # NaN
            raise ValueError(f"expected {wanted}, got {value!r}")
        if above is not None and not number > above:
            raise ValueError(f"must be greater than {above:g}, got {value!r}")
        if at_least is not None and number < at_least:
            raise ValueError(f"must be at least {at_least:g}, got {value!r}")
        if at_most is not None and number > at_most:
            raise ValueError(f"must be at most {at_most:g}, got {value!r}")
        return number

    return check


_CHECKS: dict[str, Callable[[object], Any]] = {
    "home": lambda value: Path(_text(value)),
    "store_uri": _text,
    "blob_uri": _text,
    "tracking_uri": _tracking_uri,
    "tracking_token": _secret,
    "tracking_flush_interval": _number(float, above=0, at_most=3600),
    "tracking_heartbeat_interval": _number(float, above=0),
    "tracking_heartbeat_timeout": _number(float, above=0),
    "s3_endpoint_url": _optional_text,
    "data_remote": _optional_text,
    "dask_address": _optional_text,
    "server_host": _text,
    "server_port": _number(int, at_least=1, at_most=65535),
    "http_timeout": _number(float, above=0),
    "serving_poll_seconds": _number(float, above=0, at_most=3600),
    "serving_max_body_bytes": _number(int, at_least=1),
    "prediction_flush_seconds": _number(float, above=0, at_most=3600),
    "prediction_buffer_rows": _number(int, at_least=1),
}


def _env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    layer: dict[str, str] = {}
    for name in SETTING_NAMES:
        key = f"LOOPML_{name.upper()}"
        if environ.get(key, "") != "":
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
    unknown = sorted(set(table) - set(SETTING_NAMES))
    if unknown:
        known = ", ".join(SETTING_NAMES)
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
        InvalidInput: a setting is unknown or has a malformed value (the message names
            it), or the config file is unreadable.
    """
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(flags) - set(SETTING_NAMES))
    if unknown:
        raise InvalidInput(
            f"Unknown setting(s) {unknown}; known settings: {', '.join(SETTING_NAMES)}."
        )
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
    checked: dict[str, Any] = {}
    for name, value in values.items():
        try:
            checked[name] = _CHECKS[name](value)
        except ValueError as exc:
            raise InvalidInput(f"Invalid settings: {name}: {exc}") from None
    return Settings(**checked, origins=origins)
