"""Batch scoring: a registered model over CSV or Parquet files, folders of them or a
dataset version, streamed in chunks, each job a tracked run.

The job is split over four modules: this one (the API, the run, the local loop),
``_batch_io`` (finding, reading, splitting and writing files), ``_batch_score`` (the
columns, the checks and the scoring of one chunk) and ``_batch_dask`` (the parts on a
Dask cluster).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, LoopmlError, NotFound, PermissionDenied, StoreError
from loopml.serving._batch_io import (
    Format,
    InferredTypeTooNarrow,
    OutputWriter,
    Part,
    Staging,
    find_inputs,
    output_format,
    read_chunks,
    refuse_existing,
    split_parts,
)
from loopml.serving._batch_score import (
    FileJob,
    Progress,
    ProgressCallback,
    plan_files,
    score_chunk,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from loopml.domain import DatasetVersion, ModelVersion
    from loopml.registry import PackagedModel
    from loopml.tracking import Client

__all__ = ["ERROR_TAG", "EXECUTORS", "EXPERIMENT", "BatchResult", "predict_files"]

EXPERIMENT = "batch-scoring"
EXECUTORS = ("local", "dask")
# CSV parts parsed at once by a local job: one per core, up to four (each holds a chunk).
_MAX_CSV_READERS = 4
ERROR_TAG = "loopml.batch.error"
"""The tag a failed job's run carries: the error's type and message."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch-scoring job did.

    Attributes:
        rows: the rows scored.
        files: the input files scored.
        seconds: the job's wall time, model loading and checks included.
        run_id: the job's run (experiment ``batch-scoring``).
        model: the registered model's name.
        version: the model version used.
        output: the file or folder written.
    """

    rows: int
    files: int
    seconds: float
    run_id: str
    model: str
    version: int
    output: Path

    @property
    def rows_per_second(self) -> float:
        """Rows scored per second of the whole job."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def predict_files(
    model_uri: str,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    keys: Sequence[str] | None = None,
    chunk_rows: int = 100_000,
    proba: bool = False,
    executor: str = "local",
    overwrite: bool = False,
    client: Client | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchResult:
    """Score CSV or Parquet files with a registered model, chunk by chunk.

    The output holds, per input row and in input order, the key columns, ``prediction``
    (``prediction_0``, ... for several outputs), ``proba_<class>`` columns with
    ``proba``, and ``model_version`` (``name/N``, dictionary-encoded: a pandas category
    when read back from Parquet). One input file gives one output file
    (Parquet or CSV, by the output's suffix); a folder gives a folder of Parquet files
    at the same relative paths. The output appears under its name only when the whole
    job succeeded.

    Every check of the input (columns, types against the signature on the first rows,
    keys, output) runs before anything is recorded or written. Then the job is a run of
    experiment ``batch-scoring``: its params (model URI and version, source, output,
    chunk size, executor), its metrics (rows, seconds, rows_per_second), the model
    version and dataset version as its inputs; a job that fails later ends its run
    failed with the error in tag ``loopml.batch.error``.

    Args:
        model_uri: ``name/3``, ``name@alias`` or ``name@latest``.
        source: a CSV or Parquet file, a folder of them (searched recursively; hidden
            files and other suffixes are left out), or a dataset version ``NAME@v3``.
        output: the file (``.parquet``, ``.pq``, ``.csv``) or folder to write.
        keys: the input columns to copy to the output; by default every column that is
            not one of the model's inputs.
        chunk_rows: about how many rows are read, scored and written at a time.
        proba: add class probabilities (classifiers only).
        executor: ``local`` (this process) or ``dask`` (the cluster of
            ``LOOPML_DASK_ADDRESS``, else a local cluster of processes for the job).
        overwrite: replace an existing output.
        client: the tracking client; the fluent API's default client when not given.
        on_progress: called with ``(rows_done, rows_total)`` as rows are scored; the
            total is None when unknown (CSV input).

    Returns:
        The rows and files scored, the time taken, the run and the model version.

    Raises:
        NotFound: an unknown model, version, alias or dataset, or no input at ``source``.
        InvalidInput: an unsupported file, an empty input, a missing or ill-typed input
            column, a missing key column, a bad option.
        AlreadyExists: the output exists and ``overwrite`` is False.

    Example:
        >>> result = predict_files("churn@champion", "data/customers.parquet", "scores.parquet")
        >>> result.rows, result.version
        (1000000, 3)
    """
    started = time.perf_counter()
    _check_options(chunk_rows, executor, keys)
    if client is None:
        from loopml.tracking import default_client

        client = default_client()
    job = _prepare(client, model_uri, source, Path(output), keys, proba, chunk_rows, overwrite)
    params = {
        "model_uri": model_uri,
        "model_version": job.version.ref,
        "source": job.dataset.ref if job.dataset is not None else str(source),
        "output": str(output),
        "chunk_rows": chunk_rows,
        "executor": executor,
        "proba": proba,
    }
    if executor == "dask":
        params["dask_address"] = client.settings.dask_address or "local cluster"
    run_id = _start_run(client, job, params)
    progress = Progress(_total_rows(job.files), on_progress)
    try:
        _execute(client, job, executor, chunk_rows, overwrite, progress)
    except BaseException as exc:
        _end_failed(client, run_id, exc)
        raise
    seconds = time.perf_counter() - started
    metrics = {"rows": progress.done, "files": len(job.files), "seconds": seconds}
    client.log_metrics(run_id, {**metrics, "rows_per_second": progress.done / seconds})
    client.end_run(run_id)
    version = job.version
    return BatchResult(
        progress.done, len(job.files), seconds, run_id, version.name, version.version, job.output
    )


