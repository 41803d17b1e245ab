"""Fixtures for the blob store tests: moto's S3 server as a real HTTP process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests._services.net import free_port
from tests._services.process import stop_process

MOTO_BUCKET = "loopml-test"
_START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def aws_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dummy AWS credentials in the environment, for boto3 and for the moto process.

    The adapter keeps boto3's standard credential chain; the config files point at
    nothing so that a developer's ``~/.aws`` cannot leak into the tests.
    """
    nowhere = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", str(nowhere))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server(aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of moto's S3 server, started for the session, with ``MOTO_BUCKET``."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_listening(process, port, log_path)
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint)
        try:
            client.create_bucket(Bucket=MOTO_BUCKET)
        finally:
            client.close()
        yield endpoint
    finally:
        stop_process(process, timeout=10)


@pytest.fixture
def unreachable_endpoint() -> str:
    """URL of a local port nothing listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def moto_bucket(moto_server: str) -> str:
    """Name of the bucket created in moto's server."""
    return MOTO_BUCKET


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a starting process: there is no event to wait on
    pytest.fail(f"moto server did not listen on port {port} within {_START_TIMEOUT} s")
