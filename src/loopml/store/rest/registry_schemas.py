"""Request and response bodies of the model registry's REST routes, shared by the server
and the REST client (:mod:`loopml.store.rest.models`, :mod:`loopml.store.rest.aliases`).

The conventions are those of :mod:`loopml.store.rest.schemas`: times are ISO-8601 with a
time zone (naive means UTC), lists travel as JSON arrays and come back as the domain's
tuples, and a parent version travels as ``{"name": ..., "version": ...}``.

One body needs care: moving an alias distinguishes "no expectation" from "expect the
alias to be unset" (``None`` is a real value there). On the wire the first is the
absence of ``expected_from`` and the second ``"expected_from": null``; see
:class:`AliasMoveRequest`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pydantic import AwareDatetime, Field

from loopml.domain import (
    AliasMove,
    ApprovalRequest,
    ApprovalStatus,
    ModelUpdate,
    ModelVersion,
    RegisteredModel,
    VersionDraft,
    VersionStatus,
    VersionUpdate,
)
from loopml.domain.sentinel import NOT_GIVEN, NotGiven
from loopml.store.rest.schemas import WireModel, as_maybe_utc, as_utc

__all__ = [
    "AliasHistoryBody",
    "AliasMoveBody",
    "AliasMoveRequest",
    "ApprovalBody",
    "ApprovalCreate",
    "ApprovalDecision",
    "ApprovalList",
    "ModelCreate",
    "ModelList",
    "ModelUpdateBody",
    "RegisteredModelBody",
    "VersionBody",
    "VersionDraftBody",
    "VersionList",
    "VersionRef",
    "VersionUpdateBody",
]


def _fields_of(record: Any) -> dict[str, Any]:
    """The fields of a domain record by name; every body below has the same names."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


# -- registered models ----------------------------------------------------------------


class ModelCreate(WireModel):
    """Request to register a model name."""

    name: str = Field(examples=["churn-classifier"])
    description: str = ""
    protected_aliases: list[str] = Field(default_factory=list, examples=[["champion"]])


class RegisteredModelBody(WireModel):
    """A registered model with its tags, aliases and latest ready version."""

    name: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    protected_aliases: list[str] = Field(default_factory=list)
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict, examples=[{"champion": 3}])

    @classmethod
    def from_domain(cls, model: RegisteredModel) -> RegisteredModelBody:
        """The body of a domain model."""
        return cls.model_construct(
            **{
                **_fields_of(model),
                "created_at": as_utc(model.created_at),
                "updated_at": as_utc(model.updated_at),
                "protected_aliases": list(model.protected_aliases),
            }
        )

    def to_domain(self) -> RegisteredModel:
        """The domain model of this body."""
        return RegisteredModel(**{**dict(self), "protected_aliases": tuple(self.protected_aliases)})


class ModelList(WireModel):
    """Registered models, by name."""

    models: list[RegisteredModelBody]

    @classmethod
    def from_domain(cls, models: list[RegisteredModel]) -> ModelList:
        """The body of a list of domain models."""
        return cls.model_construct(models=[RegisteredModelBody.from_domain(m) for m in models])

    def to_domain(self) -> list[RegisteredModel]:
        """The domain models of this body."""
        return [m.to_domain() for m in self.models]


class ModelUpdateBody(WireModel):
    """A change to a model; a field left ``null`` stays as it is, a tag set to ``null``
    is deleted."""

    description: str | None = None
    tags: dict[str, str | None] = Field(default_factory=dict, examples=[{"team": "risk"}])
    protected_aliases: list[str] | None = None

    @classmethod
    def from_domain(cls, update: ModelUpdate) -> ModelUpdateBody:
        """The body of a domain change."""
        protected = update.protected_aliases
        return cls.model_construct(
            description=update.description,
            tags=dict(update.tags),
            protected_aliases=None if protected is None else list(protected),
        )

    def to_domain(self) -> ModelUpdate:
        """The domain change of this body."""
        protected = self.protected_aliases
        return ModelUpdate(
            description=self.description,
            tags=dict(self.tags),
            protected_aliases=None if protected is None else tuple(protected),
        )


