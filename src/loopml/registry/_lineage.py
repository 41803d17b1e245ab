"""Lineage of a model version: the run that produced it, its code commit, the dataset
versions it was trained on, the versions it derives from, and who promoted it."""

from __future__ import annotations

from collections import deque
from typing import Any

from loopml.domain import LineageEdge, LineageGraph, LineageNode, ModelVersion
from loopml.domain.data import INPUT_DATASET_TAG
from loopml.errors import NotFound
from loopml.store import AliasStore, ModelStore, RunStore

__all__ = ["INPUT_DATASET_TAG", "build_lineage", "lineage_to_dict"]



def build_lineage(
    models: ModelStore, aliases: AliasStore, runs: RunStore, root: ModelVersion, depth: int = 10
) -> LineageGraph:
    """Walk from ``root`` back through runs and parent versions, ``depth`` generations.

    A parent version that was deleted stays in the graph as a node marked ``deleted``.
    """
    nodes: dict[str, LineageNode] = {}
    edges: list[LineageEdge] = []
    queue: deque[tuple[ModelVersion, int]] = deque([(root, 0)])
    while queue:
        version, level = queue.popleft()
        node_id = _version_id(version.name, version.version)
        if node_id in nodes:
            continue
        nodes[node_id] = _version_node(version, aliases)
        if version.run_id is not None:
            _add_run(runs, version.run_id, node_id, nodes, edges)
        for parent_name, parent_number in version.parents:
            parent_id = _version_id(parent_name, parent_number)
            edges.append(LineageEdge(parent_id, node_id, "parent of"))
            if parent_id in nodes or level >= depth:
                continue
            try:
                queue.append((models.get_version(parent_name, parent_number), level + 1))
            except NotFound:
                label = f"{parent_name}/{parent_number}"
                nodes[parent_id] = LineageNode(parent_id, "model_version", label, {"deleted": True})
    return LineageGraph(root=_version_id(root.name, root.version), nodes=list(nodes.values()), edges=edges)


def lineage_to_dict(graph: LineageGraph) -> dict[str, Any]:
    """The graph as plain JSON-ready data: ``{"root", "nodes", "edges"}``."""
    return {
        "root": graph.root,
        "nodes": [
            {"id": n.id, "kind": n.kind, "label": n.label, "attributes": n.attributes}
            for n in graph.nodes
        ],
        "edges": [
            {"source": e.source, "target": e.target, "relation": e.relation} for e in graph.edges
        ],
    }


def _version_id(name: str, version: int) -> str:
    return f"model_version:{name}/{version}"


def _version_node(version: ModelVersion, aliases: AliasStore) -> LineageNode:
    promotions = [
        {
            "alias": move.alias,
            "by": move.actor,
            "at": move.at.isoformat(),
            "from_version": move.from_version,
            "reason": move.reason,
            "approval_id": move.approval_id,
        }
        for move in aliases.alias_history(version.name)
        if move.to_version == version.version
    ]
    attributes: dict[str, Any] = {
        "flavor": version.flavor,
        "status": version.status.value,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "aliases": list(version.aliases),
        "description": version.description,
        "manifest_digest": version.manifest_digest,
        "promotions": promotions,
    }
    return LineageNode(_version_id(version.name, version.version), "model_version", version.ref, attributes)


def _add_run(
    runs: RunStore,
    run_id: str,
    version_id: str,
    nodes: dict[str, LineageNode],
    edges: list[LineageEdge],
) -> None:
    node_id = f"run:{run_id}"
    edges.append(LineageEdge(node_id, version_id, "produced"))
    if node_id in nodes:
        return
    try:
        run = runs.get_run(run_id)
    except NotFound:
        nodes[node_id] = LineageNode(node_id, "run", run_id, {"deleted": True})
        return
    nodes[node_id] = LineageNode(
        node_id,
        "run",
        run.name,
        {
            "id": run.id,
            "experiment_id": run.experiment_id,
            "status": run.status.value,
            "start_time": run.start_time.isoformat(),
            "params": dict(run.params),
            "metrics": dict(run.metrics),
            "git_commit": run.git_commit,
            "git_dirty": run.git_dirty,
        },
    )
    if run.git_commit:
        commit_id = f"commit:{run.git_commit}"
        nodes.setdefault(
            commit_id,
            LineageNode(commit_id, "commit", run.git_commit[:12], {"dirty": run.git_dirty}),
        )
        edges.append(LineageEdge(commit_id, node_id, "code of"))
    for key, value in sorted(run.tags.items()):
        if key.startswith(INPUT_DATASET_TAG):
            dataset = f"{key[len(INPUT_DATASET_TAG):]}@{value}"
            dataset_id = f"dataset_version:{dataset}"
            nodes.setdefault(dataset_id, LineageNode(dataset_id, "dataset_version", dataset))
            edges.append(LineageEdge(dataset_id, node_id, "trained"))
