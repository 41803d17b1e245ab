"""Pipeline schedules and their firings in SQL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, select, update

from loopml.domain.cron import parse_cron
from loopml.domain.names import check_dataset_name, check_firing_id, check_schedule_name
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
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store.sql._convert import from_micros, to_micros
from loopml.store.sql._models import now_micros
from loopml.store.sql._schema import schedule_firings, schedules
from loopml.store.sql._tx import Transactions

__all__ = ["SqlScheduleStore", "check_schedule_draft"]

_MAX_TARGET = 1000
_MAX_PARAMS_BYTES = 65_536
_MAX_LIMIT = 1000
_E = TypeVar("_E", bound=StrEnum)


class SqlScheduleStore:
    """The ScheduleStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx

    def create_schedule(self, draft: ScheduleDraft) -> Schedule:
        """Store a new, enabled schedule. Raises AlreadyExists, InvalidInput."""
        params = check_schedule_draft(draft)
        row = _draft_row(draft, params, self._tx.actor)
        with self._tx.write() as conn:
            if _schedule_row(conn, draft.name) is not None:
                raise AlreadyExists(
                    f"A schedule named {draft.name!r} exists; delete it first "
                    f"(loopml schedule delete {draft.name}) or choose another name."
                )
            conn.execute(schedules.insert().values(row))
            details = {"target": draft.target, "trigger": _schedule(row).trigger}
            self._tx.audit(conn, "schedule.create", "schedule", draft.name, details)
        return _schedule(row)

    def get_schedule(self, name: str) -> Schedule:
        """One schedule. Raises NotFound."""
        with self._tx.read() as conn:
            return _schedule(_require(conn, name))

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        with self._tx.read() as conn:
            rows = conn.execute(select(schedules).order_by(schedules.c.name))
            return [_schedule(row._mapping) for row in rows]

    def set_enabled(self, name: str, enabled: bool) -> Schedule:
        """Pause or resume a schedule. Raises NotFound."""
        with self._tx.write() as conn:
            _require(conn, name)
            conn.execute(update(schedules).where(schedules.c.name == name).values(enabled=enabled))
            action = "schedule.resume" if enabled else "schedule.pause"
            self._tx.audit(conn, action, "schedule", name)
            return _schedule(_require(conn, name))

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule and its firings. Raises NotFound."""
        with self._tx.write() as conn:
            _require(conn, name)
            conn.execute(delete(schedule_firings).where(schedule_firings.c.schedule == name))
            conn.execute(delete(schedules).where(schedules.c.name == name))
            self._tx.audit(conn, "schedule.delete", "schedule", name)

    def claim_firing(self, claim: FiringClaim) -> list[Firing] | None:
        """Move the position and record the firings, if still expected. See the port."""
        for draft in claim.firings:
            check_firing_id(draft.id)
            _member(FiringState, draft.state, "firing state")
        with self._tx.write() as conn:
            _check_position(_require(conn, claim.schedule), claim)
            moved = conn.execute(
                update(schedules)
                .where(
                    schedules.c.name == claim.schedule,
                    schedules.c.enabled.is_(True),
                    schedules.c.next_fire_at.is_not_distinct_from(
                        _micros(claim.expected_next_fire_at)
                    ),
                    schedules.c.seen_version.is_not_distinct_from(claim.expected_seen_version),
                )
                .values(next_fire_at=_micros(claim.next_fire_at), seen_version=claim.seen_version)
            )
            if moved.rowcount != 1:
                return None
            fired_at = now_micros()
            rows = [_firing_row(claim.schedule, draft, fired_at) for draft in claim.firings]
            for row in rows:
                if _firing_row_by_id(conn, row["id"]) is not None:
                    raise AlreadyExists(f"A firing with id {row['id']!r} exists.")
                conn.execute(schedule_firings.insert().values(row))
                details = {"state": row["state"], "reason": row["reason"]}
                self._tx.audit(conn, "schedule.fire", "schedule", claim.schedule, details)
        return [_firing(row) for row in rows]

    def update_firing(self, firing_id: str, update_: FiringUpdate) -> Firing:
        """Change a firing. Raises NotFound, Conflict (a finished firing's state)."""
        check_firing_id(firing_id)
        with self._tx.write() as conn:
            row = _firing_row_by_id(conn, firing_id)
            if row is None:
                raise NotFound(f"No schedule firing with id {firing_id!r}.")
            values = _firing_changes(row, update_)
            if values:
                conn.execute(
                    update(schedule_firings)
                    .where(schedule_firings.c.id == firing_id)
                    .values(values)
                )
                if "state" in values:
                    details = {"firing": firing_id, "state": values["state"]}
                    self._tx.audit(conn, "schedule.firing", "schedule", row["schedule"], details)
            return _firing({**row, **values})

    def get_firing(self, firing_id: str) -> Firing:
        """One firing. Raises NotFound."""
        check_firing_id(firing_id)
        with self._tx.read() as conn:
            row = _firing_row_by_id(conn, firing_id)
            if row is None:
                raise NotFound(f"No schedule firing with id {firing_id!r}.")
            return _firing(row)

    def list_firings(
        self, schedule: str | None = None, state: FiringState | None = None, limit: int = 100
    ) -> list[Firing]:
        """Firings, newest first, of one schedule and/or in one state."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidInput(f"limit must be an integer from 1 to {_MAX_LIMIT}, got {limit!r}.")
        query = select(schedule_firings)
        if schedule is not None:
            query = query.where(schedule_firings.c.schedule == schedule)
        if state is not None:
            query = query.where(
                schedule_firings.c.state == _member(FiringState, state, "firing state").value
            )
        query = query.order_by(
            schedule_firings.c.fired_at.desc(), schedule_firings.c.id.desc()
        ).limit(limit)
        with self._tx.read() as conn:
            return [_firing(row._mapping) for row in conn.execute(query)]


def check_schedule_draft(draft: ScheduleDraft) -> str:
    """Check a draft whole; return its params as JSON text. Raises InvalidInput naming
    the field."""
    check_schedule_name(draft.name)
    if not isinstance(draft.target, str) or ":" not in draft.target:
        raise InvalidInput(
            f"Schedule target {draft.target!r} must be FILE:PIPELINE or module:PIPELINE."
        )
    if len(draft.target) > _MAX_TARGET:
        raise InvalidInput(f"Schedule target is longer than {_MAX_TARGET} characters.")
    kind = _member(TriggerKind, draft.kind, "kind")
    if kind is TriggerKind.CRON:
        _check_cron_draft(draft)
    else:
        _check_dataset_draft(draft)
    _member(Catchup, draft.catchup, "catchup")
    if not isinstance(draft.executor, str) or not draft.executor or len(draft.executor) > 32:
        raise InvalidInput(f"Executor {draft.executor!r} must be 1-32 characters.")
    return _params_json(draft.params)


def _member(kind: type[_E], value: object, field: str) -> _E:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)  # type: ignore[arg-type]  # a bad value is ValueError
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidInput(f"Schedule {field} {value!r} is not one of: {known}.") from None


def _check_cron_draft(draft: ScheduleDraft) -> None:
    if draft.cron is None or draft.dataset is not None:
        raise InvalidInput("A cron schedule needs a cron expression and no dataset.")
    parse_cron(draft.cron, draft.timezone)
    if draft.next_fire_at is None or draft.seen_version is not None:
        raise InvalidInput("A cron schedule needs next_fire_at and no seen_version.")


def _check_dataset_draft(draft: ScheduleDraft) -> None:
    if draft.dataset is None or draft.cron is not None:
        raise InvalidInput("A dataset schedule needs a dataset name and no cron expression.")
    check_dataset_name(draft.dataset)
    if not isinstance(draft.timezone, str) or not 0 < len(draft.timezone) <= 64:
        raise InvalidInput(f"Time zone {draft.timezone!r} must be 1-64 characters.")
    seen = draft.seen_version
    if isinstance(seen, bool) or not isinstance(seen, int) or seen < 0:
        raise InvalidInput(f"seen_version must be a version number or 0, got {seen!r}.")
    if draft.next_fire_at is not None:
        raise InvalidInput("A dataset schedule has no next_fire_at.")


def _params_json(params: Mapping[str, Any]) -> str:
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InvalidInput("Schedule params must be a mapping of parameter names to values.")
    try:
        text = json.dumps(dict(params), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Schedule params must be JSON values: {exc}.") from exc
    if len(text.encode()) > _MAX_PARAMS_BYTES:
        raise InvalidInput(f"Schedule params take more than {_MAX_PARAMS_BYTES} bytes as JSON.")
    return text


def _check_position(row: Mapping[str, Any], claim: FiringClaim) -> None:
    """A claim moves a cron schedule to a time, a dataset schedule to a version."""
    if row["kind"] == TriggerKind.CRON.value:
        if claim.next_fire_at is None or claim.seen_version is not None:
            raise InvalidInput("A claim on a cron schedule moves next_fire_at, not seen_version.")
        return
    seen = claim.seen_version
    if claim.next_fire_at is not None or isinstance(seen, bool) or not isinstance(seen, int):
        raise InvalidInput("A claim on a dataset schedule moves seen_version, not next_fire_at.")


def _check_update(change: FiringUpdate) -> FiringState | None:
    if change.run_id is not None and not 0 < len(change.run_id) <= 32:
        raise InvalidInput(f"run_id {change.run_id!r} must be 1-32 characters.")
    if change.host is not None and len(change.host) > 255:
        raise InvalidInput("host must be at most 255 characters.")
    pid = change.pid
    if pid is not None and (
        isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31
    ):
        raise InvalidInput(f"pid must be a process id, got {pid!r}.")
    return None if change.state is None else _member(FiringState, change.state, "firing state")


def _firing_changes(row: Mapping[str, Any], change: FiringUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    state = _check_update(change)
    if state is not None and state.value != row["state"]:
        if FiringState(row["state"]).is_final:
            raise Conflict(
                f"Firing {row['id']!r} is already {row['state']}; it cannot become {state.value}."
            )
        values["state"] = state.value
        if state.is_final:
            values["finished_at"] = now_micros()
    for field in ("run_id", "error", "host", "pid"):
        value = getattr(change, field)
        if value is not None and value != row[field]:
            values[field] = value
    return values


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _require(conn: Connection, name: str) -> Mapping[str, Any]:
    row = _schedule_row(conn, name)
    if row is None:
        raise NotFound(f"No schedule named {name!r}; `loopml schedule list` shows them.")
    return row


def _schedule_row(conn: Connection, name: str) -> Mapping[str, Any] | None:
    row = conn.execute(select(schedules).where(schedules.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def _firing_row_by_id(conn: Connection, firing_id: str) -> Mapping[str, Any] | None:
    query = select(schedule_firings).where(schedule_firings.c.id == firing_id)
    row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)


def _draft_row(draft: ScheduleDraft, params: str, author: str) -> dict[str, Any]:
    return {
        "name": draft.name,
        "target": draft.target,
        "kind": TriggerKind(draft.kind).value,
        "params": params,
        "cron": draft.cron,
        "timezone": draft.timezone,
        "dataset": draft.dataset,
        "catchup": Catchup(draft.catchup).value,
        "executor": draft.executor,
        "workdir": draft.workdir,
        "enabled": True,
        "created_at": now_micros(),
        "author": author,
        "next_fire_at": _micros(draft.next_fire_at),
        "seen_version": draft.seen_version,
    }


def _firing_row(schedule: str, draft: FiringDraft, fired_at: int) -> dict[str, Any]:
    return {
        "id": draft.id,
        "schedule": schedule,
        "state": FiringState(draft.state).value,
        "reason": draft.reason,
        "fired_at": fired_at,
        "scheduled_for": _micros(draft.scheduled_for),
        "dataset_version": draft.dataset_version,
        "run_id": None,
        "finished_at": fired_at if FiringState(draft.state).is_final else None,
        "error": None,
        "host": None,
        "pid": None,
    }


def _schedule(row: Mapping[Any, Any]) -> Schedule:
    return Schedule(
        name=row["name"],
        target=row["target"],
        kind=TriggerKind(row["kind"]),
        params=json.loads(row["params"]),
        cron=row["cron"],
        timezone=row["timezone"],
        dataset=row["dataset"],
        catchup=Catchup(row["catchup"]),
        executor=row["executor"],
        workdir=row["workdir"],
        enabled=bool(row["enabled"]),
        created_at=from_micros(row["created_at"]),
        author=row["author"],
        next_fire_at=None if row["next_fire_at"] is None else from_micros(row["next_fire_at"]),
        seen_version=row["seen_version"],
    )


def _firing(row: Mapping[Any, Any]) -> Firing:
    def moment(key: str) -> datetime | None:
        return None if row[key] is None else from_micros(row[key])

    return Firing(
        id=row["id"],
        schedule=row["schedule"],
        state=FiringState(row["state"]),
        reason=row["reason"],
        fired_at=from_micros(row["fired_at"]),
        scheduled_for=moment("scheduled_for"),
        dataset_version=row["dataset_version"],
        run_id=row["run_id"],
        finished_at=moment("finished_at"),
        error=row["error"],
        host=row["host"],
        pid=row["pid"],
    )
