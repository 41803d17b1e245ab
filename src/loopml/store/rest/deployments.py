"""The DeploymentStore port over HTTP, to a loopml server."""

from __future__ import annotations

from loopml.domain.deployments import (
    Deployment,
    DeploymentDraft,
    PolicyChange,
    TrafficPolicy,
    check_deployment_draft,
    check_expected_revision,
    check_note,
    check_policy,
)
from loopml.domain.names import check_deployment_name
from loopml.store.rest._http import HttpTransport
from loopml.store.rest.deployment_schemas import (
    DeploymentBody,
    DeploymentDraftBody,
    DeploymentList,
    PolicyBody,
    PolicyHistory,
    PolicyUpdateBody,
    RollbackBody,
)
from loopml.store.rest.models import path_segment

__all__ = ["RestDeploymentStore", "deployment_path"]


def deployment_path(name: str) -> str:
    """The route of the deployment ``name``. Raises InvalidInput when ``name`` cannot be
    a path segment (see :func:`~loopml.store.rest.models.path_segment`)."""
    return f"/deployments/{path_segment(name, check_deployment_name)}"


class RestDeploymentStore:
    """Deployments and their policy history kept by a loopml server; errors are those of
    the server's store. Drafts, policies, revisions and reasons are checked here first,
    by the same checks and with the same messages as the store's.

    Reads are retried after a dropped connection, and so is an update without
    ``expected_revision``: the same policy twice is no change. Creating, deleting and
    rolling back are not, nor is an update with ``expected_revision``: a repeat that went
    through would be refused (AlreadyExists, NotFound, Conflict) or roll back twice.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestDeploymentStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.rollback("churn-api", reason="error rate up").revision
        4
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestDeploymentStore({self._http.base_uri!r})"

    def create_deployment(self, draft: DeploymentDraft, *, reason: str = "") -> Deployment:
        """Store a new deployment at revision 1. Raises AlreadyExists, InvalidInput."""
        draft = check_deployment_draft(draft)
        body = DeploymentDraftBody.from_domain(draft, check_note("reason", reason))
        reply = self._http.call_model(DeploymentBody, "POST", "/deployments", body=body)
        return reply.to_domain()

    def get_deployment(self, name: str) -> Deployment:
        """One deployment. Raises NotFound."""
        path = deployment_path(name)
        return self._http.call_model(DeploymentBody, "GET", path, idempotent=True).to_domain()

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        reply = self._http.call_model(DeploymentList, "GET", "/deployments", idempotent=True)
        return reply.to_domain()

    def update_policy(
        self,
        name: str,
        policy: TrafficPolicy,
        *,
        expected_revision: int | None = None,
        reason: str = "",
    ) -> Deployment:
        """Put ``policy`` in force as the next revision. Raises NotFound, Conflict
        (``expected_revision`` differs), InvalidInput."""
        path = f"{deployment_path(name)}/policy"
        body = PolicyUpdateBody.model_construct(
            policy=PolicyBody.from_domain(check_policy(policy)),
            expected_revision=check_expected_revision(expected_revision),
            reason=check_note("reason", reason),
        )
        idempotent = expected_revision is None
        reply = self._http.call_model(DeploymentBody, "PUT", path, body=body, idempotent=idempotent)
        return reply.to_domain()

    def rollback(self, name: str, *, reason: str = "") -> Deployment:
        """Put back the policy in force before the current one. Raises NotFound,
        Conflict (nothing to roll back to)."""
        path = f"{deployment_path(name)}/rollback"
        body = RollbackBody.model_construct(reason=check_note("reason", reason))
        return self._http.call_model(DeploymentBody, "POST", path, body=body).to_domain()

    def policy_history(self, name: str) -> list[PolicyChange]:
        """Every revision of the deployment's policy, newest first. Raises NotFound."""
        path = f"{deployment_path(name)}/history"
        return self._http.call_model(PolicyHistory, "GET", path, idempotent=True).to_domain()

    def delete_deployment(self, name: str) -> None:
        """Delete a deployment and its history. Raises NotFound."""
        self._http.call("DELETE", deployment_path(name))
