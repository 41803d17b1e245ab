"""The AliasStore port over HTTP, to a loopml server."""

from __future__ import annotations

from loopml.domain import AliasMove, ApprovalRequest, ApprovalStatus
from loopml.domain.names import check_alias
from loopml.domain.sentinel import NOT_GIVEN, NotGiven
from loopml.store.rest._http import HttpTransport, segment
from loopml.store.rest.models import model_path, path_segment
from loopml.store.rest.registry_schemas import (
    AliasHistoryBody,
    AliasMoveBody,
    AliasMoveRequest,
    ApprovalBody,
    ApprovalCreate,
    ApprovalDecision,
    ApprovalList,
)

__all__ = ["RestAliasStore"]


class RestAliasStore:
    """Aliases, their history and approvals kept by a loopml server; errors are those of
    the server's store.

    Only reads are retried after a dropped connection: a move, request or decision that
    went through would be refused the second time (a moved alias, a pending request, a
    decided one), hiding the success.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestAliasStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.move_alias("churn", "champion", 3, expected_from=2).seq
        4
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestAliasStore({self._http.base_uri!r})"

    def move_alias(
        self,
        name: str,
        alias: str,
        to_version: int | None,
        *,
        expected_from: int | NotGiven | None = NOT_GIVEN,
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at ``to_version`` (``None`` removes it); see the port.
        Raises NotFound, Conflict, PermissionDenied (a protected alias), InvalidInput."""
        body = AliasMoveRequest.of(to_version, expected_from, reason)
        path = f"{model_path(name)}/aliases/{path_segment(alias, check_alias)}"
        return self._http.call_model(AliasMoveBody, "PUT", path, body=body).to_domain()

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of one alias (or of all aliases of the model), oldest first.
        Raises NotFound (model)."""
        params = {} if alias is None else {"alias": alias}
        reply = self._http.call_model(
            AliasHistoryBody,
            "GET",
            f"{model_path(name)}/aliases:history",
            params=params,
            idempotent=True,
        )
        return reply.to_domain()

    def request_approval(
        self, request_id: str, name: str, alias: str, version: int, comment: str = ""
    ) -> ApprovalRequest:
        """Ask for ``alias`` to move to ``version``. Raises NotFound, Conflict."""
        body = ApprovalCreate.model_construct(
            id=request_id, name=name, alias=alias, version=version, comment=comment
        )
        return self._http.call_model(ApprovalBody, "POST", "/approvals", body=body).to_domain()

    def decide_approval(
        self, request_id: str, *, approve: bool, comment: str = ""
    ) -> ApprovalRequest:
        """Approve (moving the alias) or reject a pending request. Raises NotFound,
        Conflict (decided already, or the version was archived)."""
        body = ApprovalDecision.model_construct(approve=approve, comment=comment)
        path = f"/approvals/{segment(request_id)}:decide"
        return self._http.call_model(ApprovalBody, "POST", path, body=body).to_domain()

    def list_approvals(
        self, name: str | None = None, status: ApprovalStatus | None = None
    ) -> list[ApprovalRequest]:
        """Approval requests, newest first, of one model and/or in one state."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = name
        if status is not None:
            params["status"] = ApprovalStatus(status).value
        reply = self._http.call_model(
            ApprovalList, "GET", "/approvals", params=params, idempotent=True
        )
        return reply.to_domain()
