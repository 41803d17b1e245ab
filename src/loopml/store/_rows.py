"""Registry rows as domain records, shared by the SQL adapter and the stdlib-sqlite3
reader so that the two cannot map a row differently. No SQLAlchemy here on purpose: the
reader exists to avoid importing it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from loopml.domain import DatasetVersion, ModelVersion, RegisteredModel, VersionStatus

__all__ = [
    "dataset_version_record",
    "from_micros",
    "model_record",
    "no_dataset_message",
    "no_model_message",
    "version_record",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(micros: int) -> datetime:
    """The UTC datetime of integer microseconds since the epoch (how times are stored)."""
    return _EPOCH + timedelta(microseconds=micros)


def no_model_message(name: str) -> str:
    """The NotFound message of an unknown registered model."""
    return f"No registered model named {name!r}; `loopml models list` shows the models."


def model_record(
    row: Mapping[Any, Any],
    tags: Iterable[tuple[str, str]],
    aliases: Iterable[tuple[str, int]],
    latest_version: int | None,
) -> RegisteredModel:
    """A ``registered_models`` row with its tags, aliases and newest ready version."""
    return RegisteredModel(
        name=row["name"],
        created_at=from_micros(row["created_at"]),
        updated_at=from_micros(row["updated_at"]),
        description=row["description"],
        tags=dict(sorted(tags)),
        protected_aliases=tuple(json.loads(row["protected_aliases"])),
        latest_version=latest_version,
        aliases=dict(sorted(aliases)),
    )


def version_record(
    row: Mapping[Any, Any],
    tags: Iterable[tuple[str, str]],
    aliases: Iterable[str],
    parents: Iterable[tuple[str, int]],
) -> ModelVersion:
    """A ``model_versions`` row with its tags, the aliases at it and its parents."""
    return ModelVersion(
        name=row["name"],
        version=row["version"],
        created_at=from_micros(row["created_at"]),
        created_by=row["created_by"],
        flavor=row["flavor"],
        manifest=row["manifest"],
        manifest_digest=row["manifest_digest"],
        run_id=row["run_id"],
        artifact_path=row["artifact_path"],
        status=VersionStatus(row["status"]),
        description=row["description"],
        tags=dict(sorted(tags)),
        aliases=tuple(sorted(aliases)),
        parents=tuple(sorted((str(name), int(number)) for name, number in parents)),
    )


def no_dataset_message(name: str) -> str:
    """The NotFound message of an unknown dataset."""
    return f"No dataset named {name!r}; `loopml data list` shows the datasets."


def dataset_version_record(row: Mapping[Any, Any]) -> DatasetVersion:
    """A ``dataset_versions`` row."""
    return DatasetVersion(
        name=row["name"],
        version=row["version"],
        created_at=from_micros(row["created_at"]),
        author=row["author"],
        message=row["message"],
        manifest_digest=row["manifest_digest"],
        content_digest=row["content_digest"],
        file_count=int(row["file_count"]),
        total_bytes=int(row["total_bytes"]),
        source_path=row["source_path"],
        run_id=row["run_id"],
        schema=row["schema"],
        profile_digest=row["profile_digest"],
    )