# -- versions -------------------------------------------------------------------------


class VersionRef(WireModel):
    """A version of a registered model, e.g. a parent the version was derived from."""

    name: str
    version: int


def _refs(parents: tuple[tuple[str, int], ...]) -> list[VersionRef]:
    return [VersionRef.model_construct(name=name, version=number) for name, number in parents]


def _pairs(refs: list[VersionRef]) -> tuple[tuple[str, int], ...]:
    return tuple((ref.name, ref.version) for ref in refs)


class VersionDraftBody(WireModel):
    """Request to register the next version of the model named in the path."""

    flavor: str = Field(examples=["sklearn"])
    manifest: str
    manifest_digest: str
    run_id: str | None = None
    artifact_path: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    parents: list[VersionRef] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, draft: VersionDraft) -> VersionDraftBody:
        """The body of a domain draft (its name travels in the path)."""
        values = _fields_of(draft)
        del values["name"]
        return cls.model_construct(**{**values, "parents": _refs(draft.parents)})

    def to_domain(self, name: str) -> VersionDraft:
        """The domain draft of this body for the model ``name``."""
        return VersionDraft(**{**dict(self), "name": name, "parents": _pairs(self.parents)})


class VersionBody(WireModel):
    """A registered version: its package manifest, origin, status, tags and aliases."""

    name: str
    version: int
    created_at: AwareDatetime
    created_by: str
    flavor: str
    manifest: str
    manifest_digest: str
    run_id: str | None = None
    artifact_path: str | None = None
    status: VersionStatus = VersionStatus.READY
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    parents: list[VersionRef] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, version: ModelVersion) -> VersionBody:
        """The body of a domain version."""
        return cls.model_construct(
            **{
                **_fields_of(version),
                "created_at": as_utc(version.created_at),
                "aliases": list(version.aliases),
                "parents": _refs(version.parents),
            }
        )

    def to_domain(self) -> ModelVersion:
        """The domain version of this body."""
        return ModelVersion(
            **{**dict(self), "aliases": tuple(self.aliases), "parents": _pairs(self.parents)}
        )


class VersionList(WireModel):
    """The versions of a model, newest first."""

    versions: list[VersionBody]

    @classmethod
    def from_domain(cls, versions: list[ModelVersion]) -> VersionList:
        """The body of a list of domain versions."""
        return cls.model_construct(versions=[VersionBody.from_domain(v) for v in versions])

    def to_domain(self) -> list[ModelVersion]:
        """The domain versions of this body."""
        return [v.to_domain() for v in self.versions]


class VersionUpdateBody(WireModel):
    """A change to a version; a field left ``null`` stays as it is, a tag set to
    ``null`` is deleted."""

    description: str | None = None
    tags: dict[str, str | None] = Field(default_factory=dict)
    status: VersionStatus | None = None

    @classmethod
    def from_domain(cls, update: VersionUpdate) -> VersionUpdateBody:
        """The body of a domain change."""
        return cls.model_construct(
            description=update.description, tags=dict(update.tags), status=update.status
        )

    def to_domain(self) -> VersionUpdate:
        """The domain change of this body."""
        return VersionUpdate(self.description, dict(self.tags), self.status)


# -- aliases --------------------------------------------------------------------------


