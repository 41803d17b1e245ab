"""Where steps run: in this process, in a local process pool, or on a Dask cluster.

Every executor takes the same pickled task and returns the same
:class:`~loopml.pipelines._execute.StepOutcome`, so a pipeline gives the same results
and the same run records wherever it runs. A worker that dies mid-step (killed, out of
memory) surfaces as :class:`WorkerLost` from the step's future: the runner retries the
step or fails it, never records it as done.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from loopml.errors import InvalidInput, LoopmlError, Unavailable
from loopml.pipelines._execute import StepOutcome, run_task
from loopml.pipelines._frames import read_frame, write_frame

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "WorkerLost",
    "open_executor",
]

EXECUTORS = ("local", "dask", "inline")


class WorkerLost(LoopmlError):
    """The process running a step died before answering."""


class Executor(Protocol):
    """Runs step tasks; see the module docstring."""

    name: str

    def submit(self, payload: bytes) -> Future[StepOutcome]:
        """Start one task; its future gives the outcome or raises WorkerLost."""
        ...

    def close(self) -> None:
        """Stop the workers this executor started; never raises."""
        ...


class InlineExecutor:
    """Runs each step in the calling process, one at a time (debuggers, profilers)."""

    name = "inline"

    def submit(self, payload: bytes) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        future.set_result(run_task(payload, inline=True))
        return future

    def close(self) -> None:
        """Nothing to stop."""


class LocalExecutor:
    """A pool of worker processes on this machine.

    Each worker is a fresh interpreter (``python -m loopml.pipelines._worker``) fed
    tasks over a pipe: it never inherits this process's threads or database
    connections, never re-runs the user's main script, and a worker that dies is
    replaced for the next task.

    The first worker starts with the executor, so that its interpreter and imports
    (~0.2 s) overlap what the caller does before its first task (opening the store,
    recording the pipeline run). Others start when a task finds no idle worker, up to
    ``workers``: a linear pipeline never pays for more than one. Workers stay up, warm,
    until :meth:`close`.

    Args:
        workers: the most processes in the pool (default: the CPU count).
        preload: modules each worker imports before its first task (see
            :func:`data_libraries`).
    """

    name = "local"

    def __init__(self, workers: int | None = None, preload: Sequence[str] = ()) -> None:
        self._size = workers or os.cpu_count() or 1
        self._command = [sys.executable, "-m", "loopml.pipelines._worker", *preload]
        self._queue: queue.SimpleQueue[tuple[bytes, Future[StepOutcome]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._queued = 0  # tasks submitted that no worker has taken yet
        self._idle = 0  # workers waiting for a task
        self._workers: list[_Worker] = [_Worker(self)]
        self._closed = False

    def submit(self, payload: bytes) -> Future[StepOutcome]:
        if self._closed:
            raise RuntimeError("This executor is closed.")
        future: Future[StepOutcome] = Future()
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and len(self._workers) < self._size:
                self._workers.append(_Worker(self))
        self._queue.put((payload, future))
        return future

    def close(self) -> None:
        """Stop every worker, all at once: each exits when its input closes; one that
        never got a task is killed rather than waited for (it may still be importing)."""
        self._closed = True
        workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            worker.join()
        for worker in workers:
            worker.end()
        for worker in workers:
            worker.wait()

    def _take(self) -> tuple[bytes, Future[StepOutcome]] | None:
        """A worker's next task (None: stop), waiting for one."""
        item = self._queue.get()
        with self._lock:
            self._idle -= 1
            if item is not None:
                self._queued -= 1
        return item

    def _ready(self) -> None:
        """A worker is free: counted before its outcome is announced, so that the task
        this outcome unblocks finds it idle and does not start another worker."""
        with self._lock:
            self._idle += 1


