"""The loopml command, in-process (exit codes and output) and as a real subprocess."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import loopml
from loopml.cli import main
from loopml.config import load_settings
from loopml.tracking import Client


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOPML_HOME")
    return tmp_path


@pytest.fixture
def seeded(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert run_cli(capsys, "init")[0] == 0
    client = Client(load_settings(), capture_environment=False)
    ids = []
    for name, model, acc in (("rf-a", "rf", 0.91), ("lr-b", "lr", 0.85)):
        run = client.create_run("churn", name=name)
        client.log_params(run.id, {"model": model})
        client.log_metric(run.id, "acc", acc)
        client.end_run(run.id)
        ids.append(run.id)
    client.close()
    return ids


def test_init_creates_a_project_home_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "init")
    assert code == 0 and ".loopml" in out
    assert (project / ".loopml" / "config.toml").is_file()
    assert (project / ".loopml" / "loopml.db").is_file()
    config = (project / ".loopml" / "config.toml").read_text()
    assert run_cli(capsys, "init")[0] == 0
    assert (project / ".loopml" / "config.toml").read_text() == config


def test_init_of_a_missing_folder_is_one_line_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "init", str(project / "missing"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "not a folder" in err
    assert not (project / "missing").exists()


def test_runs_list_filters_and_orders(
    seeded: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "runs", "list", "-e", "churn", "-o", "-metrics.acc")
    assert code == 0
    assert out.index("rf-a") < out.index("lr-b")
    code, out, _ = run_cli(capsys, "runs", "list", "-f", "params.model = 'lr'")
    assert code == 0 and "lr-b" in out and "rf-a" not in out


def test_runs_show_and_compare(seeded: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "show", seeded[0])
    assert code == 0 and "rf-a" in out and "0.91" in out and "finished" in out
    code, out, _ = run_cli(capsys, "runs", "compare", *seeded)
    assert code == 0
    assert "params.model" in out and "metrics.acc" in out and "0.85" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "show", "nope"], "No run with id 'nope'"),
        (["runs", "list", "-f", "metrics.acc foo 1"], "column 13"),
        (["runs", "list", "-e", "nope"], "No experiment named 'nope'"),
        (["runs", "compare", "only-one"], "at least two"),
    ],
    ids=["unknown-run", "bad-filter", "unknown-experiment", "compare-one"],
)
def test_errors_print_a_clear_message_and_exit_2(
    seeded: list[str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith("Error: ") and message in err
    assert "Traceback" not in err


def test_experiments_list_and_config_show(
    seeded: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "experiments", "list")
    assert code == 0 and "churn" in out
    code, out, _ = run_cli(
        capsys, "--store-uri", "sqlite:////tmp/x.db", "config", "show", "--origin"
    )
    assert code == 0 and "flag" in out and "store_uri" in out


def test_db_upgrade_reports_the_head(seeded: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from loopml.store.sql import HEAD_REVISION

    code, out, _ = run_cli(capsys, "db", "upgrade")
    assert code == 0 and HEAD_REVISION in out


def _command_paths() -> list[list[str]]:
    import typer.main

    from loopml.cli import app

    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "loopml")
def test_every_command_shows_its_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *path, "--help")
    assert code == 0 and "Usage" in out


def test_real_subprocess_help_and_error_exit(tmp_path: Path) -> None:
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    script = Path(sys.executable).parent / "loopml"
    shown = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert shown.returncode == 0 and "runs" in shown.stdout
    failed = subprocess.run(
        [str(script), "runs", "show", "nope"], capture_output=True, text=True, env=env, check=False
    )
    assert failed.returncode == 2
    assert failed.stderr.strip() == "Error: No run with id 'nope'."


def test_fluent_runs_are_visible_to_the_cli(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "init")
    from loopml.tracking import set_default_client

    client = Client(load_settings(), capture_environment=False)
    set_default_client(client)
    with loopml.start_run(experiment="fluent", name="visible"):
        loopml.log_metric("m", 1.5)
    client.close()
    set_default_client(None)
    code, out, _ = run_cli(capsys, "runs", "list", "-e", "fluent")
    assert code == 0 and "visible" in out and "1.5" in out


def test_compare_writes_an_html_report_with_charts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "init")
    client = Client(load_settings(), capture_environment=False)
    ids = []
    for name, rate in (("fast", 0.5), ("slow", 0.1)):
        run = client.create_run("curves", name=name)
        for step in range(20):
            client.log_metric(run.id, "loss", math.exp(-rate * step), step=step)
        client.log_params(run.id, {"rate": rate})
        client.end_run(run.id)
        ids.append(run.id)
    client.close()
    report = project / "compare.html"
    code, out, _ = run_cli(capsys, "runs", "compare", *ids, "--html", str(report))
    assert code == 0 and "compare.html" in out
    page = report.read_text()
    assert page.count("<polyline") == 2  # one curve per run on the loss chart
    assert 'aria-label="latest loss per run"' in page
    assert page.count("<rect") == 2  # one bar per run for the latest loss
    assert "<figcaption>loss</figcaption>" in page
    assert 'class="differs"><td>params.rate' in page
