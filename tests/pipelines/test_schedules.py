"""Schedules: creating them (and refusing bad ones), and the controller firing them on
cron times, on new dataset versions, after missed times, around overlaps and lost
processes. Firings run the pipeline in real subprocesses."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loopml
from loopml.config import Settings
from loopml.domain.schedules import (
    Catchup,
    FiringClaim,
    FiringDraft,
    FiringState,
    FiringUpdate,
    TriggerKind,
)
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.pipelines import (
    Scheduler,
    delete_schedule,
    list_schedules,
    pause_schedule,
    resume_schedule,
    schedule_history,
    schedule_pipeline,
    upcoming_firings,
)
from loopml.tracking import Client, set_default_client

FLOW = """
import time
from pathlib import Path

from loopml.pipelines import dataset, pipeline, step


@step
def load(rows: int = 3) -> list:
    return list(range(rows))


@step
def total(xs: list) -> int:
    return sum(xs)


@pipeline
def chain(rows: int = 3):
    return total(load(rows=rows))


@step
def boom(x: int) -> int:
    raise ValueError("no good")


@pipeline
def breaks():
    return boom(1)


@step
def count_lines(path: str) -> int:
    return len(Path(path).read_text().splitlines())


@pipeline
def on_rows():
    return count_lines(dataset("rows"))


@step
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def sleepy(seconds: float = 60.0):
    return nap(seconds)
"""

MONDAY_7AM = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def flow(tmp_path: Path) -> str:
    path = tmp_path / "flow.py"
    path.write_text(FLOW)
    return str(path)


@pytest.fixture
def local(settings: Settings) -> Iterator[Client]:
    """A client over an empty SQLite store, also the fluent API's."""
    made = Client(settings, capture_environment=False)
    set_default_client(made)
    yield made
    made.close()
    set_default_client(None)


@pytest.fixture
def scheduler(local: Client) -> Iterator[Scheduler]:
    runner = Scheduler(local.stores, local.settings, poll=0.1)
    yield runner
    for child in runner.children.values():
        child.process.kill()
    runner.wait(timeout=30)


def _fire(scheduler: Scheduler, now: datetime) -> list[tuple[FiringState, str]]:
    """Tick at ``now``, wait for the pipelines started, and return every firing made
    (state as stored after the runs, reason)."""
    fired = scheduler.tick(now)
    scheduler.wait(timeout=120)
    store = scheduler.stores.schedules
    return [(store.get_firing(f.id).state, f.reason) for f in fired]


def _cron(flow: str, **options: object) -> object:
    defaults: dict[str, object] = {"cron": "0 8 * * 1-5", "executor": "inline", "now": MONDAY_7AM}
    return schedule_pipeline(f"{flow}:chain", **{**defaults, **options})  # type: ignore[arg-type]


# -- creating schedules -------------------------------------------------------------------


def test_a_cron_schedule_is_stored_with_its_next_times(local: Client, flow: str) -> None:
    made = schedule_pipeline(
        f"{flow}:chain",
        cron="0  8 * * MON-FRI",
        params={"rows": "4"},
        timezone="Europe/Berlin",
        now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),  # a Friday
    )
    assert (made.name, made.kind, made.cron) == ("chain", TriggerKind.CRON, "0 8 * * MON-FRI")
    assert made.target == f"{Path(flow).resolve()}:chain" and made.workdir == os.getcwd()
    assert made.params == {"rows": "4"} and made.catchup is Catchup.LATEST
    # 08:00 in Berlin is 07:00 UTC in winter; Saturday and Sunday are skipped.
    assert upcoming_firings(made, 3) == [
        datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
    ]
    assert [s.name for s, last in list_schedules(local)] == ["chain"]


