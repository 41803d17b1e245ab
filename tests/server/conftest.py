"""Fixtures of the server tests: a real server process on 127.0.0.1, and the app in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from loopml.config import Settings, load_settings
from loopml.server import create_app
from tests._services.net import free_port
from tests._services.process import stop_process

_START_TIMEOUT_S = 20.0


@contextmanager
def server_process(home: Path, port: int | None = None) -> Iterator[str]:
    """Run ``python -m loopml.server`` over ``home`` until the block ends; yield its URL.

    The server's output goes to ``home/server.log``, shown if it fails to start.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loopml.server", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log_path)
        yield url
    finally:
        stop_process(process, timeout=15)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``/api/v1/health`` until the server answers; fail with its log if it dies."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"The server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if client.get(f"{url}/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)
    pytest.fail(f"The server did not answer within {_START_TIMEOUT_S} s:\n{log_path.read_text()}")


def openapi_routes(url: str) -> set[tuple[str, str]]:
    """``(METHOD, path under the API prefix)`` of every route the server at ``url`` lists."""
    from loopml.store.rest.schemas import API_PREFIX

    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    return {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in schema["paths"].items()
        for method in operations
    }


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real ``loopml.server`` process over an empty home, for the session."""
    with server_process(tmp_path_factory.mktemp("server") / ".loopml") as url:
        yield url


@pytest.fixture
def remote_settings(live_server: str, tmp_path: Path) -> Settings:
    """Client settings that talk to the live server, with a short timeout."""
    return load_settings(
        {"tracking_uri": live_server, "home": tmp_path / ".loopml", "http_timeout": 10},
        environ={},
    )


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread of this process;
    yield its URL. The app's lifespan runs; the tests can reach ``app.state``.

    (Starlette's TestClient would do without a socket, but it warns when used with
    httpx rather than httpx2, and the REST adapters are built on httpx.)
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("The in-process server did not start; see the log.")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def app_url(settings: Settings) -> Iterator[str]:
    """The URL of the app served in-process over an empty home."""
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def api(app_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the app served in-process."""
    with httpx.Client(base_url=app_url, timeout=30) as client:
        yield client