class AliasMoveRequest(WireModel):
    """Request to point the alias named in the path at ``to_version`` (``null`` removes it).

    ``expected_from`` is a condition: when present, the move happens only if the alias
    points at that version now (``null``: only if the alias is not set). When absent,
    the alias moves from wherever it points. Build it with :meth:`of`, which leaves the
    field out for :data:`~loopml.domain.sentinel.NOT_GIVEN`.
    """

    to_version: int | None
    expected_from: int | None = Field(
        default=None,
        description="Absent: no condition. A version, or null for 'not set': the move is "
        "refused with 409 when the alias points elsewhere.",
    )
    reason: str = ""

    @classmethod
    def of(
        cls, to_version: int | None, expected_from: int | NotGiven | None, reason: str
    ) -> AliasMoveRequest:
        """The request of a ``move_alias`` call; ``NOT_GIVEN`` leaves ``expected_from`` out."""
        if expected_from is NOT_GIVEN:
            return cls.model_construct(to_version=to_version, reason=reason)
        return cls.model_construct(
            to_version=to_version, expected_from=expected_from, reason=reason
        )

    def expected(self) -> int | NotGiven | None:
        """``expected_from`` as the port takes it: ``NOT_GIVEN`` when the body lacks it."""
        return self.expected_from if "expected_from" in self.model_fields_set else NOT_GIVEN

    def to_json(self) -> bytes:
        """This body as JSON, without the fields never set (so an absent
        ``expected_from`` stays absent rather than becoming ``null``)."""
        return self.__pydantic_serializer__.to_json(self, exclude_unset=True, warnings=False)


class AliasMoveBody(WireModel):
    """One move of an alias, as recorded in its history."""

    name: str
    alias: str
    seq: int
    from_version: int | None
    to_version: int | None
    actor: str
    at: AwareDatetime
    reason: str = ""
    approval_id: str | None = None

    @classmethod
    def from_domain(cls, move: AliasMove) -> AliasMoveBody:
        """The body of a domain move."""
        return cls.model_construct(**{**_fields_of(move), "at": as_utc(move.at)})

    def to_domain(self) -> AliasMove:
        """The domain move of this body."""
        return AliasMove(**dict(self))


class AliasHistoryBody(WireModel):
    """Moves of one alias, or of all aliases of a model, oldest first."""

    moves: list[AliasMoveBody]

    @classmethod
    def from_domain(cls, moves: list[AliasMove]) -> AliasHistoryBody:
        """The body of a list of domain moves."""
        return cls.model_construct(moves=[AliasMoveBody.from_domain(m) for m in moves])

    def to_domain(self) -> list[AliasMove]:
        """The domain moves of this body."""
        return [m.to_domain() for m in self.moves]


# -- approvals ------------------------------------------------------------------------


class ApprovalCreate(WireModel):
    """Request to move a protected alias to a version, under an id the caller chose."""

    id: str = Field(examples=["5f2c0d9e"])
    name: str
    alias: str
    version: int
    comment: str = ""


class ApprovalDecision(WireModel):
    """Approve (moving the alias) or reject a pending request."""

    approve: bool
    comment: str = ""


class ApprovalBody(WireModel):
    """A request to move a protected alias, and its decision once there is one."""

    id: str
    name: str
    alias: str
    version: int
    status: ApprovalStatus
    requested_by: str
    requested_at: AwareDatetime
    comment: str = ""
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    decision_comment: str = ""

    @classmethod
    def from_domain(cls, request: ApprovalRequest) -> ApprovalBody:
        """The body of a domain request."""
        times = {
            "requested_at": as_utc(request.requested_at),
            "decided_at": as_maybe_utc(request.decided_at),
        }
        return cls.model_construct(**{**_fields_of(request), **times})

    def to_domain(self) -> ApprovalRequest:
        """The domain request of this body."""
        return ApprovalRequest(**dict(self))


class ApprovalList(WireModel):
    """Approval requests, newest first."""

    approvals: list[ApprovalBody]

    @classmethod
    def from_domain(cls, requests: list[ApprovalRequest]) -> ApprovalList:
        """The body of a list of domain requests."""
        return cls.model_construct(approvals=[ApprovalBody.from_domain(r) for r in requests])

    def to_domain(self) -> list[ApprovalRequest]:
        """The domain requests of this body."""
        return [r.to_domain() for r in self.approvals]
