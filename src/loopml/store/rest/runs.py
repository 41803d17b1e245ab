"""The RunStore port over HTTP, to a loopml server."""

from __future__ import annotations

from datetime import datetime

from loopml.domain import Artifact, Metric, Run, RunPage, RunQuery, RunStatus, RunUpdate
from loopml.store.rest._http import HttpTransport, segment
from loopml.store.rest.schemas import (
    ArtifactList,
    EndRunRequest,
    FailStaleRequest,
    HeartbeatRequest,
    MetricColumns,
    RunBody,
    RunIdList,
    RunningRunList,
    RunPageBody,
    RunQueryBody,
    RunUpdateBody,
)

__all__ = ["RestRunStore"]


class RestRunStore:
    """Runs kept by a loopml server; errors are those of the server's store.

    A batch (:meth:`log_run_data`) is one request, applied by the server in one
    transaction. It is repeated after a dropped connection only when it carries a
    ``batch_id``: the server applies a batch id once, so nothing is stored twice.

    Args:
        transport: the connection to the server, shared with the other REST adapters.
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestRunStore({self._http.base_uri!r})"

    def create_run(self, run: Run) -> Run:
        """Store a new run. Raises AlreadyExists, NotFound (experiment or parent)."""
        body = RunBody.from_domain(run)
        return self._http.call_model(RunBody, "POST", "/runs", body=body).to_domain()

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags. Raises NotFound."""
        path = f"/runs/{segment(run_id)}"
        return self._http.call_model(RunBody, "GET", path, idempotent=True).to_domain()

    def log_run_data(self, run_id: str, update: RunUpdate) -> None:
        """Apply one batch atomically. Raises NotFound, Conflict, InvalidInput."""
        body = RunUpdateBody.from_domain(update)
        path = f"/runs/{segment(run_id)}/batch"
        self._http.call("POST", path, body=body, idempotent=update.batch_id is not None)

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime) -> Run:
        """End a running run. Raises NotFound, Conflict (ended), InvalidInput (RUNNING)."""
        body = EndRunRequest.of(status, end_time)
        path = f"/runs/{segment(run_id)}/end"
        return self._http.call_model(RunBody, "POST", path, body=body).to_domain()

    def heartbeat(self, run_ids: list[str], at: datetime) -> None:
        """Record that the processes owning these running runs are alive."""
        if run_ids:
            body = HeartbeatRequest.of(run_ids, at)
            self._http.call("POST", "/runs:heartbeat", body=body, idempotent=True)

    def list_running_on(self, host: str) -> list[tuple[str, int]]:
        """``(run_id, pid)`` of the running runs started on ``host``."""
        reply = self._http.call_model(
            RunningRunList, "GET", "/runs:running", params={"host": host}, idempotent=True
        )
        return reply.to_domain()

    def fail_stale_runs(self, heartbeat_before: datetime, run_ids: list[str]) -> list[str]:
        """Fail the running runs that stopped beating or whose process died; their ids."""
        body = FailStaleRequest.of(heartbeat_before, run_ids)
        return self._http.call_model(RunIdList, "POST", "/runs:fail-stale", body=body).run_ids

    def search_runs(self, query: RunQuery) -> RunPage:
        """Runs matching the query. Raises InvalidInput for a malformed filter or order."""
        body = RunQueryBody.from_domain(query)
        reply = self._http.call_model(
            RunPageBody, "POST", "/runs:search", body=body, idempotent=True
        )
        return reply.to_domain()

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of a metric, by step then time. Raises NotFound (run)."""
        path = f"/runs/{segment(run_id)}/metric-history"
        reply = self._http.call_model(
            MetricColumns, "GET", path, params={"key": key}, idempotent=True
        )
        return reply.to_domain()

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path starts with ``prefix``, sorted by path."""
        path = f"/runs/{segment(run_id)}/artifacts"
        reply = self._http.call_model(
            ArtifactList, "GET", path, params={"prefix": prefix}, idempotent=True
        )
        return reply.to_domain()
