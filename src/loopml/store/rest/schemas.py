"""Request and response bodies of the REST API, shared by the server and the REST client.

Both sides build and read the wire format through these models only, so they cannot
drift apart. Conventions:

* Times of records (runs, experiments) are ISO-8601 strings with a time zone, exact to
  the microsecond; a naive domain datetime is taken as UTC, as the SQL store does.
* Metric values may be NaN or ±inf, which JSON cannot carry: they travel as the strings
  ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` and are read back as floats.
* Metrics travel column-wise (:class:`MetricColumns`): keys, values, steps and
  timestamps in integer microseconds since the epoch. A batch of 5,000 values encodes
  and decodes in a few milliseconds.
* JSON is written and read by pydantic-core, not orjson: orjson cannot write integers
  beyond 64 bits and reads them back as floats, which would silently change an int param.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from loopml.domain import (
    Artifact,
    Experiment,
    Metric,
    ParamValue,
    Run,
    RunPage,
    RunQuery,
    RunStatus,
    RunUpdate,
)
from loopml.domain.validation import check_param_value

__all__ = [
    "API_PREFIX",
    "ArtifactBody",
    "ArtifactList",
    "BlobRefBody",
    "EndRunRequest",
    "ErrorBody",
    "ErrorDetail",
    "ExperimentBody",
    "ExperimentCreate",
    "ExperimentList",
    "FailStaleRequest",
    "HealthBody",
    "HeartbeatRequest",
    "MetricColumns",
    "RunBody",
    "RunIdList",
    "RunPageBody",
    "RunQueryBody",
    "RunUpdateBody",
    "RunningRun",
    "RunningRunList",
    "WireModel",
    "as_maybe_utc",
    "as_utc",
]

API_PREFIX = "/api/v1"
"""Every route of this API version lives under this prefix."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_RUN_FIELDS = tuple(f.name for f in fields(Run))

