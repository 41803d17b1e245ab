"""Request and response bodies of the schedule routes, shared by the server and the REST
client (:mod:`loopml.store.rest.schedules`).

The conventions are those of :mod:`loopml.store.rest.schemas`: times are ISO-8601 with a
time zone (naive means UTC), enums travel as their string values, and a schedule's
``params`` as a JSON object. A schedule's name travels in the path, except when it is
created; a firing's id likewise.

Two things need care in a draft. Its ``kind`` and ``catchup`` are documented as enums
but read as plain strings, so that the store, not the schema, refuses an unknown one
with its own message naming the field. And its ``params`` must be JSON values: pydantic
would write a datetime or NaN as a string, and the server would store that string, so
the client refuses them before sending, as the SQL store does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, TypeVar, cast

from pydantic import AwareDatetime, Field, WithJsonSchema

from loopml.domain.schedules import (
    Catchup,
    Firing,
    FiringClaim,
    FiringDraft,
    FiringState,
    FiringUpdate,
    Schedule,
    ScheduleDraft,
    TriggerKind,
)
from loopml.errors import InvalidInput
from loopml.store.rest.schemas import WireModel, as_maybe_utc, as_utc

__all__ = [
    "EnabledBody",
    "FiringBody",
    "FiringClaimBody",
    "FiringClaimReply",
    "FiringDraftBody",
    "FiringList",
    "FiringUpdateBody",
    "ScheduleBody",
    "ScheduleDraftBody",
    "ScheduleList",
]

_E = TypeVar("_E", bound=StrEnum)


def _one_of(kind: type[StrEnum]) -> WithJsonSchema:
    """The JSON schema of a string that should be one of ``kind``'s values."""
    return WithJsonSchema({"type": "string", "enum": [member.value for member in kind]})


