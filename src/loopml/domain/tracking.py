"""Plain records of experiment tracking: no I/O, no framework imports."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "Artifact",
    "Experiment",
    "Metric",
    "ParamValue",
    "Run",
    "RunPage",
    "RunQuery",
    "RunStatus",
    "RunUpdate",
]

ParamValue = str | int | float | bool | None


class RunStatus(enum.StrEnum):
    """Life cycle of a run. Only ``RUNNING`` accepts new data."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended."""
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    id: str
    name: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured value of a metric at a step. ``value`` may be NaN or ±inf."""

    key: str
    value: float
    step: int
    timestamp: datetime

    def same_value(self, other: Metric) -> bool:
        """Equality that treats NaN as equal to NaN."""
        both_nan = math.isnan(self.value) and math.isnan(other.value)
        return both_nan or self.value == other.value


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file logged to a run: its path inside the run, blob digest and size."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class Run:
    """A run as stored: identity, state, and its latest data.

    ``metrics`` holds the latest value of each metric (highest step, then newest).
    """

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None = None
    parent_id: str | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str | None = None
    environment_digest: str | None = None
    host: str | None = None
    pid: int | None = None
    heartbeat_at: datetime | None = None

    @property
    def is_running(self) -> bool:
        """Whether the run still accepts data."""
        return self.status is RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """One batch of data for a run: the single write primitive of the run store.

    ``batch_id`` is an idempotency key: a batch whose id the store has applied already
    is not applied again, so a batch may be re-sent safely after a lost reply.
    """

    params: dict[str, ParamValue] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    batch_id: str | None = None

    @property
    def is_empty(self) -> bool:
        """Whether the batch carries nothing."""
        return not (self.params or self.metrics or self.tags or self.artifacts)


@dataclass(frozen=True, slots=True)
class RunQuery:
    """A search over runs: experiments, a filter expression, an order, a page."""

    experiment_ids: tuple[str, ...] = ()
    filter: str = ""
    order_by: tuple[str, ...] = ()
    limit: int = 1000
    page_token: str | None = None


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of search results and the token of the next page, if any."""

    runs: list[Run]
    next_page_token: str | None = None