@dataclass(frozen=True, slots=True)
class _Job:
    """A checked job, ready to run: the model, the files and where their scores go."""

    version: ModelVersion
    model: PackagedModel
    dataset: DatasetVersion | None
    files: list[FileJob]
    output: Path
    folder: bool
    format: Format
    relatives: list[str]


def _prepare(
    client: Client,
    model_uri: str,
    source: str | os.PathLike[str],
    output: Path,
    keys: Sequence[str] | None,
    proba: bool,
    chunk_rows: int,
    overwrite: bool,
) -> _Job:
    """Resolve and check everything; nothing is recorded or written yet."""
    from loopml.registry import ModelRegistry

    registry = ModelRegistry(client)
    version = registry.resolve(model_uri)
    source_path, dataset = _resolve_source(source, client)
    inputs = find_inputs(source_path)
    folder = source_path.is_dir()
    format = output_format(output, folder=folder)
    _refuse_overlap(source_path, output)
    refuse_existing(output, overwrite)
    relatives = _output_paths([file.relative for file in inputs], folder)
    model = registry.load_model(version.ref, record_input=False)
    files = plan_files(
        model, inputs, keys=keys, proba=proba, chunk_rows=chunk_rows, label=version.ref
    )
    return _Job(version, model, dataset, files, output, folder, format, relatives)


def _execute(
    client: Client, job: _Job, executor: str, chunk_rows: int, overwrite: bool, progress: Progress
) -> None:
    """Score into a staging folder; rename the result to the output when all is done."""
    try:
        staging = Staging(job.output, overwrite=overwrite)
    except PermissionError as exc:
        raise PermissionDenied(f"Cannot write the output {str(job.output)!r}: {exc}") from exc
    try:
        paths = [staging.result / r for r in job.relatives] if job.folder else [staging.result]
        if executor == "dask":
            from loopml.serving._batch_dask import score_on_dask

            score_on_dask(
                client.settings,
                job.version,
                job.files,
                paths,
                job.format,
                chunk_rows,
                staging.parts,
                progress,
            )
        else:
            _score_here(job.model, job.files, paths, job.format, chunk_rows, progress)
        staging.commit()
    except BaseException as exc:
        staging.discard()
        if isinstance(exc, OSError):  # a file that vanished, a full disk
            raise StoreError(f"Batch scoring stopped on a file error: {exc}") from exc
        raise