MetricValue = Annotated[
    float,
    WithJsonSchema({"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}),
]
"""A float that may be NaN or ±inf, written as a JSON number or one of three strings."""

ParamJson = str | int | float | bool | None


def as_utc(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive datetime is taken as UTC, like the SQL store."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_maybe_utc(moment: datetime | None) -> datetime | None:
    """:func:`as_utc` of a moment that may be absent."""
    return None if moment is None else as_utc(moment)


def _checked_params(params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    # A non-finite float param would travel as the string "NaN" and come back a str:
    # refuse it here, with the store's own message, instead of changing its type.
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            check_param_value(key, value)
    return params


class WireModel(BaseModel):
    """Base of every body: JSON bytes in and out, non-finite floats as strings."""

    model_config = ConfigDict(ser_json_inf_nan="strings")

    def to_json(self) -> bytes:
        """This body as UTF-8 JSON bytes.

        Values of the wrong type are written as they are, without a warning: the
        receiving side validates every body and names the offending field.

        Raises:
            pydantic_core.PydanticSerializationError: a value has no JSON form.
        """
        return self.__pydantic_serializer__.to_json(self, warnings=False)

    @classmethod
    def from_json(cls, data: bytes) -> Self:
        """Parse and validate a body. Raises pydantic.ValidationError."""
        return cls.model_validate_json(data)


# -- errors and health ------------------------------------------------------------------


class ErrorDetail(WireModel):
    """What went wrong: the loopml error class name and its message."""

    type: str = Field(examples=["NotFound"])
    message: str = Field(examples=["No run with id 'a1b2'."])


class ErrorBody(WireModel):
    """The body of every error response: ``{"error": {"type": ..., "message": ...}}``."""

    error: ErrorDetail

    @classmethod
    def of(cls, type_name: str, message: str) -> ErrorBody:
        """The body of an error of class ``type_name``."""
        return cls(error=ErrorDetail(type=type_name, message=message))


class HealthBody(WireModel):
    """The answer of ``GET /api/v1/health``."""

    status: str = "ok"
    version: str


# -- experiments ----------------------------------------------------------------------


class ExperimentCreate(WireModel):
    """Request to create an experiment."""

    name: str
    description: str = ""


class ExperimentBody(WireModel):
    """An experiment."""

    id: str
    name: str
    created_at: AwareDatetime
    description: str = ""

    @classmethod
    def from_domain(cls, experiment: Experiment) -> ExperimentBody:
        """The body of a domain experiment."""
        return cls.model_construct(
            id=experiment.id,
            name=experiment.name,
            created_at=as_utc(experiment.created_at),
            description=experiment.description,
        )

    def to_domain(self) -> Experiment:
        """The domain experiment of this body."""
        return Experiment(self.id, self.name, self.created_at, self.description)


class ExperimentList(WireModel):
    """Several experiments, oldest first."""

    experiments: list[ExperimentBody]

    @classmethod
    def from_domain(cls, experiments: list[Experiment]) -> ExperimentList:
        """The body of a list of domain experiments."""
        return cls.model_construct(experiments=[ExperimentBody.from_domain(e) for e in experiments])

    def to_domain(self) -> list[Experiment]:
        """The domain experiments of this body."""
        return [e.to_domain() for e in self.experiments]


# -- metrics and artifacts --------------------------------------------------------------


class MetricColumns(WireModel):
    """Metric values column-wise: the i-th value is ``(keys[i], values[i], steps[i],
    timestamps_us[i])``; timestamps are integer microseconds since the epoch (UTC)."""

    keys: list[str] = Field(default_factory=list)
    values: list[MetricValue] = Field(default_factory=list)
    steps: list[int] = Field(default_factory=list)
    timestamps_us: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _same_lengths(self) -> Self:
        lengths = {len(self.keys), len(self.values), len(self.steps), len(self.timestamps_us)}
        if len(lengths) > 1:
            raise ValueError(
                "keys, values, steps and timestamps_us must have the same length; got "
                f"{len(self.keys)}, {len(self.values)}, {len(self.steps)} and "
                f"{len(self.timestamps_us)}"
            )
        return self

    @classmethod
    def from_domain(cls, metrics: list[Metric]) -> MetricColumns:
        """The columns of domain metric values."""
        return cls.model_construct(
            keys=[m.key for m in metrics],
            values=[m.value for m in metrics],
            steps=[m.step for m in metrics],
            timestamps_us=[(as_utc(m.timestamp) - _EPOCH) // _MICROSECOND for m in metrics],
        )

    def to_domain(self) -> list[Metric]:
        """The domain metric values of these columns."""
        return [
            Metric(key, value, step, _EPOCH + timedelta(microseconds=micros))
            for key, value, step, micros in zip(
                self.keys, self.values, self.steps, self.timestamps_us, strict=True
            )
        ]


class ArtifactBody(WireModel):
    """A file logged to a run."""

    path: str
    digest: str
    size: int

    @classmethod
    def from_domain(cls, artifact: Artifact) -> ArtifactBody:
        """The body of a domain artifact."""
        return cls.model_construct(path=artifact.path, digest=artifact.digest, size=artifact.size)

    def to_domain(self) -> Artifact:
        """The domain artifact of this body."""
        return Artifact(self.path, self.digest, self.size)


class ArtifactList(WireModel):
    """A run's artifacts, sorted by path."""

    artifacts: list[ArtifactBody]

    @classmethod
    def from_domain(cls, artifacts: list[Artifact]) -> ArtifactList:
        """The body of a list of domain artifacts."""
        return cls.model_construct(artifacts=[ArtifactBody.from_domain(a) for a in artifacts])

    def to_domain(self) -> list[Artifact]:
        """The domain artifacts of this body."""
        return [a.to_domain() for a in self.artifacts]


class BlobRefBody(WireModel):
    """A stored blob: its BLAKE3 digest and size, as computed by the server."""

    digest: str
    size: int


# -- runs -------------------------------------------------------------------------------


class RunBody(WireModel):
    """A run: identity, state, latest metric values, params and tags."""

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: AwareDatetime
    end_time: AwareDatetime | None = None
    parent_id: str | None = None
    params: dict[str, ParamJson] = Field(default_factory=dict)
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str | None = None
    environment_digest: str | None = None
    host: str | None = None
    pid: int | None = None
    heartbeat_at: AwareDatetime | None = None

    @classmethod
    def from_domain(cls, run: Run) -> RunBody:
        """The body of a domain run. Raises InvalidInput for a non-finite float param."""
        fields: dict[str, Any] = {name: getattr(run, name) for name in _RUN_FIELDS}
        fields["start_time"] = as_utc(run.start_time)
        fields["end_time"] = as_maybe_utc(run.end_time)
        fields["heartbeat_at"] = as_maybe_utc(run.heartbeat_at)
        fields["params"] = _checked_params(run.params)
        return cls.model_construct(**fields)

    def to_domain(self) -> Run:
        """The domain run of this body."""
        return Run(**{name: getattr(self, name) for name in _RUN_FIELDS})


class RunUpdateBody(WireModel):
    """One batch of data for a run, applied whole or not at all."""

    params: dict[str, ParamJson] = Field(default_factory=dict)
    metrics: MetricColumns = Field(default_factory=MetricColumns)
    tags: dict[str, str] = Field(default_factory=dict)
    artifacts: list[ArtifactBody] = Field(default_factory=list)
    batch_id: str | None = Field(default=None, min_length=1, max_length=64)

    @classmethod
    def from_domain(cls, update: RunUpdate) -> RunUpdateBody:
        """The body of a domain batch. Raises InvalidInput for a non-finite float param."""
        return cls.model_construct(
            params=_checked_params(update.params),
            metrics=MetricColumns.from_domain(update.metrics),
            tags=update.tags,
            artifacts=[ArtifactBody.from_domain(a) for a in update.artifacts],
            batch_id=update.batch_id,
        )

    def to_domain(self) -> RunUpdate:
        """The domain batch of this body."""
        return RunUpdate(
            params=self.params,
            metrics=self.metrics.to_domain(),
            tags=self.tags,
            artifacts=[a.to_domain() for a in self.artifacts],
            batch_id=self.batch_id,
        )


class EndRunRequest(WireModel):
    """Request to end a running run."""

    status: RunStatus
    end_time: AwareDatetime

    @classmethod
    def of(cls, status: RunStatus, end_time: datetime) -> EndRunRequest:
        """The request to end a run with ``status`` at ``end_time`` (naive means UTC)."""
        return cls.model_construct(status=RunStatus(status), end_time=as_utc(end_time))


class HeartbeatRequest(WireModel):
    """The processes owning these running runs are alive at ``at``."""

    run_ids: list[str]
    at: AwareDatetime

    @classmethod
    def of(cls, run_ids: list[str], at: datetime) -> HeartbeatRequest:
        """The heartbeat of ``run_ids`` at ``at`` (naive means UTC)."""
        return cls.model_construct(run_ids=list(run_ids), at=as_utc(at))


class RunningRun(WireModel):
    """A running run and the process id that owns it."""

    run_id: str
    pid: int


class RunningRunList(WireModel):
    """The running runs started on one host."""

    runs: list[RunningRun]

    @classmethod
    def from_domain(cls, pairs: list[tuple[str, int]]) -> RunningRunList:
        """The body of ``(run_id, pid)`` pairs."""
        return cls.model_construct(runs=[RunningRun(run_id=r, pid=p) for r, p in pairs])

    def to_domain(self) -> list[tuple[str, int]]:
        """The ``(run_id, pid)`` pairs of this body."""
        return [(r.run_id, r.pid) for r in self.runs]


class FailStaleRequest(WireModel):
    """Fail the running runs silent since ``heartbeat_before`` and those in ``run_ids``."""

    heartbeat_before: AwareDatetime
    run_ids: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, heartbeat_before: datetime, run_ids: list[str]) -> FailStaleRequest:
        """The request to fail stale runs and ``run_ids`` (naive means UTC)."""
        return cls.model_construct(heartbeat_before=as_utc(heartbeat_before), run_ids=list(run_ids))


class RunIdList(WireModel):
    """Run ids, e.g. of the runs just marked failed."""

    run_ids: list[str]


class RunQueryBody(WireModel):
    """A run search: experiments, a filter expression, an order and a page."""

    experiment_ids: list[str] = Field(default_factory=list)
    filter: str = Field(default="", examples=["metrics.acc > 0.9 and params.model = 'rf'"])
    order_by: list[str] = Field(default_factory=list, examples=[["-metrics.acc"]])
    limit: int = 1000
    page_token: str | None = None

    @classmethod
    def from_domain(cls, query: RunQuery) -> RunQueryBody:
        """The body of a domain query."""
        return cls.model_construct(
            experiment_ids=list(query.experiment_ids),
            filter=query.filter,
            order_by=list(query.order_by),
            limit=query.limit,
            page_token=query.page_token,
        )

    def to_domain(self) -> RunQuery:
        """The domain query of this body."""
        return RunQuery(
            tuple(self.experiment_ids),
            self.filter,
            tuple(self.order_by),
            self.limit,
            self.page_token,
        )


class RunPageBody(WireModel):
    """One page of search results and the token of the next page, if any."""

    runs: list[RunBody]
    next_page_token: str | None = None

    @classmethod
    def from_domain(cls, page: RunPage) -> RunPageBody:
        """The body of a domain page."""
        return cls.model_construct(
            runs=[RunBody.from_domain(r) for r in page.runs],
            next_page_token=page.next_page_token,
        )

    def to_domain(self) -> RunPage:
        """The domain page of this body."""
        return RunPage([r.to_domain() for r in self.runs], self.next_page_token)
