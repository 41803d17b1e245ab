"""``loopml serve``: refusals in-process (exit 2, one line), serving as a real process: a
model URI or a deployment followed through updates, rollbacks and moved aliases, every
prediction logged and written out when the server stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from loopml.cli import main
from loopml.config import Settings
from loopml.serving._deployments import create_deployment, rollback_deployment, update_deployment
from loopml.serving._predlog_query import predictions
from loopml.tracking import Client
from tests._services.net import free_port
from tests.serving._helpers import register, serving_settings, set_alias, wait_for
from tests.serving.test_live_swap import Hammer

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
            "No deployment named 'churn' to serve; create it (loopml deploy create churn "
            "--model MODEL --route champion=100) or serve a model URI such as 'churn@champion'",
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
    assert "--no-log" in out


@pytest.mark.parametrize(("flags", "logged"), [([], True), (["--no-log"], False)], ids=str)
def test_the_log_is_on_unless_no_log_is_given(
    registered: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    logged: bool,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "loopml.serving._server.serve", lambda target, **options: calls.append(options)
    )
    code, _, _ = run_cli(capsys, "--home", str(registered.home), "serve", "churn-api", *flags)
    assert code == 0 and [call["prediction_log"] for call in calls] == [logged]


@contextmanager
def serving_process(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``loopml --home HOME serve ARGS --port P`` until the block ends, with ``env``'s
    ``LOOPML_*`` variables and none of the caller's; its log is ``home/serve.log``."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}, **(env or {})}
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
    with Client(registered, capture_environment=False) as reader:
        assert len(predictions("churn", client=reader)) == 10  # whichever worker answered


def test_a_deployment_is_followed_through_updates_rollbacks_and_moved_aliases(
    home: Path,
) -> None:
    settings = serving_settings(home)
    models = register(settings, seeds=(0, 1, 2))
    set_alias(settings, "champion", 1)
    poll = {"LOOPML_SERVING_POLL_SECONDS": "0.1"}
    client = Client(settings, capture_environment=False)
    create_deployment("churn-api", "churn", {"champion": 100}, client=client)
    with client, serving_process(home, "churn-api", env=poll) as (url, process):
        with httpx.Client(base_url=url, timeout=10) as http, Hammer(http) as hammer:
            _switch(
                hammer, lambda: update_deployment("churn-api", routes={"2": 100}, client=client), 2
            )
            _switch(hammer, lambda: rollback_deployment("churn-api", client=client), 1)
            _switch(hammer, lambda: set_alias(settings, "champion", 3), 3)
            count = len(hammer.answers)
            wait_for(lambda: len(hammer.answers) >= count + 10, what="requests after the last")
            health = http.get("/health").json()
        _stop(process)
    assert [answer for answer in hammer.answers if answer[1] != 200] == []
    served = [answer[2]["version"] for answer in hammer.answers]
    assert [v for i, v in enumerate(served) if i == 0 or served[i - 1] != v] == [1, 2, 1, 3]
    expected = models[2].predict(pd.DataFrame([ROW])).tolist()
    assert hammer.answers[-1][2]["predictions"] == expected
    assert (health["deployment"], health["revision"], health["targets"]) == (
        "churn-api",
        3,
        {"champion": 3},
    )
    with Client(settings, capture_environment=False) as reader:
        logged = predictions("churn-api", client=reader)
    assert len(logged) == len(hammer.answers)  # every answer, written out at the stop
    assert set(logged["deployment"]) == {"churn-api"} and set(logged["version"]) == {1, 2, 3}


def _switch(hammer: Hammer, change: Any, version: int) -> None:
    """Make ``change`` after a few answers, then wait for ``version`` to answer."""
    count = len(hammer.answers)
    wait_for(lambda: len(hammer.answers) >= count + 10, what="requests before the change")
    moment = time.monotonic()
    change()
    wait_for(lambda: version in hammer.versions_since(moment), timeout=30, what=f"v{version}")


OTHER = {"age": 23, "income": 38.0, "plan": "free"}


def test_every_prediction_is_logged_and_written_out_when_the_server_stops(
    registered: Settings,
) -> None:
    home = registered.home
    bodies: list[Any] = [ROW, [ROW, OTHER], {"columns": {k: [OTHER[k], ROW[k]] for k in ROW}}]
    sent: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    hour = {"LOOPML_PREDICTION_FLUSH_SECONDS": "3600"}  # only the stop writes the log
    with serving_process(home, "churn@champion", env=hour) as (url, process):
        with httpx.Client(base_url=url, timeout=10) as client:
            for body, records in zip(bodies, [[ROW], [ROW, OTHER], [OTHER, ROW]], strict=True):
                sent.append((client.post("/predict", json=body).json(), records))
            assert client.post("/predict", json={"age": "x"}).status_code == 422
            metrics = client.get("/metrics").text
        assert "loopml_serving_prediction_log_logged_rows_total 5" in metrics
        assert "loopml_serving_prediction_log_held_rows 5" in metrics
        _stop(process)
    with Client(registered, capture_environment=False) as reader:
        frame = predictions("churn", client=reader)
    assert len(frame) == 5
    for answer, records in sent:
        rows = frame[frame["request_id"] == answer["request_id"]]
        assert rows["row"].tolist() == list(range(len(records)))
        inputs = rows[["input.age", "input.income", "input.plan"]]
        assert inputs.rename(columns=lambda c: c[6:]).to_dict("records") == records
        assert rows["output"].tolist() == answer["predictions"]
        assert set(rows["version"]) == {1} and set(rows["model"]) == {"churn"}
        assert rows["deployment"].isna().all() and (rows["latency_ms"] > 0).all()
