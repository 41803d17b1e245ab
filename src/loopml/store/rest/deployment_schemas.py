"""Request and response bodies of the deployment and log-segment routes, shared by the
server and the REST clients (:mod:`loopml.store.rest.deployments`,
:mod:`loopml.store.rest.segments`).

The conventions are those of :mod:`loopml.store.rest.schemas`: times of records are
ISO-8601 with a time zone, enums travel as their string values. A traffic policy
travels as :meth:`TrafficPolicy.to_json` writes it, and is checked again when read, by
:meth:`TrafficPolicy.from_json`, so the server refuses a bad one with the domain's own
message. A deployment's name travels in the path, except when it is created.

The times of a segment draft and of a segment query are read as plain datetimes, a
naive one included, so that the store, not the schema, refuses a time without a time
zone, in its own words (the REST client checks them before sending, with the same
check).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from loopml.domain.deployments import (
    ChangeKind,
    Deployment,
    DeploymentDraft,
    PolicyChange,
    TrafficPolicy,
)
from loopml.domain.logs import Segment, SegmentDraft
from loopml.store.rest.schemas import WireModel, as_utc

__all__ = [
    "DeploymentBody",
    "DeploymentDraftBody",
    "DeploymentList",
    "PolicyBody",
    "PolicyChangeBody",
    "PolicyHistory",
    "PolicyUpdateBody",
    "RollbackBody",
    "RouteBody",
    "SegmentBody",
    "SegmentDraftBody",
    "SegmentList",
    "StreamList",
]


# -- traffic policies -------------------------------------------------------------------


class RouteBody(WireModel):
    """A share of the returned traffic: ``weight`` percent goes to ``target``."""

    target: str = Field(examples=["champion"])
    weight: float = Field(examples=[90])


class PolicyBody(WireModel):
    """A traffic policy: routes whose weights add up to 100, shadow targets, and the
    request field that pins callers to a route (``null``: none)."""

    routes: list[RouteBody]
    shadows: list[str] = Field(default_factory=list, examples=[["8"]])
    sticky_key: str | None = Field(default=None, examples=["customer_id"])

    @classmethod
    def from_domain(cls, policy: TrafficPolicy) -> PolicyBody:
        """The body of a domain policy."""
        return cls.model_construct(
            routes=[
                RouteBody.model_construct(target=r.target, weight=r.weight) for r in policy.routes
            ],
            shadows=list(policy.shadows),
            sticky_key=policy.sticky_key,
        )

    def to_domain(self) -> TrafficPolicy:
        """The domain policy of this body. Raises InvalidInput (an invalid policy)."""
        return TrafficPolicy.from_json(self.model_dump())


# -- deployments --------------------------------------------------------------------------


class DeploymentDraftBody(WireModel):
    """Request to create a deployment of a registered model under a traffic policy."""

    name: str = Field(examples=["churn-api"])
    model: str = Field(examples=["churn-classifier"])
    policy: PolicyBody
    description: str = ""
    reason: str = Field(default="", examples=["first release"])

    @classmethod
    def from_domain(cls, draft: DeploymentDraft, reason: str) -> DeploymentDraftBody:
        """The body of a domain draft and the reason for it."""
        return cls.model_construct(
            name=draft.name,
            model=draft.model,
            policy=PolicyBody.from_domain(draft.policy),
            description=draft.description,
            reason=reason,
        )

    def to_domain(self) -> DeploymentDraft:
        """The domain draft of this body. Raises InvalidInput (an invalid policy)."""
        return DeploymentDraft(self.name, self.model, self.policy.to_domain(), self.description)


class DeploymentBody(WireModel):
    """A stored deployment with the policy in force and its revision."""

    name: str
    model: str
    policy: PolicyBody
    revision: int
    description: str
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, deployment: Deployment) -> DeploymentBody:
        """The body of a domain deployment."""
        return cls.model_construct(
            name=deployment.name,
            model=deployment.model,
            policy=PolicyBody.from_domain(deployment.policy),
            revision=deployment.revision,
            description=deployment.description,
            created_at=as_utc(deployment.created_at),
            updated_at=as_utc(deployment.updated_at),
        )

    def to_domain(self) -> Deployment:
        """The domain deployment of this body."""
        return Deployment(
            name=self.name,
            model=self.model,
            policy=self.policy.to_domain(),
            revision=self.revision,
            description=self.description,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class DeploymentList(WireModel):
    """Every deployment, by name."""

    deployments: list[DeploymentBody]

    @classmethod
    def from_domain(cls, deployments: list[Deployment]) -> DeploymentList:
        """The body of a list of domain deployments."""
        return cls.model_construct(deployments=[DeploymentBody.from_domain(d) for d in deployments])

    def to_domain(self) -> list[Deployment]:
        """The domain deployments of this body."""
        return [d.to_domain() for d in self.deployments]


class PolicyUpdateBody(WireModel):
    """Request to put a policy in force on the deployment named in the path, if it is
    still at ``expected_revision`` (``null``: whatever its revision)."""

    policy: PolicyBody
    expected_revision: int | None = Field(default=None, examples=[3])
    reason: str = Field(default="", examples=["canary 10% for v8"])


class RollbackBody(WireModel):
    """Request to put back the policy in force before the current one."""

    reason: str = Field(default="", examples=["error rate up on v8"])


class PolicyChangeBody(WireModel):
    """One revision of a deployment's policy: what it became, how, by whom and why."""

    deployment: str
    revision: int
    kind: ChangeKind
    policy: PolicyBody
    previous: int | None
    restores: int | None
    actor: str
    reason: str
    changed_at: AwareDatetime

    @classmethod
    def from_domain(cls, change: PolicyChange) -> PolicyChangeBody:
        """The body of a domain change."""
        return cls.model_construct(
            deployment=change.deployment,
            revision=change.revision,
            kind=change.kind,
            policy=PolicyBody.from_domain(change.policy),
            previous=change.previous,
            restores=change.restores,
            actor=change.actor,
            reason=change.reason,
            changed_at=as_utc(change.changed_at),
        )

    def to_domain(self) -> PolicyChange:
        """The domain change of this body."""
        fields: dict[str, Any] = dict(self)
        return PolicyChange(**{**fields, "policy": self.policy.to_domain()})


