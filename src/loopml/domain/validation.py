"""Validation of what users log: keys, values, artifact paths.

Checked twice on purpose: by the client when a value is logged (so a bad key fails
at the call that made it, not at a later background flush) and by the store that
writes it (so no adapter or remote client can bypass the rules).
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Mapping
from typing import Literal

from loopml.domain.tracking import ParamValue, RunUpdate
from loopml.errors import InvalidInput

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_LENGTH",
    "MAX_TAG_LENGTH",
    "check_artifact_path",
    "check_key",
    "check_metric_value",
    "check_name",
    "check_param_value",
    "check_step",
    "check_tag_value",
    "check_update",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
MAX_NAME_LENGTH = 250
_INT64 = 2**63
_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.: ]+")
KeyKind = Literal["metric", "param", "tag"]


def check_key(kind: KeyKind, key: object) -> str:
    """Return ``key`` if it is a valid metric, param or tag key.

    A key is 1 to 250 characters of letters, digits, ``_ - . :`` and spaces, with no
    ``..``, no leading or trailing space or dot.

    Raises:
        InvalidInput: naming the key and the rule it breaks.
    """
    if not isinstance(key, str):
        raise InvalidInput(f"A {kind} key must be a string, got {type(key).__name__} {key!r}.")
    return _check_key_text(kind, key)


@functools.lru_cache(maxsize=4096)  # hot path: the same few keys are logged many times
def _check_key_text(kind: KeyKind, key: str) -> str:
    if not key:
        raise InvalidInput(f"A {kind} key must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{kind.capitalize()} key {key[:40]!r}... is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}."
        )
    if "/" in key or ".." in key:
        raise InvalidInput(
            f"{kind.capitalize()} key {key!r} contains '/' or '..'; use letters, digits, "
            "'_', '-', '.', ':' or spaces (e.g. 'train.loss')."
        )
    if not _KEY_CHARS.fullmatch(key) or key[0] in " ." or key[-1] in " .":
        bad = next((c for c in key if not _KEY_CHARS.fullmatch(c)), key[0])
        raise InvalidInput(
            f"{kind.capitalize()} key {key!r} has an invalid character {bad!r} or "
            "starts/ends with a space or dot; allowed: letters, digits, '_', '-', '.', ':', space."
        )
    return key


def check_name(what: str, name: object) -> str:
    """Validate an experiment or run name: a non-empty string of at most 250 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"The {what} name must be a non-empty string, got {name!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"The {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}."
        )
    return name


def check_metric_value(key: str, value: object) -> float:
    """Return the metric value as a float. NaN and ±inf are accepted and kept as such."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"Metric {key!r} must be a real number, got {type(value).__name__} {value!r}."
        )
    return float(value)


def check_step(key: str, step: object) -> int:
    """Return the step as an int within the 64-bit range."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"Step of metric {key!r} must be an integer, got {step!r}.")
    if not -_INT64 <= int(step) < _INT64:
        raise InvalidInput(f"Step {step} of metric {key!r} is out of the 64-bit range.")
    return int(step)


def check_param_value(key: str, value: object) -> ParamValue:
    """Return a param value: a string, number, boolean or None, at most 6,000 characters."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
    if value is not None and not isinstance(value, str | int | float | bool):
        raise InvalidInput(
            f"Param {key!r} must be a string, number, boolean or None, got "
            f"{type(value).__name__}; flatten it into several params or log it as an artifact."
        )
    if isinstance(value, str) and len(value) > MAX_PARAM_LENGTH:
        raise InvalidInput(
            f"Param {key!r} is {len(value)} characters long; the limit is {MAX_PARAM_LENGTH}."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"Param {key!r} must be finite, got {value!r}.")
    return value


def check_tag_value(key: str, value: object) -> str:
    """Return a tag value: a string of at most 8,000 characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"Tag {key!r} must be a string, got {type(value).__name__} {value!r}.")
    if len(value) > MAX_TAG_LENGTH:
        raise InvalidInput(
            f"Tag {key!r} is {len(value)} characters long; the limit is {MAX_TAG_LENGTH}."
        )
    return value


def check_artifact_path(path: object) -> str:
    """Return a relative POSIX artifact path with no empty, ``.`` or ``..`` parts."""
    if not isinstance(path, str) or not path:
        raise InvalidInput(f"An artifact path must be a non-empty string, got {path!r}.")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(
            f"Artifact path {path!r} must be relative, use '/' separators and contain no "
            "empty, '.' or '..' parts."
        )
    if len(path) > 1024:
        raise InvalidInput(f"Artifact path {path[:40]!r}... is over 1,024 characters.")
    return path


def _check_params(params: Mapping[str, ParamValue]) -> None:
    for key, value in params.items():
        check_param_value(check_key("param", key), value)


def check_update(update: RunUpdate) -> None:
    """Validate a whole batch before any of it is written."""
    _check_params(update.params)
    for key, value in update.tags.items():
        check_tag_value(check_key("tag", key), value)
    for metric in update.metrics:
        check_metric_value(check_key("metric", metric.key), metric.value)
        check_step(metric.key, metric.step)
    for artifact in update.artifacts:
        check_artifact_path(artifact.path)
