"""Metrics batched in the background, so a tight training loop never waits on storage.

Values are queued in memory and written in one batch per run when the timer fires
(``tracking_flush_interval``), when the queue grows large, when a run ends, on
``flush()`` and at interpreter exit. A process killed with SIGKILL loses at most the
values of the last flush interval; everything else is never lost.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from loopml.domain import Metric, RunUpdate
from loopml.errors import LoopmlError, Unavailable
from loopml.store import RunStore

__all__ = ["MetricBuffer"]

_MAX_PENDING = 20_000


class MetricBuffer:
    """A queue of metric values per run, written by a daemon thread.

    The same thread beats the heart of the runs this process owns, so that a run whose
    process dies is recognised and marked failed.
    """

    def __init__(
        self,
        runs: RunStore,
        flush_interval: float,
        heartbeat_interval: float,
        owned_runs: Callable[[], list[str]],
    ) -> None:
        self._runs = runs
        self._interval = flush_interval
        self._heartbeat_interval = heartbeat_interval
        self._owned_runs = owned_runs
        self._pending: list[tuple[str, Metric]] = []
        # Batches the store was unreachable for, re-sent whole under the same id.
        self._unsent: list[tuple[str, RunUpdate]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._error: LoopmlError | None = None
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0

    def add(self, run_id: str, metric: Metric) -> None:
        """Queue one value; raises the error of a failed background write, once."""
        if self._error is not None:
            self._raise_pending_error()
        with self._lock:
            self._pending.append((run_id, metric))
            size = len(self._pending)
        if self._thread is None:
            self.start()
        if size >= _MAX_PENDING:
            self._wake.set()

    def flush(self, run_id: str | None = None) -> None:
        """Write every queued value now (``run_id`` is accepted for clarity; all runs are
        flushed, in order). Raises the error of a failed write."""
        with self._flush_lock:
            with self._lock:
                queued, self._pending = self._pending, []
            by_run: dict[str, list[Metric]] = {}
            for owner, metric in queued:
                by_run.setdefault(owner, []).append(metric)
            batches, self._unsent = self._unsent, []
            batches += [
                (owner, RunUpdate(metrics=values, batch_id=uuid.uuid4().hex))
                for owner, values in by_run.items()
            ]
            errors: list[LoopmlError] = []
            for owner, update in batches:
                try:
                    self._runs.log_run_data(owner, update)
                except Unavailable as exc:
                    # The store may come back. The batch id makes the re-send safe even
                    # if this one was applied and only the reply was lost.
                    self._unsent.append((owner, update))
                    errors.append(exc)
                except LoopmlError as exc:
                    errors.append(exc)
        if errors:
            raise errors[0]
        self._raise_pending_error()

    def close(self) -> None:
        """Flush and stop the background thread."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _raise_pending_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def start(self) -> None:
        """Start the background thread (idempotent): at a run's start, so that its heart
        beats even before it logs a metric."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._loop, name="loopml-metrics", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
                self._beat()
            except LoopmlError as exc:
                # Surfaced on the next add(), flush() or run end: never silently dropped.
                self._error = exc

    def _beat(self) -> None:
        now = datetime.now(UTC)
        if now.timestamp() - self._last_beat < self._heartbeat_interval:
            return
        self._last_beat = now.timestamp()
        owned = self._owned_runs()
        if owned:
            self._runs.heartbeat(owned, now)
