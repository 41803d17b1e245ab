"""Plain records of pipeline schedules: what fires a pipeline, and each firing.

A schedule names a pipeline target (``FILE:NAME`` or ``module:NAME``), the parameters to
run it with, and one trigger: a cron expression in a time zone, or "dataset NAME got a
new version". Its position says where the trigger stands: ``next_fire_at`` (cron) is the
next time due, ``seen_version`` (dataset) the newest version already fired for.
Controllers fire a schedule by moving that position from the value they read to the next
one; only one of several controllers can make a given move, so no firing happens twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Catchup",
    "Firing",
    "FiringClaim",
    "FiringDraft",
    "FiringState",
    "FiringUpdate",
    "Schedule",
    "ScheduleDraft",
    "TriggerKind",
]


class TriggerKind(StrEnum):
    """What fires a schedule."""

    CRON = "cron"
    DATASET = "dataset"


class Catchup(StrEnum):
    """What a controller does with cron times that passed while none was running.

    ``latest``: fire once, for the most recent missed time, and record the others as
    missed. ``all``: fire every missed time, one after another, oldest first. ``skip``:
    fire none of them, record them as missed, and wait for the next time.
    """

    LATEST = "latest"
    ALL = "all"
    SKIP = "skip"


class FiringState(StrEnum):
    """Where a firing stands. ``skipped``: due while the schedule's previous firing was
    still running; ``missed``: due while no controller was running (one record stands for
    a stretch of missed times)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        """Whether the firing is over."""
        return self is not FiringState.RUNNING


@dataclass(frozen=True, slots=True)
class ScheduleDraft:
    """A schedule to create. ``params`` are JSON values (strings are converted to the
    parameters' annotated types when the pipeline runs); ``workdir`` is the folder the
    pipeline runs in (where a relative ``FILE`` of the target is found)."""

    name: str
    target: str
    kind: TriggerKind
    params: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    timezone: str = "UTC"
    dataset: str | None = None
    catchup: Catchup = Catchup.LATEST
    executor: str = "local"
    workdir: str = ""
    next_fire_at: datetime | None = None
    seen_version: int | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule (see the module docstring for ``next_fire_at``/``seen_version``)."""

    name: str
    target: str
    kind: TriggerKind
    params: dict[str, Any]
    cron: str | None
    timezone: str
    dataset: str | None
    catchup: Catchup
    executor: str
    workdir: str
    enabled: bool
    created_at: datetime
    author: str
    next_fire_at: datetime | None
    seen_version: int | None

    @property
    def trigger(self) -> str:
        """The trigger in words: ``cron '0 8 * * 1-5' (UTC)`` or ``new version of customers``."""
        if self.kind is TriggerKind.CRON:
            return f"cron {self.cron!r} ({self.timezone})"
        return f"new version of {self.dataset}"


@dataclass(frozen=True, slots=True)
class FiringDraft:
    """A firing to record with a claim: ``id`` chosen by the caller; ``scheduled_for``
    the cron time it stands for (the first of a missed stretch), ``dataset_version`` the
    version that fired it."""

    id: str
    state: FiringState
    reason: str
    scheduled_for: datetime | None = None
    dataset_version: int | None = None


@dataclass(frozen=True, slots=True)
class FiringClaim:
    """Move ``schedule``'s position from ``expected_*`` (as read) to ``next_fire_at`` /
    ``seen_version``, recording ``firings``, all at once or not at all."""

    schedule: str
    expected_next_fire_at: datetime | None
    expected_seen_version: int | None
    next_fire_at: datetime | None
    seen_version: int | None
    firings: tuple[FiringDraft, ...]


@dataclass(frozen=True, slots=True)
class FiringUpdate:
    """Changes to a firing; ``None`` leaves a field as it is. A final ``state`` sets
    ``finished_at``."""

    state: FiringState | None = None
    run_id: str | None = None
    error: str | None = None
    host: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class Firing:
    """One recorded firing of a schedule and the pipeline run it started."""

    id: str
    schedule: str
    state: FiringState
    reason: str
    fired_at: datetime
    scheduled_for: datetime | None
    dataset_version: int | None
    run_id: str | None
    finished_at: datetime | None
    error: str | None
    host: str | None
    pid: int | None
