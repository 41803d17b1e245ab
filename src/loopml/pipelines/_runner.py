"""Running a pipeline: cache lookups, parallel steps, retries and the run records.

A pipeline run is a tracked run (experiment: the pipeline's name) with one child run
per step. The orchestrating process writes every record; workers only read inputs and
store outputs in the blob store (see :mod:`loopml.pipelines._execute`).

**Cache.** A step's key is the BLAKE3 of its code fingerprint (its function and the
project code it calls, :mod:`loopml.pipelines._code`), its parameters, the digests of
its input values and the content digests of its dataset versions. A finished step run
carrying the same key (tag ``loopml.step.cache_key``) whose output blob still exists
stands in for the step: the step is recorded as ``cached``, pointing at the run it
reuses. Keys use the *content* of upstream outputs, so a step whose upstream re-ran
and produced the same value stays cached.

**Failures.** A step that raises, or whose worker dies, is retried after
``backoff * 2**(attempt-1)`` seconds while it has retries left. When it finally fails,
nothing new starts, steps already running finish and are recorded, the rest are
``skipped``, the pipeline run ends ``failed`` and :class:`StepFailed` carries the
step's traceback (also stored as the artifact ``traceback.txt`` of its run).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import blake3
import orjson

from loopml.domain import Artifact, RunStatus, RunUpdate
from loopml.domain.data import INPUT_DATASET_TAG
from loopml.errors import InvalidInput, LoopmlError, NotFound
from loopml.pipelines._authoring import Graph, Node, Output, Pipeline
from loopml.pipelines._code import code_fingerprint, is_project_module
from loopml.pipelines._execute import StepOutcome, StepTask
from loopml.pipelines._executors import Executor, WorkerLost, open_executor

if TYPE_CHECKING:
    from loopml.blobs import BlobStore
    from loopml.domain import DatasetVersion, Run
    from loopml.tracking import Client

__all__ = [
    "PipelineRun",
    "StepFailed",
    "StepRecord",
    "run_graph",
    "run_pipeline",
]

KEY_FORMAT = 1
TAG_PIPELINE = "loopml.pipeline"
TAG_TARGET = "loopml.pipeline.target"
TAG_SPEC = "loopml.pipeline.spec"
TAG_RESUMED = "loopml.pipeline.resumed_from"
TAG_RERUN = "loopml.pipeline.rerun_of"
TAG_STEP = "loopml.step"
TAG_STATE = "loopml.step.state"
TAG_KEY = "loopml.step.cache_key"
TAG_OUTPUT = "loopml.step.output"
TAG_KIND = "loopml.step.output_kind"
TAG_CACHED_FROM = "loopml.step.cached_from"
TAG_ATTEMPTS = "loopml.step.attempts"
TAG_ERROR = "loopml.step.error"
TAG_UPSTREAM = "loopml.step.upstream"

Event = Callable[[str, str, str], None]
"""``on_event(step, state, detail)``: pending, running, retrying, cached, done, failed,
skipped."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """How one step of a pipeline run ended."""

    node: str
    state: str  # done, cached, failed or skipped
    run_id: str | None = None
    digest: str | None = None
    kind: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    cached_from: str | None = None
    error: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class PipelineRun:
    """The outcome of :func:`run_pipeline`: the pipeline run's id and every step's record."""

    id: str
    pipeline: str
    status: RunStatus
    params: Mapping[str, Any]
    steps: Mapping[str, StepRecord]
    result: Any = None  # what the pipeline function returned: outputs by node
    _blobs: BlobStore | None = field(default=None, repr=False, compare=False)

    @property
    def cached(self) -> list[str]:
        """The steps that reused a previous execution."""
        return [name for name, record in self.steps.items() if record.state == "cached"]

    @property
    def executed(self) -> list[str]:
        """The steps that ran."""
        return [name for name, record in self.steps.items() if record.state in ("done", "failed")]

    def output(self, step: str | None = None) -> Any:
        """The value a step returned (default: what the pipeline returns: one output, or
        a tuple or dict of them), read back from the blob store.

        Raises:
            NotFound: no such step, or the step has no output (failed or skipped).
        """
        from loopml.pipelines._values import load_value

        if step is None:
            result = self.result
            if isinstance(result, Output):
                return self.output(result.node)
            if isinstance(result, tuple | list):
                return type(result)(self.output(item.node) for item in result)
            if isinstance(result, dict):
                return {key: self.output(item.node) for key, item in result.items()}
            return None
        record = self.steps.get(step)
        if record is None:
            raise NotFound(f"Pipeline run {self.id} has no step {step!r}.")
        if record.digest is None or record.kind is None or self._blobs is None:
            raise NotFound(f"Step {step!r} of run {self.id} has no output ({record.state}).")
        return load_value(record.digest, record.kind, self._blobs)


class StepFailed(LoopmlError):
    """A step failed for good; ``run`` holds the records of the whole pipeline run."""

    exit_code = 1

    def __init__(self, message: str, run: PipelineRun, traceback: str) -> None:
        super().__init__(message)
        self.run = run
        self.traceback = traceback


def run_pipeline(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str | Executor = "local",
    cache: bool = True,
    experiment: str | None = None,
    client: Client | None = None,
    on_event: Event | None = None,
    workers: int | None = None,
    target: str | None = None,
) -> PipelineRun:
    """Run ``pipeline`` as a tracked run with one child run per step.

    Args:
        pipeline: a function marked with ``@pipeline``.
        params: values for its parameters (strings are converted to the annotated type).
        executor: ``"local"`` (a process pool, the default), ``"dask"``
            (``LOOPML_DASK_ADDRESS``, or a local Dask cluster), ``"inline"`` (this
            process, one step at a time), or an executor object.
        cache: reuse previous identical step executions (``False``: run everything).
        experiment: where the runs go (default: the pipeline's name).
        client: the tracking client (default: the one the fluent API uses).
        on_event: called with ``(step, state, detail)`` as steps progress.
        workers: processes of the local pool or local Dask cluster.
        target: ``FILE:NAME`` or ``module:NAME`` that loads this pipeline, recorded so
            that ``resume`` and ``rerun`` can load it again (found by itself when the
            pipeline's module is importable).

    Returns:
        The run's records; ``.output()`` reads the pipeline's result.

    Raises:
        InvalidInput: bad parameters or a malformed pipeline (nothing is recorded).
        NotFound: a dataset version the pipeline reads does not exist.
        StepFailed: a step failed after its retries; the run is recorded as failed.

    Example:
        >>> run = loopml.run_pipeline(training, params={"C": 0.5})
        >>> run.cached, run.output()
    """
    graph = pipeline.build(params)
    return run_graph(
        graph,
        executor=executor,
        cache=cache,
        experiment=experiment,
        client=client,
        on_event=on_event,
        workers=workers,
        target=target or _importable_target(pipeline),
    )


def run_graph(
    graph: Graph,
    *,
    executor: str | Executor = "local",
    cache: bool = True,
    experiment: str | None = None,
    client: Client | None = None,
    on_event: Event | None = None,
    workers: int | None = None,
    target: str | None = None,
    reuse: Mapping[str, StepRecord] | None = None,
    pinned: Mapping[str, int] | None = None,
    tags: Mapping[str, str] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> PipelineRun:
    """Run a built graph (see :func:`run_pipeline`). ``reuse`` maps steps to records of
    an earlier run that stand in for them when their cache key is unchanged (resume);
    ``pinned`` fixes dataset versions by name (rerun); ``on_start`` is called with the
    pipeline run's id as soon as the run is recorded, before any step starts."""
    from loopml.pipelines._targets import absolute_target
    from loopml.tracking import default_client

    client = client or default_client()
    target = absolute_target(target) if target else None
    owned = isinstance(executor, str)
    # Opened first: the local pool's first worker starts now and gets ready while the
    # datasets are resolved and the pipeline run is recorded.
    runner = (
        open_executor(executor, client.settings, workers) if isinstance(executor, str) else executor
    )
    try:
        datasets = _resolve_datasets(graph, client, pinned or {})
        return _Run(
            graph, client, runner, cache, experiment, on_event, target, reuse or {}, datasets, tags
        ).run(on_start)
    finally:
        if owned:
            runner.close()


@dataclass
class _Running:
    node: Node
    run_id: str
    key: str
    attempt: int
    started: float


class _Run:
    def __init__(
        self,
        graph: Graph,
        client: Client,
        executor: Executor,
        cache: bool,
        experiment: str | None,
        on_event: Event | None,
        target: str | None,
        reuse: Mapping[str, StepRecord],
        datasets: dict[str, tuple[DatasetVersion, str]],
        tags: Mapping[str, str] | None,
    ) -> None:
        self.graph = graph
        self.client = client
        self.blobs = client.stores.blobs
        self.executor = executor
        self.cache = cache
        self.experiment = experiment or graph.pipeline
        self.on_event = on_event or (lambda step, state, detail: None)
        self.target = target
        self.reuse = reuse
        self.datasets = datasets  # ref -> (version, local path)
        self.extra_tags = dict(tags or {})
        self.records: dict[str, StepRecord] = {}
        self.outputs: dict[str, StepRecord] = {}  # the records that have an output
        self.fingerprints: dict[int, str] = {}

    def run(self, on_start: Callable[[str], None] | None = None) -> PipelineRun:
        from loopml.tracking import GitState

        graph, client = self.graph, self.client
        spec = self._spec()
        parent = client.create_run(
            self.experiment,
            name=graph.pipeline,
            tags={
                TAG_PIPELINE: graph.pipeline,
                TAG_SPEC: spec,
                **({TAG_TARGET: self.target} if self.target else {}),
                **{
                    f"{INPUT_DATASET_TAG}{version.name}": str(version.version)
                    for version, _ in self.datasets.values()
                },
                **self.extra_tags,
            },
        )
        self.parent = parent
        # Step runs record the pipeline run's commit: asking git again costs two
        # subprocesses per step, and the code a pipeline runs is what it started with.
        self.git = GitState.of_run(parent)
        status = RunStatus.FAILED
        try:
            if on_start is not None:
                on_start(parent.id)
            client.log_batch(parent.id, RunUpdate(params=_param_values(graph.params)))
            for node in graph.nodes:
                self.on_event(node.name, "pending", "")
            failure = self._schedule()
            status = RunStatus.FAILED if failure else RunStatus.FINISHED
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            raise
        finally:
            client.end_run(parent.id, status)
        outcome = PipelineRun(
            parent.id,
            graph.pipeline,
            status,
            graph.params,
            dict(self.records),
            graph.result,
            self.blobs,
        )
        if failure is not None:
            _, message, trace = failure
            raise StepFailed(message, outcome, trace)
        return outcome

    # -- scheduling ----------------------------------------------------------------

    def _schedule(self) -> tuple[str, str, str] | None:
        waiting = list(self.graph.nodes)
        running: dict[Future[StepOutcome], _Running] = {}
        retries: list[tuple[float, int, _Running]] = []  # (due, tie-breaker, attempt)
        failure: tuple[str, str, str] | None = None
        # The records of a finished step are written once the steps it unblocks have
        # been handed to workers, so that the writing overlaps their running.
        unwritten: list[tuple[_Running, StepOutcome]] = []
        try:
            while waiting or running or retries:
                if failure is None:
                    for node in [n for n in waiting if self._ready(n)]:
                        waiting.remove(node)
                        started = self._start(node)
                        if started is not None:
                            running[started[0]] = started[1]
                else:  # nothing new starts; running steps and their retries finish
                    for node in waiting:
                        self._skip(node)
                    waiting = []
                while unwritten:
                    self._write_done(*unwritten.pop(0))
                now = time.monotonic()
                while retries and retries[0][0] <= now:
                    _, _, item = heapq.heappop(retries)
                    running[self._submit(item.node, item.attempt)] = item
                if not running:
                    if retries:
                        time.sleep(max(0.0, retries[0][0] - time.monotonic()))
                    elif waiting and not any(self._ready(n) for n in waiting):
                        raise InvalidInput("The pipeline's steps wait on each other: a cycle.")
                    continue
                timeout = max(0.0, retries[0][0] - time.monotonic()) if retries else None
                done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    item = running.pop(future)
                    failed = self._settle(
                        item, _outcome(future, item.node.name), retries, unwritten
                    )
                    failure = failure or failed
        finally:
            for written in unwritten:
                self._write_done(*written)
        return failure

    def _ready(self, node: Node) -> bool:
        return all(u in self.outputs for u in node.upstream)

    def _settle(
        self,
        item: _Running,
        outcome: StepOutcome,
        retries: list[tuple[float, int, _Running]],
        unwritten: list[tuple[_Running, StepOutcome]],
    ) -> tuple[str, str, str] | None:
        """Take a step's outcome: done (its records to write), retried later, or failed
        (the failure returned)."""
        if outcome.ok:
            self._settle_done(item, outcome)
            unwritten.append((item, outcome))
            return None
        step = item.node.step
        if outcome.retryable and item.attempt <= step.retries:
            delay = step.backoff * 2 ** (item.attempt - 1)
            self.on_event(item.node.name, "retrying", f"{outcome.error_type}; retry in {delay:g} s")
            nxt = _Running(item.node, item.run_id, item.key, item.attempt + 1, time.monotonic())
            heapq.heappush(retries, (time.monotonic() + delay, id(nxt), nxt))
            return None
        message = self._finish_failed(item, outcome.error_type, outcome.error, outcome.logs)
        return (item.node.name, message, outcome.error)

    def _record(self, record: StepRecord) -> None:
        self.records[record.node] = record
        if record.digest is not None:
            self.outputs[record.node] = record

    def _start(self, node: Node) -> tuple[Future[StepOutcome], _Running] | None:
        outputs = self.outputs
        inputs = {
            arg: outputs[value.node]
            for arg, value in node.args.items()
            if isinstance(value, Output)
        }
        key = self._key(node, inputs)
        hit = self._reusable(node, key)
        # The step is handed to a worker before its run is recorded (the task does not
        # need the run's id): the worker starts while the record is written.
        future = self._submit(node, 1) if hit is None else None
        started = time.monotonic()
        child = self.client.create_run(
            self.experiment,
            name=node.name,
            parent_id=self.parent.id,
            tags={TAG_PIPELINE: self.graph.pipeline, TAG_STEP: node.name},
            git=self.git,
        )
        if future is None:
            assert hit is not None
            self._record_cached(node, child, key, hit)
            return None
        self.on_event(node.name, "running", "")
        return future, _Running(node, child.id, key, 1, started)

    def _submit(self, node: Node, attempt: int) -> Future[StepOutcome]:
        import cloudpickle

        outputs = self.outputs
        _pickle_project_code_by_value(node.step.func)
        task = StepTask(
            node=node.name,
            function=cloudpickle.dumps(node.step.func),
            params=node.params,
            inputs={
                arg: (outputs[v.node].digest or "", outputs[v.node].kind or "")
                for arg, v in node.args.items()
                if isinstance(v, Output)
            },
            datasets={arg: self.datasets[d.ref][1] for arg, d in node.datasets.items()},
            blob_uri=self.blobs.uri,
            settings=self.client.settings,
        )
        if attempt > 1:
            self.on_event(node.name, "running", f"attempt {attempt}")
        return self.executor.submit(cloudpickle.dumps(task))

    # -- cache ---------------------------------------------------------------------

    def _key(self, node: Node, inputs: Mapping[str, StepRecord]) -> str:
        step = node.step
        fingerprint = self.fingerprints.get(id(step))
        if fingerprint is None:
            fingerprint = self.fingerprints[id(step)] = code_fingerprint(step.func)
        document = {
            "format": KEY_FORMAT,
            "code": fingerprint,
            "params": _canonical(node.params),
            "inputs": {arg: record.digest for arg, record in sorted(inputs.items())},
            "datasets": {
                arg: self.datasets[d.ref][0].content_digest
                for arg, d in sorted(node.datasets.items())
            },
        }
        return str(blake3.blake3(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest())

    def _reusable(self, node: Node, key: str) -> StepRecord | None:
        earlier = self.reuse.get(node.name)
        if earlier is not None and earlier.key == key and self._stored(earlier):
            return earlier
        if not (self.cache and node.step.cache):
            return None
        page = self.client.search_runs_page(
            filter=f"tags.`{TAG_KEY}` = '{key}' and status = 'finished'", limit=5
        )
        for run in page.runs:
            digest, kind = run.tags.get(TAG_OUTPUT), run.tags.get(TAG_KIND)
            if digest and kind:
                record = StepRecord(node.name, "done", run.id, digest, kind)
                if self._stored(record):
                    return record
        return None

    def _stored(self, record: StepRecord) -> bool:
        return record.kind == "none" or (
            record.digest is not None and self.blobs.exists(record.digest)
        )

    # -- records -------------------------------------------------------------------

    def _record_cached(self, node: Node, child: Run, key: str, hit: StepRecord) -> None:
        source = hit.run_id or ""
        self._write(
            child.id,
            node,
            key,
            {
                TAG_STATE: "cached",
                TAG_OUTPUT: hit.digest or "",
                TAG_KIND: hit.kind or "",
                TAG_CACHED_FROM: source,
            },
            [],
        )
        self.client.end_run(child.id)
        self._record(
            StepRecord(
                node.name, "cached", child.id, hit.digest, hit.kind, cached_from=source, key=key
            )
        )
        self.on_event(node.name, "cached", source[:12])

    def _settle_done(self, item: _Running, outcome: StepOutcome) -> None:
        """Count the step done, so that the steps waiting on its output can start."""
        self._record(
            StepRecord(
                item.node.name,
                "done",
                item.run_id,
                outcome.digest,
                outcome.kind,
                outcome.seconds,
                item.attempt,
                key=item.key,
            )
        )
        self.on_event(item.node.name, "done", f"{outcome.seconds:.2f} s")

    def _write_done(self, item: _Running, outcome: StepOutcome) -> None:
        """Store the done step's outputs, logs and timing on its run, and end the run."""
        artifacts = self._texts(logs=outcome.logs)
        self._write(
            item.run_id,
            item.node,
            item.key,
            {
                TAG_STATE: "done",
                TAG_OUTPUT: outcome.digest,
                TAG_KIND: outcome.kind,
                TAG_ATTEMPTS: str(item.attempt),
            },
            artifacts,
            seconds=outcome.seconds,
        )
        self.client.end_run(item.run_id)

    def _finish_failed(self, item: _Running, error_type: str, error: str, logs: str) -> str:
        name = item.node.name
        summary = error.strip().splitlines()[-1] if error.strip() else error_type
        message = (
            f"Step {name!r} of pipeline {self.graph.pipeline!r} failed"
            + (f" after {item.attempt} attempts" if item.attempt > 1 else "")
            + f": {summary} (pipeline run {self.parent.id}, step run {item.run_id}; "
            "the traceback is its artifact traceback.txt)."
        )
        self._write(
            item.run_id,
            item.node,
            None,
            {TAG_STATE: "failed", TAG_ATTEMPTS: str(item.attempt), TAG_ERROR: error_type[:200]},
            self._texts(logs=logs, traceback=error),
        )
        self.client.end_run(item.run_id, RunStatus.FAILED)
        self._record(
            StepRecord(
                name, "failed", item.run_id, attempts=item.attempt, error=error or error_type
            )
        )
        self.on_event(name, "failed", summary)
        return message

    def _skip(self, node: Node) -> None:
        self._record(StepRecord(node.name, "skipped"))
        self.on_event(node.name, "skipped", "")

    def _write(
        self,
        run_id: str,
        node: Node,
        key: str | None,
        tags: dict[str, str],
        artifacts: list[Artifact],
        seconds: float | None = None,
    ) -> None:
        from loopml.domain import Metric

        all_tags = dict(tags)
        if key is not None:
            all_tags[TAG_KEY] = key
        if node.upstream:
            all_tags[TAG_UPSTREAM] = ",".join(node.upstream)
        for ref in node.datasets.values():
            version = self.datasets[ref.ref][0]
            all_tags[f"{INPUT_DATASET_TAG}{version.name}"] = str(version.version)
        metrics = []
        if seconds is not None:
            metrics.append(Metric("duration_s", seconds, 0, datetime.now(UTC)))
        self.client.log_batch(
            run_id,
            RunUpdate(
                params=_param_values(node.params),
                tags=all_tags,
                artifacts=artifacts,
                metrics=metrics,
            ),
        )

    def _texts(self, **texts: str) -> list[Artifact]:
        from loopml.blobs import put_bytes

        found = []
        for name, text in texts.items():
            if text:
                ref = put_bytes(self.blobs, text.encode())
                found.append(Artifact(f"{name}.txt", ref.digest, ref.size))
        return found

    def _spec(self) -> str:
        """The graph and its inputs as a blob (for resume, rerun and drawing the DAG)."""
        from loopml.blobs import put_bytes

        document = {
            "format": 1,
            "pipeline": self.graph.pipeline,
            "target": self.target,
            "params": self.graph.params,
            "datasets": {ref: [v.name, v.version] for ref, (v, _) in self.datasets.items()},
            "nodes": [
                {"name": n.name, "step": n.step.name, "upstream": list(n.upstream)}
                for n in self.graph.nodes
            ],
        }
        return put_bytes(self.blobs, orjson.dumps(document, default=repr)).digest


def _outcome(future: Future[StepOutcome], node: str) -> StepOutcome:
    try:
        return future.result()
    except WorkerLost as exc:
        return StepOutcome(node, ok=False, error_type="WorkerLost", error=str(exc))


def _resolve_datasets(
    graph: Graph, client: Client, pinned: Mapping[str, int]
) -> dict[str, tuple[DatasetVersion, str]]:
    refs = {d.ref for node in graph.nodes for d in node.datasets.values()}
    if not refs:
        return {}
    from loopml.data import DataRepo
    from loopml.data._refs import parse_dataset_ref

    repo = DataRepo(client)
    found: dict[str, tuple[DatasetVersion, str]] = {}
    for ref in sorted(refs):
        parsed = parse_dataset_ref(ref)
        number = pinned.get(parsed.name, parsed.version)
        version = repo.get_version(parsed.name if number is None else f"{parsed.name}@v{number}")
        found[ref] = (version, str(repo.open(version.ref)))
    return found


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return {"float": repr(value)}  # NaN and inf too, which JSON lacks
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def _param_values(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value
        if value is None or isinstance(value, bool | int | float | str)
        else orjson.dumps(_json_safe(value)).decode()
        for key, value in params.items()
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _pickle_project_code_by_value(func: Callable[..., Any]) -> None:
    """Workers may not import the user's modules (a file loaded by path, a test module):
    ship project code inside the pickle instead of as an import."""
    import sys

    import cloudpickle

    module_name = getattr(func, "__module__", None)
    if module_name and module_name != "__main__" and is_project_module(module_name):
        module = sys.modules.get(module_name)
        if module is not None:
            cloudpickle.register_pickle_by_value(module)


def _importable_target(pipeline: Pipeline) -> str | None:
    """``module:name`` for a pipeline in an importable module, else ``FILE:name``."""
    import sys

    from loopml.pipelines._targets import LOADED_PREFIX

    module = getattr(pipeline.func, "__module__", None) or ""
    name = pipeline.func.__name__
    if module and module != "__main__" and not module.startswith(LOADED_PREFIX):
        return f"{module}:{name}"
    file = getattr(sys.modules.get(module), "__file__", None)
    return f"{file}:{name}" if file else None
