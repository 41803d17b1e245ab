"""``loopml pipeline schedule``, ``loopml schedule ...`` and ``loopml scheduler``, in-process;
and a real ``loopml server`` process firing a schedule when its dataset gets a version."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopml.config import load_settings
from loopml.domain.schedules import FiringState
from loopml.pipelines import schedule_pipeline
from loopml.tracking import Client
from tests.cli.test_models_cli import _wide_console, fails, run_cli
from tests.cli.test_pipelines_cli import FLOW

__all__ = ["_wide_console"]


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.py"
    path.write_text(FLOW)
    return path


def _schedule(capsys: pytest.CaptureFixture[str], flow: Path, *options: str) -> str:
    code, out, err = run_cli(capsys, "pipeline", "schedule", f"{flow}:chain", *options)
    assert code == 0, err
    return out


def test_schedule_prints_the_schedule_and_its_next_times(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _schedule(capsys, flow, "--cron", "30 6 * * *", "-p", "rows=4", "--name", "morning")
    assert "morning (enabled)" in out and "cron '30 6 * * *' (UTC)" in out
    assert "rows='4'" in out and "catch-up: latest" in out
    assert out.count("06:30:00 UTC") == 3  # the next three times
    assert "loopml scheduler" in out


def test_list_show_pause_resume_delete(flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _schedule(capsys, flow, "--cron", "@daily", "--name", "nightly")
    code, out, _ = run_cli(capsys, "schedule", "list")
    assert code == 0 and "nightly" in out and "never fired" in out
    assert run_cli(capsys, "schedule", "pause", "nightly")[0] == 0
    assert "paused" in run_cli(capsys, "schedule", "list")[1]
    assert run_cli(capsys, "schedule", "resume", "nightly")[0] == 0
    code, out, _ = run_cli(capsys, "schedule", "show", "nightly")
    assert code == 0 and "nightly (enabled)" in out and "Firings" in out
    assert run_cli(capsys, "schedule", "delete", "nightly")[0] == 0
    assert "nightly" not in run_cli(capsys, "schedule", "list")[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cron", "0 8 * *"], "has 4 fields"),
        (["--cron", "@daily", "--on-dataset", "x"], "exactly one trigger"),
        ([], "exactly one trigger"),
        (["--cron", "@daily", "--timezone", "Mars/Base"], "Mars/Base"),
        (["--cron", "@daily", "-p", "rows=many"], "parameter 'rows' must be an integer"),
        (["--cron", "@daily", "-p", "rows"], "is not KEY=VALUE"),
        (["--cron", "@daily", "--catchup", "never"], "Catch-up policy 'never'"),
        (["--on-dataset", "ghost"], "No dataset named 'ghost'"),
    ],
)
def test_bad_schedules_exit_2_with_one_line_and_store_nothing(
    flow: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    argv = ("pipeline", "schedule", f"{flow}:chain", *options)
    if message == "is not KEY=VALUE":  # refused by the option's own check, with usage
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and message in err
    else:
        assert message in fails(capsys, *argv)
    assert "never fired" not in run_cli(capsys, "schedule", "list")[1]


def test_an_unknown_schedule_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("show", "pause", "resume", "delete"):
        assert "No schedule named 'ghost'" in fails(capsys, "schedule", verb, "ghost")


def test_scheduler_once_fires_what_is_due_and_waits(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "scheduler", "--once")
    assert code == 0 and "Nothing was due." in out
    client = Client(load_settings(), capture_environment=False)
    try:
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        schedule_pipeline(
            f"{flow}:chain", cron="* * * * *", executor="inline", now=an_hour_ago, client=client
        )
        store = client.stores.schedules
        code, out, err = run_cli(capsys, "scheduler", "--once")
        assert code == 0, err
        firings = {f.state: f for f in store.list_firings("chain")}
        assert set(firings) == {FiringState.SUCCEEDED, FiringState.MISSED}  # 59 missed, 1 run
        firing = firings[FiringState.SUCCEEDED]
        assert firing.run_id and "missed 59 time(s)" in firings[FiringState.MISSED].reason
        assert firing.run_id in out
    finally:
        client.close()


@pytest.mark.slow
def test_a_server_fires_a_schedule_when_its_dataset_gets_a_version(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.server.conftest import server_process

    data = tmp_path / "rows.csv"
    data.write_text("a\n1\n")
    home = load_settings().home
    assert run_cli(capsys, "data", "add", str(data), "--name", "rows")[0] == 0
    _schedule(capsys, flow, "--on-dataset", "rows", "--executor", "inline")
    with server_process(home):
        data.write_text("a\n1\n2\n")
        assert run_cli(capsys, "data", "add", str(data), "--name", "rows")[0] == 0
        client = Client(load_settings(), capture_environment=False)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                firings = client.stores.schedules.list_firings("chain")
                if firings and firings[0].state is not FiringState.RUNNING:
                    break
                time.sleep(0.2)
            (firing,) = client.stores.schedules.list_firings("chain")
            assert firing.state is FiringState.SUCCEEDED, firing.error
            assert firing.reason == "dataset rows got version 2"
            assert client.get_run(firing.run_id or "").tags["loopml.schedule"] == "chain"
        finally:
            client.close()
