"""Routes of pipeline schedules and their firings: parse, call the ScheduleStore port,
render.

Routes are plain ``def`` functions, run in FastAPI's thread pool like those of runs.
Firings live under ``/firings``, not ``/schedules/firings``, where ``GET`` would shadow
the schedule named ``firings``; below ``/schedules/{name}`` and ``/firings/{firing_id}``
there are no literal paths a parameter could capture. Names, ids, drafts and the
``limit`` are checked by the store, which words the error; an unknown ``state`` is 422
naming the parameter.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.domain.schedules import FiringState
from loopml.server._deps import StoresDep, reply
from loopml.store.rest.schedule_schemas import (
    EnabledBody,
    FiringBody,
    FiringClaimBody,
    FiringClaimReply,
    FiringList,
    FiringUpdateBody,
    ScheduleBody,
    ScheduleDraftBody,
    ScheduleList,
)

__all__ = ["router"]

router = APIRouter(tags=["schedules"])


@router.post("/schedules", status_code=201, response_model=ScheduleBody)
def create_schedule(body: ScheduleDraftBody, stores: StoresDep) -> Response:
    """Store a new, enabled schedule; 409 when the name is taken, 400 for a malformed
    name, cron expression, time zone or field."""
    schedule = stores.schedules.create_schedule(body.to_domain())
    return reply(ScheduleBody.from_domain(schedule), 201)


@router.get("/schedules", response_model=ScheduleList)
def list_schedules(stores: StoresDep) -> Response:
    """Every schedule, by name."""
    return reply(ScheduleList.from_domain(stores.schedules.list_schedules()))


@router.get("/schedules/{name}", response_model=ScheduleBody)
def get_schedule(name: str, stores: StoresDep) -> Response:
    """One schedule; 404 when there is none."""
    return reply(ScheduleBody.from_domain(stores.schedules.get_schedule(name)))


@router.put("/schedules/{name}/enabled", response_model=ScheduleBody)
def set_enabled(name: str, body: EnabledBody, stores: StoresDep) -> Response:
    """Pause (``false``) or resume (``true``) a schedule; a paused one is never claimed."""
    return reply(ScheduleBody.from_domain(stores.schedules.set_enabled(name, body.enabled)))


@router.delete("/schedules/{name}", status_code=204)
def delete_schedule(name: str, stores: StoresDep) -> Response:
    """Delete a schedule and its firings (the runs they started stay); 404 when there is
    none."""
    stores.schedules.delete_schedule(name)
    return Response(status_code=204)


@router.post("/schedules/{name}/claims", response_model=FiringClaimReply)
def claim_firing(name: str, body: FiringClaimBody, stores: StoresDep) -> Response:
    """Move the schedule's position and record the firings, if it is enabled and still
    at the expected position: ``{"firings": [...]}``; else ``{"firings": null}`` and
    nothing changes. 404 when there is no such schedule, 409 when a firing id is taken."""
    firings = stores.schedules.claim_firing(body.to_domain(name))
    return reply(FiringClaimReply.from_domain(firings))


@router.get("/firings", response_model=FiringList)
def list_firings(
    stores: StoresDep,
    schedule: str | None = None,
    state: FiringState | None = None,
    limit: int = 100,
) -> Response:
    """Firings, newest first, of one schedule and/or in one state (``limit`` 1-1000)."""
    return reply(FiringList.from_domain(stores.schedules.list_firings(schedule, state, limit)))


@router.get("/firings/{firing_id}", response_model=FiringBody)
def get_firing(firing_id: str, stores: StoresDep) -> Response:
    """One firing; 404 when there is none."""
    return reply(FiringBody.from_domain(stores.schedules.get_firing(firing_id)))


@router.patch("/firings/{firing_id}", response_model=FiringBody)
def update_firing(firing_id: str, body: FiringUpdateBody, stores: StoresDep) -> Response:
    """Change a firing (a field left ``null`` stays); a final state stamps
    ``finished_at``. 409 when the firing is over and the update changes its state."""
    updated = stores.schedules.update_firing(firing_id, body.to_domain())
    return reply(FiringBody.from_domain(updated))