class PolicyHistory(WireModel):
    """Every revision of a deployment's policy, newest first."""

    changes: list[PolicyChangeBody]

    @classmethod
    def from_domain(cls, changes: list[PolicyChange]) -> PolicyHistory:
        """The body of a list of domain changes."""
        return cls.model_construct(changes=[PolicyChangeBody.from_domain(c) for c in changes])

    def to_domain(self) -> list[PolicyChange]:
        """The domain changes of this body."""
        return [c.to_domain() for c in self.changes]


# -- log segments -------------------------------------------------------------------------


class SegmentDraftBody(WireModel):
    """Request to record a Parquet file of a log stream, stored as blob ``digest``."""

    stream: str = Field(examples=["predictions:churn-api"])
    digest: str
    rows: int = Field(examples=[5000])
    size: int = Field(examples=[183_220])
    first_time: datetime
    last_time: datetime

    @classmethod
    def from_domain(cls, draft: SegmentDraft) -> SegmentDraftBody:
        """The body of a domain draft."""
        return cls.model_construct(
            stream=draft.stream,
            digest=draft.digest,
            rows=draft.rows,
            size=draft.size,
            first_time=draft.first_time,
            last_time=draft.last_time,
        )

    def to_domain(self) -> SegmentDraft:
        """The domain draft of this body (unchecked: the store checks it)."""
        return SegmentDraft(**dict(self))


class SegmentBody(WireModel):
    """A recorded segment; ``id`` grows with each segment added."""

    id: int
    stream: str
    digest: str
    rows: int
    size: int
    first_time: AwareDatetime
    last_time: AwareDatetime
    created_at: AwareDatetime

    @classmethod
    def from_domain(cls, segment: Segment) -> SegmentBody:
        """The body of a domain segment."""
        return cls.model_construct(
            id=segment.id,
            stream=segment.stream,
            digest=segment.digest,
            rows=segment.rows,
            size=segment.size,
            first_time=as_utc(segment.first_time),
            last_time=as_utc(segment.last_time),
            created_at=as_utc(segment.created_at),
        )

    def to_domain(self) -> Segment:
        """The domain segment of this body."""
        return Segment(**dict(self))


class SegmentList(WireModel):
    """Segments of one stream, by first time, then id."""

    segments: list[SegmentBody]

    @classmethod
    def from_domain(cls, segments: list[Segment]) -> SegmentList:
        """The body of a list of domain segments."""
        return cls.model_construct(segments=[SegmentBody.from_domain(s) for s in segments])

    def to_domain(self) -> list[Segment]:
        """The domain segments of this body."""
        return [s.to_domain() for s in self.segments]


class StreamList(WireModel):
    """Names of log streams, sorted."""

    streams: list[str]
