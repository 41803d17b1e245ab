"""A throwaway redis-server: 127.0.0.1, a free port, no persistence, a temp folder."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests._services.net import free_port
from tests._services.process import stop_process

__all__ = ["RedisServer", "redis_server"]

_START_TIMEOUT_S = 20.0


@dataclass
class RedisServer:
    """A running redis-server; :meth:`restart` stops it and starts a new, empty one on
    the same port (what a restart without persistence looks like to its clients)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """A client of the server (bytes in, bytes out)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def stop(self) -> None:
        stop_process(self.process)

    def start(self) -> None:
        self.process = _start(self.port, self.folder)


def _binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server not found: `make test` installs it (make system-deps).")
    return found


def _start(port: int, folder: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            _binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + _START_TIMEOUT_S
    probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        while True:
            if process.poll() is not None:
                log = folder / "redis.log"
                raise RuntimeError(
                    f"redis-server exited with {process.returncode}: "
                    f"{log.read_text() if log.exists() else ''}"
                )
            try:
                probe.ping()
                return process
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    stop_process(process)
                    raise RuntimeError(
                        f"redis-server did not answer in {_START_TIMEOUT_S} s."
                    ) from None
                time.sleep(0.02)
    finally:
        probe.close()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Start redis-server on a free port of 127.0.0.1; stop it and remove its folder after."""
    folder = Path(tempfile.mkdtemp(prefix="loopml-redis-"))
    port = free_port()
    server = RedisServer(port, folder, _start(port, folder))
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
