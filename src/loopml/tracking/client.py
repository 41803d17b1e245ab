"""The tracking client: every tracking verb over explicit settings and store adapters.

The fluent functions (``loopml.start_run``, ``loopml.log_metric``...) are a thin layer over
one default :class:`Client`; use a Client directly to log to several runs or stores.
"""

from __future__ import annotations

import os
import platform
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from loopml.config import Settings, load_settings
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
from loopml.domain.validation import (
    check_artifact_path,
    check_key,
    check_metric_value,
    check_name,
    check_param_value,
    check_step,
    check_tag_value,
)
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store import Stores, open_stores
from loopml.tracking import _system
from loopml.tracking._buffer import MetricBuffer
from loopml.tracking._system import GitState

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_EXPERIMENT", "Client"]

DEFAULT_EXPERIMENT = "Default"
_REAP_EVERY_S = 30.0


class Client:
    """Tracking over one store: experiments, runs, params, metrics, tags, artifacts.

    Args:
        settings: resolved settings; loaded from the environment when not given.
        clock: returns the current time (tests inject a fixed clock).
        new_id: returns a fresh run id (tests inject a deterministic one).
        capture_environment: record installed packages and git state on new runs.

    Example:
        >>> client = Client()
        >>> run = client.create_run("churn", name="rf")
        >>> client.log_metric(run.id, "acc", 0.91, step=1)
        >>> client.end_run(run.id)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        new_id: Callable[[], str] | None = None,
        capture_environment: bool = True,
    ) -> None:
        self.settings = settings or load_settings()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._capture_environment = capture_environment
        self._stores: Stores | None = None
        self._open_lock = threading.Lock()
        self._owned: set[str] = set()
        self._running_checked: set[str] = set()
        self._buffer: MetricBuffer | None = None
        self._last_reap = 0.0
        self._environment_digest: str | None = None

    # -- plumbing ---------------------------------------------------------------------

    @property
    def stores(self) -> Stores:
        """The store adapters, opened on first use (so ``Client()`` itself is cheap)."""
        if self._stores is None:
            with self._open_lock:
                if self._stores is None:
                    self._stores = open_stores(self.settings)
        return self._stores

    @property
    def _metrics(self) -> MetricBuffer:
        if self._buffer is None:
            with self._open_lock:
                if self._buffer is None:
                    self._buffer = MetricBuffer(
                        self.stores.runs,
                        self.settings.tracking_flush_interval,
                        self.settings.tracking_heartbeat_interval,
                        owned_runs=lambda: sorted(self._owned),
                    )
        return self._buffer

    def flush(self) -> None:
        """Write every queued metric now."""
        if self._buffer is not None:
            self._buffer.flush()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush queued metrics, stop the background thread and release connections."""
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None
        if self._stores is not None:
            self._stores.close()
            self._stores = None

    # -- experiments ------------------------------------------------------------------

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment. Raises AlreadyExists when the name is taken."""
        return self.stores.experiments.create_experiment(name, description)

    def get_experiment(self, name_or_id: str) -> Experiment:
        """The experiment with this name (or id). Raises NotFound."""
        found = self.stores.experiments.find_experiment(name_or_id)
        if found is not None:
            return found
        try:
            return self.stores.experiments.get_experiment(name_or_id)
        except NotFound:
            raise NotFound(f"No experiment named {name_or_id!r}.") from None

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        return self.stores.experiments.list_experiments()

    def ensure_experiment(self, name: str) -> Experiment:
        """The experiment with this name, created when missing (safe under races)."""
        check_name("experiment", name)
        found = self.stores.experiments.find_experiment(name)
        if found is not None:
            return found
        try:
            return self.stores.experiments.create_experiment(name)
        except AlreadyExists:
            created = self.stores.experiments.find_experiment(name)
            if created is None:
                raise
            return created

    # -- run life cycle ---------------------------------------------------------------

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        git: GitState | None = None,
    ) -> Run:
        """Start a new run in ``experiment`` (created if missing), owned by this process.

        Its heart beats while this process lives; a run whose process dies is marked
        failed by the next client that looks.

        Args:
            experiment: the experiment's name.
            name: the run's name (default ``run-`` and the start of its id).
            parent_id: the run this one is a child of.
            tags: tags to set on the new run.
            git: the commit and dirty state to record, when the caller knows them
                already (a pipeline's step runs take their pipeline run's); by default
                they are asked of git, which costs two subprocesses per run.

        Example:
            >>> parent = client.create_run("training")
            >>> child = client.create_run(
            ...     "training", parent_id=parent.id, git=GitState.of_run(parent)
            ... )
        """
        exp = self.ensure_experiment(experiment)
        run_id = self._new_id()
        now = self._clock()
        if git is None:
            git = _system.git_state() if self._capture_environment else GitState(None, None)
        run = Run(
            id=run_id,
            experiment_id=exp.id,
            name=check_name("run", name) if name is not None else f"run-{run_id[:8]}",
            status=RunStatus.RUNNING,
            start_time=now,
            parent_id=parent_id,
            tags={check_key("tag", k): check_tag_value(k, v) for k, v in (tags or {}).items()},
            git_commit=git.commit,
            git_dirty=git.dirty,
            python_version=platform.python_version(),
            environment_digest=self._store_environment(),
            host=_system.host_name(),
            pid=os.getpid(),
            heartbeat_at=now,
        )
        created = self.stores.runs.create_run(run)
        self._owned.add(run_id)
        self._running_checked.add(run_id)
        self._metrics.start()
        return created

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        """Flush the run's metrics and end it. Raises NotFound, Conflict (already ended).

        Everything logged before the call is stored, even if the flush raises.
        """
        status = _status(status)
        try:
            self.flush()
        finally:
            self._owned.discard(run_id)
            self._running_checked.discard(run_id)
            ended = self.stores.runs.end_run(run_id, status, self._clock())
        return ended

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags. Raises NotFound."""
        self.reap_dead_runs()
        return self.stores.runs.get_run(run_id)

    def reap_dead_runs(self, *, force: bool = False) -> list[str]:
        """Mark as failed the running runs whose process died or stopped beating.

        Called by reads at most every 30 s; returns the ids it failed.
        """
        now = self._clock()
        if not force and now.timestamp() - self._last_reap < _REAP_EVERY_S:
            return []
        self._last_reap = now.timestamp()
        runs = self.stores.runs
        dead = [
            run_id
            for run_id, pid in runs.list_running_on(_system.host_name())
            if run_id not in self._owned and not _system.is_process_alive(pid)
        ]
        cutoff = now - timedelta(seconds=self.settings.tracking_heartbeat_timeout)
        return runs.fail_stale_runs(cutoff, dead)

    # -- logging ----------------------------------------------------------------------

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log params (written at once). Raises Conflict when one had another value."""
        checked: dict[str, ParamValue] = {
            check_key("param", k): check_param_value(k, v) for k, v in params.items()
        }
        self.stores.runs.log_run_data(run_id, RunUpdate(params=checked))

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param (written at once). Raises Conflict when it had another value."""
        self.log_params(run_id, {key: value})

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Set one tag (written at once)."""
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags (written at once); a tag set again takes the new value."""
        checked = {check_key("tag", k): check_tag_value(k, v) for k, v in tags.items()}
        self.stores.runs.log_run_data(run_id, RunUpdate(tags=checked))

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int = 0,
        timestamp: datetime | None = None,
    ) -> None:
        """Queue one metric value; written in the background within the flush interval.

        NaN and ±inf are stored as such. Raises InvalidInput (bad key, value or step)
        and Conflict (the run has ended) at the call.
        """
        metric = Metric(
            check_key("metric", key),
            check_metric_value(key, value),
            check_step(key, step),
            timestamp or self._clock(),
        )
        self._require_running(run_id)
        self._metrics.add(run_id, metric)

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int = 0,
        timestamp: datetime | None = None,
    ) -> None:
        """Queue several metric values at the same step and time."""
        moment = timestamp or self._clock()
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step, moment)

    def log_batch(self, run_id: str, update: RunUpdate) -> None:
        """Write a whole batch of params, metrics, tags and artifacts now, atomically."""
        self.stores.runs.log_run_data(run_id, update)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for a metric, by step then time (queued values included)."""
        if run_id in self._owned:
            self.flush()
        return self.stores.runs.get_metric_history(run_id, key)

    # -- artifacts --------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[Artifact]:
        """Store a file or a whole folder as artifacts of the run.

        A file lands at ``artifact_path/NAME`` (``NAME`` at the top without
        ``artifact_path``); a folder's files keep their relative paths under it.
        Content is stored once in the blob store, however many runs log it.
        """
        source = Path(local_path)
        if not source.exists():
            raise NotFound(f"No file or folder at {str(source)!r} to log as an artifact.")
        prefix = check_artifact_path(artifact_path.rstrip("/")) if artifact_path else ""
        self._require_running(run_id)
        files = _walk(source)
        entries = []
        for file, relative in files:
            path = f"{prefix}/{relative}" if prefix else relative
            ref = self.stores.blobs.put_file(file)
            entries.append(Artifact(check_artifact_path(path), ref.digest, ref.size))
        self.stores.runs.log_run_data(run_id, RunUpdate(artifacts=entries))
        return entries

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[Artifact]:
        """Store every file of a folder as artifacts of the run (see :meth:`log_artifact`)."""
        return self.log_artifact(run_id, local_dir, artifact_path)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path starts with ``prefix``."""
        return self.stores.runs.list_artifacts(run_id, prefix)

    def download_artifacts(
        self, run_id: str, dest: str | os.PathLike[str], prefix: str = ""
    ) -> list[Path]:
        """Copy the run's artifacts under ``prefix`` into folder ``dest``; returns the files."""
        found = self.list_artifacts(run_id, prefix)
        if prefix and not found:
            raise NotFound(f"Run {run_id!r} has no artifact at {prefix!r}.")
        written = []
        for artifact in found:
            target = Path(dest) / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            self.stores.blobs.get_file(artifact.digest, target)
            written.append(target)
        return written

    def get_environment(self, run_id: str) -> dict[str, Any]:
        """The Python version, platform and packages recorded when the run started."""
        digest = self.get_run(run_id).environment_digest
        if digest is None:
            return {}
        with self.stores.blobs.open(digest) as stream:
            loaded: dict[str, Any] = orjson.loads(stream.read())
        return loaded

    # -- search -----------------------------------------------------------------------

    def search_runs_page(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        limit: int = 1000,
        page_token: str | None = None,
    ) -> RunPage:
        """One page of runs matching ``filter``, as domain records.

        Raises:
            NotFound: an unknown experiment name.
            InvalidInput: a malformed filter (the message points at the token), order,
                limit or page token.
        """
        if isinstance(order_by, str):
            order_by = [order_by]
        names = [experiments] if isinstance(experiments, str) else list(experiments or [])
        ids = tuple(self.get_experiment(name).id for name in names)
        self.reap_dead_runs()
        query = RunQuery(ids, filter or "", tuple(order_by), limit, page_token)
        return self.stores.runs.search_runs(query)

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        limit: int = 1000,
        page_token: str | None = None,
    ) -> pd.DataFrame:
        """Runs matching ``filter`` as a pandas DataFrame: one row per run, columns
        ``run_id, experiment_id, name, status, start_time, end_time, parent_id`` then
        ``params.*``, ``metrics.*`` and ``tags.*``. The token of the next page is in
        ``df.attrs["next_page_token"]``.

        Example:
            >>> client.search_runs("churn", filter="metrics.acc > 0.9 and params.model = 'rf'",
            ...                    order_by=["-metrics.acc"], limit=10)
        """
        from loopml.tracking._frame import runs_frame  # pandas loads only when searching

        page = self.search_runs_page(experiments, filter, order_by, limit, page_token)
        return runs_frame(page)

    def compare_report(self, run_ids: Sequence[str]) -> str:
        """A self-contained HTML page comparing runs: params, latest metrics and a chart
        of each metric's history. Raises NotFound for an unknown run."""
        from loopml.tracking.report import RunCurves, render_comparison

        items = []
        for run_id in run_ids:
            run = self.get_run(run_id)
            histories = {key: self.get_metric_history(run_id, key) for key in run.metrics}
            items.append(RunCurves(run, histories))
        return render_comparison(items)

    # -- helpers ----------------------------------------------------------------------

    def _require_running(self, run_id: str) -> None:
        if run_id in self._running_checked:
            return
        run = self.stores.runs.get_run(run_id)
        if not run.is_running:
            raise Conflict(
                f"Run {run_id!r} is {run.status.value}; start a new run, or log to a running one."
            )
        self._running_checked.add(run_id)

    def _store_environment(self) -> str | None:
        # The environment is fixed for a process: store it once, reuse the digest.
        if not self._capture_environment:
            return None
        if self._environment_digest is None:
            from loopml.blobs import put_bytes

            body = orjson.dumps(_system.environment(), option=orjson.OPT_SORT_KEYS)
            self._environment_digest = put_bytes(self.stores.blobs, body).digest
        return self._environment_digest


def _status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        valid = ", ".join(s.value for s in RunStatus if s.is_terminal)
        raise InvalidInput(f"Unknown run status {status!r}; use one of: {valid}.") from None


def _walk(source: Path) -> Iterable[tuple[Path, str]]:
    if source.is_file():
        return [(source, source.name)]
    return sorted(
        (file, file.relative_to(source).as_posix()) for file in source.rglob("*") if file.is_file()
    )
