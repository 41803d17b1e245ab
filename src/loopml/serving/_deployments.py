"""Deployments as users see them: create one, change its traffic policy, roll it back.

A deployment serves one registered model under a traffic policy over its targets (an
alias, ``latest`` or a version number; see :mod:`loopml.domain.deployments`). Creating
or updating one checks first that every target names a version of the model *now*, so
a typo in an alias fails here, not in the serving app an hour later. Nothing is stored
when a check fails.

Example:
    >>> create_deployment("churn-api", "churn", {"champion": 90, "challenger": 10})
    >>> update_deployment("churn-api", routes=["champion=50", "challenger=50"])
    >>> rollback_deployment("churn-api", reason="challenger's latency")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.domain.deployments import (
    Deployment,
    DeploymentDraft,
    PolicyChange,
    Route,
    TrafficPolicy,
    check_expected_revision,
    check_note,
    parse_route,
)
from loopml.domain.names import check_deployment_name, check_model_name
from loopml.domain.sentinel import NOT_GIVEN, NotGiven
from loopml.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.domain import RegisteredModel
    from loopml.store import DeploymentStore
    from loopml.tracking import Client

__all__ = [
    "Routes",
    "create_deployment",
    "delete_deployment",
    "deployment_history",
    "get_deployment",
    "list_deployments",
    "resolve_deployment",
    "rollback_deployment",
    "traffic_policy",
    "update_deployment",
]

Routes = Mapping[Any, float] | Iterable[Route | str | tuple[Any, float]] | str
"""Routes as a ``{target: percent}`` mapping, ``Route``\\ s, ``(target, percent)`` pairs
or ``"target=percent"`` strings (a single string is one route)."""

_LATEST = "latest"
# How often an update that keeps parts of the policy re-reads it when another writer
# changed the deployment between its read and its write.
_MERGE_ATTEMPTS = 3


def create_deployment(
    name: str,
    model: str,
    routes: Routes,
    *,
    shadows: Iterable[str | int] | str = (),
    sticky_key: str | None = None,
    description: str = "",
    reason: str = "",
    client: Client | None = None,
) -> Deployment:
    """Serve the registered ``model`` as the deployment ``name`` under a traffic policy.

    Args:
        name: the deployment's name (``churn-api``).
        model: the registered model it serves.
        routes: the targets that answer and their share of traffic in percent, adding
            up to 100: ``{"champion": 90, "challenger": 10}``, ``["champion=90",
            "challenger=10"]`` or ``Route``\\ s.
        shadows: targets scored and logged on every request, never returned.
        sticky_key: a request field whose value pins each caller to one route.
        description: free text shown with the deployment.
        reason: why; kept in the deployment's history.
        client: the tracking client (default: the fluent API's).

    Returns:
        The stored deployment, at revision 1.

    Raises:
        InvalidInput: a malformed name or policy, or a target (alias, version) that
            names no version of the model now; the message lists its aliases and
            versions.
        NotFound: no registered model of that name.
        AlreadyExists: a deployment of that name exists.

    Example:
        >>> create_deployment("churn-api", "churn", {"champion": 100}, sticky_key="customer")
    """
    check_deployment_name(name)
    check_model_name(model)
    policy = traffic_policy(routes, shadows, sticky_key)
    check_note("description", description)
    check_note("reason", reason)
    client = _client(client)
    _check_targets(client, model, policy)
    draft = DeploymentDraft(name, model, policy, description)
    return client.stores.deployments.create_deployment(draft, reason=reason)


def update_deployment(
    name: str,
    *,
    routes: Routes | None = None,
    shadows: Iterable[str | int] | str | None = None,
    sticky_key: str | NotGiven | None = NOT_GIVEN,
    expected_revision: int | None = None,
    reason: str = "",
    client: Client | None = None,
) -> Deployment:
    """Put a changed traffic policy in force as the deployment's next revision.

    What is not given keeps its value in the policy in force.

    Args:
        name: the deployment.
        routes: the new routes (see :func:`create_deployment`); None keeps them.
        shadows: the new shadow targets (``()`` removes them all); None keeps them.
        sticky_key: the new sticky request field; None removes it; not given keeps it.
        expected_revision: the revision the caller read: the change is refused with
            Conflict when the deployment is at another one. When not given, the parts
            kept are those of the revision this call read, never a newer one's.
        reason: why; kept in the deployment's history.
        client: the tracking client (default: the fluent API's).

    Returns:
        The deployment at its new revision (as it was, when the policy is unchanged).

    Raises:
        InvalidInput: nothing to change, a malformed policy, or a target that names no
            version of the model now.
        NotFound: no such deployment.
        Conflict: the deployment is not at ``expected_revision``.

    Example:
        >>> update_deployment("churn-api", routes={"champion": 50, "challenger": 50})
        >>> update_deployment("churn-api", shadows=(), sticky_key=None)
    """
    check_deployment_name(name)
    if routes is None and shadows is None and sticky_key is NOT_GIVEN:
        raise InvalidInput(
            f"Nothing to change in deployment {name!r}: give new routes, shadows or a sticky key."
        )
    check_expected_revision(expected_revision)
    check_note("reason", reason)
    client = _client(client)
    store = client.stores.deployments
    for attempt in range(_MERGE_ATTEMPTS):
        current = store.get_deployment(name)
        if expected_revision is not None and current.revision != expected_revision:
            raise _stale(name, current.revision, expected_revision)
        kept = current.policy
        policy = traffic_policy(
            kept.routes if routes is None else routes,
            kept.shadows if shadows is None else shadows,
            kept.sticky_key if sticky_key is NOT_GIVEN else sticky_key,
        )
        _check_targets(client, current.model, policy)
        try:
            return store.update_policy(
                name, policy, expected_revision=current.revision, reason=reason
            )
        except Conflict:
            # Changed since it was read: the caller's expectation is stale, or the
            # parts kept are, and those are read again.
            if expected_revision is not None or attempt + 1 == _MERGE_ATTEMPTS:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def rollback_deployment(name: str, *, reason: str = "", client: Client | None = None) -> Deployment:
    """Put back the policy in force before the current one, as a new revision; rolling
    back twice undoes two changes.

    The targets of the restored policy are not checked against the registry: a
    rollback is the way back in a hurry and is never refused for an alias moved since.

    Raises:
        NotFound: no such deployment.
        Conflict: the current revision has nothing before it to return to.
    """
    check_note("reason", reason)
    return _store(client).rollback(name, reason=reason)


def get_deployment(name: str, client: Client | None = None) -> Deployment:
    """One deployment with the policy in force. Raises NotFound."""
    return _store(client).get_deployment(name)


def list_deployments(client: Client | None = None) -> list[Deployment]:
    """Every deployment, by name."""
    return _store(client).list_deployments()


def deployment_history(name: str, client: Client | None = None) -> list[PolicyChange]:
    """Every revision of a deployment's policy, newest first. Raises NotFound."""
    return _store(client).policy_history(name)


def delete_deployment(name: str, client: Client | None = None) -> None:
    """Delete a deployment and its history (the model and its versions stay).
    Raises NotFound."""
    _store(client).delete_deployment(name)


def resolve_deployment(name: str, client: Client | None = None) -> dict[str, int | None]:
    """Each target of the deployment's policy in force → the version it names now.

    Returns:
        Routes first, then shadows; None for a target that names no version now (an
        alias removed since, say): the serving app then keeps serving what it had.

    Raises:
        NotFound: no such deployment.
    """
    client = _client(client)
    deployment = client.stores.deployments.get_deployment(name)
    targets = deployment.policy.targets
    try:
        versions = _ModelTargets.read(client, deployment.model)
    except NotFound:  # the model was deleted since: nothing resolves
        return dict.fromkeys(targets)
    return {target: versions.resolve(target) for target in targets}


def traffic_policy(
    routes: Routes,
    shadows: Iterable[str | int] | str = (),
    sticky_key: str | None = None,
) -> TrafficPolicy:
    """The checked policy of routes given in any form :func:`create_deployment` takes.

    Raises:
        InvalidInput: what :meth:`TrafficPolicy.of` refuses, or a route text that is
            not ``TARGET=PERCENT``.
    """
    return TrafficPolicy.of(_route_items(routes), _shadow_items(shadows), sticky_key)


# -- checking targets against the registry ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _ModelTargets:
    """What the targets of a policy can name in one model: its aliases and versions."""

    model: RegisteredModel
    versions: tuple[int, ...]

    @classmethod
    def read(cls, client: Client, name: str) -> _ModelTargets:
        # Imported here: the registry pulls in the model packaging code, which listing
        # or deleting deployments never needs.
        from loopml.registry import ModelRegistry

        registry = ModelRegistry(client)
        model = registry.get_model(name)
        numbers = sorted(version.version for version in registry.list_versions(name))
        return cls(model, tuple(numbers))

    def resolve(self, target: str) -> int | None:
        """The version ``target`` names now, as the registry resolves it, or None."""
        if target.isdecimal():
            return int(target) if int(target) in self.versions else None
        if target == _LATEST:
            return self.model.latest_version
        return self.model.aliases.get(target)

    def refusal(self, missing: list[str]) -> InvalidInput:
        """The error for targets that name no version, listing what exists."""
        name = self.model.name
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(self.model.aliases.items()))
        return InvalidInput(
            f"Model {name!r} has no {' and no '.join(_missing(t) for t in missing)}; its "
            f"aliases: {aliases or 'none'}; its versions: {_ranges(self.versions)}. Route "
            f"to one of these, or point an alias first (loopml models alias set {name} "
            "ALIAS VERSION)."
        )


def _check_targets(client: Client, model: str, policy: TrafficPolicy) -> None:
    """Raise unless every target of ``policy`` names a version of ``model`` now."""
    targets = _ModelTargets.read(client, model)
    missing = [target for target in policy.targets if targets.resolve(target) is None]
    if missing:
        raise targets.refusal(missing)


def _missing(target: str) -> str:
    if target.isdecimal():
        return f"version {target}"
    if target == _LATEST:
        return "version that is not archived (for 'latest')"
    return f"alias {target!r}"


def _ranges(numbers: tuple[int, ...]) -> str:
    """``1-4, 7, 9-10``: version numbers, ascending, runs shortened."""
    if not numbers:
        return "none"
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


# -- parsing and plumbing --------------------------------------------------------------


def _route_items(routes: Routes) -> list[Any]:
    if isinstance(routes, Mapping):
        return list(routes.items())
    if isinstance(routes, str):
        return [parse_route(routes)]
    if not isinstance(routes, Iterable):
        raise InvalidInput(
            f"Routes must be a {{target: percent}} mapping or a list of routes "
            f"(e.g. ['champion=90', 'challenger=10']), got {routes!r}."
        )
    return [parse_route(item) if isinstance(item, str) else item for item in routes]


def _shadow_items(shadows: object) -> Any:
    if isinstance(shadows, str) or not isinstance(shadows, Iterable):
        return shadows  # a single target, or what TrafficPolicy.of refuses in its words
    return list(shadows)


def _stale(name: str, revision: int, expected: int) -> Conflict:
    return Conflict(
        f"Deployment {name!r} is at revision {revision}, not {expected} as expected: its "
        "policy was changed meanwhile. Read it again and retry."
    )


def _client(client: Client | None) -> Client:
    from loopml.tracking import default_client

    return client or default_client()


def _store(client: Client | None) -> DeploymentStore:
    return _client(client).stores.deployments
