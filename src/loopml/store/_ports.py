"""Ports of the metadata store: one Protocol per aggregate.

Adapters: ``loopml.store.sql`` (SQLite, PostgreSQL) and ``loopml.store.rest`` (a loopml
server over HTTP). Both pass the same contract suites in ``loopml.testing``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from loopml.domain import Artifact, Experiment, Metric, Run, RunPage, RunQuery, RunStatus, RunUpdate

__all__ = ["ExperimentStore", "RunStore"]


@runtime_checkable
class ExperimentStore(Protocol):
    """Experiments: named groups of runs."""

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment. Raises AlreadyExists when the name is taken."""
        ...

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id. Raises NotFound."""
        ...

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        ...

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        ...


@runtime_checkable
class RunStore(Protocol):
    """Runs and everything logged to them.

    ``log_run_data`` is the single write primitive for params, metrics, tags and
    artifacts: a batch is applied whole or not at all.
    """

    def create_run(self, run: Run) -> Run:
        """Store a new run (its id chosen by the caller). Raises AlreadyExists, NotFound
        (unknown experiment or parent)."""
        ...

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags. Raises NotFound."""
        ...

    def log_run_data(self, run_id: str, update: RunUpdate) -> None:
        """Apply one batch atomically.

        Raises:
            NotFound: no such run.
            Conflict: the run has ended, or a param already has a different value.
        """
        ...

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime) -> Run:
        """End a running run. Raises NotFound, Conflict (already ended), InvalidInput
        (status RUNNING)."""
        ...

    def heartbeat(self, run_ids: list[str], at: datetime) -> None:
        """Record that the processes owning these running runs are alive."""
        ...

    def list_running_on(self, host: str) -> list[tuple[str, int]]:
        """``(run_id, pid)`` of the running runs started on ``host``."""
        ...

    def fail_stale_runs(self, heartbeat_before: datetime, run_ids: list[str]) -> list[str]:
        """Mark as failed every running run whose heartbeat is older than
        ``heartbeat_before`` and the running runs among ``run_ids`` (whose process is
        known to be dead). Returns the ids it failed."""
        ...

    def search_runs(self, query: RunQuery) -> RunPage:
        """Runs matching the query's filter, ordered and paginated. Raises InvalidInput
        for a malformed filter or order."""
        ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of a metric, by step then time. Raises NotFound (run)."""
        ...

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path starts with ``prefix``, sorted by path."""
        ...
