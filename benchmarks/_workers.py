"""Running benchmark code inside each tool's own interpreter.

The orchestrator (loopml's ``.venv``) never imports MLflow: every measurement runs in a
subprocess of the tool's interpreter, ``python benchmarks/bench_x.py --worker NAME ARGS``,
which calls the function ``NAME`` of that module with the JSON ``ARGS`` and prints its
JSON result on one line tagged ``@@RESULT@@``. This module is imported on both sides, so
it uses the standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "BENCH_DIR",
    "LOOPML",
    "MLFLOW",
    "TOOLS",
    "WORKSPACE",
    "BenchError",
    "JsonDict",
    "Tool",
    "Worker",
    "check_history",
    "ensure_mlflow_venv",
    "median",
    "reset_workspace",
    "run_worker",
    "serve_worker",
    "wait_until_released",
    "worker_env",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKSPACE = Path("/var/tmp/loopml-bench")
ANCHOR_SETUP = Path("/work/shared/anchors/tracking-serving/setup.sh")
MLFLOW_VENV = Path("/var/tmp/anchors/venv-mlflow")
RESULT_TAG = "@@RESULT@@ "
READY_LINE = "@@READY@@"

JsonDict = dict[str, Any]


class BenchError(RuntimeError):
    """A benchmark could not produce a figure (a worker failed, a server never answered)."""


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool under comparison and the virtualenv it runs from."""

    name: str
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def script(self, name: str) -> str:
        """A console script of the tool's venv (``loopml``, ``mlflow``)."""
        return str(self.venv / "bin" / name)


LOOPML = Tool("loopml", REPO / ".venv")
MLFLOW = Tool("mlflow", MLFLOW_VENV)
TOOLS = (LOOPML, MLFLOW)


def ensure_mlflow_venv() -> None:
    """Build MLflow's anchor venv with the shared set-up script when it is missing."""
    if Path(MLFLOW.python).exists():
        return
    print(f"MLflow venv missing: running {ANCHOR_SETUP}", flush=True)
    subprocess.run(["bash", str(ANCHOR_SETUP)], check=True)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def check_history(points: Sequence[tuple[int, float]], expected: int) -> JsonDict:
    """Compare a metric history with what the benchmark logged: ``1/(i+1)`` at step i.

    Every value is checked, not a sample: the steps must be exactly ``0..expected-1``.
    """
    by_step = sorted(points)
    steps_ok = [step for step, _ in by_step] == list(range(expected))
    values_ok = all(value == 1.0 / (step + 1) for step, value in by_step)
    return {"stored": len(points), "all_values_match": steps_ok and values_ok}


def worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: no inherited tool settings, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "MLFLOW_"))}
    # MLflow 3 reports usage over the network by default; a benchmark must not wait on it.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def _command(tool: Tool, module: str, function: str, args: JsonDict) -> list[str]:
    return [tool.python, str(BENCH_DIR / module), "--worker", function, json.dumps(args)]


def _log_path(function: str, tool: Tool) -> Path:
    logs = WORKSPACE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    index = len(list(logs.glob(f"{tool.name}-{function}-*.log")))
    return logs / f"{tool.name}-{function}-{index}.log"


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _parse_result(stdout: str, log: Path) -> JsonDict:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result: JsonDict = json.loads(line[len(RESULT_TAG) :])
            return result
    raise BenchError(f"worker printed no result; log {log}:\n{_tail(log)}")


def run_worker(
    tool: Tool, module: str, function: str, args: JsonDict, timeout: float = 600
) -> JsonDict:
    """Run ``module.function(args)`` in the tool's interpreter and return its result."""
    log = _log_path(function, tool)
    with log.open("w") as stderr:
        done = subprocess.run(
            _command(tool, module, function, args),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=timeout,
            env=worker_env(),
            cwd=WORKSPACE,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError(
            f"{tool.name} {function} exited {done.returncode}; log {log}:\n{_tail(log)}"
        )
    return _parse_result(done.stdout, log)


class Worker:
    """A worker started in the background, for benchmarks that run several at once.

    A worker that calls :func:`wait_until_released` says so when it is ready and waits
    for :meth:`release` before its timed part, so that all start together.
    """

    def __init__(self, tool: Tool, module: str, function: str, args: JsonDict) -> None:
        self.tool = tool
        self.log = _log_path(function, tool)
        self._stderr = self.log.open("w")
        self.process = subprocess.Popen(
            _command(tool, module, function, args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=worker_env(),
            cwd=WORKSPACE,
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == READY_LINE:
                return
        raise BenchError(f"{self.tool.name} worker ended before it was ready:\n{_tail(self.log)}")

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self, timeout: float) -> JsonDict:
        stdout, _ = self.process.communicate(timeout=timeout)
        self._stderr.close()
        if self.process.returncode != 0:
            raise BenchError(
                f"{self.tool.name} worker exited {self.process.returncode}:\n{_tail(self.log)}"
            )
        return _parse_result(stdout, self.log)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


def wait_until_released(stdin: TextIO | None = None) -> None:
    """Worker side: say ready, then block until the orchestrator releases everyone."""
    print(READY_LINE, flush=True)
    (stdin or sys.stdin).readline()


def serve_worker(namespace: Mapping[str, Any]) -> None:
    """Worker side: ``bench_x.py --worker NAME JSON`` calls ``NAME(JSON)``, prints the result."""
    if len(sys.argv) != 4 or sys.argv[1] != "--worker":
        sys.exit(
            f"usage: {sys.argv[0]} --worker FUNCTION JSON_ARGS (run benchmarks via run_all.py)"
        )
    function: Callable[[JsonDict], JsonDict] = namespace[sys.argv[2]]
    result = function(json.loads(sys.argv[3]))
    print(RESULT_TAG + json.dumps(result), flush=True)


def reset_workspace() -> None:
    """Start from an empty workspace (the benchmarks' temp dirs live only there)."""
    if WORKSPACE.exists():
        shutil.rmtree(WORKSPACE)
    WORKSPACE.mkdir(parents=True)
