"""Batch scoring on a Dask cluster: the job's files cut into parts, scored by workers,
assembled in order by the caller.

A part is a run of whole row groups of a Parquet file or a byte range of a CSV file,
about ``chunk_rows`` rows. A worker loads the model version once (verified as every
load is) and keeps it for the job's other parts; it writes each part's scores as an
Arrow IPC file in the job's staging folder and answers with the row count. The caller
appends each file's parts to its output in order, as soon as every earlier part of that
file is done, and deletes them: the output has the same rows in the same order as a
local job, and the parts on disk at any time are those finished early.

A CSV value that does not fit its column's inferred type fails its part; the job then
starts again with that column one type wider (``ReadPlan.widened``), the new attempt's
parts in a folder of their own, away from those the cancelled attempt may still write.

Workers read the input and write the parts through the file system, and load the model
from the job's stores: a local cluster shares them with the caller; a remote one needs
them at the same paths (or a store on a server and S3 blobs).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from loopml.errors import InvalidInput, LoopmlError, Unavailable
from loopml.serving._batch_io import (
    Format,
    InferredTypeTooNarrow,
    InputFile,
    OutputWriter,
    Part,
    ReadPlan,
    read_chunks,
    split_parts,
)
from loopml.serving._batch_score import FileJob, Progress, ScoreSpec, score_chunk

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.domain import ModelVersion
    from loopml.registry import PackagedModel

__all__ = ["PartTask", "score_on_dask", "score_part"]

# The models a worker process has loaded, by (store, name, version, manifest digest):
# a worker scores many parts of a job, and loading (with its hash checks) once per
# version is the point. A few versions at most; the oldest is dropped first.
_MODELS: dict[tuple[str, str, int, str], PackagedModel] = {}
_MODELS_LOCK = threading.Lock()
_MAX_MODELS = 4


@dataclass(frozen=True, slots=True)
class PartTask:
    """Everything a worker needs to score one part, sent to it pickled."""

    settings: Settings
    model: str
    version: int
    digest: str
    file: InputFile
    plan: ReadPlan
    spec: ScoreSpec
    part: Part
    chunk_rows: int
    target: str


def score_part(task: PartTask) -> int:
    """Worker side: score one part into ``task.target`` (Arrow IPC); the rows scored.

    A part without rows writes nothing.
    """
    model = _model(task)
    rows = 0
    writer: Any = None
    try:
        for chunk in read_chunks(task.file, task.plan, task.chunk_rows, task.part):
            scored = score_chunk(model, chunk, task.spec)
            if writer is None:
                writer = pa.ipc.new_file(task.target, scored.schema)
            writer.write_table(scored)
            rows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def score_on_dask(
    settings: Settings,
    version: ModelVersion,
    jobs: Sequence[FileJob],
    paths: Sequence[Path],
    format: Format,
    chunk_rows: int,
    parts_folder: Path,
    progress: Progress,
) -> None:
    """Score every file's parts on the cluster and assemble each output in order.

    Raises:
        InvalidInput: dask.distributed is not installed, or a part's input is bad.
        Unavailable: the scheduler cannot be reached.
    """
    client, cluster = _connect(settings.dask_address)
    try:
        for attempt in itertools.count(1):
            folder = parts_folder / f"attempt-{attempt}"
            tasks = _tasks(settings, version, jobs, chunk_rows, folder)
            done = progress.done
            try:
                _run(client, tasks, _Assembly(tasks, paths, format), progress)
                return
            except InferredTypeTooNarrow as exc:  # ends: a column widens at most 3 times
                jobs = _widened(jobs, exc)
                progress.rewind(done)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _widened(jobs: Sequence[FileJob], exc: InferredTypeTooNarrow) -> list[FileJob]:
    """``jobs`` with the column ``exc`` names one type wider in the file it names."""
    return [
        replace(job, plan=job.plan.widened(exc.column)) if str(job.file.path) == exc.path else job
        for job in jobs
    ]


def _tasks(
    settings: Settings,
    version: ModelVersion,
    jobs: Sequence[FileJob],
    chunk_rows: int,
    folder: Path,
) -> list[PartTask]:
    """A task per part of every file, writing its scores into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        PartTask(
            settings,
            version.name,
            version.version,
            version.manifest_digest,
            job.file,
            job.plan,
            job.spec,
            part,
            chunk_rows,
            str(folder / f"{part.file:06d}-{part.index:06d}.arrow"),
        )
        for index, job in enumerate(jobs)
        for part in split_parts(index, job.file, job.plan, chunk_rows)
    ]


class _Assembly:
    """Appends finished parts to their file's output, each file's parts in order."""

    def __init__(self, tasks: Sequence[PartTask], paths: Sequence[Path], format: Format) -> None:
        self._pending: dict[int, list[PartTask]] = {}
        for task in tasks:
            self._pending.setdefault(task.part.file, []).append(task)
        self._done: set[tuple[int, int]] = set()
        self._writers = {index: OutputWriter(path, format) for index, path in enumerate(paths)}

    def finished(self, task: PartTask) -> None:
        """Take a finished part; write it and every later one already finished."""
        self._done.add((task.part.file, task.part.index))
        queue = self._pending[task.part.file]
        while queue and (queue[0].part.file, queue[0].part.index) in self._done:
            _append(queue.pop(0).target, self._writers[task.part.file])
        if not queue:
            self._writers[task.part.file].close()

    def close(self) -> None:
        """Close every output (after a failure: the staging folder is discarded)."""
        for writer in self._writers.values():
            writer.close()


def _run(client: Any, tasks: Sequence[PartTask], assembly: _Assembly, progress: Progress) -> None:
    import distributed

    dask: Any = distributed  # untyped library
    futures = {client.submit(score_part, task, pure=False): task for task in tasks}
    try:
        for future in dask.as_completed(futures):
            rows = _result(future)
            assembly.finished(futures[future])
            progress.add(rows)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        assembly.close()


def _result(future: Any) -> int:
    try:
        return int(future.result())
    except LoopmlError:
        raise
    except Exception as exc:  # a worker that died, or a bug: the job fails, named
        raise Unavailable(
            f"A Dask worker failed while scoring: {type(exc).__name__}: {exc}"
        ) from exc


def _append(part: str, writer: OutputWriter) -> None:
    if not os.path.exists(part):  # a part without rows
        return
    with pa.memory_map(part) as source:
        writer.write(pa.ipc.open_file(source).read_all())  # a part is about a chunk
    os.remove(part)


def _connect(address: str | None) -> tuple[Any, Any]:
    """A client of the cluster at ``address``, else of a local cluster of worker
    processes (one per CPU, one thread each) started for the job."""
    try:
        # Only Dask jobs need distributed, an optional extra.
        import distributed
    except ImportError as exc:
        raise InvalidInput(
            "executor='dask' needs dask.distributed: pip install 'loopml[dask]'."
        ) from exc
    dask: Any = distributed
    try:
        if address:
            return dask.Client(address, timeout="10s"), None
        cluster = dask.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return dask.Client(cluster), cluster
    except OSError as exc:
        raise Unavailable(f"Cannot reach the Dask scheduler at {address}: {exc}.") from exc


def _model(task: PartTask) -> PackagedModel:
    key = (task.settings.store_uri, task.model, task.version, task.digest)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            from loopml.registry import ModelRegistry
            from loopml.tracking import Client

            registry = ModelRegistry(Client(task.settings, capture_environment=False))
            model = registry.load_model(f"{task.model}/{task.version}", record_input=False)
            if len(_MODELS) >= _MAX_MODELS:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = model
    return model
