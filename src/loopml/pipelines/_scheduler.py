"""The controller that fires schedules: inside ``loopml server``, or ``loopml scheduler``.

Each tick it reads the schedules and, for every one that is due, claims the firing in the
store (so that two controllers never fire the same time twice) and starts the pipeline
in a process of its own (``python -m loopml.pipelines._fire``), which records the run
and the outcome on the firing. A controller that stops leaves running pipelines running:
they record their own outcome.

Rules, stated once:

- **On time**: a cron time is fired when the controller sees it within ``grace`` seconds
  (60 by default) of that time.
- **Missed** (no controller ran, or the schedule was paused): ``latest`` fires the newest
  missed time and records the older ones as one *missed* firing; ``all`` fires every
  missed time in order, one run after another; ``skip`` records them all as missed and
  fires the next time that comes on time.
- **Overlap**: a cron time that comes while the schedule's previous run still runs is
  recorded as *skipped* (``latest``, ``skip``) or waits for it (``all``). A new dataset
  version waits for the previous run, then fires for the newest version (``latest``,
  ``skip``) or for each version in turn (``all``).
- **Lost firings**: a running firing whose process on this host is gone without a
  result, or that no process ever started, is marked failed, saying why.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from loopml.domain.cron import CronExpression, parse_cron
from loopml.domain.schedules import (
    Catchup,
    Firing,
    FiringClaim,
    FiringDraft,
    FiringState,
    FiringUpdate,
    Schedule,
    TriggerKind,
)
from loopml.errors import LoopmlError, NotFound

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.store import Stores

__all__ = ["Scheduler"]

logger = logging.getLogger("loopml.scheduler")

_EXACT_COUNT = 10_000  # missed times counted one by one up to this many
_UNSTARTED_AFTER = timedelta(minutes=2)  # a claimed firing no process took up by then


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    log: Path


class Scheduler:
    """Fires the schedules of one store; see the module docstring for the rules.

    Args:
        stores: the stores to read schedules from and record firings in.
        settings: handed to each firing's process (never through the environment).
        poll: seconds between two looks at the store when nothing is due sooner.
        grace: seconds after a cron time within which it still counts as on time.

    Example:
        >>> scheduler = Scheduler(stores, settings)
        >>> scheduler.serve(threading.Event())   # until the event is set
    """

    def __init__(
        self, stores: Stores, settings: Settings, *, poll: float = 2.0, grace: float = 60.0
    ) -> None:
        self.stores = stores
        self.settings = settings
        self.poll = poll
        self.grace = timedelta(seconds=grace)
        self.host = socket.gethostname()
        self.children: dict[str, _Child] = {}

    def serve(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, sleeping until the next cron time or ``poll``."""
        logger.info("Scheduler started (poll every %g s).", self.poll)
        while not stop.is_set():
            try:
                self.tick()
                pause = self._sleep()
            except LoopmlError as exc:  # the store is down: try again later
                logger.warning("Scheduler tick failed: %s", exc)
                pause = self.poll
            except Exception:  # a bug must not stop every schedule for good
                logger.exception("Scheduler tick failed")
                pause = self.poll
            stop.wait(pause)
        logger.info("Scheduler stopped; %d firing(s) still running.", len(self.running()))

    def tick(self, now: datetime | None = None) -> list[Firing]:
        """Fire whatever is due at ``now`` (default: now); return the firings recorded."""
        now = now or datetime.now(UTC)
        self._reap()
        self._fail_lost(now)
        fired: list[Firing] = []
        for schedule in self.stores.schedules.list_schedules():
            if not schedule.enabled:
                continue
            try:
                fired += self._fire_due(schedule, now)
            except LoopmlError as exc:
                logger.warning("Schedule %r could not fire: %s", schedule.name, exc)
        return fired

    def running(self) -> list[str]:
        """Ids of the firings whose processes this scheduler started and that still run."""
        return [key for key, child in self.children.items() if child.process.poll() is None]

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the processes this scheduler started, then record any lost one."""
        for child in list(self.children.values()):
            child.process.wait(timeout)
        self._reap()

    # -- firing ------------------------------------------------------------------------

    def _fire_due(self, schedule: Schedule, now: datetime) -> list[Firing]:
        if schedule.kind is TriggerKind.CRON:
            claim = self._cron_claim(schedule, now)
        else:
            claim = self._dataset_claim(schedule)
        if claim is None:
            return []
        firings = self.stores.schedules.claim_firing(claim)
        if firings is None:
            return []  # another controller fired it
        for firing in firings:
            if firing.state is FiringState.RUNNING:
                self._launch(schedule, firing)
            logger.info("Schedule %r: %s (%s).", schedule.name, firing.state.value, firing.reason)
        return firings

    def _cron_claim(self, schedule: Schedule, now: datetime) -> FiringClaim | None:
        due = schedule.next_fire_at
        if due is None or due > now or schedule.cron is None:
            return None
        cron = parse_cron(schedule.cron, schedule.timezone)
        busy = self._busy(schedule.name)
        if schedule.catchup is Catchup.ALL:
            if busy:
                return None  # the next time waits for the running one
            firing = _draft(FiringState.RUNNING, _when(due, now, self.grace), scheduled_for=due)
            return _move(schedule, cron.next_after(due), firing)
        times, count = _due_times(cron, due, now)
        newest = times[-1]
        on_time = now - newest <= self.grace
        fires = on_time or schedule.catchup is Catchup.LATEST
        missed = count - 1 if fires else count
        drafts = []
        if missed:
            last_missed = times[-2] if fires else newest
            drafts.append(_missed(schedule, due, last_missed, missed, count > _EXACT_COUNT))
        if fires and busy:
            reason = f"{_stamp(newest)}: the previous firing was still running"
            drafts.append(_draft(FiringState.SKIPPED, reason, scheduled_for=newest))
        elif fires:
            reason = _when(newest, now, self.grace)
            drafts.append(_draft(FiringState.RUNNING, reason, scheduled_for=newest))
        return _move(schedule, cron.next_after(now), *drafts)

    def _dataset_claim(self, schedule: Schedule) -> FiringClaim | None:
        assert schedule.dataset is not None  # a dataset schedule always names one
        seen = schedule.seen_version or 0
        try:
            newest = self.stores.datasets.latest_version(schedule.dataset).version
        except NotFound:
            return None  # the dataset is gone; nothing can fire until it returns
        if newest <= seen or self._busy(schedule.name):
            return None
        version = seen + 1 if schedule.catchup is Catchup.ALL else newest
        reason = f"dataset {schedule.dataset} got version {version}"
        if version < newest:
            reason += f" ({newest - version} newer waiting)"
        elif version - seen > 1:
            reason += f" (after versions {seen + 1}-{version - 1}, not run on their own)"
        firing = _draft(FiringState.RUNNING, reason, dataset_version=version)
        return FiringClaim(schedule.name, None, seen, None, version, (firing,))

    def _busy(self, name: str) -> bool:
        running = self.stores.schedules.list_firings(name, FiringState.RUNNING, limit=1)
        return bool(running)

    # -- processes -----------------------------------------------------------------------

    def _launch(self, schedule: Schedule, firing: Firing) -> None:
        log = self.settings.home / "logs" / "firings" / f"{firing.id}.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as out:
                process = _start(schedule, firing, self.settings, out)
        except OSError as exc:
            error = f"Could not start the pipeline process: {exc}"
            self.stores.schedules.update_firing(
                firing.id, FiringUpdate(state=FiringState.FAILED, error=error)
            )
            return
        self.children[firing.id] = _Child(process, log)
        self.stores.schedules.update_firing(
            firing.id, FiringUpdate(host=self.host, pid=process.pid)
        )

    def _reap(self) -> None:
        for firing_id, child in list(self.children.items()):
            code = child.process.poll()
            if code is None:
                continue
            del self.children[firing_id]
            try:
                state = self.stores.schedules.get_firing(firing_id).state
            except NotFound:
                continue  # deleted with its schedule
            if state is FiringState.RUNNING:
                error = (
                    f"The pipeline process exited with code {code} before recording a "
                    f"result; its output is in {child.log}."
                )
                self._fail(firing_id, error)

    def _fail_lost(self, now: datetime) -> None:
        """Fail the running firings of this host whose process is gone, and those that
        no process took up (a controller stopped between the claim and the start)."""
        for firing in self.stores.schedules.list_firings(state=FiringState.RUNNING, limit=1000):
            if firing.id in self.children:
                continue
            if firing.pid is None and now - firing.fired_at > _UNSTARTED_AFTER:
                self._fail(firing.id, "No process started this firing (its controller stopped).")
            elif firing.pid is not None and firing.host == self.host and not _alive(firing.pid):
                self._fail(firing.id, f"Its process ({firing.pid}) ended without a result.")

    def _fail(self, firing_id: str, error: str) -> None:
        try:
            self.stores.schedules.update_firing(
                firing_id, FiringUpdate(state=FiringState.FAILED, error=error)
            )
        except LoopmlError as exc:  # finished meanwhile, or deleted with its schedule
            logger.info("Firing %s not marked failed: %s", firing_id, exc)

    def _sleep(self) -> float:
        soonest = self.poll
        now = datetime.now(UTC)
        for schedule in self.stores.schedules.list_schedules():
            if schedule.enabled and schedule.next_fire_at is not None:
                soonest = min(soonest, (schedule.next_fire_at - now).total_seconds())
        return max(soonest, 0.05)


def _start(
    schedule: Schedule, firing: Firing, settings: Settings, out: IO[bytes]
) -> subprocess.Popen[bytes]:
    workdir = schedule.workdir if schedule.workdir and Path(schedule.workdir).is_dir() else None
    process = subprocess.Popen(
        [sys.executable, "-m", "loopml.pipelines._fire"],
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,  # Ctrl-C on the controller does not kill the run
    )
    assert process.stdin is not None
    with process.stdin:
        process.stdin.write(pickle.dumps((settings, firing.id)))
    return process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _due_times(cron: CronExpression, due: datetime, now: datetime) -> tuple[list[datetime], int]:
    """The last two cron times in ``[due, now]`` (``due`` itself is one) and how many
    there are (``_EXACT_COUNT + 1`` standing for "more")."""
    times = [due, *cron.times_between(due, now, limit=_EXACT_COUNT)]
    if len(times) <= _EXACT_COUNT:
        return times[-2:], len(times)
    for window in (timedelta(hours=2), timedelta(days=2), timedelta(days=63), timedelta(days=800)):
        recent = list(cron.times_between(max(due, now - window), now))
        if len(recent) >= 2:
            return recent[-2:], _EXACT_COUNT + 1
    return times[-2:], _EXACT_COUNT + 1


def _missed(
    schedule: Schedule, first: datetime, last: datetime, count: int, more: bool
) -> FiringDraft:
    times = f"{count:,}" + (" or more" if more else "")
    span = _stamp(first) if count == 1 else f"{_stamp(first)} to {_stamp(last)}"
    reason = f"missed {times} time(s), {span}, while no controller fired it"
    reason += f" (catch-up: {schedule.catchup.value})"
    return _draft(FiringState.MISSED, reason, scheduled_for=first)


def _when(time: datetime, now: datetime, grace: timedelta) -> str:
    late = now - time
    if late <= grace:
        return f"cron time {_stamp(time)}"
    return f"cron time {_stamp(time)}, fired {int(late.total_seconds())} s late"


def _stamp(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _draft(state: FiringState, reason: str, **fields: object) -> FiringDraft:
    return FiringDraft(uuid.uuid4().hex, state, reason, **fields)  # type: ignore[arg-type]


def _move(schedule: Schedule, next_fire_at: datetime, *drafts: FiringDraft) -> FiringClaim:
    return FiringClaim(schedule.name, schedule.next_fire_at, None, next_fire_at, None, drafts)
