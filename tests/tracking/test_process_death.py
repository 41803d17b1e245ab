"""A run whose process dies is marked failed; SIGKILL mid-batch leaves a sound database."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loopml.config import Settings, load_settings
from loopml.domain import RunStatus
from loopml.tracking import Client

_WRITER = """
import os, signal, sys, time
import loopml
from loopml.config import load_settings
from loopml.tracking import Client, set_default_client
settings = load_settings({"home": sys.argv[1], "tracking_flush_interval": 0.005})
set_default_client(Client(settings, capture_environment=False))
run = loopml.start_run(experiment="crash")
print(run.id, flush=True)
step = 0
while True:
    loopml.log_metric("loss", float(step), step=step)
    step += 1
    if step % 200 == 0:
        time.sleep(0.001)
"""


def _start_writer(home: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    return proc, run_id


@pytest.mark.slow
def test_sigkill_mid_batch_marks_the_run_failed_and_keeps_a_sound_database(
    settings: Settings, home: Path
) -> None:
    proc, run_id = _start_writer(home)
    time.sleep(1.5)  # let it flush many batches, then kill it in the middle of one
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()
    with sqlite3.connect(home / "loopml.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    client = Client(load_settings({"home": home}, environ={}), capture_environment=False)
    run = client.get_run(run_id)
    assert run.status is RunStatus.FAILED
    steps = [m.step for m in client.get_metric_history(run_id, "loss")]
    assert steps, "batches flushed before the kill are stored"
    assert steps == list(range(len(steps))), "whole batches only: no gaps, no duplicates"
    client.close()


@pytest.mark.parametrize(
    ("ending", "status"),
    [("pass", RunStatus.FINISHED), ("raise SystemError('x')", RunStatus.FAILED)],
    ids=["normal-exit", "uncaught-exception"],
)
def test_a_run_left_open_ends_at_exit_with_its_metrics(
    home: Path, ending: str, status: RunStatus
) -> None:
    script = f"""
import sys, loopml
from loopml.config import load_settings
from loopml.tracking import Client, set_default_client
set_default_client(Client(load_settings({{"home": sys.argv[1]}}), capture_environment=False))
run = loopml.start_run(experiment="open")
print(run.id, flush=True)
for step in range(1000):
    loopml.log_metric("m", float(step), step=step)
{ending}
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(home)], capture_output=True, text=True, check=False
    )
    run_id = done.stdout.strip()
    client = Client(load_settings({"home": home}, environ={}), capture_environment=False)
    assert client.get_run(run_id).status is status
    assert len(client.get_metric_history(run_id, "m")) == 1000
    client.close()
