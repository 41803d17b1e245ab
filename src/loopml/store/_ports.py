"""Ports of the metadata store: one Protocol per aggregate.

Adapters: ``loopml.store.sql`` (SQLite, PostgreSQL) and ``loopml.store.rest`` (a loopml
server over HTTP). Both pass the same contract suites in ``loopml.testing``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from loopml.domain import (
    AliasMove,
    ApprovalRequest,
    ApprovalStatus,
    Artifact,
    CheckReportRecord,
    DatasetVersion,
    DatasetVersionDraft,
    Experiment,
    Metric,
    ModelUpdate,
    ModelVersion,
    RegisteredModel,
    Run,
    RunPage,
    RunQuery,
    RunStatus,
    RunUpdate,
    VersionDraft,
    VersionUpdate,
)
from loopml.domain.deployments import Deployment, DeploymentDraft, PolicyChange, TrafficPolicy
from loopml.domain.logs import Segment, SegmentDraft
from loopml.domain.schedules import (
    Firing,
    FiringClaim,
    FiringState,
    FiringUpdate,
    Schedule,
    ScheduleDraft,
)
from loopml.domain.sentinel import NOT_GIVEN, NotGiven

__all__ = [
    "AliasStore",
    "DatasetStore",
    "DeploymentStore",
    "ExperimentStore",
    "ModelStore",
    "RunStore",
    "ScheduleStore",
    "SegmentStore",
]


@runtime_checkable
class ExperimentStore(Protocol):
    """Experiments: named groups of runs."""

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment. Raises AlreadyExists when the name is taken."""
        ...

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id. Raises NotFound."""
        ...

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        ...

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        ...


@runtime_checkable
class RunStore(Protocol):
    """Runs and everything logged to them.

    ``log_run_data`` is the single write primitive for params, metrics, tags and
    artifacts: a batch is applied whole or not at all.
    """

    def create_run(self, run: Run) -> Run:
        """Store a new run (its id chosen by the caller). Raises AlreadyExists, NotFound
        (unknown experiment or parent)."""
        ...

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags. Raises NotFound."""
        ...

    def log_run_data(self, run_id: str, update: RunUpdate) -> None:
        """Apply one batch atomically.

        Raises:
            NotFound: no such run.
            Conflict: the run has ended, or a param already has a different value.
        """
        ...

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime) -> Run:
        """End a running run. Raises NotFound, Conflict (already ended), InvalidInput
        (status RUNNING)."""
        ...

    def heartbeat(self, run_ids: list[str], at: datetime) -> None:
        """Record that the processes owning these running runs are alive."""
        ...

    def list_running_on(self, host: str) -> list[tuple[str, int]]:
        """``(run_id, pid)`` of the running runs started on ``host``."""
        ...

    def fail_stale_runs(self, heartbeat_before: datetime, run_ids: list[str]) -> list[str]:
        """Mark as failed every running run whose heartbeat is older than
        ``heartbeat_before`` and the running runs among ``run_ids`` (whose process is
        known to be dead). Returns the ids it failed."""
        ...

    def search_runs(self, query: RunQuery) -> RunPage:
        """Runs matching the query's filter, ordered and paginated. Raises InvalidInput
        for a malformed filter or order."""
        ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of a metric, by step then time. Raises NotFound (run)."""
        ...

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path starts with ``prefix``, sorted by path."""
        ...


@runtime_checkable
class ModelStore(Protocol):
    """Registered models and their versions.

    Version numbers are assigned by the store, from 1, never reused (a deleted version's
    number stays taken), so ``name/3`` always means the same package.
    """

    def create_model(
        self, name: str, description: str = "", protected_aliases: tuple[str, ...] = ()
    ) -> RegisteredModel:
        """Register a model name. Raises AlreadyExists."""
        ...

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version. Raises NotFound."""
        ...

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        ...

    def update_model(self, name: str, update: ModelUpdate) -> RegisteredModel:
        """Change a model's description, tags or protected aliases. Raises NotFound."""
        ...

    def create_version(self, draft: VersionDraft) -> ModelVersion:
        """Register the next version of ``draft.name``, creating the model if it is new.

        Raises:
            NotFound: the run or a parent version does not exist.
        """
        ...

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version with its tags, aliases and parents. Raises NotFound."""
        ...

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first. Raises NotFound (model)."""
        ...

    def update_version(self, name: str, version: int, update: VersionUpdate) -> ModelVersion:
        """Change a version's description, tags or status.

        Raises:
            NotFound: no such version.
            Conflict: archiving a version an alias points at.
        """
        ...

    def delete_version(self, name: str, version: int) -> None:
        """Delete a version's record (its blobs stay for other references).

        Raises:
            NotFound: no such version.
            Conflict: an alias points at it, or a pending approval names it.
        """
        ...


