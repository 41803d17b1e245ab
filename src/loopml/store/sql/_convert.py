"""Mapping between SQL rows and domain records: times, params, metrics."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from loopml.domain import Metric, ParamValue, Run, RunStatus
from loopml.store.sql._schema import VALUE_HEAD_LENGTH

__all__ = [
    "decode_param",
    "encode_param",
    "from_micros",
    "metric_row",
    "metric_value",
    "run_from_row",
    "to_micros",
    "value_head",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Integer microseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime of integer microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def encode_param(value: ParamValue) -> tuple[str | None, str]:
    """``(text, kind)`` stored for a param value; text is what filters compare."""
    if value is None:
        return None, "none"
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    if isinstance(value, int):
        return str(value), "int"
    if isinstance(value, float):
        return repr(value), "float"
    return value, "str"


def value_head(text: str | None) -> str | None:
    """The indexed head of a param or tag value (see ``_schema``)."""
    return None if text is None else text[:VALUE_HEAD_LENGTH]


def decode_param(text: str | None, kind: str) -> ParamValue:
    """The Python value of a stored param."""
    if kind == "none" or text is None:
        return None
    if kind == "bool":
        return text == "true"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


def metric_row(run_id: str, metric: Metric) -> dict[str, Any]:
    """The ``metrics`` row of one logged value (NaN stored as 0 with ``is_nan``)."""
    is_nan = math.isnan(metric.value)
    return {
        "run_id": run_id,
        "key": metric.key,
        "step": metric.step,
        "timestamp": to_micros(metric.timestamp),
        "value": 0.0 if is_nan else metric.value,
        "is_nan": is_nan,
    }


def metric_value(value: float, is_nan: bool) -> float:
    """The logged value of a stored metric row."""
    return math.nan if is_nan else float(value)


def run_from_row(
    row: Any,
    params: dict[str, ParamValue] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> Run:
    """A domain Run from a ``runs`` row and its data."""
    return Run(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        status=RunStatus(row.status),
        start_time=from_micros(row.start_time),
        end_time=None if row.end_time is None else from_micros(row.end_time),
        parent_id=row.parent_id,
        params=params or {},
        metrics=metrics or {},
        tags=tags or {},
        git_commit=row.git_commit,
        git_dirty=row.git_dirty,
        python_version=row.python_version,
        environment_digest=row.environment_digest,
        host=row.host,
        pid=row.pid,
        heartbeat_at=None if row.heartbeat_at is None else from_micros(row.heartbeat_at),
    )
