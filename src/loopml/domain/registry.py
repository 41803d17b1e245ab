"""Plain records of the model registry: models, versions, aliases, approvals, lineage."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AliasMove",
    "ApprovalRequest",
    "ApprovalStatus",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "ModelUpdate",
    "ModelVersion",
    "RegisteredModel",
    "VersionDraft",
    "VersionStatus",
    "VersionUpdate",
]


class VersionStatus(enum.StrEnum):
    """Life cycle of a model version. An archived version keeps its package and history
    but no alias may point at it."""

    READY = "ready"
    ARCHIVED = "archived"


class ApprovalStatus(enum.StrEnum):
    """State of a request to move a protected alias."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def is_decided(self) -> bool:
        """Whether someone approved or rejected the request."""
        return self is not ApprovalStatus.PENDING


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model whose versions are registered over time.

    ``protected_aliases`` move only through an approved request; ``aliases`` maps each
    alias to the version it points at.
    """

    name: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    protected_aliases: tuple[str, ...] = ()
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version: where its package lives and where it came from.

    ``manifest`` is the package manifest (canonical JSON) recorded at registration and
    ``manifest_digest`` its BLAKE3 digest: loading checks every file against it.
    """

    name: str
    version: int
    created_at: datetime
    created_by: str
    flavor: str
    manifest: str
    manifest_digest: str
    run_id: str | None = None
    artifact_path: str | None = None
    status: VersionStatus = VersionStatus.READY
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    parents: tuple[tuple[str, int], ...] = ()

    @property
    def ref(self) -> str:
        """``name/version``, the URI of this version."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class VersionDraft:
    """What is needed to register a new version; the store assigns the number."""

    name: str
    flavor: str
    manifest: str
    manifest_digest: str
    run_id: str | None = None
    artifact_path: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    parents: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ModelUpdate:
    """A change to a registered model; ``None`` leaves a field as it is.

    ``tags`` are set (a value of ``None`` deletes the tag).
    """

    description: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)
    protected_aliases: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class VersionUpdate:
    """A change to a model version; ``None`` leaves a field as it is."""

    description: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)
    status: VersionStatus | None = None


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One move of an alias, as recorded in its history.

    ``seq`` numbers the moves of one alias from 1 without gaps. ``from_version`` is
    ``None`` when the alias is created, ``to_version`` when it is removed.
    """

    name: str
    alias: str
    seq: int
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str = ""
    approval_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A request to move a protected alias to a version, and its decision."""

    id: str
    name: str
    alias: str
    version: int
    status: ApprovalStatus
    requested_by: str
    requested_at: datetime
    comment: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str = ""


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A thing in a lineage graph: a model version, run, commit or dataset version."""

    id: str
    kind: str
    label: str
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """``source`` produced or fed ``target``; ``relation`` says how."""

    source: str
    target: str
    relation: str


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """Where a model version came from, as nodes and edges; ``root`` is the version."""

    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]

    def node(self, node_id: str) -> LineageNode:
        """The node with this id. Raises KeyError."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
