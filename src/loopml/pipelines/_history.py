"""Continuing and reproducing recorded pipeline runs.

A pipeline run records what is needed to run it again: the target that loads the
pipeline, its parameters and the dataset versions it read (the spec blob of tag
``loopml.pipeline.spec``), and per step the cache key and output of its execution.

* :func:`resume_pipeline` runs the pipeline again with the same parameters and data,
  reusing every step that finished in that run (when its key is unchanged), so it
  continues from the step that failed.
* :func:`rerun_pipeline` executes every step again (no cache) with the same parameters
  and data, and reports which outputs differ and whether the code commit is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from loopml.errors import InvalidInput, NotFound, StoreError
from loopml.pipelines._runner import (
    TAG_KEY,
    TAG_KIND,
    TAG_OUTPUT,
    TAG_PIPELINE,
    TAG_RERUN,
    TAG_RESUMED,
    TAG_SPEC,
    TAG_STATE,
    TAG_STEP,
    Event,
    PipelineRun,
    StepRecord,
    run_graph,
)
from loopml.pipelines._targets import load_target

if TYPE_CHECKING:
    from loopml.domain import Run
    from loopml.pipelines._authoring import Pipeline
    from loopml.pipelines._executors import Executor
    from loopml.tracking import Client

__all__ = ["PipelineRerun", "rerun_pipeline", "resume_pipeline"]


@dataclass(frozen=True)
class PipelineRerun:
    """A reproduction: the new run and how its outputs compare with the original's."""

    original: str
    run: PipelineRun
    changed: Mapping[str, tuple[str | None, str | None]]  # step -> (before, now)
    same: tuple[str, ...]
    original_commit: str | None
    commit: str | None

    @property
    def commit_matches(self) -> bool:
        """Whether both runs recorded the same git commit (None outside git)."""
        return self.original_commit == self.commit

    @property
    def reproduced(self) -> bool:
        """Same commit and every step's output identical."""
        return self.commit_matches and not self.changed


def resume_pipeline(
    run_id: str,
    *,
    executor: str | Executor = "local",
    client: Client | None = None,
    on_event: Event | None = None,
    workers: int | None = None,
    pipeline: Pipeline | None = None,
) -> PipelineRun:
    """Continue pipeline run ``run_id`` from its failed step (see the module docstring).

    Args:
        run_id: the pipeline run (the parent run, not a step's).
        pipeline: the pipeline itself, when its recorded target cannot be loaded here.

    Raises:
        NotFound: no such run, or its pipeline cannot be loaded.
        InvalidInput: the run is not a pipeline run.
        StepFailed: a step failed again.
    """
    client = _client(client)
    parent, spec, children = _recorded(client, run_id)
    graph = (pipeline or _load(spec, run_id)).build(spec["params"])
    reuse = {
        name: StepRecord(
            name,
            run.tags[TAG_STATE],
            run.id,
            run.tags.get(TAG_OUTPUT),
            run.tags.get(TAG_KIND),
            key=run.tags.get(TAG_KEY),
        )
        for name, run in children.items()
        if run.tags.get(TAG_STATE) in ("done", "cached")
    }
    return run_graph(
        graph,
        executor=executor,
        client=client,
        on_event=on_event,
        workers=workers,
        target=spec.get("target"),
        reuse=reuse,
        pinned=_pinned(spec),
        experiment=_experiment(client, parent),
        tags={TAG_RESUMED: run_id},
    )


def rerun_pipeline(
    run_id: str,
    *,
    executor: str | Executor = "local",
    client: Client | None = None,
    on_event: Event | None = None,
    workers: int | None = None,
    pipeline: Pipeline | None = None,
) -> PipelineRerun:
    """Execute pipeline run ``run_id`` again, without cache, with the same parameters and
    dataset versions, and compare the outputs step by step.

    Raises:
        NotFound: no such run, or its pipeline cannot be loaded.
        InvalidInput: the run is not a pipeline run.
        StepFailed: a step failed.
    """
    client = _client(client)
    parent, spec, children = _recorded(client, run_id)
    graph = (pipeline or _load(spec, run_id)).build(spec["params"])
    again = run_graph(
        graph,
        executor=executor,
        cache=False,
        client=client,
        on_event=on_event,
        workers=workers,
        target=spec.get("target"),
        pinned=_pinned(spec),
        experiment=_experiment(client, parent),
        tags={TAG_RERUN: run_id},
    )
    changed: dict[str, tuple[str | None, str | None]] = {}
    same: list[str] = []
    for name, record in again.steps.items():
        before = children[name].tags.get(TAG_OUTPUT) if name in children else None
        if before == record.digest:
            same.append(name)
        else:
            changed[name] = (before, record.digest)
    now = client.get_run(again.id)
    return PipelineRerun(run_id, again, changed, tuple(same), parent.git_commit, now.git_commit)


def _client(client: Client | None) -> Client:
    from loopml.tracking import default_client

    return client or default_client()


def _recorded(client: Client, run_id: str) -> tuple[Run, dict[str, Any], dict[str, Run]]:
    from loopml.blobs import read_bytes

    parent = client.get_run(run_id)
    if TAG_PIPELINE not in parent.tags or TAG_SPEC not in parent.tags:
        hint = (
            f" (it is step {parent.tags[TAG_STEP]!r} of pipeline run {parent.parent_id})"
            if TAG_STEP in parent.tags
            else ""
        )
        raise InvalidInput(f"Run {run_id} is not a pipeline run{hint}.")
    try:
        spec = orjson.loads(read_bytes(client.stores.blobs, parent.tags[TAG_SPEC]))
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"The spec of pipeline run {run_id} is corrupt: {exc}.") from exc
    page = client.search_runs_page(filter=f"parent_id = '{run_id}'", limit=10_000)
    children = {run.tags[TAG_STEP]: run for run in page.runs if TAG_STEP in run.tags}
    return parent, spec, children


def _load(spec: Mapping[str, Any], run_id: str) -> Pipeline:
    target = spec.get("target")
    if not target:
        raise NotFound(
            f"Pipeline run {run_id} did not record where its pipeline lives; pass the "
            "pipeline itself (pipeline=...)."
        )
    return load_target(str(target))


def _pinned(spec: Mapping[str, Any]) -> dict[str, int]:
    return {str(name): int(version) for name, version in spec.get("datasets", {}).values()}


def _experiment(client: Client, parent: Run) -> str:
    return next(
        (e.name for e in client.list_experiments() if e.id == parent.experiment_id),
        str(parent.tags.get(TAG_PIPELINE, "")),
    )
