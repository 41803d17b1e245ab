"""Rich rendering of registry records: models, versions, alias moves, approvals, lineage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from loopml.cli._render import format_value
from loopml.domain import (
    AliasMove,
    ApprovalRequest,
    ApprovalStatus,
    LineageGraph,
    LineageNode,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)

__all__ = [
    "alias_history_table",
    "alias_move_line",
    "approval_line",
    "approvals_table",
    "lineage_tree",
    "model_detail",
    "models_table",
    "version_line",
    "versions_table",
]

_VERSION_STYLE = {VersionStatus.READY: "green", VersionStatus.ARCHIVED: "dim"}
_APPROVAL_STYLE = {
    ApprovalStatus.PENDING: "yellow",
    ApprovalStatus.APPROVED: "green",
    ApprovalStatus.REJECTED: "red",
}
# How many params or metrics a lineage run shows before summarising the rest.
_SUMMARY_KEYS = 6


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):  # lineage attributes carry ISO timestamps
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _version_number(number: int | None) -> str:
    return "-" if number is None else str(number)


def _aliases(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{alias}→{number}" for alias, number in sorted(aliases.items()))


def models_table(models: Sequence[RegisteredModel]) -> Table:
    """One row per registered model: name, latest version, aliases, description."""
    table = Table(title=f"{len(models)} model(s)", header_style="bold")
    table.add_column("name", no_wrap=True)
    for column in ("latest", "aliases", "description"):
        table.add_column(column, overflow="fold")
    for model in models:
        table.add_row(
            escape(model.name),
            _version_number(model.latest_version),
            _aliases(model.aliases),
            escape(model.description),
        )
    return table


def model_detail(model: RegisteredModel) -> Table:
    """The model's attributes as a two-column table."""
    about = Table(title=f"Model {escape(model.name)}", show_header=False)
    about.add_column(style="bold")
    about.add_column(overflow="fold")
    tags = ", ".join(f"{key}={value}" for key, value in sorted(model.tags.items()))
    for label, value in (
        ("description", model.description),
        ("latest version", _version_number(model.latest_version)),
        ("aliases", _aliases(model.aliases)),
        ("protected aliases", ", ".join(model.protected_aliases)),
        ("tags", tags),
        ("created", _when(model.created_at)),
        ("updated", _when(model.updated_at)),
    ):
        about.add_row(label, escape(value))
    return about


def _status(status: VersionStatus) -> str:
    return f"[{_VERSION_STYLE[status]}]{status.value}[/]"


def _who_when(who: str, moment: datetime | None) -> str:
    return f"{_when(moment)}\n{escape(who)}"