def test_a_dataset_schedule_starts_at_the_newest_version(
    local: Client, flow: str, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n")
    loopml.data.add(rows, name="rows")
    made = schedule_pipeline(f"{flow}:on_rows", on_dataset="rows", name="on-data")
    assert (made.kind, made.dataset, made.seen_version) == (TriggerKind.DATASET, "rows", 1)
    assert upcoming_firings(made) == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"cron": None}, InvalidInput, "exactly one trigger"),
        ({"on_dataset": "rows"}, InvalidInput, "exactly one trigger"),
        ({"cron": "0 8 * *"}, InvalidInput, "has 4 fields"),
        ({"cron": "61 * * * *"}, InvalidInput, "'minute' has 61"),
        ({"timezone": "Mars/Base"}, InvalidInput, "Mars/Base"),
        ({"params": {"rows": "many"}}, InvalidInput, "parameter 'rows' must be an integer"),
        ({"params": {"colour": 1}}, InvalidInput, "has no parameter 'colour'"),
        ({"catchup": "sometimes"}, InvalidInput, "Catch-up policy 'sometimes'"),
        ({"executor": "cloud"}, InvalidInput, "Executor 'cloud'"),
        ({"name": "a/b"}, InvalidInput, "Schedule name 'a/b'"),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_stored(
    local: Client, flow: str, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _cron(flow, **options)
    assert list_schedules(local) == []


def test_a_missing_pipeline_or_dataset_is_not_found(local: Client, flow: str) -> None:
    with pytest.raises(NotFound, match="no 'nope'"):
        schedule_pipeline(f"{flow}:nope", cron="@daily")
    with pytest.raises(NotFound, match="No pipeline file"):
        schedule_pipeline("missing.py:chain", cron="@daily")
    with pytest.raises(NotFound, match="No dataset named 'ghost' to watch"):
        schedule_pipeline(f"{flow}:chain", on_dataset="ghost")
    assert list_schedules(local) == []


def test_a_taken_name_is_refused(local: Client, flow: str) -> None:
    _cron(flow)
    with pytest.raises(AlreadyExists, match="schedule named 'chain' exists"):
        _cron(flow, cron="@hourly")
    assert list_schedules(local)[0][0].cron == "0 8 * * 1-5"


# -- firing -------------------------------------------------------------------------------


def test_a_due_cron_time_runs_the_pipeline_once(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    _cron(flow, params={"rows": "4"})
    assert _fire(scheduler, MONDAY_8AM - timedelta(minutes=1)) == []  # not yet due
    fired = _fire(scheduler, MONDAY_8AM + timedelta(seconds=5))
    assert fired == [(FiringState.SUCCEEDED, "cron time 2026-11-23 08:00 UTC")]
    schedule, (firing,) = schedule_history("chain", client=local)
    assert schedule.next_fire_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert firing.run_id and firing.pid and firing.finished_at and firing.error is None
    run = local.get_run(firing.run_id)
    assert run.tags["loopml.schedule"] == "chain"
    assert run.tags["loopml.schedule.firing"] == firing.id
    assert run.params["rows"] == 4 and run.status.value == "finished"
    assert _fire(scheduler, MONDAY_8AM + timedelta(seconds=30)) == []  # fired already


def test_two_controllers_fire_a_time_once(local: Client, flow: str, scheduler: Scheduler) -> None:
    _cron(flow)
    other = Scheduler(local.stores, local.settings)
    first = scheduler.tick(MONDAY_8AM)
    second = other.tick(MONDAY_8AM)
    scheduler.wait(timeout=120)
    assert len(first) + len(second) == 1
    assert len(schedule_history("chain", client=local)[1]) == 1


def test_a_failing_pipeline_fails_its_firing_with_the_step_error(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    schedule_pipeline(f"{flow}:breaks", cron="0 8 * * *", executor="inline", now=MONDAY_7AM)
    assert [state for state, _ in _fire(scheduler, MONDAY_8AM)] == [FiringState.FAILED]
    _, (firing,) = schedule_history("breaks", client=local)
    assert firing.error and "boom" in firing.error and "no good" in firing.error
    assert firing.run_id and local.get_run(firing.run_id).status.value == "failed"
    log = local.settings.home / "logs" / "firings" / f"{firing.id}.log"
    assert "ValueError: no good" in log.read_text()


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        ("latest", [FiringState.MISSED, FiringState.SUCCEEDED]),
        ("skip", [FiringState.MISSED]),
    ],
)
def test_times_missed_while_down_follow_the_catchup_policy(
    local: Client, flow: str, scheduler: Scheduler, catchup: str, expected: list[FiringState]
) -> None:
    _cron(flow, cron="0 * * * *", catchup=catchup)  # hourly, first due 08:00
    back = MONDAY_8AM + timedelta(hours=5, minutes=30)  # 08:00 to 13:00 passed: 6 times
    fired = _fire(scheduler, back)
    assert [state for state, _ in fired] == expected
    assert fired[0][1].startswith(
        "missed 5 time(s), 2026-11-23 08:00 UTC to 2026-11-23 12:00 UTC"
        if catchup == "latest"
        else "missed 6 time(s), 2026-11-23 08:00 UTC to 2026-11-23 13:00 UTC"
    )
    if catchup == "latest":
        assert fired[1][1] == "cron time 2026-11-23 13:00 UTC, fired 1800 s late"
    schedule = schedule_history("chain", client=local)[0]
    assert schedule.next_fire_at == MONDAY_8AM + timedelta(hours=6)


def test_catchup_all_runs_every_missed_time_in_order(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    _cron(flow, cron="0 * * * *", catchup="all")
    back = MONDAY_8AM + timedelta(hours=1, minutes=30)  # 08:00 and 09:00 missed
    first = _fire(scheduler, back)
    second = _fire(scheduler, back)
    assert _fire(scheduler, back) == []
    assert [reason for _, reason in first + second] == [
        "cron time 2026-11-23 08:00 UTC, fired 5400 s late",
        "cron time 2026-11-23 09:00 UTC, fired 1800 s late",
    ]
    assert {state for state, _ in first + second} == {FiringState.SUCCEEDED}


def _occupy(local: Client, name: str) -> str:
    """Record a running firing of ``name`` held by this (live) process."""
    store = local.stores.schedules
    schedule = store.get_schedule(name)
    held = FiringDraft(uuid.uuid4().hex, FiringState.RUNNING, "held by the test")
    claim = FiringClaim(
        name,
        schedule.next_fire_at,
        schedule.seen_version,
        schedule.next_fire_at,
        schedule.seen_version,
        (held,),
    )
    assert store.claim_firing(claim) is not None
    store.update_firing(held.id, FiringUpdate(host=socket.gethostname(), pid=os.getpid()))
    return held.id


def test_a_time_due_while_the_last_run_still_runs_is_skipped(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    _cron(flow)
    _occupy(local, "chain")
    fired = _fire(scheduler, MONDAY_8AM)
    assert fired == [
        (FiringState.SKIPPED, "2026-11-23 08:00 UTC: the previous firing was still running")
    ]


def test_a_new_dataset_version_runs_the_pipeline_on_that_version(
    local: Client, flow: str, scheduler: Scheduler, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n")
    loopml.data.add(rows, name="rows")
    schedule_pipeline(f"{flow}:on_rows", on_dataset="rows", executor="inline")
    assert _fire(scheduler, datetime.now(UTC)) == []  # nothing new yet
    rows.write_text("a\n1\n2\n3\n")
    loopml.data.add(rows, name="rows")
    held = _occupy(local, "on_rows")
    assert _fire(scheduler, datetime.now(UTC)) == []  # waits for the running firing
    local.stores.schedules.update_firing(held, FiringUpdate(state=FiringState.SUCCEEDED))
    rows.write_text("a\n1\n2\n3\n4\n")
    loopml.data.add(rows, name="rows")  # version 3 arrives while it waited
    fired = _fire(scheduler, datetime.now(UTC))
    assert fired == [
        (
            FiringState.SUCCEEDED,
            "dataset rows got version 3 (after versions 2-2, not run on their own)",
        )
    ]
    _, (firing, _held) = schedule_history("on_rows", client=local)
    assert firing.dataset_version == 3
    run = local.get_run(firing.run_id or "")
    assert run.tags["loopml.input_dataset:rows"] == "3"
    assert local.stores.schedules.get_schedule("on_rows").seen_version == 3


def test_a_paused_schedule_does_not_fire_until_resumed(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    _cron(flow)
    assert pause_schedule("chain").enabled is False
    assert _fire(scheduler, MONDAY_8AM) == []
    resume_schedule("chain")
    assert [state for state, _ in _fire(scheduler, MONDAY_8AM)] == [FiringState.SUCCEEDED]


def test_a_killed_firing_process_fails_the_firing(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    schedule_pipeline(f"{flow}:sleepy", cron="0 8 * * *", executor="inline", now=MONDAY_7AM)
    (firing,) = scheduler.tick(MONDAY_8AM)
    store = local.stores.schedules
    deadline = time.monotonic() + 60
    while store.get_firing(firing.id).run_id is None and time.monotonic() < deadline:
        time.sleep(0.1)  # a running firing shows its run as soon as the run exists
    run_id = store.get_firing(firing.id).run_id
    assert run_id and local.get_run(run_id).status.value == "running"
    scheduler.children[firing.id].process.kill()
    scheduler.wait(timeout=30)
    lost = local.stores.schedules.get_firing(firing.id)
    assert lost.state is FiringState.FAILED
    assert lost.error and "exited with code -9 before recording a result" in lost.error


def test_firings_no_process_took_up_are_failed(
    local: Client, flow: str, scheduler: Scheduler
) -> None:
    _cron(flow)
    store = local.stores.schedules
    schedule = store.get_schedule("chain")
    orphan = FiringDraft(uuid.uuid4().hex, FiringState.RUNNING, "claimed, never started")
    claim = FiringClaim(
        "chain", schedule.next_fire_at, None, schedule.next_fire_at, None, (orphan,)
    )
    store.claim_firing(claim)
    scheduler.tick(datetime.now(UTC) + timedelta(minutes=5))
    assert (
        store.get_firing(orphan.id).error
        == "No process started this firing (its controller stopped)."
    )


def test_deleting_a_schedule_keeps_its_runs(local: Client, flow: str, scheduler: Scheduler) -> None:
    _cron(flow)
    _fire(scheduler, MONDAY_8AM)
    run_id = schedule_history("chain", client=local)[1][0].run_id
    delete_schedule("chain")
    assert list_schedules(local) == []
    assert local.get_run(run_id or "").tags["loopml.schedule"] == "chain"
    with pytest.raises(NotFound, match="No schedule named 'chain'"):
        delete_schedule("chain")
