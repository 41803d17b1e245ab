"""How ``loopml deploy`` shows deployments and their policy history, as Rich text and
as JSON (the field names of the REST API's deployment bodies)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from loopml.domain.deployments import Deployment, PolicyChange

__all__ = [
    "change_json",
    "deployment_json",
    "deployment_line",
    "deployment_lines",
    "deployments_table",
    "history_table",
]

_KIND_STYLE = {"create": "green", "update": "cyan", "rollback": "yellow"}


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _version(number: int | None) -> str:
    return "[red]resolves to no version[/]" if number is None else f"version {number}"


def deployment_line(deployment: Deployment) -> str:
    """One line: name, model, revision and policy."""
    return (
        f"Deployment [bold]{escape(deployment.name)}[/] of model {escape(deployment.model)} "
        f"at revision {deployment.revision}: {escape(deployment.policy.describe())}"
    )


def deployment_lines(deployment: Deployment, versions: Mapping[str, int | None]) -> list[str]:
    """What a deployment is, as ``key: value`` lines, with each target's version now."""
    policy = deployment.policy
    lines = [
        f"[bold]{escape(deployment.name)}[/] (revision {deployment.revision})",
        f"  model:     {escape(deployment.model)}",
    ]
    if deployment.description:
        lines.append(f"  about:     {escape(deployment.description)}")
    for route in policy.routes:
        share = f"{route.weight:.10g}%"
        lines.append(
            f"  route:     {escape(route.target)} {share} → {_version(versions.get(route.target))}"
        )
    for shadow in policy.shadows:
        lines.append(f"  shadow:    {escape(shadow)} → {_version(versions.get(shadow))}")
    lines.append(f"  sticky on: {escape(policy.sticky_key or '-')}")
    lines.append(f"  created:   {_when(deployment.created_at)}")
    lines.append(f"  updated:   {_when(deployment.updated_at)}")
    return lines


def deployments_table(deployments: Sequence[Deployment]) -> Table:
    """One line per deployment: model, policy, revision, last change."""
    table = Table(
        "name", "model", "policy", "revision", "updated", title=f"{len(deployments)} deployment(s)"
    )
    for deployment in deployments:
        table.add_row(
            escape(deployment.name),
            escape(deployment.model),
            escape(deployment.policy.describe()),
            str(deployment.revision),
            _when(deployment.updated_at),
        )
    return table


def history_table(changes: Sequence[PolicyChange], title: str = "History") -> Table:
    """The revisions, newest first: how each came about, its policy, who and why."""
    table = Table("revision", "change", "policy", "by", "when", "reason", title=title)
    for change in changes:
        kind = change.kind.value
        label = f"[{_KIND_STYLE.get(kind, '')}]{kind}[/]"
        if change.restores is not None:
            label += f" to {change.restores}"
        table.add_row(
            str(change.revision),
            label,
            escape(change.policy.describe()),
            escape(change.actor),
            _when(change.changed_at),
            escape(change.reason),
        )
    return table


def deployment_json(
    deployment: Deployment, versions: Mapping[str, int | None] | None = None
) -> dict[str, Any]:
    """A deployment as JSON values; with ``versions``, each target's version now."""
    body: dict[str, Any] = {
        "name": deployment.name,
        "model": deployment.model,
        "policy": deployment.policy.to_json(),
        "revision": deployment.revision,
        "description": deployment.description,
        "created_at": deployment.created_at.isoformat(),
        "updated_at": deployment.updated_at.isoformat(),
    }
    if versions is not None:
        body["versions"] = dict(versions)
    return body


def change_json(change: PolicyChange) -> dict[str, Any]:
    """One revision of a policy as JSON values."""
    return {
        "deployment": change.deployment,
        "revision": change.revision,
        "kind": change.kind.value,
        "policy": change.policy.to_json(),
        "previous": change.previous,
        "restores": change.restores,
        "actor": change.actor,
        "reason": change.reason,
        "changed_at": change.changed_at.isoformat(),
    }
