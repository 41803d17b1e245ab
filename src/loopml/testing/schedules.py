"""Contract suite of the ScheduleStore port, run unchanged against every adapter.

Subclass :class:`ScheduleStoreContract` and provide the ``schedule_store`` fixture.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loopml.domain.schedules import (
    Catchup,
    FiringClaim,
    FiringDraft,
    FiringState,
    FiringUpdate,
    Schedule,
    ScheduleDraft,
    TriggerKind,
)
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store import ScheduleStore

__all__ = ["ScheduleStoreContract"]

_DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _name() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


def _cron(name: str, **fields: object) -> ScheduleDraft:
    draft = ScheduleDraft(
        name=name,
        target="/srv/project/train.py:training",
        kind=TriggerKind.CRON,
        params={"C": 0.5, "rows": "100"},
        cron="0 8 * * 1-5",
        timezone="Europe/Berlin",
        workdir="/srv/project",
        next_fire_at=_DUE,
    )
    return replace(draft, **fields)  # type: ignore[arg-type]


def _on_data(name: str, dataset: str = "customers", seen: int = 2) -> ScheduleDraft:
    return ScheduleDraft(
        name=name,
        target="pkg.flows:training",
        kind=TriggerKind.DATASET,
        dataset=dataset,
        seen_version=seen,
        catchup=Catchup.ALL,
        executor="dask",
    )


def _firing(state: FiringState = FiringState.RUNNING, **fields: object) -> FiringDraft:
    draft = FiringDraft(uuid.uuid4().hex, state, "cron time 08:00", scheduled_for=_DUE)
    return replace(draft, **fields)  # type: ignore[arg-type]


def _claim(schedule: Schedule, *firings: FiringDraft, step: int = 1) -> FiringClaim:
    if schedule.kind is TriggerKind.CRON:
        assert schedule.next_fire_at is not None
        after = schedule.next_fire_at + timedelta(days=step)
        return FiringClaim(schedule.name, schedule.next_fire_at, None, after, None, firings)
    seen = schedule.seen_version or 0
    return FiringClaim(schedule.name, None, seen, None, seen + step, firings)


class ScheduleStoreContract:
    """What every ScheduleStore adapter must do."""

    def test_schedules_are_stored_as_drafted(self, schedule_store: ScheduleStore) -> None:
        cron, data = _name(), _name()
        made = schedule_store.create_schedule(_cron(cron))
        assert (made.name, made.kind, made.cron, made.timezone) == (
            cron,
            TriggerKind.CRON,
            "0 8 * * 1-5",
            "Europe/Berlin",
        )
        assert made.params == {"C": 0.5, "rows": "100"} and made.next_fire_at == _DUE
        assert made.enabled and made.author and made.catchup is Catchup.LATEST
        assert (made.workdir, made.executor, made.seen_version) == ("/srv/project", "local", None)
        assert made.trigger == "cron '0 8 * * 1-5' (Europe/Berlin)"
        second = schedule_store.create_schedule(_on_data(data))
        assert (second.dataset, second.seen_version, second.next_fire_at) == ("customers", 2, None)
        assert (second.catchup, second.executor) == (Catchup.ALL, "dask")
        assert second.trigger == "new version of customers"
        assert schedule_store.get_schedule(cron) == made
        listed = [s.name for s in schedule_store.list_schedules()]
        assert listed == sorted(listed) and {cron, data} <= set(listed)

    def test_a_taken_name_is_refused(self, schedule_store: ScheduleStore) -> None:
        name = _name()
        schedule_store.create_schedule(_cron(name))
        with pytest.raises(AlreadyExists, match=name):
            schedule_store.create_schedule(_on_data(name))
        assert schedule_store.get_schedule(name).kind is TriggerKind.CRON

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"name": "a/b"}, "Schedule name"),
            ({"target": "train.py"}, "FILE:PIPELINE"),
            ({"cron": "0 25 * * *"}, "hour"),
            ({"timezone": "Mars/Base"}, "Mars/Base"),
            ({"cron": None}, "cron expression"),
            ({"next_fire_at": None}, "next_fire_at"),
            ({"dataset": "customers"}, "no dataset"),
            ({"params": {"when": datetime(2026, 1, 1)}}, "JSON"),
            ({"catchup": "sometimes"}, "catchup 'sometimes'"),
            ({"kind": "hourly"}, "kind 'hourly'"),
            ({"executor": ""}, "Executor"),
        ],
        ids=lambda value: str(value)[:24],
    )
    def test_malformed_drafts_are_refused_naming_the_field(
        self, schedule_store: ScheduleStore, fields: dict[str, object], message: str
    ) -> None:
        draft = replace(_cron(_name()), **fields)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match=message):
            schedule_store.create_schedule(draft)
        assert draft.name not in {s.name for s in schedule_store.list_schedules()}

    def test_a_dataset_schedule_needs_a_valid_position(self, schedule_store: ScheduleStore) -> None:
        for draft in (
            replace(_on_data(_name()), seen_version=None),
            replace(_on_data(_name()), seen_version=-1),
            replace(_on_data(_name()), dataset="bad/name"),
            replace(_on_data(_name()), cron="@daily"),
        ):
            with pytest.raises(InvalidInput):
                schedule_store.create_schedule(draft)

    def test_unknown_schedules_are_not_found(self, schedule_store: ScheduleStore) -> None:
        name = _name()
        claim = FiringClaim(name, _DUE, None, _DUE, None, (_firing(),))
        for call in (
            lambda: schedule_store.get_schedule(name),
            lambda: schedule_store.set_enabled(name, False),
            lambda: schedule_store.delete_schedule(name),
            lambda: schedule_store.claim_firing(claim),
        ):
            with pytest.raises(NotFound, match=name):
                call()

    def test_a_claim_moves_the_position_once(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        firing = _firing()
        claimed = schedule_store.claim_firing(_claim(schedule, firing))
        assert claimed is not None and [f.id for f in claimed] == [firing.id]
        (made,) = claimed
        assert (made.schedule, made.state, made.reason) == (
            schedule.name,
            FiringState.RUNNING,
            "cron time 08:00",
        )
        assert made.scheduled_for == _DUE and made.fired_at and made.finished_at is None
        assert schedule_store.get_schedule(schedule.name).next_fire_at == _DUE + timedelta(days=1)
        # A second controller that read the same position loses, and records nothing.
        assert schedule_store.claim_firing(_claim(schedule, _firing())) is None
        assert [f.id for f in schedule_store.list_firings(schedule.name)] == [firing.id]

    def test_a_dataset_claim_moves_the_seen_version(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_on_data(_name()))
        firing = _firing(dataset_version=4, scheduled_for=None)
        claimed = schedule_store.claim_firing(_claim(schedule, firing, step=2))
        assert claimed is not None and claimed[0].dataset_version == 4
        assert claimed[0].scheduled_for is None
        assert schedule_store.get_schedule(schedule.name).seen_version == 4
        assert schedule_store.claim_firing(_claim(schedule, _firing())) is None

    def test_concurrent_claims_of_one_position_make_one_firing(
        self, schedule_store: ScheduleStore
    ) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        results: list[object] = []
        barrier = threading.Barrier(4)

        def claim() -> None:
            barrier.wait()
            results.append(schedule_store.claim_firing(_claim(schedule, _firing())))

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(result is not None for result in results) == 1
        assert len(schedule_store.list_firings(schedule.name)) == 1

    def test_a_paused_schedule_is_not_claimed(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        assert schedule_store.set_enabled(schedule.name, False).enabled is False
        assert schedule_store.claim_firing(_claim(schedule, _firing())) is None
        assert schedule_store.set_enabled(schedule.name, True).enabled is True
        assert schedule_store.claim_firing(_claim(schedule, _firing())) is not None

    def test_final_firings_are_finished_when_claimed(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        missed = _firing(FiringState.MISSED, reason="missed 3 times")
        running = _firing(scheduled_for=_DUE + timedelta(days=3))
        claimed = schedule_store.claim_firing(_claim(schedule, missed, running, step=4))
        assert claimed is not None
        assert [f.state for f in claimed] == [FiringState.MISSED, FiringState.RUNNING]
        assert claimed[0].finished_at is not None and claimed[1].finished_at is None

    def test_a_firing_is_updated_until_it_is_over(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        firing = _firing()
        schedule_store.claim_firing(_claim(schedule, firing))
        run_id = uuid.uuid4().hex
        started = schedule_store.update_firing(
            firing.id, FiringUpdate(run_id=run_id, host="box", pid=4242)
        )
        assert (started.run_id, started.host, started.pid) == (run_id, "box", 4242)
        assert started.state is FiringState.RUNNING and started.finished_at is None
        done = schedule_store.update_firing(
            firing.id, FiringUpdate(state=FiringState.FAILED, error="step 'train' failed")
        )
        assert done.state is FiringState.FAILED and done.finished_at is not None
        assert (done.run_id, done.error) == (run_id, "step 'train' failed")
        assert schedule_store.get_firing(firing.id) == done
        with pytest.raises(Conflict, match="already failed"):
            schedule_store.update_firing(firing.id, FiringUpdate(state=FiringState.SUCCEEDED))
        # Repeating the final state is not a change, so not a conflict.
        again = schedule_store.update_firing(firing.id, FiringUpdate(state=FiringState.FAILED))
        assert again == done
        with pytest.raises(NotFound, match="nope"):
            schedule_store.update_firing("nope", FiringUpdate(state=FiringState.FAILED))
        with pytest.raises(NotFound, match="nope"):
            schedule_store.get_firing("nope")

    def test_firings_are_listed_newest_first_and_filtered(
        self, schedule_store: ScheduleStore
    ) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        ids = []
        for step in range(3):
            current = schedule_store.get_schedule(schedule.name)
            state = FiringState.SKIPPED if step == 1 else FiringState.RUNNING
            firing = _firing(state)
            assert schedule_store.claim_firing(_claim(current, firing)) is not None
            ids.append(firing.id)
        assert [f.id for f in schedule_store.list_firings(schedule.name)] == ids[::-1]
        assert [f.id for f in schedule_store.list_firings(schedule.name, limit=2)] == ids[:0:-1]
        skipped = schedule_store.list_firings(schedule.name, state=FiringState.SKIPPED)
        assert [f.id for f in skipped] == [ids[1]]
        running = schedule_store.list_firings(state=FiringState.RUNNING, limit=1000)
        assert {ids[0], ids[2]} <= {f.id for f in running}
        for limit in (0, 1001):
            with pytest.raises(InvalidInput, match="limit"):
                schedule_store.list_firings(schedule.name, limit=limit)

    def test_deleting_a_schedule_deletes_its_firings(self, schedule_store: ScheduleStore) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        firing = _firing()
        schedule_store.claim_firing(_claim(schedule, firing))
        schedule_store.delete_schedule(schedule.name)
        with pytest.raises(NotFound):
            schedule_store.get_schedule(schedule.name)
        with pytest.raises(NotFound):
            schedule_store.get_firing(firing.id)
        assert schedule_store.list_firings(schedule.name) == []
        schedule_store.create_schedule(_cron(schedule.name))  # the name is free again

    def test_a_taken_firing_id_is_refused_and_nothing_moves(
        self, schedule_store: ScheduleStore
    ) -> None:
        schedule = schedule_store.create_schedule(_cron(_name()))
        firing = _firing()
        schedule_store.claim_firing(_claim(schedule, firing))
        moved = schedule_store.get_schedule(schedule.name)
        with pytest.raises(AlreadyExists, match=firing.id):
            schedule_store.claim_firing(_claim(moved, replace(firing, reason="again")))
        assert schedule_store.get_schedule(schedule.name).next_fire_at == moved.next_fire_at
