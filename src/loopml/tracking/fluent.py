"""The fluent tracking API: module functions over one default client and an active run.

::

    with loopml.start_run(experiment="churn", name="rf-baseline") as run:
        loopml.log_params({"model": "rf", "depth": 8})
        loopml.log_metric("loss", 0.31, step=3)

An exception inside the ``with`` block ends the run as failed (``KeyboardInterrupt``:
killed) and keeps what was logged. A run left open ends as finished at interpreter
exit, after its queued metrics are written.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from loopml.domain import Artifact, Metric, Run, RunStatus
from loopml.errors import Conflict, LoopmlError
from loopml.tracking.client import DEFAULT_EXPERIMENT, Client

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ActiveRun",
    "active_run",
    "default_client",
    "end_run",
    "get_metric_history",
    "get_run",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_runs",
    "set_default_client",
    "set_tag",
    "set_tags",
    "start_run",
]


class ActiveRun:
    """A run started by :func:`start_run`; a context manager that ends it."""

    def __init__(self, run: Run, client: Client) -> None:
        self.run = run
        self.client = client

    @property
    def id(self) -> str:
        """The run id."""
        return self.run.id

    @property
    def name(self) -> str:
        """The run name."""
        return self.run.name

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _state.end(self, status)


class _FluentState:
    """The default client and the stack of active runs of this process."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.stack: list[ActiveRun] = []
        self.lock = threading.RLock()
        self.pid = os.getpid()

    def get_client(self) -> Client:
        with self.lock:
            if self.client is None or self.pid != os.getpid():
                # After fork the parent's connections and thread are not ours to use.
                self.client, self.stack, self.pid = Client(), [], os.getpid()
            return self.client

    def end(self, active: ActiveRun, status: RunStatus) -> None:
        with self.lock:
            if active in self.stack:
                self.stack.remove(active)
        active.client.end_run(active.id, status)

    def end_all(self) -> None:
        with self.lock:
            stack, self.stack = self.stack[::-1], []
        status = _exit_status()
        for active in stack:
            # At exit there is nobody left to tell; the store stays consistent either way.
            with contextlib.suppress(LoopmlError):
                active.client.end_run(active.id, status)
        if self.client is not None:
            self.client.close()


def _exit_status() -> RunStatus:
    # The interpreter sets sys.last_value when an uncaught exception ends the program.
    error = getattr(sys, "last_value", None)
    if error is None:
        return RunStatus.FINISHED
    return RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED


_state = _FluentState()
atexit.register(_state.end_all)


def default_client() -> Client:
    """The client the fluent functions use (settings from the environment)."""
    return _state.get_client()


def set_default_client(client: Client | None) -> None:
    """Make ``client`` the one the fluent functions use; None goes back to the default."""
    with _state.lock:
        _state.client, _state.stack = client, []


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    run_id: str | None = None,
    nested: bool = False,
    tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    """Start a run (or attach to a running one with ``run_id``) and make it active.

    Args:
        experiment: experiment name, created if missing (default ``"Default"``).
        name: run name; generated when not given.
        run_id: continue logging to this running run instead of starting one.
        nested: start a child run of the active run.
        tags: tags to set at the start.

    Raises:
        Conflict: a run is active already and ``nested`` is not set, or ``run_id`` ended.
    """
    client = _state.get_client()
    with _state.lock:
        parent = _state.stack[-1] if _state.stack else None
        if parent is not None and not nested:
            raise Conflict(
                f"Run {parent.id!r} is active; end it first, or pass nested=True to start "
                "a child run."
            )
    if run_id is not None:
        run = client.get_run(run_id)
        if not run.is_running:
            raise Conflict(f"Run {run_id!r} is {run.status.value}; start a new run instead.")
    else:
        run = client.create_run(
            experiment or DEFAULT_EXPERIMENT,
            name=name,
            parent_id=parent.id if parent else None,
            tags=tags,
        )
    active = ActiveRun(run, client)
    with _state.lock:
        _state.stack.append(active)
    return active


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    with _state.lock:
        return _state.stack[-1] if _state.stack else None


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run (no-op when none is active)."""
    current = active_run()
    if current is not None:
        _state.end(current, RunStatus(status))


def _require_active() -> ActiveRun:
    current = active_run()
    if current is None:
        raise Conflict("No active run: call loopml.start_run() first.")
    return current


def log_param(key: str, value: Any) -> None:
    """Log one param of the active run."""
    log_params({key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Log params of the active run. Raises Conflict when one had another value."""
    current = _require_active()
    current.client.log_params(current.id, params)


def log_metric(key: str, value: float, step: int = 0, timestamp: datetime | None = None) -> None:
    """Log one metric value of the active run (batched in the background)."""
    current = _require_active()
    current.client.log_metric(current.id, key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int = 0) -> None:
    """Log several metric values of the active run at one step."""
    current = _require_active()
    current.client.log_metrics(current.id, metrics, step)


def set_tag(key: str, value: str) -> None:
    """Set one tag of the active run."""
    set_tags({key: value})


def set_tags(tags: Mapping[str, str]) -> None:
    """Set tags of the active run."""
    current = _require_active()
    current.client.set_tags(current.id, tags)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None
) -> list[Artifact]:
    """Store a file (or folder) as an artifact of the active run."""
    current = _require_active()
    return current.client.log_artifact(current.id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None
) -> list[Artifact]:
    """Store every file of a folder as artifacts of the active run."""
    return log_artifact(local_dir, artifact_path)


def get_run(run_id: str) -> Run:
    """The run with its params, latest metrics and tags."""
    return _state.get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every value of a metric: ``(step, value, timestamp)`` records by step."""
    return _state.get_client().get_metric_history(run_id, key)


def search_runs(
    experiments: str | Sequence[str] | None = None,
    filter: str = "",
    order_by: Sequence[str] = (),
    limit: int = 1000,
    page_token: str | None = None,
) -> pd.DataFrame:
    """Search runs; see :meth:`Client.search_runs`."""
    return _state.get_client().search_runs(experiments, filter, order_by, limit, page_token)