def _score_here(
    model: PackagedModel,
    jobs: Sequence[FileJob],
    paths: Sequence[Path],
    format: Format,
    chunk_rows: int,
    progress: Progress,
) -> None:
    """Score every file in this process, one chunk at a time.

    The next chunks are read and the last one written in other threads while this one
    is scored: pyarrow decodes and encodes without holding the GIL, so on a machine with
    spare cores the job takes about as long as its slowest stage rather than the sum.
    Reading a CSV file is that stage by far (a million rows of 20 floats: 0.8 s of CPU
    to parse, 0.1 s for all the rest), and pyarrow parses a stream on one core, so the
    file's parts (byte ranges of about a chunk) are parsed in one thread each, a part per
    core; a Parquet file is one stream, read a chunk ahead (pyarrow decodes its columns
    on every core already). At most a chunk per reading thread, the one scored and the
    one written are in memory. BLAS gets the cores the reading and writing threads leave
    (one at least) while the job runs: on chunks this size, its extra threads mostly spin
    between calls, and a 2-core machine scored a million rows 25% slower with them.
    """
    with (
        _blas_threads((os.cpu_count() or 1) - 2),
        ThreadPoolExecutor(1, thread_name_prefix="loopml-batch-write") as writes,
    ):
        for job, path in zip(jobs, paths, strict=True):
            writer = OutputWriter(path, format)
            try:
                _score_file(model, job, writer, writes, chunk_rows, progress)
            finally:
                writer.close()


def _score_file(
    model: PackagedModel,
    job: FileJob,
    writer: OutputWriter,
    writes: ThreadPoolExecutor,
    chunk_rows: int,
    progress: Progress,
) -> None:
    """Score one file; from its start again, one column wider, whenever a CSV value
    does not fit the type inferred for its column (see ``InferredTypeTooNarrow``)."""
    while True:
        done = progress.done
        try:
            _score_chunks(model, job, writer, writes, _chunks(job, chunk_rows), progress)
            return
        except InferredTypeTooNarrow as exc:
            job = replace(job, plan=job.plan.widened(exc.column))
            writer.restart()
            progress.rewind(done)


def _score_chunks(
    model: PackagedModel,
    job: FileJob,
    writer: OutputWriter,
    writes: ThreadPoolExecutor,
    chunks: Generator[pa.Table, None, None],
    progress: Progress,
) -> None:
    """Score ``chunks``, each written in the write thread while the next is scored."""
    written: Future[None] | None = None
    try:
        for chunk in chunks:
            scored = score_chunk(model, chunk, job.spec)
            if written is not None:
                written.result()
            written = writes.submit(writer.write, scored)
            progress.add(chunk.num_rows)
        if written is not None:
            written.result()
    finally:
        chunks.close()
        if written is not None:
            futures.wait([written])  # the writer may be closed only once it is idle


def _chunks(job: FileJob, chunk_rows: int) -> Generator[pa.Table, None, None]:
    """The chunks of one file, read ahead in threads (see :func:`_score_here`)."""
    if job.file.format == "csv":
        readers = max(1, min(os.cpu_count() or 1, _MAX_CSV_READERS))
        parts = split_parts(0, job.file, job.plan, chunk_rows)
        reads = [functools.partial(_read_part, job, chunk_rows, part) for part in parts]
        return _read_parts(reads, readers)
    return _read_ahead(read_chunks(job.file, job.plan, chunk_rows))


def _blas_threads(limit: int) -> contextlib.AbstractContextManager[object]:
    """At most ``limit`` (at least 1) BLAS threads in this process until the block ends."""
    controller = _thread_pools()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=max(1, limit), user_api="blas")  # type: ignore[no-any-return]


# threadpoolctl's view of the loaded libraries, by the number of modules loaded when it
# was taken: finding the libraries scans every one loaded (3 ms, a fifth of the fixed
# cost of a job), and only an import can load a new one.
_THREAD_POOLS: dict[int, Any] = {}


def _thread_pools() -> Any:
    """A ``threadpoolctl.ThreadpoolController`` of the libraries loaded now, or None."""
    try:
        # threadpoolctl comes with scikit-learn; without it, no BLAS library to tell.
        import threadpoolctl  # type: ignore[import-untyped]
    except ImportError:
        return None
    loaded = len(sys.modules)
    controller = _THREAD_POOLS.get(loaded)
    if controller is None:
        controller = threadpoolctl.ThreadpoolController()
        _THREAD_POOLS.clear()
        _THREAD_POOLS[loaded] = controller
    return controller


def _read_ahead(chunks: Iterator[pa.Table]) -> Generator[pa.Table, None, None]:
    """``chunks``, each read in a thread while the one before is being used."""
    with ThreadPoolExecutor(1, thread_name_prefix="loopml-batch-read") as reads:
        upcoming = reads.submit(next, chunks, None)
        while (chunk := upcoming.result()) is not None:
            upcoming = reads.submit(next, chunks, None)
            yield chunk


