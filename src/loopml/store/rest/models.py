"""The ModelStore port over HTTP, to a loopml server."""

from __future__ import annotations

from collections.abc import Callable

from loopml.domain import ModelUpdate, ModelVersion, RegisteredModel, VersionDraft, VersionUpdate
from loopml.domain.names import check_model_name
from loopml.store.rest._http import HttpTransport, segment
from loopml.store.rest.registry_schemas import (
    ModelCreate,
    ModelList,
    ModelUpdateBody,
    RegisteredModelBody,
    VersionBody,
    VersionDraftBody,
    VersionList,
    VersionUpdateBody,
)

__all__ = ["RestModelStore", "model_path", "path_segment"]


def path_segment(value: str, check: Callable[[object], str]) -> str:
    """``value`` quoted as one path segment of a registry route.

    A value that cannot be a segment (empty, ``.``, ``..``, or holding a ``/``, which
    the server decodes before routing) would reach another route or none. No such value
    is a valid model name or alias, so ``check`` refuses it here with the message the
    server's store would give.

    Raises:
        InvalidInput: ``value`` cannot travel in a path.
    """
    if value in ("", ".", "..") or "/" in value:
        check(value)
    return segment(value)


def model_path(name: str) -> str:
    """The route of the registered model ``name``. Raises InvalidInput (see
    :func:`path_segment`)."""
    return f"/models/{path_segment(name, check_model_name)}"


class RestModelStore:
    """Registered models and versions kept by a loopml server; errors are those of the
    server's store.

    Reads are retried after a dropped connection, and so are the updates (setting the
    same description, tags or status twice leaves the same record). Creations and
    deletions are not: repeating one that went through would fail or number another
    version.

    Args:
        transport: the connection to the server, shared with the other REST adapters.

    Example:
        >>> store = RestModelStore(HttpTransport("http://127.0.0.1:8476"))
        >>> store.create_model("churn", protected_aliases=("champion",)).protected_aliases
        ('champion',)
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._http = transport

    def __repr__(self) -> str:
        return f"RestModelStore({self._http.base_uri!r})"

    def create_model(
        self, name: str, description: str = "", protected_aliases: tuple[str, ...] = ()
    ) -> RegisteredModel:
        """Register a model name. Raises AlreadyExists, InvalidInput (a bad name)."""
        # Built unchecked: the server validates every body, and its store words the errors.
        body = ModelCreate.model_construct(
            name=name, description=description, protected_aliases=list(protected_aliases)
        )
        reply = self._http.call_model(RegisteredModelBody, "POST", "/models", body=body)
        return reply.to_domain()

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version. Raises NotFound."""
        reply = self._http.call_model(RegisteredModelBody, "GET", model_path(name), idempotent=True)
        return reply.to_domain()

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        return self._http.call_model(ModelList, "GET", "/models", idempotent=True).to_domain()

    def update_model(self, name: str, update: ModelUpdate) -> RegisteredModel:
        """Change a model's description, tags or protected aliases. Raises NotFound."""
        body = ModelUpdateBody.from_domain(update)
        reply = self._http.call_model(
            RegisteredModelBody, "PATCH", model_path(name), body=body, idempotent=True
        )
        return reply.to_domain()

    def create_version(self, draft: VersionDraft) -> ModelVersion:
        """Register the next version of ``draft.name``, creating the model if it is new.
        Raises NotFound (run or parent version), InvalidInput."""
        body = VersionDraftBody.from_domain(draft)
        path = f"{model_path(draft.name)}/versions"
        return self._http.call_model(VersionBody, "POST", path, body=body).to_domain()

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version with its tags, aliases and parents. Raises NotFound."""
        path = _version_path(name, version)
        return self._http.call_model(VersionBody, "GET", path, idempotent=True).to_domain()

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first. Raises NotFound (model)."""
        path = f"{model_path(name)}/versions"
        return self._http.call_model(VersionList, "GET", path, idempotent=True).to_domain()

    def update_version(self, name: str, version: int, update: VersionUpdate) -> ModelVersion:
        """Change a version's description, tags or status. Raises NotFound, Conflict
        (archiving a version an alias points at)."""
        body = VersionUpdateBody.from_domain(update)
        path = _version_path(name, version)
        reply = self._http.call_model(VersionBody, "PATCH", path, body=body, idempotent=True)
        return reply.to_domain()

    def delete_version(self, name: str, version: int) -> None:
        """Delete a version's record. Raises NotFound, Conflict (an alias or a pending
        approval refers to it)."""
        self._http.call("DELETE", _version_path(name, version))


def _version_path(name: str, version: int) -> str:
    return f"{model_path(name)}/versions/{version}"
