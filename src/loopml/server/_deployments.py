"""Routes of deployments and their policy history: parse, call the DeploymentStore port,
render.

Routes are plain ``def`` functions, run in FastAPI's thread pool like those of
schedules. Below ``/deployments/{name}`` only literal paths follow the name, so no
name is shadowed by a route. Names, policies, revisions and reasons are checked by the
store (a policy by the domain when its body is read), which words the error.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.server._deps import StoresDep, reply
from loopml.store.rest.deployment_schemas import (
    DeploymentBody,
    DeploymentDraftBody,
    DeploymentList,
    PolicyHistory,
    PolicyUpdateBody,
    RollbackBody,
)

__all__ = ["router"]

router = APIRouter(tags=["deployments"])


@router.post("/deployments", status_code=201, response_model=DeploymentBody)
def create_deployment(body: DeploymentDraftBody, stores: StoresDep) -> Response:
    """Store a new deployment at revision 1; 409 when the name is taken, 400 for a
    malformed name, model name, policy or description."""
    made = stores.deployments.create_deployment(body.to_domain(), reason=body.reason)
    return reply(DeploymentBody.from_domain(made), 201)


@router.get("/deployments", response_model=DeploymentList)
def list_deployments(stores: StoresDep) -> Response:
    """Every deployment, by name."""
    return reply(DeploymentList.from_domain(stores.deployments.list_deployments()))


@router.get("/deployments/{name}", response_model=DeploymentBody)
def get_deployment(name: str, stores: StoresDep) -> Response:
    """One deployment; 404 when there is none."""
    return reply(DeploymentBody.from_domain(stores.deployments.get_deployment(name)))


@router.delete("/deployments/{name}", status_code=204)
def delete_deployment(name: str, stores: StoresDep) -> Response:
    """Delete a deployment and its history; 404 when there is none."""
    stores.deployments.delete_deployment(name)
    return Response(status_code=204)


@router.put("/deployments/{name}/policy", response_model=DeploymentBody)
def update_policy(name: str, body: PolicyUpdateBody, stores: StoresDep) -> Response:
    """Put a policy in force as the next revision (the same policy again changes
    nothing); 409 when the deployment is not at ``expected_revision``."""
    updated = stores.deployments.update_policy(
        name, body.policy.to_domain(), expected_revision=body.expected_revision, reason=body.reason
    )
    return reply(DeploymentBody.from_domain(updated))


@router.post("/deployments/{name}/rollback", response_model=DeploymentBody)
def rollback(name: str, body: RollbackBody, stores: StoresDep) -> Response:
    """Put back the policy in force before the current one, as the next revision; 409
    when there is nothing to roll back to."""
    return reply(DeploymentBody.from_domain(stores.deployments.rollback(name, reason=body.reason)))


@router.get("/deployments/{name}/history", response_model=PolicyHistory)
def policy_history(name: str, stores: StoresDep) -> Response:
    """Every revision of the deployment's policy, newest first; 404 when there is none."""
    return reply(PolicyHistory.from_domain(stores.deployments.policy_history(name)))
