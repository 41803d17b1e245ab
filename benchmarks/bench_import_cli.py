"""6. Import and CLI start-up: wall time of a fresh process, medians of 5, interleaved.

``python -c pass`` in each interpreter is the floor (the interpreter's own start-up).
``import loopml`` is lazy by design, so ``import loopml.tracking`` (what the first
``loopml.start_run`` loads) is shown as well.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from _report import Row
from _workers import LOOPML, MLFLOW, WORKSPACE, BenchError, median, worker_env

BENCHMARK = "6. import / CLI start-up"
REPEATS = 5


@dataclass(frozen=True, slots=True)
class Case:
    """One measure: the loopml command and the MLflow command it is compared with."""

    measure: str
    loopml: list[str]
    mlflow: list[str]


CASES = (
    Case("python -c pass (floor)", [LOOPML.python, "-c", "pass"], [MLFLOW.python, "-c", "pass"]),
    Case(
        "python -c 'import loopml' / 'import mlflow'",
        [LOOPML.python, "-c", "import loopml"],
        [MLFLOW.python, "-c", "import mlflow"],
    ),
    Case(
        "python -c 'import loopml.tracking' / 'import mlflow'",
        [LOOPML.python, "-c", "import loopml.tracking"],
        [MLFLOW.python, "-c", "import mlflow"],
    ),
    Case(
        "loopml --help / mlflow --help",
        [LOOPML.script("loopml"), "--help"],
        [MLFLOW.script("mlflow"), "--help"],
    ),
)


def time_command(command: list[str]) -> float:
    """Wall time of one run of ``command``, which must succeed."""
    began = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, env=worker_env(), cwd=WORKSPACE, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise BenchError(f"{command} exited {done.returncode}: {done.stderr[-2000:]!r}")
    return seconds


def _measure(case: Case) -> Row:
    ours, theirs = [], []
    for _ in range(REPEATS):
        ours.append(time_command(case.loopml))
        theirs.append(time_command(case.mlflow))
    row = Row(
        BENCHMARK,
        case.measure,
        "s",
        median(ours),
        median(theirs),
        higher_is_better=False,
        note=f"median of {REPEATS}",
    )
    print(f"  {case.measure}: loopml {row.loopml:.3f} s, MLflow {row.mlflow:.3f} s", flush=True)
    return row


def run() -> list[Row]:
    WORKSPACE.mkdir(parents=True, exist_ok=True)
    for case in CASES:  # one untimed round: the first start reads the files from disk
        time_command(case.loopml)
        time_command(case.mlflow)
    return [_measure(case) for case in CASES]