def _read_parts(
    reads: Sequence[Callable[[], list[pa.Table]]], threads: int
) -> Generator[pa.Table, None, None]:
    """The chunks ``reads`` return, in their order; up to ``threads`` of them run at once,
    in threads, while the chunks of earlier ones are used."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="loopml-batch-read")
    try:
        pending = deque(pool.submit(read) for read in reads[:threads])
        upcoming = iter(reads[threads:])
        while pending:
            chunks = pending.popleft().result()
            read = next(upcoming, None)
            if read is not None:
                pending.append(pool.submit(read))
            yield from chunks
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read_part(job: FileJob, chunk_rows: int, part: Part) -> list[pa.Table]:
    return list(read_chunks(job.file, job.plan, chunk_rows, part))


# -- helpers ---------------------------------------------------------------------------


def _check_options(chunk_rows: object, executor: object, keys: object) -> None:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be a whole number from 1, got {chunk_rows!r}.")
    if executor not in EXECUTORS:
        raise InvalidInput(f"Unknown executor {executor!r}; use one of: {', '.join(EXECUTORS)}.")
    if executor == "dask" and importlib.util.find_spec("distributed") is None:
        raise InvalidInput("executor='dask' needs dask.distributed: pip install 'loopml[dask]'.")
    if keys is not None and (
        isinstance(keys, str)
        or not isinstance(keys, Sequence)
        or not all(isinstance(key, str) and key for key in keys)
    ):
        raise InvalidInput(f"keys must be a list of column names, got {keys!r}.")


def _resolve_source(
    source: str | os.PathLike[str], client: Client
) -> tuple[Path, DatasetVersion | None]:
    """The path to read, and the dataset version when ``source`` names one."""
    path = Path(source)
    if path.exists():
        return path, None
    if isinstance(source, str) and "@" in source:
        from loopml.data import DataRepo

        repo = DataRepo(client)
        version = repo.get_version(source)
        return Path(repo.open(version.ref)), version
    raise NotFound(
        f"No file or folder at {str(source)!r} to score; check the path, or name a dataset "
        "version as NAME@vN."
    )


def _refuse_overlap(source: Path, output: Path) -> None:
    source, output = source.resolve(), output.resolve()
    if output == source or source in output.parents:
        raise InvalidInput(
            f"Output {str(output)!r} is {'the input' if output == source else 'inside the input folder'}"
            "; write the scores somewhere else."
        )


def _output_paths(relatives: Sequence[str], folder: bool) -> list[str]:
    """Where each file's scores go inside an output folder: its path, as Parquet."""
    if not folder:
        return list(relatives)
    paths: dict[str, str] = {}
    for relative in relatives:
        path = str(PurePosixPath(relative).with_suffix(".parquet"))
        if path in paths:
            raise InvalidInput(
                f"Input files {paths[path]!r} and {relative!r} would both be scored into "
                f"{path!r}; rename one of them."
            )
        paths[path] = relative
    return list(paths)


def _total_rows(jobs: Sequence[FileJob]) -> int | None:
    counts = [job.plan.rows for job in jobs]
    return None if None in counts else sum(c for c in counts if c is not None)


def _start_run(client: Client, job: _Job, params: dict[str, Any]) -> str:
    """The job's run, with its inputs (model and dataset versions) and params."""
    from loopml.data import INPUT_DATASET_TAG
    from loopml.registry import INPUT_MODEL_TAG

    version, dataset = job.version, job.dataset
    tags = {f"{INPUT_MODEL_TAG}{version.name}": str(version.version)}
    if dataset is not None:
        tags[f"{INPUT_DATASET_TAG}{dataset.name}"] = str(dataset.version)
    run = client.create_run(EXPERIMENT, name=f"predict {version.ref}", tags=tags)
    try:
        client.log_params(run.id, params)
    except BaseException as exc:
        _end_failed(client, run.id, exc)
        raise
    return run.id


def _end_failed(client: Client, run_id: str, error: BaseException) -> None:
    """End the run as failed (killed on Ctrl-C) with the error; the error that ended
    the job is the one raised, even when this cannot be recorded."""
    status = "killed" if isinstance(error, KeyboardInterrupt) else "failed"
    with contextlib.suppress(LoopmlError):
        client.set_tag(run_id, ERROR_TAG, f"{type(error).__name__}: {error}"[:8000])
    with contextlib.suppress(LoopmlError):
        client.end_run(run_id, status)
