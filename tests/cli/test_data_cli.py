"""``loopml data``, in-process (exit codes and output) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_models_cli import _wide_console, fails, run_cli

__all__ = ["_wide_console"]

CSV = "id,age,plan\n1,34,pro\n2,51,free\n3,29,pro\n"
# An mtime far older than the stat cache's racy window (2020-01-01).
OLD_NS = 1_577_836_800 * 10**9


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "customers"
    (root / "raw").mkdir(parents=True)
    (root / "people.csv").write_text(CSV)
    (root / "raw" / "notes.txt").write_text("notes")
    return root


def test_add_log_show_and_list(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "data", "add", str(folder), "-m", "first cut")
    assert code == 0 and "customers@v1" in out and "2 file(s)" in out
    code, out, _ = run_cli(capsys, "data", "add", str(folder))
    assert code == 0 and "customers@v1" in out  # unchanged content: the same version
    (folder / "people.csv").write_text(CSV + "4,40,team\n")
    run_cli(capsys, "data", "add", str(folder), "--name", "customers", "-m", "one more")
    code, out, _ = run_cli(capsys, "data", "log", "customers")
    assert code == 0 and out.index("customers@v2") < out.index("customers@v1")
    assert "one more" in out and "first cut" in out
    code, out, _ = run_cli(capsys, "data", "show", "customers@v2")
    assert code == 0 and "people.csv" in out and "4 rows" in out and "age" in out
    code, out, _ = run_cli(capsys, "data", "list")
    assert code == 0 and "customers@v2" in out


def test_status_diff_and_checkout(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "data", "add", str(folder))
    code, out, _ = run_cli(capsys, "data", "status")
    assert code == 0 and "up to date" in out
    (folder / "people.csv").write_text(CSV + "4,40,team\n")
    code, out, _ = run_cli(capsys, "data", "status", "customers")
    assert "changed" in out and "modified: people.csv" in out
    err = fails(capsys, "data", "checkout", "customers@v1")
    assert "unsaved changes" in err and "--force" in err
    run_cli(capsys, "data", "add", str(folder))
    code, out, _ = run_cli(capsys, "data", "diff", "customers@v1", "customers@v2")
    assert code == 0 and "changed: 1 file(s)" in out and "+1 / -0" in out
    code, out, _ = run_cli(capsys, "data", "diff", "customers@v1", "customers@v2", "--json")
    assert json.loads(out)["tables"]["people.csv"]["rows_added"] == 1
    code, _, _ = run_cli(capsys, "data", "checkout", "customers@v1")
    assert code == 0 and (folder / "people.csv").read_text() == CSV


def test_check_passes_fails_and_refuses_bad_files(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "data", "add", str(folder / "people.csv"), "--name", "people")
    suite = tmp_path / "checks.yaml"
    suite.write_text("checks:\n  - not_null: age\n  - row_count: {min: 2}\n")
    code, out, _ = run_cli(capsys, "data", "check", "people", str(suite))
    assert code == 0 and "passed" in out
    suite.write_text("checks:\n  - in_range: {column: age, min: 40}\n")
    code, out, _ = run_cli(capsys, "data", "check", "people", str(suite))
    assert code == 1 and "FAIL" in out and "2 of 3 rows" in out
    suite.write_text("checks:\n  - in_range: {column: age, min: x}\n")
    assert "in_range.min" in fails(capsys, "data", "check", "people", str(suite))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "add", "/no/such/path"], "No file or folder"),
        (["data", "log", "nothing"], "No dataset named 'nothing'"),
        (["data", "show", "bad name@v1"], "Invalid dataset reference"),
        (["data", "checkout", "nothing@v2", "--to", "x"], "No dataset named 'nothing'"),
        (["data", "status", "nothing"], "not tracked"),
        (["data", "push", "nothing"], "No remote"),
    ],
    ids=[
        "missing-path",
        "unknown-dataset",
        "bad-ref",
        "unknown-checkout",
        "untracked",
        "no-remote",
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in fails(capsys, *argv)


def test_a_ragged_csv_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    err = fails(capsys, "data", "add", str(bad))
    assert "bad.csv" in err and "line 3" in err


def test_data_commands_as_a_real_process(folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    cli = [str(Path(sys.executable).parent / "loopml")]
    added = subprocess.run(
        [*cli, "data", "add", str(folder)], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    status = subprocess.run([*cli, "data", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_data_status_answers_without_loading_the_cli_framework(
    folder: Path, tmp_path: Path
) -> None:
    _age(folder)  # so the first status stores the folder's fingerprint
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    script = str(Path(sys.executable).parent / "loopml")
    subprocess.run([script, "data", "add", str(folder)], env=env, check=True, capture_output=True)
    subprocess.run([script, "data", "status"], env=env, check=True, capture_output=True)
    heavy = (
        "typer",
        "rich",
        "sqlalchemy",
        "pandas",
        "pyarrow",
        "loopml.blobs",
        "loopml.data._snapshot",
        "concurrent.futures",
    )
    code = (
        "import sys; from loopml._launch import main\n"
        "try:\n    main(['data', 'status', 'customers'])\n"
        "except SystemExit as exit:\n"
        f"    print('exit', exit.code, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    ).stdout
    assert "customers@v1" in out and "up to date" in out
    assert out.strip().endswith("exit 0 []")
    missing = subprocess.run(
        [script, "data", "status", "nothing"], env=env, capture_output=True, text=True
    )
    assert (
        missing.returncode == 2
        and missing.stderr.startswith("Error: ")
        and "not tracked" in missing.stderr
    )


@pytest.mark.parametrize("aged", [True, False], ids=["fingerprinted", "racy"])
def test_data_status_as_a_real_process_sees_a_same_size_rewrite(
    folder: Path, tmp_path: Path, aged: bool
) -> None:
    if aged:
        _age(folder)
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    script = str(Path(sys.executable).parent / "loopml")
    subprocess.run([script, "data", "add", str(folder)], env=env, check=True, capture_output=True)
    clean = subprocess.run([script, "data", "status"], env=env, capture_output=True, text=True)
    (folder / "people.csv").write_text(CSV.replace("pro", "PRO"))  # same size, new mtime

    changed = subprocess.run([script, "data", "status"], env=env, capture_output=True, text=True)

    assert clean.returncode == 0 and "up to date" in clean.stdout
    assert changed.returncode == 0
    assert "changed" in changed.stdout and "modified: people.csv" in changed.stdout


def _age(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD_NS, OLD_NS))
