"""Tracking servers for the benchmarks: started on a free port of 127.0.0.1, timed until
their health endpoint answers, measured (RSS over the process tree) and always stopped.

Orchestrator side; importable by the workers too (psutil loads only to measure memory).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _workers import LOOPML, MLFLOW, WORKSPACE, BenchError, worker_env

__all__ = [
    "Server",
    "ServerSpec",
    "loopml_server",
    "mlflow_server",
    "running",
]

_POLL_S = 0.02
_STOP_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to start one server: its command, where it keeps data, its health URL."""

    label: str
    command: list[str]
    port: int
    health_path: str
    cwd: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class Server:
    """A server that answered its health check."""

    spec: ServerSpec
    process: subprocess.Popen[bytes]
    start_s: float

    @property
    def url(self) -> str:
        return self.spec.url

    def memory(self) -> tuple[float, int]:
        """RSS summed over the server's process tree in MB, and the number of processes."""
        import psutil  # in loopml's dev extras; only the orchestrator measures memory

        root = psutil.Process(self.process.pid)
        tree = [root, *root.children(recursive=True)]
        total = 0
        for proc in tree:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 1e6, len(tree)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopml_server(home: Path, label: str = "loopml server") -> ServerSpec:
    """``loopml --home HOME server`` over SQLite in ``HOME``."""
    port = free_port()
    command = [LOOPML.script("loopml"), "--home", str(home), "server", "--port", str(port)]
    return ServerSpec(label, command, port, "/api/v1/health", home.parent)


def mlflow_server(
    data: Path, workers: int | None = None, label: str = "mlflow server"
) -> ServerSpec:
    """``mlflow server`` over SQLite in ``data``; ``workers=None`` keeps MLflow's default."""
    port = free_port()
    command = [
        MLFLOW.script("mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{data / 'mlflow.db'}",
        "--artifacts-destination",
        str(data / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    return ServerSpec(label, command, port, "/health", data)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (ours: it was started in a new session)."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, _STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _log_file(label: str) -> Path:
    logs = WORKSPACE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    index = len(list(logs.glob(f"server-{label.replace(' ', '_')}-*.log")))
    return logs / f"server-{label.replace(' ', '_')}-{index}.log"


@contextmanager
def running(spec: ServerSpec, timeout: float = 120.0) -> Iterator[Server]:
    """Start the server, wait until ``health_path`` answers 200, yield it, then stop it.

    ``Server.start_s`` is the wall time from just before the process is spawned until
    the first successful health answer.
    """
    spec.cwd.mkdir(parents=True, exist_ok=True)
    log = _log_file(spec.label)
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            spec.command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=spec.cwd,
            env=worker_env(),
            start_new_session=True,
        )
        try:
            yield Server(spec, process, _wait_healthy(spec, process, started, timeout, log))
        finally:
            _stop(process)


def _wait_healthy(
    spec: ServerSpec, process: subprocess.Popen[bytes], started: float, timeout: float, log: Path
) -> float:
    health = spec.url + spec.health_path
    while time.perf_counter() - started < timeout:
        if _answers(health):
            return time.perf_counter() - started
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise BenchError(f"{spec.label} exited {process.returncode} before answering:\n{tail}")
        time.sleep(_POLL_S)
    raise BenchError(f"{spec.label} did not answer {health} within {timeout:.0f} s (log {log})")
