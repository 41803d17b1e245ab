"""What a worker does with one step: read its inputs, call it, store its output.

This runs inside an executor's worker (a process of the local pool or a Dask worker),
so it touches only the blob store: the orchestrating process writes every run record.
A task travels as cloudpickle bytes and an outcome comes back as a plain dataclass; an
exception never crosses the process boundary as such (it may not unpickle), only its
type name, message and formatted traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["StepOutcome", "StepTask", "preload", "run_task"]

_LOG_LIMIT = 1 << 20  # bytes of captured output kept per attempt


@dataclass(frozen=True, slots=True)
class StepTask:
    """Everything a worker needs to run one step."""

    node: str
    function: bytes  # cloudpickle of the step's function
    params: dict[str, Any]
    inputs: dict[str, tuple[str, str]]  # argument -> (digest, kind) of an upstream output
    datasets: dict[str, str]  # argument -> local path of a dataset version
    blob_uri: str
    settings: Settings


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What came of one attempt."""

    node: str
    ok: bool
    digest: str = ""
    kind: str = ""
    size: int = 0
    seconds: float = 0.0
    logs: str = ""
    error_type: str = ""
    error: str = ""  # the formatted traceback, or the message for a loopml error
    retryable: bool = True
    pid: int = field(default_factory=os.getpid)


def preload(modules: Sequence[str] = ()) -> None:
    """Import what :func:`run_task` needs, and ``modules``, so that a worker started
    ahead of its first task (see :class:`~loopml.pipelines._executors.LocalExecutor`)
    has done it by then. A module that fails to import is skipped: a step that needs it
    reports the error itself."""
    import importlib

    import cloudpickle  # noqa: F401

    import loopml.blobs
    import loopml.pipelines._values  # noqa: F401

    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def run_task(payload: bytes, *, inline: bool = False) -> StepOutcome:
    """Run a pickled :class:`StepTask`; never raises for the step's own failures.

    ``inline`` (the orchestrating process runs the step itself) lets Ctrl-C through.
    """
    import cloudpickle

    from loopml.blobs import open_blob_store
    from loopml.errors import InvalidInput
    from loopml.pipelines._values import load_value, save_value

    task: StepTask = cloudpickle.loads(payload)
    started = time.perf_counter()
    logs = io.StringIO()
    try:
        blobs = open_blob_store(task.blob_uri, task.settings)
        kwargs = dict(task.params)
        for name, (digest, kind) in task.inputs.items():
            kwargs[name] = load_value(digest, kind, blobs)
        kwargs.update(task.datasets)
        function = cloudpickle.loads(task.function)
        with contextlib.redirect_stdout(logs), contextlib.redirect_stderr(logs):
            value = function(**kwargs)
        digest, kind, size = save_value(value, blobs, where=f"Step {task.node!r}")
    except InvalidInput as exc:  # deterministic: an unstorable value, bad arguments
        return StepOutcome(
            task.node,
            ok=False,
            seconds=time.perf_counter() - started,
            logs=_tail(logs.getvalue()),
            error_type=type(exc).__name__,
            error=str(exc),
            retryable=False,
        )
    except BaseException as exc:
        if inline and isinstance(exc, KeyboardInterrupt):
            raise
        return StepOutcome(
            task.node,
            ok=False,
            seconds=time.perf_counter() - started,
            logs=_tail(logs.getvalue()),
            error_type=type(exc).__name__,
            error="".join(traceback.format_exception(exc)),
        )
    return StepOutcome(
        task.node,
        ok=True,
        digest=digest,
        kind=kind,
        size=size,
        seconds=time.perf_counter() - started,
        logs=_tail(logs.getvalue()),
    )


def _tail(text: str) -> str:
    if len(text) <= _LOG_LIMIT:
        return text
    return f"[... {len(text) - _LOG_LIMIT} characters cut ...]\n" + text[-_LOG_LIMIT:]