class _Worker:
    """One worker process and the thread that feeds it tasks from its pool's queue."""

    def __init__(self, pool: LocalExecutor) -> None:
        self._pool = pool
        self._process: subprocess.Popen[bytes] | None = self._spawn()
        self._used = False
        self._thread = threading.Thread(target=self._serve, name="loopml-step-worker", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._pool._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    def _serve(self) -> None:
        self._pool._ready()
        while (item := self._pool._take()) is not None:
            payload, future = item
            if not future.set_running_or_notify_cancel():
                self._pool._ready()
                continue
            try:
                outcome = self._run(payload)
            except WorkerLost as exc:
                self._pool._ready()
                future.set_exception(exc)
            else:
                self._pool._ready()
                future.set_result(outcome)

    def _run(self, payload: bytes) -> StepOutcome:
        self._used = True
        process = self._process
        if process is None or process.poll() is not None:
            process = self._process = self._spawn()
        try:
            write_frame(process.stdin, payload)
            answer = read_frame(process.stdout)
        except (OSError, EOFError):
            answer = None
        if answer is None:
            _close_pipes(process)
            code = process.wait()
            self._process = None
            raise WorkerLost(f"The worker process running the step died (exit code {code}).")
        outcome: StepOutcome = pickle.loads(answer)
        return outcome

    def join(self) -> None:
        """Wait for the feeding thread to stop (the pool queued its stop)."""
        self._thread.join(timeout=30)

    def end(self) -> None:
        """Close the worker's input, so that it exits; kill it if it never ran a task."""
        process = self._process
        if process is None:
            return
        if not self._used:
            with contextlib.suppress(OSError):
                process.kill()
        _close_pipes(process)

    def wait(self) -> None:
        """Wait for the process to exit (10 s at most, then kill it)."""
        process, self._process = self._process, None
        if process is not None and not _exited(process, timeout=10):
            process.kill()
            process.wait()


def _exited(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until ``process`` exits, at most ``timeout`` seconds; whether it did.

    ``Popen.wait(timeout)`` polls, sleeping twice as long each time: a worker that takes
    16 ms to exit is seen at 31 ms. A pidfd (Linux) wakes the waiter as it exits.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux, or already reaped
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        exited, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if exited:
        process.wait()
    return bool(exited)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class DaskExecutor:
    """Steps as tasks on a Dask cluster: the one at ``address``, or a local cluster of
    worker processes started here (and stopped by :meth:`close`).

    Workers need the same blob store as this process: a local folder works for a
    cluster on this machine, an S3 store for any cluster.

    Raises:
        InvalidInput: dask.distributed is not installed.
        Unavailable: the scheduler at ``address`` cannot be reached.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import distributed
        except ImportError as exc:
            raise InvalidInput(
                "The Dask executor needs dask.distributed: pip install 'loopml[dask]'."
            ) from exc
        dask: Any = distributed  # untyped library
        self._cluster: Any = None
        try:
            if address:
                self._client: Any = dask.Client(address, timeout="10s")
            else:
                self._cluster = dask.LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
                self._client = dask.Client(self._cluster)
        except OSError as exc:
            raise Unavailable(f"Cannot reach the Dask scheduler at {address}: {exc}.") from exc

    def submit(self, payload: bytes) -> Future[StepOutcome]:
        inner = self._client.submit(run_task, payload, pure=False)
        outer: Future[StepOutcome] = Future()

        def done(finished: Any) -> None:
            try:
                outer.set_result(finished.result())
            except Exception as exc:
                outer.set_exception(WorkerLost(f"The Dask worker running the step failed: {exc}"))

        inner.add_done_callback(done)
        return outer

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def data_libraries() -> list[str]:
    """The data libraries this process has imported, for the local pool's workers to
    import before their first task.

    The steps of a pipeline whose process uses pandas most likely use it too; importing
    it in the worker (numpy, pandas and pyarrow: ~0.3 s) while this process records the
    run keeps that off the first step's time. A process that has imported none of them
    preloads nothing.
    """
    return [name for name in _DATA_LIBRARIES if name in sys.modules]


_DATA_LIBRARIES = ("numpy", "pandas", "polars", "pyarrow")


def open_executor(name: str, settings: Settings, workers: int | None = None) -> Executor:
    """The executor called ``name`` (local, dask or inline).

    Raises:
        InvalidInput: an unknown name, or Dask missing.
    """
    if name == "local":
        return LocalExecutor(workers, preload=data_libraries())
    if name == "inline":
        return InlineExecutor()
    if name == "dask":
        return DaskExecutor(settings.dask_address, workers)
    raise InvalidInput(f"Unknown executor {name!r}; use one of {', '.join(EXECUTORS)}.")
