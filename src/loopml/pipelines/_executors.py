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
import subprocess
import sys
import threading
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
    """A pool of worker processes on this machine, started on first use.

    Each worker is a fresh interpreter (``python -m loopml.pipelines._worker``) fed
    tasks over a pipe: it never inherits this process's threads or database
    connections, never re-runs the user's main script, and a worker that dies is
    replaced for the next task.

    Args:
        workers: processes in the pool (default: the CPU count).
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self._size = workers or os.cpu_count() or 1
        self._queue: queue.SimpleQueue[tuple[bytes, Future[StepOutcome]] | None] = (
            queue.SimpleQueue()
        )
        self._workers: list[_Worker] = []
        self._closed = False

    def submit(self, payload: bytes) -> Future[StepOutcome]:
        if self._closed:
            raise RuntimeError("This executor is closed.")
        if not self._workers:
            self._workers = [_Worker(self._queue) for _ in range(self._size)]
        future: Future[StepOutcome] = Future()
        self._queue.put((payload, future))
        return future

    def close(self) -> None:
        self._closed = True
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.stop()
        self._workers = []


class _Worker:
    """One worker process and the thread that feeds it tasks from the shared queue."""

    def __init__(self, tasks: queue.SimpleQueue[tuple[bytes, Future[StepOutcome]] | None]) -> None:
        self._tasks = tasks
        self._process: subprocess.Popen[bytes] | None = self._spawn()
        self._thread = threading.Thread(target=self._serve, name="loopml-step-worker", daemon=True)
        self._thread.start()

    @staticmethod
    def _spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "loopml.pipelines._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    def _serve(self) -> None:
        while (item := self._tasks.get()) is not None:
            payload, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._run(payload))
            except WorkerLost as exc:
                future.set_exception(exc)

    def _run(self, payload: bytes) -> StepOutcome:
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

    def stop(self) -> None:
        self._thread.join(timeout=30)
        process = self._process
        if process is None:
            return
        try:
            _close_pipes(process)  # end of input: the worker exits
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def open_executor(name: str, settings: Settings, workers: int | None = None) -> Executor:
    """The executor called ``name`` (local, dask or inline).

    Raises:
        InvalidInput: an unknown name, or Dask missing.
    """
    if name == "local":
        return LocalExecutor(workers)
    if name == "inline":
        return InlineExecutor()
    if name == "dask":
        return DaskExecutor(settings.dask_address, workers)
    raise InvalidInput(f"Unknown executor {name!r}; use one of {', '.join(EXECUTORS)}.")
