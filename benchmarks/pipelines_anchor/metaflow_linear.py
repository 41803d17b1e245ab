"""Metaflow 2.19: a 10-step linear flow of trivial steps, fully local.

Run as ``python metaflow_linear.py`` (no arguments) with /var/tmp/anchors/venv-metaflow's
python: the script then runs the flow (``run``) and prints one JSON line. ``seconds`` is the
wall time of the whole run (Metaflow starts one subprocess per step and stores each step's
artifacts in the local datastore); ``import_seconds`` the time to import metaflow. Metaflow
re-runs this file with its own arguments for each step; those runs just execute the step.
"""

from __future__ import annotations

import sys
import time

import _local
import _work

_local.configure_metaflow()
_began = time.perf_counter()
from metaflow import FlowSpec, step  # noqa: E402  # reads its settings at import

IMPORT_SECONDS = time.perf_counter() - _began


class LinearFlow(FlowSpec):
    """Ten steps, each adding one to the previous step's value."""

    @step
    def start(self) -> None:
        self.value = _work.add_one(0)
        self.next(self.step2)

    @step
    def step2(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step3)

    @step
    def step3(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step4)

    @step
    def step4(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step5)

    @step
    def step5(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step6)

    @step
    def step6(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step7)

    @step
    def step7(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step8)

    @step
    def step8(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.step9)

    @step
    def step9(self) -> None:
        self.value = _work.add_one(self.value)
        self.next(self.end)

    @step
    def end(self) -> None:
        self.value = _work.add_one(self.value)


def run_and_report() -> None:
    """Run the flow as ``python metaflow_linear.py run`` would, then print the JSON line."""
    sys.argv = [sys.argv[0], "run"]
    began = time.perf_counter()
    try:
        LinearFlow()
    except SystemExit as exc:  # Metaflow's click entry point always exits
        if exc.code not in (0, None):
            raise
    seconds = time.perf_counter() - began
    from metaflow import Flow, namespace

    namespace(None)
    value = Flow("LinearFlow").latest_successful_run.data.value
    _work.report("metaflow", "linear", seconds, IMPORT_SECONDS, steps=_work.STEPS, result=value)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        run_and_report()
    else:
        LinearFlow()
