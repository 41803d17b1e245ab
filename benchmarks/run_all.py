"""Run loopml's benchmarks against MLflow (DVC for data versioning, Metaflow and Prefect
for pipelines) and print the figures side by side.

    .venv/bin/python benchmarks/run_all.py                # everything (~33 min, 2 cores)
    .venv/bin/python benchmarks/run_all.py --only search,start

Each tool runs in its own interpreter (loopml from ``.venv``, MLflow from the anchor venv
built by ``/work/shared/anchors/tracking-serving/setup.sh``, run here when missing; DVC
from ``/work/shared/anchors/data/setup.sh``'s venv, built by ``bench_data`` when missing;
Metaflow and Prefect from ``/var/tmp/anchors/venv-{metaflow,prefect}``, built by
``/work/shared/anchors/pipelines/setup-*.sh``: ``bench_pipelines`` says so when missing).
Temporary data lives in /var/tmp/loopml-bench, emptied at the start; the table is also
saved there as ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

from _report import Row, render_table, save_rows
from _workers import WORKSPACE, ensure_mlflow_venv, reset_workspace

# name -> module; in the order of the brief.
BENCHMARKS: dict[str, str] = {
    "log_metric": "bench_log_metric",
    "server_log_metric": "bench_server_log_metric",
    "concurrent": "bench_concurrent_clients",
    "search": "bench_search_runs",
    "start": "bench_server_start",
    "import": "bench_import_cli",
    "registry": "bench_registry",
    "data": "bench_data",
    "pipelines": "bench_pipelines",
    "batch": "bench_batch",
    "serving": "bench_serving",
    "stream": "bench_stream",
}
# Benchmarks that compare with other tools than MLflow, and do not need its venv.
WITHOUT_MLFLOW = {"data", "pipelines", "batch", "stream"}


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks to run (default all: {','.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")
    return args


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that every server's ``finally`` stops it."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _run_one(name: str) -> list[Row]:
    module = importlib.import_module(BENCHMARKS[name])
    run: Callable[[], list[Row]] = module.run
    print(f"\n== {name} ({module.__name__}) ==", flush=True)
    started = time.perf_counter()
    try:
        rows = run()
    except Exception as exc:
        traceback.print_exc()
        return [Row(name, "FAILED", "", None, None, True, met=False, note=str(exc)[:200])]
    print(f"   {name} took {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def _load() -> str:
    """The load average, to tell a quiet machine from a busy one (other users' work)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: Sequence[str]) -> int:
    args = _parse(argv)
    _stop_on_sigterm()
    if set(args.only.split(",")) - WITHOUT_MLFLOW:
        ensure_mlflow_venv()
    reset_workspace()
    print(f"Starting; {_load()}", flush=True)
    started = time.perf_counter()
    rows: list[Row] = []
    for name in args.only.split(","):
        rows.extend(_run_one(name))
    table = render_table(rows)
    print(f"\nAll benchmarks: {time.perf_counter() - started:.0f} s; {_load()}\n\n{table}")
    save_rows(rows, WORKSPACE / "results.json")
    (WORKSPACE / "results.md").write_text(table + "\n")
    return 1 if any(row.measure == "FAILED" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