@runtime_checkable
class AliasStore(Protocol):
    """Aliases of registered models, their history, and approvals of protected moves.

    Every move appends to the alias's history in the same transaction, numbered without
    gaps; two concurrent moves of one alias never both succeed from the same state.
    """

    def move_alias(
        self,
        name: str,
        alias: str,
        to_version: int | None,
        *,
        expected_from: int | NotGiven | None = NOT_GIVEN,
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at ``to_version`` (``None`` removes it).

        Args:
            expected_from: the version the caller believes the alias points at now
                (``None``: not set); the move is refused when it differs.

        Raises:
            NotFound: no such model or version (or alias, when removing).
            Conflict: ``expected_from`` differs, the version is archived, or another
                move of the same alias committed first.
            PermissionDenied: the alias is protected; request an approval instead.
        """
        ...

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of one alias (or of all aliases of the model), oldest first.
        Raises NotFound (model)."""
        ...

    def request_approval(
        self, request_id: str, name: str, alias: str, version: int, comment: str = ""
    ) -> ApprovalRequest:
        """Ask for ``alias`` to move to ``version``. Raises NotFound, Conflict (the
        version is archived, or an undecided request for the same move exists)."""
        ...

    def decide_approval(
        self, request_id: str, *, approve: bool, comment: str = ""
    ) -> ApprovalRequest:
        """Approve (moving the alias in the same transaction) or reject a pending request.

        Raises:
            NotFound: no such request.
            Conflict: the request is decided already, or its version was archived.
        """
        ...

    def list_approvals(
        self, name: str | None = None, status: ApprovalStatus | None = None
    ) -> list[ApprovalRequest]:
        """Approval requests, newest first, of one model and/or in one state."""
        ...


@runtime_checkable
class DatasetStore(Protocol):
    """Dataset versions (their manifests live in the blob store) and data-check reports.

    Versions are numbered from 1 per dataset and immutable; a number is never reused.
    """

    def create_version(self, draft: DatasetVersionDraft) -> tuple[DatasetVersion, bool]:
        """Record the next version of ``draft.name`` (creating the dataset), unless its
        newest version has the same ``content_digest``: then that version and False.

        Raises:
            NotFound: the producing run does not exist.
            InvalidInput: a malformed name or field.
        """
        ...

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """One version. Raises NotFound naming the dataset or the version."""
        ...

    def latest_version(self, name: str) -> DatasetVersion:
        """The newest version. Raises NotFound (no such dataset)."""
        ...

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version, newest first. Raises NotFound (no such dataset)."""
        ...

    def list_datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset, by name."""
        ...

    def save_check_report(self, record: CheckReportRecord) -> CheckReportRecord:
        """Store a report of data checks run on a version (``id`` chosen by the caller).
        Raises NotFound (version), AlreadyExists (id)."""
        ...

    def list_check_reports(self, name: str, version: int | None = None) -> list[CheckReportRecord]:
        """Check reports of a dataset (or of one version), newest first."""
        ...


@runtime_checkable
class ScheduleStore(Protocol):
    """Pipeline schedules and their firings.

    A firing is recorded only by :meth:`claim_firing`, which moves the schedule's
    position (see :mod:`loopml.domain.schedules`) from the value a controller read: of two
    controllers that read the same position, one claims and the other gets ``None``.
    Deleting a schedule deletes its firings; the pipeline runs they started stay.
    """

    def create_schedule(self, draft: ScheduleDraft) -> Schedule:
        """Store a new, enabled schedule.

        Raises:
            AlreadyExists: a schedule of that name exists.
            InvalidInput: a malformed name, cron expression, time zone or field.
        """
        ...

    def get_schedule(self, name: str) -> Schedule:
        """One schedule. Raises NotFound."""
        ...

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        ...

    def set_enabled(self, name: str, enabled: bool) -> Schedule:
        """Pause (``False``) or resume a schedule; a paused one is never claimed.
        Raises NotFound."""
        ...

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule and its firings. Raises NotFound."""
        ...

    def claim_firing(self, claim: FiringClaim) -> list[Firing] | None:
        """Move the schedule's position and record ``claim.firings`` in one transaction,
        if the schedule is enabled and its position is still the expected one; else
        ``None`` and nothing changes.

        Raises:
            NotFound: no such schedule.
            AlreadyExists: a firing id is taken.
        """
        ...

    def update_firing(self, firing_id: str, update: FiringUpdate) -> Firing:
        """Change a firing (its run, state, error, process). A final state stamps
        ``finished_at``; a finished firing cannot change state again.

        Raises:
            NotFound: no such firing.
            Conflict: the firing is already over and the update changes its state.
        """
        ...

    def get_firing(self, firing_id: str) -> Firing:
        """One firing. Raises NotFound."""
        ...

    def list_firings(
        self, schedule: str | None = None, state: FiringState | None = None, limit: int = 100
    ) -> list[Firing]:
        """Firings, newest first, of one schedule and/or in one state (``limit`` 1-1000).
        Raises InvalidInput (limit)."""
        ...


@runtime_checkable
class DeploymentStore(Protocol):
    """Deployments and the history of their traffic policies.

    Every change of policy is a new revision, numbered from 1 without gaps, and recorded
    in the history in the same transaction (see :mod:`loopml.domain.deployments`). A
    change given ``expected_revision`` is a compare-and-swap: of two writers that read
    the same revision, one changes it and the other gets ``Conflict``.
    """

    def create_deployment(self, draft: DeploymentDraft, *, reason: str = "") -> Deployment:
        """Store a new deployment at revision 1 (history: one ``create`` change).

        Raises:
            AlreadyExists: a deployment of that name exists.
            InvalidInput: a malformed name, model name, policy or description.
        """
        ...

    def get_deployment(self, name: str) -> Deployment:
        """One deployment. Raises NotFound."""
        ...

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        ...

    def update_policy(
        self,
        name: str,
        policy: TrafficPolicy,
        *,
        expected_revision: int | None = None,
        reason: str = "",
    ) -> Deployment:
        """Put ``policy`` in force as the next revision (an ``update`` change whose
        ``previous`` is the revision it replaced). A policy equal to the one in force
        changes nothing and returns the deployment as it is.

        Args:
            expected_revision: the revision the caller read; the change is refused
                when the deployment is at another one (checked before anything else).

        Raises:
            NotFound: no such deployment.
            Conflict: ``expected_revision`` differs from the current revision.
            InvalidInput: a malformed policy, revision or reason.
        """
        ...

    def rollback(self, name: str, *, reason: str = "") -> Deployment:
        """Put back the policy of the current revision's ``previous`` as the next
        revision (a ``rollback`` change that ``restores`` it and whose own ``previous``
        is the restored revision's), so that rolling back twice undoes two changes.

        Raises:
            NotFound: no such deployment.
            Conflict: the current revision has no previous one to return to.
        """
        ...

    def policy_history(self, name: str) -> list[PolicyChange]:
        """Every revision of the deployment's policy, newest first. Raises NotFound."""
        ...

    def delete_deployment(self, name: str) -> None:
        """Delete a deployment and its history. Raises NotFound."""
        ...


@runtime_checkable
class SegmentStore(Protocol):
    """The index of log segments: which Parquet blob holds which rows of a stream, and
    the time span of those rows (see :mod:`loopml.domain.logs`).

    Segments are log data, like metric values: adding one writes no audit event.
    """

    def add_segment(self, draft: SegmentDraft) -> Segment:
        """Record a segment. The same draft again (same stream, digest, times and
        counts) returns the segment already stored, so that a retried add is harmless.

        Raises:
            InvalidInput: a malformed stream name, digest, count or time.
            Conflict: the stream has a segment of this digest and first time whose
                counts or last time differ.
        """
        ...

    def list_segments(
        self, stream: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Segment]:
        """The stream's segments whose ``[first_time, last_time]`` overlaps
        ``[since, until]`` (both included; None leaves that end open), by first time,
        then id. Raises InvalidInput (stream name, times)."""
        ...

    def list_streams(self, prefix: str = "") -> list[str]:
        """The names of the streams that have segments and start with ``prefix``,
        sorted. Raises InvalidInput (prefix not text)."""
        ...
