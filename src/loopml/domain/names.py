"""Validation of names in URIs: registered models, aliases, datasets, version numbers.

Model URIs are ``name/3``, ``name@alias`` and ``name@latest``, so a model name holds
no ``/`` or ``@``, and an alias is never a number nor the reserved word ``latest``.
"""

from __future__ import annotations

import re

from loopml.errors import InvalidInput

__all__ = [
    "RESERVED_ALIASES",
    "check_alias",
    "check_dataset_name",
    "check_deployment_name",
    "check_firing_id",
    "check_model_name",
    "check_schedule_name",
    "check_version_number",
]

RESERVED_ALIASES = frozenset({"latest"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}")
_FIRING_ID = re.compile(r"[A-Za-z0-9_\-]{1,32}")
_ALIAS = re.compile(r"[a-z][a-z0-9_\-]{0,62}")


def check_model_name(name: object) -> str:
    """Return ``name`` if it can name a registered model.

    Raises:
        InvalidInput: the name is not 1-250 letters, digits, ``_ . -`` starting with a
            letter or digit.
    """
    return _check_uri_name("Model", name, "churn-classifier")


def check_dataset_name(name: object) -> str:
    """Return ``name`` if it can name a dataset (``NAME@v3`` refers to its versions).

    Raises:
        InvalidInput: the name is not 1-250 letters, digits, ``_ . -`` starting with a
            letter or digit.
    """
    return _check_uri_name("Dataset", name, "customers")


def check_deployment_name(name: object) -> str:
    """Return ``name`` if it can name a deployment.

    Raises:
        InvalidInput: the name is not 1-250 letters, digits, ``_ . -`` starting with a
            letter or digit.
    """
    return _check_uri_name("Deployment", name, "churn-api")


def check_schedule_name(name: object) -> str:
    """Return ``name`` if it can name a pipeline schedule.

    Raises:
        InvalidInput: the name is not 1-250 letters, digits, ``_ . -`` starting with a
            letter or digit.
    """
    return _check_uri_name("Schedule", name, "nightly-training")


def check_firing_id(firing_id: object) -> str:
    """Return ``firing_id`` if it can identify a schedule firing (and be a path segment).

    Raises:
        InvalidInput: not 1-32 letters, digits, ``_`` or ``-``.
    """
    if not isinstance(firing_id, str) or not _FIRING_ID.fullmatch(firing_id):
        raise InvalidInput(
            f"Firing id {firing_id!r} is invalid: use 1-32 letters, digits, '_' or '-'."
        )
    return firing_id


def _check_uri_name(kind: str, name: object, example: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"{kind} name {name!r} is invalid: use 1-250 letters, digits, '_', '.' or '-', "
            f"starting with a letter or digit (e.g. {example!r})."
        )
    return name


def check_alias(alias: object) -> str:
    """Return ``alias`` if it can name an alias such as ``champion``.

    Raises:
        InvalidInput: not 1-63 lowercase letters, digits, ``_`` or ``-`` starting with a
            letter, or the reserved word ``latest``.
    """
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"Alias {alias!r} is invalid: use 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter (e.g. 'champion')."
        )
    if alias in RESERVED_ALIASES:
        raise InvalidInput(
            f"Alias {alias!r} is reserved: '@latest' always means the newest version."
        )
    return alias


def check_version_number(version: object) -> int:
    """Return ``version`` if it is a version number (an int from 1).

    Raises:
        InvalidInput: not a positive integer.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"Model version must be a whole number from 1, got {version!r}.")
    return version
