"""The ScheduleStore port over HTTP, to a loopml server."""

from __future__ import annotations

from loopml.domain.names import check_firing_id, check_schedule_name
from loopml.domain.schedules import (
    Firing,
    FiringClaim,
    FiringState,
    FiringUpdate,
    Schedule,
    ScheduleDraft,
)
from loopml.errors import NotFound
from loopml.store.rest._http import HttpTransport, segment
from loopml.store.rest.models import path_segment
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
from loopml.store.rest.schemas import as_maybe_utc

__all__ = ["RestScheduleStore", "firing_path", "schedule_path"]


def schedule_path(name: str) -> str:
    """The route of the schedule ``name``. Raises InvalidInput when ``name`` cannot be a
    path segment (see :func:`~loopml.store.rest.models.path_segment`)."""
    return f"/schedules/{path_segment(name, check_schedule_name)}"


def firing_path(firing_id: str) -> str:
    """The route of the firing ``firing_id``. Raises InvalidInput (not a firing id)."""
    return f"/firings/{segment(check_firing_id(firing_id))}"


class RestScheduleStore:
    """Pipeline schedules and their firings kept by a loopml server; errors are those of
    the server's store.

    Reads are retried after a dropped connection, and so are pausing or resuming and
    updating a firing: the same change twice leaves the same record (a firing's final
    state is stamped once). Creating and deleting a schedule are not: a repeat that went
    through would be refused as AlreadyExists or NotFound, hiding the success.

    A claim is retried, because a claim that went through but whose answer was lost
    would leave a firing recorded as running that no controller runs. Its firing ids,
    chosen by the caller, tell a repeat from a lost race: when the server answers that
    the claim was lost, the store looks the first firing up, and if it exists on this
    schedule the claim was this caller's, and its firings are returned. (A claim always
    moves the position, so a repeat that went through is answered "lost", never
    AlreadyExists.) Firing ids must therefore be fresh, such as a uuid4 hex: a lost
    claim whose first id names an earlier firing of the same schedule, reason and
    time would be taken for a repeat.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestScheduleStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.set_enabled("nightly-training", False).enabled
        False
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestScheduleStore({self._http.base_uri!r})"

    def create_schedule(self, draft: ScheduleDraft) -> Schedule:
        """Store a new, enabled schedule. Raises AlreadyExists, InvalidInput."""
        body = ScheduleDraftBody.from_domain(draft)
        return self._http.call_model(ScheduleBody, "POST", "/schedules", body=body).to_domain()

    def get_schedule(self, name: str) -> Schedule:
        """One schedule. Raises NotFound."""
        path = schedule_path(name)
        return self._http.call_model(ScheduleBody, "GET", path, idempotent=True).to_domain()

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        reply = self._http.call_model(ScheduleList, "GET", "/schedules", idempotent=True)
        return reply.to_domain()

    def set_enabled(self, name: str, enabled: bool) -> Schedule:
        """Pause (``False``) or resume a schedule. Raises NotFound."""
        body = EnabledBody.model_construct(enabled=enabled)
        path = f"{schedule_path(name)}/enabled"
        reply = self._http.call_model(ScheduleBody, "PUT", path, body=body, idempotent=True)
        return reply.to_domain()

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule and its firings. Raises NotFound."""
        self._http.call("DELETE", schedule_path(name))

    def claim_firing(self, claim: FiringClaim) -> list[Firing] | None:
        """Move the schedule's position and record ``claim.firings``, if it is enabled
        and still at the expected position; else ``None``. See the port and the class
        docstring. Raises NotFound (schedule), AlreadyExists (a firing id)."""
        for draft in claim.firings:
            if draft.id:  # an empty id is the store's to refuse, in its words
                firing_path(draft.id)  # a firing that could never be read back is refused
        body = FiringClaimBody.from_domain(claim)
        path = f"{schedule_path(claim.schedule)}/claims"
        reply = self._http.call_model(FiringClaimReply, "POST", path, body=body, idempotent=True)
        firings = reply.to_domain()
        if firings is None and claim.firings:
            return self._claimed_already(claim)
        return firings

    def _claimed_already(self, claim: FiringClaim) -> list[Firing] | None:
        """The firings of ``claim`` if an earlier attempt of it went through, else None."""
        draft = claim.firings[0]
        try:
            first = self.get_firing(draft.id)
        except NotFound:
            return None
        is_repeat = (first.schedule, first.reason, first.dataset_version) == (
            claim.schedule,
            draft.reason,
            draft.dataset_version,
        ) and first.scheduled_for == as_maybe_utc(draft.scheduled_for)
        if not is_repeat:
            return None
        return [first, *(self.get_firing(other.id) for other in claim.firings[1:])]

    def update_firing(self, firing_id: str, update: FiringUpdate) -> Firing:
        """Change a firing (its run, state, error, process). Raises NotFound, Conflict
        (the firing is over and the update changes its state)."""
        body = FiringUpdateBody.from_domain(update)
        path = firing_path(firing_id)
        return self._http.call_model(
            FiringBody, "PATCH", path, body=body, idempotent=True
        ).to_domain()

    def get_firing(self, firing_id: str) -> Firing:
        """One firing. Raises NotFound."""
        path = firing_path(firing_id)
        return self._http.call_model(FiringBody, "GET", path, idempotent=True).to_domain()

    def list_firings(
        self, schedule: str | None = None, state: FiringState | None = None, limit: int = 100
    ) -> list[Firing]:
        """Firings, newest first, of one schedule and/or in one state (``limit`` 1-1000).
        Raises InvalidInput (limit)."""
        params = {"limit": str(limit)}
        if schedule is not None:
            params["schedule"] = schedule
        if state is not None:
            params["state"] = FiringState(state).value
        reply = self._http.call_model(FiringList, "GET", "/firings", params=params, idempotent=True)
        return reply.to_domain()
