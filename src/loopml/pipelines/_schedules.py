"""Schedules: run a pipeline on a cron timetable or when a dataset gets a new version.

A schedule is stored in the metadata store and fired by the controller
(:class:`~loopml.pipelines.Scheduler`) that runs inside ``loopml server`` or as
``loopml scheduler``; each firing is a recorded pipeline run, tagged with the schedule
and the firing. Creating a schedule loads the pipeline and binds its parameters first,
so a typo fails now, not at 8 am on Monday.

Example:
    >>> loopml.schedule_pipeline("train.py:training", cron="0 8 * * 1-5", params={"C": 0.5})
    >>> loopml.schedule_pipeline("train.py:training", on_dataset="customers", name="on-data")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loopml.domain.cron import parse_cron
from loopml.domain.names import check_dataset_name
from loopml.domain.schedules import (
    Catchup,
    Firing,
    Schedule,
    ScheduleDraft,
    TriggerKind,
)
from loopml.errors import InvalidInput, NotFound
from loopml.pipelines._executors import EXECUTORS
from loopml.pipelines._targets import absolute_target, load_target

if TYPE_CHECKING:
    from loopml.store import ScheduleStore
    from loopml.tracking import Client

__all__ = [
    "delete_schedule",
    "list_schedules",
    "pause_schedule",
    "resume_schedule",
    "schedule_history",
    "schedule_pipeline",
    "upcoming_firings",
]


def schedule_pipeline(
    target: str,
    *,
    cron: str | None = None,
    on_dataset: str | None = None,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    catchup: str = "latest",
    executor: str = "local",
    client: Client | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Store a schedule that runs the pipeline ``target`` on a trigger.

    Args:
        target: ``FILE.py:NAME`` (made absolute) or ``module:NAME``.
        cron: a 5-field cron expression (``"0 8 * * 1-5"``) or an alias (``@daily``),
            evaluated in ``timezone``.
        on_dataset: run whenever this dataset gets a new version; the run reads that
            version wherever the pipeline reads the dataset without naming a version.
        name: the schedule's name (default: the pipeline's).
        params: pipeline parameters, checked against the pipeline now.
        timezone: IANA time zone of ``cron`` (default UTC).
        catchup: what to do with cron times missed while no controller ran:
            ``latest`` (run once, for the newest), ``all`` (run each), ``skip`` (none).
        executor: where the steps run (``local``, ``dask``, ``inline``).
        client: the tracking client (default: the fluent API's).
        now: the time the first cron firing is counted from (default: now).

    Returns:
        The stored schedule.

    Raises:
        InvalidInput: not exactly one of ``cron``/``on_dataset``, a bad cron expression,
            time zone, catch-up policy, executor or parameter.
        NotFound: no such pipeline, or no such dataset.
        AlreadyExists: a schedule of that name exists.
    """
    from loopml.tracking import default_client

    if (cron is None) == (on_dataset is None):
        raise InvalidInput("Give a schedule exactly one trigger: cron=... or on_dataset=....")
    if executor not in EXECUTORS:
        raise InvalidInput(f"Executor {executor!r} is not one of {', '.join(EXECUTORS)}.")
    policy = _catchup(catchup)
    client = client or default_client()
    pipeline = load_target(target)
    values = dict(params or {})
    pipeline.build(values)  # binds and checks the parameters; nothing runs
    draft = ScheduleDraft(
        name=name or pipeline.name,
        target=absolute_target(target),
        kind=TriggerKind.CRON if cron is not None else TriggerKind.DATASET,
        params=values,
        timezone=timezone,
        catchup=policy,
        executor=executor,
        workdir=os.getcwd(),
    )
    if cron is not None:
        expression = parse_cron(cron, timezone)
        first = expression.next_after(now or datetime.now(UTC))
        draft = replace(draft, cron=expression.text, next_fire_at=first)
    else:
        draft = replace(draft, dataset=on_dataset, seen_version=_newest(client, on_dataset))
    return client.stores.schedules.create_schedule(draft)


def list_schedules(client: Client | None = None) -> list[tuple[Schedule, Firing | None]]:
    """Every schedule, by name, with its newest firing (or None)."""
    store = _store(client)
    return [
        (schedule, next(iter(store.list_firings(schedule.name, limit=1)), None))
        for schedule in store.list_schedules()
    ]


def schedule_history(
    name: str, limit: int = 20, client: Client | None = None
) -> tuple[Schedule, list[Firing]]:
    """A schedule and its newest ``limit`` firings, newest first. Raises NotFound."""
    store = _store(client)
    schedule = store.get_schedule(name)
    return schedule, store.list_firings(name, limit=limit)


def pause_schedule(name: str, client: Client | None = None) -> Schedule:
    """Stop firing ``name`` until it is resumed. Raises NotFound."""
    return _store(client).set_enabled(name, False)


def resume_schedule(name: str, client: Client | None = None) -> Schedule:
    """Fire ``name`` again; cron times passed while paused follow its catch-up policy.
    Raises NotFound."""
    return _store(client).set_enabled(name, True)


def delete_schedule(name: str, client: Client | None = None) -> None:
    """Delete ``name`` and its firing records (the runs stay). Raises NotFound."""
    _store(client).delete_schedule(name)


def upcoming_firings(schedule: Schedule, count: int = 3) -> list[datetime]:
    """The next ``count`` cron times of ``schedule`` from its next due time (empty for a
    dataset trigger)."""
    if schedule.kind is not TriggerKind.CRON or schedule.next_fire_at is None:
        return []
    assert schedule.cron is not None  # a cron schedule always has its expression
    expression = parse_cron(schedule.cron, schedule.timezone)
    times = [schedule.next_fire_at]
    while len(times) < count:
        times.append(expression.next_after(times[-1]))
    return times


def _newest(client: Client, dataset: str | None) -> int:
    name = check_dataset_name(dataset)
    try:
        return client.stores.datasets.latest_version(name).version
    except NotFound:
        raise NotFound(
            f"No dataset named {name!r} to watch; add its first version "
            f"(loopml data add PATH --name {name}) before scheduling on it."
        ) from None


def _catchup(value: str) -> Catchup:
    try:
        return Catchup(value)
    except ValueError:
        known = ", ".join(policy.value for policy in Catchup)
        raise InvalidInput(f"Catch-up policy {value!r} is not one of: {known}.") from None


def _store(client: Client | None) -> ScheduleStore:
    from loopml.tracking import default_client

    return (client or default_client()).stores.schedules
