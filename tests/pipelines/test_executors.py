"""The local pool: one warm worker for steps that run one after the other, preloading."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import pandas as pd

from loopml.blobs import LocalBlobStore
from loopml.config import Settings
from loopml.pipelines._execute import StepOutcome, StepTask
from loopml.pipelines._executors import LocalExecutor, data_libraries
from loopml.pipelines._values import load_value


def _run(
    pool: LocalExecutor, settings: Settings, blobs: LocalBlobStore, function: Callable[[], object]
) -> object:
    """Run ``function`` as a step in ``pool``; its output. Lambdas travel by value."""
    task = StepTask("probe", cloudpickle.dumps(function), {}, {}, {}, blobs.uri, settings)
    outcome: StepOutcome = pool.submit(cloudpickle.dumps(task)).result(timeout=60)
    assert outcome.ok, outcome.error
    return load_value(outcome.digest, outcome.kind, blobs)


def test_steps_run_one_after_the_other_share_one_worker(settings: Settings, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    pool = LocalExecutor(workers=2)
    try:
        pids = {_run(pool, settings, blobs, lambda: os.getpid()) for _ in range(5)}
    finally:
        pool.close()
    assert len(pids) == 1


def test_workers_import_the_data_libraries_this_process_has_loaded(
    settings: Settings, tmp_path: Path
) -> None:
    assert sys.modules["pandas"] is pd  # this module imported it
    assert {"numpy", "pandas"} <= set(data_libraries())
    blobs = LocalBlobStore(tmp_path / "blobs")
    pool = LocalExecutor(workers=1, preload=data_libraries())
    try:
        loaded = _run(pool, settings, blobs, lambda: "pandas" in sys.modules)
    finally:
        pool.close()
    assert loaded is True


def test_a_module_that_cannot_be_imported_does_not_stop_the_worker(
    settings: Settings, tmp_path: Path
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    pool = LocalExecutor(workers=1, preload=["loopml_no_such_module"])
    try:
        assert _run(pool, settings, blobs, lambda: 41 + 1) == 42
    finally:
        pool.close()


def test_closing_a_pool_that_ran_nothing_stops_its_worker(tmp_path: Path) -> None:
    pool = LocalExecutor(workers=1)
    (worker,) = pool._workers
    process = worker._process
    pool.close()
    assert process is not None and process.returncode is not None
