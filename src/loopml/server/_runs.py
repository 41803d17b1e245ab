"""Routes of runs: parse, call the RunStore port, render.

Routes are plain ``def`` functions, so FastAPI runs them in its thread pool: many
clients write at once while the store serialises what must be serial.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.server._deps import StoresDep, reply
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

__all__ = ["router"]

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201, response_model=RunBody)
def create_run(body: RunBody, stores: StoresDep) -> Response:
    """Store a new run with the id the caller chose; 409 when it exists, 404 when its
    experiment or parent does not."""
    return reply(RunBody.from_domain(stores.runs.create_run(body.to_domain())), 201)


@router.post("/runs:search", response_model=RunPageBody)
def search_runs(body: RunQueryBody, stores: StoresDep) -> Response:
    """One page of the runs matching a filter; 400 pointing at a malformed token."""
    return reply(RunPageBody.from_domain(stores.runs.search_runs(body.to_domain())))


@router.post("/runs:heartbeat", status_code=204)
def heartbeat(body: HeartbeatRequest, stores: StoresDep) -> Response:
    """Record that the processes owning these running runs are alive."""
    stores.runs.heartbeat(body.run_ids, body.at)
    return Response(status_code=204)


@router.get("/runs:running", response_model=RunningRunList)
def list_running_on(host: str, stores: StoresDep) -> Response:
    """The running runs started on ``host``, with the process id of each."""
    return reply(RunningRunList.from_domain(stores.runs.list_running_on(host)))


@router.post("/runs:fail-stale", response_model=RunIdList)
def fail_stale_runs(body: FailStaleRequest, stores: StoresDep) -> Response:
    """Fail the running runs silent since ``heartbeat_before`` and those listed."""
    failed = stores.runs.fail_stale_runs(body.heartbeat_before, body.run_ids)
    return reply(RunIdList(run_ids=failed))


@router.get("/runs/{run_id}", response_model=RunBody)
def get_run(run_id: str, stores: StoresDep) -> Response:
    """The run with its params, latest metric values and tags; 404 when there is none."""
    return reply(RunBody.from_domain(stores.runs.get_run(run_id)))


@router.post("/runs/{run_id}/batch", status_code=204)
def log_run_data(run_id: str, body: RunUpdateBody, stores: StoresDep) -> Response:
    """Apply one batch of params, metrics, tags and artifacts whole or not at all;
    409 when the run has ended or a param would change, 400 for a bad key or value."""
    stores.runs.log_run_data(run_id, body.to_domain())
    return Response(status_code=204)


@router.post("/runs/{run_id}/end", response_model=RunBody)
def end_run(run_id: str, body: EndRunRequest, stores: StoresDep) -> Response:
    """End a running run; 409 when it has ended already."""
    return reply(RunBody.from_domain(stores.runs.end_run(run_id, body.status, body.end_time)))


@router.get("/runs/{run_id}/metric-history", response_model=MetricColumns)
def get_metric_history(run_id: str, key: str, stores: StoresDep) -> Response:
    """Every logged value of metric ``key``, by step then time, column-wise."""
    return reply(MetricColumns.from_domain(stores.runs.get_metric_history(run_id, key)))


@router.get("/runs/{run_id}/artifacts", response_model=ArtifactList)
def list_artifacts(run_id: str, stores: StoresDep, prefix: str = "") -> Response:
    """The run's artifacts whose path starts with ``prefix``, sorted by path."""
    return reply(ArtifactList.from_domain(stores.runs.list_artifacts(run_id, prefix)))