def versions_table(versions: Sequence[ModelVersion]) -> Table:
    """One row per version, newest first as given."""
    table = Table(title=f"{len(versions)} version(s)", header_style="bold")
    table.add_column("version", justify="right", no_wrap=True)
    for column in ("status", "flavor"):
        table.add_column(column, no_wrap=True)
    table.add_column("aliases", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("run", no_wrap=True)  # the id's first 12 characters; `models show` has it all
    table.add_column("description", overflow="fold", min_width=16)
    for version in versions:
        table.add_row(
            str(version.version),
            _status(version.status),
            version.flavor,
            ", ".join(version.aliases),
            _who_when(version.created_by, version.created_at),
            (version.run_id or "")[:12],
            escape(version.description),
        )
    return table


def version_line(version: ModelVersion) -> str:
    """One line saying what a version is now, after a change."""
    tags = ", ".join(f"{key}={value}" for key, value in sorted(version.tags.items()))
    parts = [f"[bold]{escape(version.ref)}[/] is {_status(version.status)}"]
    if version.description:
        parts.append(f"description: {escape(version.description)}")
    parts.append(f"tags: {escape(tags) or 'none'}")
    return "; ".join(parts) + "."


def alias_move_line(move: AliasMove) -> str:
    """One line for a move just made, e.g. ``Alias champion of churn: 2 → 3 (move 4).``"""
    change = f"{_version_number(move.from_version)} → {_version_number(move.to_version)}"
    return (
        f"Alias [bold]{move.alias}[/] of [bold]{escape(move.name)}[/]: {change} (move {move.seq})."
    )


def alias_history_table(moves: Sequence[AliasMove]) -> Table:
    """One row per alias move, oldest first as given."""
    table = Table(title=f"{len(moves)} alias move(s)", header_style="bold")
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("alias", no_wrap=True)
    table.add_column("from → to", no_wrap=True)
    table.add_column("when / who", no_wrap=True)
    table.add_column("reason", overflow="fold")
    table.add_column("approval", overflow="fold")
    for move in moves:
        table.add_row(
            str(move.seq),
            move.alias,
            f"{_version_number(move.from_version)} → {_version_number(move.to_version)}",
            _who_when(move.actor, move.at),
            escape(move.reason),
            move.approval_id or "",
        )
    return table


def approval_line(request: ApprovalRequest) -> str:
    """One line for a request just made or decided, with its id whole."""
    style = _APPROVAL_STYLE[request.status]
    move = f"move [bold]{request.alias}[/] of [bold]{escape(request.name)}[/] to version {request.version}"
    if request.status is ApprovalStatus.PENDING:
        return (
            f"Approval request {request.id} is [{style}]pending[/]: {move}. "
            f"An approver runs `loopml models approve {request.id}`."
        )
    return f"Approval request {request.id} is [{style}]{request.status.value}[/]: {move}."


def approvals_table(requests: Sequence[ApprovalRequest]) -> Table:
    """One row per approval request, newest first as given."""
    table = Table(title=f"{len(requests)} approval request(s)", header_style="bold")
    table.add_column("id", no_wrap=True)  # kept whole so it can be copied
    table.add_column("move", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("requested", overflow="fold")
    table.add_column("comment", overflow="fold")
    table.add_column("decided", overflow="fold")
    for request in requests:
        decided = ""
        if request.decided_by is not None:
            decided = _who_when(request.decided_by, request.decided_at)
            if request.decision_comment:
                decided += f": {escape(request.decision_comment)}"
        table.add_row(
            request.id,
            f"{escape(request.name)}@{request.alias} → {request.version}",
            f"[{_APPROVAL_STYLE[request.status]}]{request.status.value}[/]",
            _who_when(request.requested_by, request.requested_at),
            escape(request.comment),
            decided,
        )
    return table


# -- lineage ------------------------------------------------------------------------


def lineage_tree(graph: LineageGraph) -> Tree:
    """The lineage as a tree rooted at the version: what produced each node below it.

    A version shows its promotions and then its run and parent versions; a run shows a
    summary of its params and metrics, its commit and its datasets. A node reached twice
    is expanded once.
    """
    feeding: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for edge in graph.edges:
        feeding[edge.target].append((edge.relation, edge.source))
    nodes = {node.id: node for node in graph.nodes}
    tree = Tree(_node_label(nodes[graph.root]))
    _grow(tree, graph.root, nodes, feeding, {graph.root})
    return tree


def _grow(
    branch: Tree,
    node_id: str,
    nodes: Mapping[str, LineageNode],
    feeding: Mapping[str, list[tuple[str, str]]],
    seen: set[str],
) -> None:
    node = nodes[node_id]
    attributes: Mapping[str, Any] = node.attributes
    if node.kind == "model_version":
        for promotion in attributes.get("promotions", []):
            branch.add(_promotion_label(promotion))
    elif node.kind == "run":
        for kind in ("params", "metrics"):
            summary = _summary(attributes.get(kind) or {})
            if summary:
                branch.add(f"[dim]{kind}:[/] {escape(summary)}")
    for relation, source in feeding.get(node_id, []):
        if source not in nodes:  # beyond the depth walked
            branch.add(f"[dim]{relation}:[/] {escape(source)} [dim](not expanded)[/]")
            continue
        label = f"[dim]{relation}:[/] {_node_label(nodes[source])}"
        if source in seen:
            branch.add(f"{label} [dim](shown above)[/]")
            continue
        seen.add(source)
        _grow(branch.add(label), source, nodes, feeding, seen)


def _node_label(node: LineageNode) -> str:
    attributes: Mapping[str, Any] = node.attributes
    label = escape(node.label)
    if attributes.get("deleted"):
        return f"{node.kind.replace('_', ' ')} [bold]{label}[/] [red](deleted)[/]"
    if node.kind == "model_version":
        aliases = ", ".join(attributes.get("aliases", []))
        text = f"[bold]{label}[/] {attributes.get('flavor', '')} ({attributes.get('status', '')})"
        text += f" by {escape(str(attributes.get('created_by', '')))}"
        text += f" at {_when(attributes.get('created_at'))}"
        return text + (f" aliases: {aliases}" if aliases else "")
    if node.kind == "run":
        return (
            f"run [bold]{label}[/] ({attributes.get('id', '')}) {attributes.get('status', '')}, "
            f"started {_when(attributes.get('start_time'))}"
        )
    if node.kind == "commit":
        return f"commit [bold]{label}[/]" + (" (dirty)" if attributes.get("dirty") else "")
    if node.kind == "dataset_version":
        return f"dataset [bold]{label}[/]"
    return f"{node.kind} [bold]{label}[/]"


def _promotion_label(promotion: Mapping[str, Any]) -> str:
    text = (
        f"[cyan]promoted[/] to [bold]{promotion['alias']}[/] "
        f"(from {_version_number(promotion.get('from_version'))}) "
        f"by {escape(str(promotion['by']))} at {_when(promotion['at'])}"
    )
    if promotion.get("reason"):
        text += f": {escape(str(promotion['reason']))}"
    if promotion.get("approval_id"):
        text += f" [dim](approval {promotion['approval_id']})[/]"
    return text


def _summary(values: Mapping[str, Any]) -> str:
    keys = sorted(values)
    shown = ", ".join(f"{key}={format_value(values[key])}" for key in keys[:_SUMMARY_KEYS])
    rest = len(keys) - _SUMMARY_KEYS
    return shown + (f" … and {rest} more" if rest > 0 else "")
