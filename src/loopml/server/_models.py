"""Routes of the model registry: parse, call the ModelStore or AliasStore port, render.

Routes are plain ``def`` functions, run in FastAPI's thread pool like those of runs.
A version number in a path is an integer (anything else is 422 naming the parameter);
names and aliases are checked by the store, which words the error.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from loopml.domain import ApprovalStatus
from loopml.server._deps import StoresDep, reply
from loopml.store.rest.registry_schemas import (
    AliasHistoryBody,
    AliasMoveBody,
    AliasMoveRequest,
    ApprovalBody,
    ApprovalCreate,
    ApprovalDecision,
    ApprovalList,
    ModelCreate,
    ModelList,
    ModelUpdateBody,
    RegisteredModelBody,
    VersionBody,
    VersionDraftBody,
    VersionList,
    VersionUpdateBody,
)

__all__ = ["approvals_router", "router"]

router = APIRouter(tags=["models"])
approvals_router = APIRouter(tags=["approvals"])


@router.post("/models", status_code=201, response_model=RegisteredModelBody)
def create_model(body: ModelCreate, stores: StoresDep) -> Response:
    """Register a model name; 409 when it is taken, 400 for a malformed name."""
    model = stores.models.create_model(body.name, body.description, tuple(body.protected_aliases))
    return reply(RegisteredModelBody.from_domain(model), 201)


@router.get("/models", response_model=ModelList)
def list_models(stores: StoresDep) -> Response:
    """Every registered model, by name."""
    return reply(ModelList.from_domain(stores.models.list_models()))


@router.get("/models/{name}", response_model=RegisteredModelBody)
def get_model(name: str, stores: StoresDep) -> Response:
    """The model with its tags, aliases and latest version; 404 when there is none."""
    return reply(RegisteredModelBody.from_domain(stores.models.get_model(name)))


@router.patch("/models/{name}", response_model=RegisteredModelBody)
def update_model(name: str, body: ModelUpdateBody, stores: StoresDep) -> Response:
    """Change a model's description, tags (``null`` deletes one) or protected aliases."""
    model = stores.models.update_model(name, body.to_domain())
    return reply(RegisteredModelBody.from_domain(model))


@router.post("/models/{name}/versions", status_code=201, response_model=VersionBody)
def create_version(name: str, body: VersionDraftBody, stores: StoresDep) -> Response:
    """Register the next version, creating the model if it is new; 404 when the run or
    a parent version does not exist."""
    version = stores.models.create_version(body.to_domain(name))
    return reply(VersionBody.from_domain(version), 201)


@router.get("/models/{name}/versions", response_model=VersionList)
def list_versions(name: str, stores: StoresDep) -> Response:
    """Every version of the model, newest first; 404 when the model does not exist."""
    return reply(VersionList.from_domain(stores.models.list_versions(name)))


@router.get("/models/{name}/versions/{version}", response_model=VersionBody)
def get_version(name: str, version: int, stores: StoresDep) -> Response:
    """One version with its tags, aliases and parents; 404 when there is none."""
    return reply(VersionBody.from_domain(stores.models.get_version(name, version)))


@router.get("/models/{name}/versions/{version}/lineage")
def get_lineage(name: str, version: int, stores: StoresDep, depth: int = 10) -> JSONResponse:
    """Where a version came from, as a graph: ``{"root", "nodes", "edges"}`` with its
    run, code commit, dataset versions, parent versions and alias promotions."""
    from loopml.registry._lineage import build_lineage, lineage_to_dict

    root = stores.models.get_version(name, version)
    graph = build_lineage(stores.models, stores.aliases, stores.runs, root, depth)
    return JSONResponse(lineage_to_dict(graph))


@router.patch("/models/{name}/versions/{version}", response_model=VersionBody)
def update_version(name: str, version: int, body: VersionUpdateBody, stores: StoresDep) -> Response:
    """Change a version's description, tags or status; 409 when archiving a version an
    alias points at."""
    updated = stores.models.update_version(name, version, body.to_domain())
    return reply(VersionBody.from_domain(updated))


@router.delete("/models/{name}/versions/{version}", status_code=204)
def delete_version(name: str, version: int, stores: StoresDep) -> Response:
    """Delete a version's record (its number stays taken); 409 when an alias or a
    pending approval refers to it."""
    stores.models.delete_version(name, version)
    return Response(status_code=204)


@router.put("/models/{name}/aliases/{alias}", response_model=AliasMoveBody)
def move_alias(name: str, alias: str, body: AliasMoveRequest, stores: StoresDep) -> Response:
    """Point the alias at ``to_version`` (``null`` removes it) and record the move; 409
    when ``expected_from`` is given and differs, 403 when the alias is protected."""
    move = stores.aliases.move_alias(
        name, alias, body.to_version, expected_from=body.expected(), reason=body.reason
    )
    return reply(AliasMoveBody.from_domain(move))


@router.get("/models/{name}/aliases:history", response_model=AliasHistoryBody)
def alias_history(name: str, stores: StoresDep, alias: str | None = None) -> Response:
    """Every move of ``alias`` (or of all the model's aliases), oldest first."""
    return reply(AliasHistoryBody.from_domain(stores.aliases.alias_history(name, alias)))


@approvals_router.post("/approvals", status_code=201, response_model=ApprovalBody)
def request_approval(body: ApprovalCreate, stores: StoresDep) -> Response:
    """Ask for a protected alias to move to a version; 409 when the same move is
    pending already or the version is archived."""
    request = stores.aliases.request_approval(
        body.id, body.name, body.alias, body.version, body.comment
    )
    return reply(ApprovalBody.from_domain(request), 201)


@approvals_router.get("/approvals", response_model=ApprovalList)
def list_approvals(
    stores: StoresDep, name: str | None = None, status: ApprovalStatus | None = None
) -> Response:
    """Approval requests, newest first, of one model and/or in one state."""
    return reply(ApprovalList.from_domain(stores.aliases.list_approvals(name, status)))


@approvals_router.post("/approvals/{request_id}:decide", response_model=ApprovalBody)
def decide_approval(request_id: str, body: ApprovalDecision, stores: StoresDep) -> Response:
    """Approve (moving the alias in the same transaction) or reject a pending request;
    409 when it is decided already."""
    decided = stores.aliases.decide_approval(request_id, approve=body.approve, comment=body.comment)
    return reply(ApprovalBody.from_domain(decided))