def _member_or_text(kind: type[_E], value: str) -> _E:
    # Not a member: passed on as it is, for the store to refuse with its own message.
    try:
        return kind(value)
    except ValueError:
        return cast(_E, value)


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` if every value has a JSON form; raises InvalidInput with the SQL
    store's message otherwise (see the module docstring)."""
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InvalidInput("Schedule params must be a mapping of parameter names to values.")
    try:
        json.dumps(dict(params), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Schedule params must be JSON values: {exc}.") from exc
    return dict(params)


# -- schedules ------------------------------------------------------------------------


class ScheduleDraftBody(WireModel):
    """Request to create a schedule (enabled): a cron one with ``cron``, ``timezone``
    and ``next_fire_at``, or a dataset one with ``dataset`` and ``seen_version``."""

    name: str = Field(examples=["nightly-training"])
    target: str = Field(examples=["flows.py:training"])
    kind: Annotated[str, _one_of(TriggerKind)] = Field(examples=["cron"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"C": 0.5}])
    cron: str | None = Field(default=None, examples=["0 8 * * 1-5"])
    timezone: str = Field(default="UTC", examples=["Europe/Berlin"])
    dataset: str | None = None
    catchup: Annotated[str, _one_of(Catchup)] = Catchup.LATEST.value
    executor: str = "local"
    workdir: str = ""
    next_fire_at: AwareDatetime | None = None
    seen_version: int | None = None

    @classmethod
    def from_domain(cls, draft: ScheduleDraft) -> ScheduleDraftBody:
        """The body of a domain draft. Raises InvalidInput (params that are not JSON)."""
        return cls.model_construct(
            name=draft.name,
            target=draft.target,
            kind=draft.kind,
            params=_json_params(draft.params),
            cron=draft.cron,
            timezone=draft.timezone,
            dataset=draft.dataset,
            catchup=draft.catchup,
            executor=draft.executor,
            workdir=draft.workdir,
            next_fire_at=as_maybe_utc(draft.next_fire_at),
            seen_version=draft.seen_version,
        )

    def to_domain(self) -> ScheduleDraft:
        """The domain draft of this body (unchecked: the store checks it whole)."""
        return ScheduleDraft(
            name=self.name,
            target=self.target,
            kind=_member_or_text(TriggerKind, self.kind),
            params=self.params,
            cron=self.cron,
            timezone=self.timezone,
            dataset=self.dataset,
            catchup=_member_or_text(Catchup, self.catchup),
            executor=self.executor,
            workdir=self.workdir,
            next_fire_at=self.next_fire_at,
            seen_version=self.seen_version,
        )


class ScheduleBody(WireModel):
    """A stored schedule and its position (``next_fire_at`` or ``seen_version``)."""

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
    created_at: AwareDatetime
    author: str
    next_fire_at: AwareDatetime | None
    seen_version: int | None

    @classmethod
    def from_domain(cls, schedule: Schedule) -> ScheduleBody:
        """The body of a domain schedule."""
        return cls.model_construct(
            name=schedule.name,
            target=schedule.target,
            kind=schedule.kind,
            params=schedule.params,
            cron=schedule.cron,
            timezone=schedule.timezone,
            dataset=schedule.dataset,
            catchup=schedule.catchup,
            executor=schedule.executor,
            workdir=schedule.workdir,
            enabled=schedule.enabled,
            created_at=as_utc(schedule.created_at),
            author=schedule.author,
            next_fire_at=as_maybe_utc(schedule.next_fire_at),
            seen_version=schedule.seen_version,
        )

    def to_domain(self) -> Schedule:
        """The domain schedule of this body."""
        return Schedule(**dict(self))


class ScheduleList(WireModel):
    """Every schedule, by name."""

    schedules: list[ScheduleBody]

    @classmethod
    def from_domain(cls, schedules: list[Schedule]) -> ScheduleList:
        """The body of a list of domain schedules."""
        return cls.model_construct(schedules=[ScheduleBody.from_domain(s) for s in schedules])

    def to_domain(self) -> list[Schedule]:
        """The domain schedules of this body."""
        return [s.to_domain() for s in self.schedules]


class EnabledBody(WireModel):
    """Request to pause (``false``) or resume (``true``) the schedule named in the path."""

    enabled: bool


# -- firings --------------------------------------------------------------------------


class FiringDraftBody(WireModel):
    """A firing to record with a claim, under an id the caller chose."""

    id: str = Field(examples=["5f2c0d9e6a7b4c1d"])
    state: FiringState
    reason: str = Field(examples=["cron time 2026-11-23 08:00"])
    scheduled_for: AwareDatetime | None = None
    dataset_version: int | None = None

    @classmethod
    def from_domain(cls, draft: FiringDraft) -> FiringDraftBody:
        """The body of a domain firing draft."""
        return cls.model_construct(
            id=draft.id,
            state=draft.state,
            reason=draft.reason,
            scheduled_for=as_maybe_utc(draft.scheduled_for),
            dataset_version=draft.dataset_version,
        )

    def to_domain(self) -> FiringDraft:
        """The domain firing draft of this body."""
        return FiringDraft(**dict(self))


class FiringClaimBody(WireModel):
    """Request to move the position of the schedule named in the path from
    ``expected_*`` (as read) to ``next_fire_at``/``seen_version``, recording ``firings``,
    all at once or not at all."""

    expected_next_fire_at: AwareDatetime | None
    expected_seen_version: int | None
    next_fire_at: AwareDatetime | None
    seen_version: int | None
    firings: list[FiringDraftBody]

    @classmethod
    def from_domain(cls, claim: FiringClaim) -> FiringClaimBody:
        """The body of a domain claim (its schedule travels in the path)."""
        return cls.model_construct(
            expected_next_fire_at=as_maybe_utc(claim.expected_next_fire_at),
            expected_seen_version=claim.expected_seen_version,
            next_fire_at=as_maybe_utc(claim.next_fire_at),
            seen_version=claim.seen_version,
            firings=[FiringDraftBody.from_domain(f) for f in claim.firings],
        )

    def to_domain(self, schedule: str) -> FiringClaim:
        """The domain claim of this body on the schedule ``schedule``."""
        return FiringClaim(
            schedule=schedule,
            expected_next_fire_at=self.expected_next_fire_at,
            expected_seen_version=self.expected_seen_version,
            next_fire_at=self.next_fire_at,
            seen_version=self.seen_version,
            firings=tuple(f.to_domain() for f in self.firings),
        )


class FiringBody(WireModel):
    """A recorded firing of a schedule and the pipeline run it started."""

    id: str
    schedule: str
    state: FiringState
    reason: str
    fired_at: AwareDatetime
    scheduled_for: AwareDatetime | None
    dataset_version: int | None
    run_id: str | None
    finished_at: AwareDatetime | None
    error: str | None
    host: str | None
    pid: int | None

    @classmethod
    def from_domain(cls, firing: Firing) -> FiringBody:
        """The body of a domain firing."""
        return cls.model_construct(
            id=firing.id,
            schedule=firing.schedule,
            state=firing.state,
            reason=firing.reason,
            fired_at=as_utc(firing.fired_at),
            scheduled_for=as_maybe_utc(firing.scheduled_for),
            dataset_version=firing.dataset_version,
            run_id=firing.run_id,
            finished_at=as_maybe_utc(firing.finished_at),
            error=firing.error,
            host=firing.host,
            pid=firing.pid,
        )

    def to_domain(self) -> Firing:
        """The domain firing of this body."""
        return Firing(**dict(self))


class FiringClaimReply(WireModel):
    """The answer to a claim: the firings recorded, or ``null`` when the claim was lost
    (the position had moved, or the schedule is paused) and nothing changed."""

    firings: list[FiringBody] | None

    @classmethod
    def from_domain(cls, firings: list[Firing] | None) -> FiringClaimReply:
        """The body of ``claim_firing``'s result."""
        bodies = None if firings is None else [FiringBody.from_domain(f) for f in firings]
        return cls.model_construct(firings=bodies)

    def to_domain(self) -> list[Firing] | None:
        """``claim_firing``'s result of this body."""
        return None if self.firings is None else [f.to_domain() for f in self.firings]


class FiringUpdateBody(WireModel):
    """A change to a firing; a field left ``null`` stays as it is. A final ``state``
    stamps ``finished_at``."""

    state: FiringState | None = None
    run_id: str | None = None
    error: str | None = None
    host: str | None = None
    pid: int | None = None

    @classmethod
    def from_domain(cls, update: FiringUpdate) -> FiringUpdateBody:
        """The body of a domain change."""
        return cls.model_construct(
            state=update.state,
            run_id=update.run_id,
            error=update.error,
            host=update.host,
            pid=update.pid,
        )

    def to_domain(self) -> FiringUpdate:
        """The domain change of this body."""
        return FiringUpdate(**dict(self))


class FiringList(WireModel):
    """Firings, newest first."""

    firings: list[FiringBody]

    @classmethod
    def from_domain(cls, firings: list[Firing]) -> FiringList:
        """The body of a list of domain firings."""
        return cls.model_construct(firings=[FiringBody.from_domain(f) for f in firings])

    def to_domain(self) -> list[Firing]:
        """The domain firings of this body."""
        return [f.to_domain() for f in self.firings]
