"""``loopml serve``: refusals in-process (exit 2, one line), serving as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from loopml.cli import main
from loopml.config import Settings
from tests._services.net import free_port
from tests.serving._helpers import register, serving_settings, set_alias

ROW = {"age": 41, "income": 52.5, "plan": "pro"}
_START_TIMEOUT_S = 60.0


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def registered(home: Path) -> Settings:
    settings = serving_settings(home)
    register(settings)
    set_alias(settings, "champion", 1)
    return settings


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("churn@Bad Alias!", "Invalid model URI 'churn@Bad Alias!'", id="bad-uri"),
        pytest.param("churn/0", "Invalid model URI 'churn/0'", id="version-0"),
        pytest.param(
            "churn",
            "No deployment named 'churn'; serve a model URI such as 'churn@champion'",
            id="deployment-name",
        ),
        pytest.param("bad name!", "Deployment name 'bad name!'", id="bad-deployment-name"),
        pytest.param("churn@nope", "Model 'churn' has no alias 'nope'", id="missing-alias"),
        pytest.param("churn/9", "9", id="missing-version"),
        pytest.param("other@champion", "other", id="missing-model"),
    ],
)
def test_what_cannot_be_served_exits_2_with_one_line(
    registered: Settings, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    code, out, err = run_cli(capsys, "--home", str(registered.home), "serve", target)
    assert code == 2
    assert err.startswith("Error: ") and message in err
    assert err.strip().count("\n") == 0 and out == ""


@pytest.mark.parametrize(
    "option", [["--workers", "0"], ["--port", "0"], ["--port", "70000"]], ids=str
)
def test_bad_options_are_usage_errors(
    registered: Settings, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    code, _, err = run_cli(
        capsys, "--home", str(registered.home), "serve", "churn@champion", *option
    )
    assert code == 2 and option[0] in err


def test_help_names_the_target_forms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "serve", "--help")
    assert code == 0
    assert "churn@champion" in out and "--workers" in out and "--port" in out


@contextmanager
def serving_process(home: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``loopml --home HOME serve ARGS --port P`` until the block ends; its log is
    ``home/serve.log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    log_path = home / "serve.log"
    script = Path(sys.executable).parent / "loopml"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(script), "--home", str(home), "serve", *args, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"loopml serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"loopml serve was not ready in {_START_TIMEOUT_S} s:\n{log_path.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a process manager stops a server; uvicorn shuts down gracefully, then
    (with one process) ends by the signal it caught, as a plain process would."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)


def test_serve_answers_on_a_real_port_and_stops_gracefully(registered: Settings) -> None:
    home = registered.home
    with serving_process(home, "churn@champion") as (url, process):
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post("/predict", json=ROW)
            assert answer.status_code == 200
            assert answer.json()["version"] == 1 and answer.json()["model"] == "churn"
            assert client.post("/predict", json={"age": "x"}).status_code == 422
            health = client.get("/health").json()
            assert health["status"] == "serving" and health["targets"] == {"champion": 1}
            assert client.get("/ready").json() == {"ready": True}
            metrics = client.get("/metrics").text
            assert 'loopml_serving_requests_total{version="1",code="200"} 1' in metrics
            assert 'loopml_serving_requests_total{version="none",code="422"} 1' in metrics
        _stop(process)
    log = (home / "serve.log").read_text()
    assert "Loaded and warmed churn/1" in log
    assert "prediction sink closed" in log
    assert "Application shutdown complete" in log
    assert "POST /predict" not in log  # no access log line per request


def test_serve_with_two_workers_builds_the_app_in_each(registered: Settings) -> None:
    home = registered.home
    with serving_process(home, "churn@champion", "--workers", "2") as (url, process):
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(10):
                assert client.post("/predict", json=ROW).json()["version"] == 1
        log_path = home / "serve.log"
        deadline = time.monotonic() + _START_TIMEOUT_S
        while log_path.read_text().count("Loaded and warmed churn/1") < 2:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        _stop(process)
    assert (home / "serve.log").read_text().count("prediction sink closed") == 2
