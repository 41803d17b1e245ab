"""Request and response bodies of the dataset routes, shared by the server and the REST
client (:mod:`loopml.store.rest.datasets`).

The conventions are those of :mod:`loopml.store.rest.schemas`: times are ISO-8601 with a
time zone (naive means UTC). The dataset's name and version number travel in the path,
not in request bodies.

One field needs care: a version's ``schema`` (the tabular files' schemas as JSON text)
would shadow pydantic's own ``BaseModel.schema``, so in Python it is ``table_schema``;
on the wire, and in the OpenAPI document, it is ``schema``, as in the domain record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, ConfigDict, Field

from loopml.domain import CheckReportRecord, DatasetVersion, DatasetVersionDraft
from loopml.store.rest.schemas import WireModel, as_utc

__all__ = [
    "CheckReportBody",
    "CheckReportCreate",
    "CheckReportList",
    "DatasetList",
    "DatasetVersionBody",
    "DatasetVersionCreated",
    "DatasetVersionDraftBody",
    "DatasetVersionList",
]

_SCHEMA_DESCRIPTION = "Each tabular file's schema, as JSON text (an object by file path)."


class _AliasedWireModel(WireModel):
    """A body with a field whose wire name is not its Python name (``schema``)."""

    model_config = ConfigDict(
        ser_json_inf_nan="strings",
        serialize_by_alias=True,
        validate_by_alias=True,
        validate_by_name=True,
    )


# -- versions -------------------------------------------------------------------------


class DatasetVersionDraftBody(_AliasedWireModel):
    """Request to record the next version of the dataset named in the path."""

    manifest_digest: str = Field(examples=["ab" * 32])
    content_digest: str = Field(examples=["cd" * 32])
    file_count: int = Field(examples=[3])
    total_bytes: int = Field(examples=[1234])
    message: str = ""
    source_path: str | None = Field(default=None, examples=["data/raw"])
    run_id: str | None = None
    table_schema: str = Field(default="{}", alias="schema", description=_SCHEMA_DESCRIPTION)
    profile_digest: str | None = None

    @classmethod
    def from_domain(cls, draft: DatasetVersionDraft) -> DatasetVersionDraftBody:
        """The body of a domain draft (its name travels in the path)."""
        return cls.model_construct(
            manifest_digest=draft.manifest_digest,
            content_digest=draft.content_digest,
            file_count=draft.file_count,
            total_bytes=draft.total_bytes,
            message=draft.message,
            source_path=draft.source_path,
            run_id=draft.run_id,
            table_schema=draft.schema,
            profile_digest=draft.profile_digest,
        )

    def to_domain(self, name: str) -> DatasetVersionDraft:
        """The domain draft of this body for the dataset ``name``."""
        return DatasetVersionDraft(
            name=name,
            manifest_digest=self.manifest_digest,
            content_digest=self.content_digest,
            file_count=self.file_count,
            total_bytes=self.total_bytes,
            message=self.message,
            source_path=self.source_path,
            run_id=self.run_id,
            schema=self.table_schema,
            profile_digest=self.profile_digest,
        )


class DatasetVersionBody(_AliasedWireModel):
    """A recorded dataset version: where its manifest is, what it holds, where it came
    from."""

    name: str = Field(examples=["customers"])
    version: int = Field(examples=[3])
    created_at: AwareDatetime
    author: str
    message: str
    manifest_digest: str
    content_digest: str
    file_count: int
    total_bytes: int
    source_path: str | None = None
    run_id: str | None = None
    table_schema: str = Field(default="{}", alias="schema", description=_SCHEMA_DESCRIPTION)
    profile_digest: str | None = None

    @classmethod
    def from_domain(cls, version: DatasetVersion) -> DatasetVersionBody:
        """The body of a domain version."""
        return cls.model_construct(
            name=version.name,
            version=version.version,
            created_at=as_utc(version.created_at),
            author=version.author,
            message=version.message,
            manifest_digest=version.manifest_digest,
            content_digest=version.content_digest,
            file_count=version.file_count,
            total_bytes=version.total_bytes,
            source_path=version.source_path,
            run_id=version.run_id,
            table_schema=version.schema,
            profile_digest=version.profile_digest,
        )

    def to_domain(self) -> DatasetVersion:
        """The domain version of this body."""
        return DatasetVersion(
            name=self.name,
            version=self.version,
            created_at=self.created_at,
            author=self.author,
            message=self.message,
            manifest_digest=self.manifest_digest,
            content_digest=self.content_digest,
            file_count=self.file_count,
            total_bytes=self.total_bytes,
            source_path=self.source_path,
            run_id=self.run_id,
            schema=self.table_schema,
            profile_digest=self.profile_digest,
        )


class DatasetVersionCreated(WireModel):
    """The answer to recording a version: the version, and whether it is new (``false``:
    the dataset's newest version has the same content, and is returned instead)."""

    version: DatasetVersionBody
    created: bool

    @classmethod
    def from_domain(cls, version: DatasetVersion, created: bool) -> DatasetVersionCreated:
        """The body of ``create_version``'s result."""
        return cls.model_construct(version=DatasetVersionBody.from_domain(version), created=created)

    def to_domain(self) -> tuple[DatasetVersion, bool]:
        """``create_version``'s result of this body."""
        return self.version.to_domain(), self.created


class DatasetVersionList(WireModel):
    """The versions of a dataset, newest first."""

    versions: list[DatasetVersionBody]

    @classmethod
    def from_domain(cls, versions: list[DatasetVersion]) -> DatasetVersionList:
        """The body of a list of domain versions."""
        return cls.model_construct(versions=[DatasetVersionBody.from_domain(v) for v in versions])

    def to_domain(self) -> list[DatasetVersion]:
        """The domain versions of this body."""
        return [v.to_domain() for v in self.versions]


class DatasetList(WireModel):
    """The newest version of every dataset, by name."""

    datasets: list[DatasetVersionBody]

    @classmethod
    def from_domain(cls, versions: list[DatasetVersion]) -> DatasetList:
        """The body of a list of domain versions."""
        return cls.model_construct(datasets=[DatasetVersionBody.from_domain(v) for v in versions])

    def to_domain(self) -> list[DatasetVersion]:
        """The domain versions of this body."""
        return [v.to_domain() for v in self.datasets]


# -- check reports --------------------------------------------------------------------


class CheckReportCreate(WireModel):
    """Request to store a report of data checks run on the version named in the path,
    under an id the caller chose. The store sets its time and author."""

    id: str = Field(examples=["5f2c0d9e"])
    passed: bool
    report: str = Field(description="The report as JSON text.", examples=['{"checks": []}'])
    suite: str = Field(default="", examples=["input"])

    @classmethod
    def from_domain(cls, record: CheckReportRecord) -> CheckReportCreate:
        """The body of a domain record (its dataset and version travel in the path)."""
        return cls.model_construct(
            id=record.id,
            passed=record.passed,
            report=record.report,
            suite=record.suite,
        )

    def to_domain(self, name: str, version: int) -> CheckReportRecord:
        """The domain record of this body for version ``version`` of ``name``.

        Its ``created_at`` and ``author`` are placeholders: the store assigns both.
        """
        return CheckReportRecord(
            id=self.id,
            name=name,
            version=version,
            created_at=datetime.now(UTC),
            author="",
            passed=self.passed,
            report=self.report,
            suite=self.suite,
        )


class CheckReportBody(WireModel):
    """A stored report of data checks run on one dataset version."""

    id: str
    name: str
    version: int
    created_at: AwareDatetime
    author: str
    passed: bool
    report: str
    suite: str = ""

    @classmethod
    def from_domain(cls, record: CheckReportRecord) -> CheckReportBody:
        """The body of a domain record."""
        return cls.model_construct(
            id=record.id,
            name=record.name,
            version=record.version,
            created_at=as_utc(record.created_at),
            author=record.author,
            passed=record.passed,
            report=record.report,
            suite=record.suite,
        )

    def to_domain(self) -> CheckReportRecord:
        """The domain record of this body."""
        return CheckReportRecord(**dict(self))


class CheckReportList(WireModel):
    """Check reports of a dataset or of one version, newest first."""

    reports: list[CheckReportBody]

    @classmethod
    def from_domain(cls, records: list[CheckReportRecord]) -> CheckReportList:
        """The body of a list of domain records."""
        return cls.model_construct(reports=[CheckReportBody.from_domain(r) for r in records])

    def to_domain(self) -> list[CheckReportRecord]:
        """The domain records of this body."""
        return [r.to_domain() for r in self.reports]
