"""``loopml pipeline``, in-process (exit codes and output) and as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.errors import NotFound
from tests.cli.test_models_cli import _wide_console, fails, run_cli

__all__ = ["_wide_console"]

FLOW = """
import os

from loopml.pipelines import pipeline, step


@step
def load(rows: int = 3) -> list:
    return list(range(rows))


@step
def double(xs: list) -> list:
    return [x * 2 for x in xs]


@step
def total(xs: list) -> int:
    return sum(xs)


@step
def side(label: str = "x") -> str:
    return label.upper()


@step
def check(xs: list) -> list:
    raise ValueError("bad rows")


@step
def noise() -> bytes:
    return os.urandom(16)


@pipeline
def chain(rows: int = 3):
    side()
    return total(double(load(rows=rows)))


@pipeline
def breaks(rows: int = 3):
    side()
    return total(check(load(rows=rows)))


@pipeline
def noisy():
    return noise()
"""
CHAIN = ("side", "load", "double", "total")  # the order of the calls: the DAG order
RUN_ID = re.compile(r"Pipeline run ([0-9a-f]{32})")


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.py"
    path.write_text(FLOW)
    return path


def rows(out: str) -> dict[str, list[str]]:
    """The cells after the step name of each table row naming a step, by step."""
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 3 and cells[1] in (*CHAIN, "check", "noise"):
            found[cells[1]] = cells[2:-1]
    return found


def states(out: str) -> dict[str, str]:
    return {step: cells[0] for step, cells in rows(out).items()}


def run_id_in(out: str) -> str:
    found = RUN_ID.search(out)
    assert found is not None, out
    return found.group(1)


def pipeline_run(
    capsys: pytest.CaptureFixture[str], flow: Path, name: str, *options: str
) -> tuple[int, str, str]:
    return run_cli(capsys, "pipeline", "run", f"{flow}:{name}", "--executor", "inline", *options)


def test_run_prints_the_run_id_and_every_step_done(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = pipeline_run(capsys, flow, "chain")
    assert code == 0, err
    assert list(states(out).items()) == [(step, "done") for step in CHAIN]
    assert "finished" in out and len(run_id_in(out)) == 32


def test_a_second_run_reuses_the_steps_of_the_first(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_id_in(pipeline_run(capsys, flow, "chain")[1])
    _, shown, _ = run_cli(capsys, "pipeline", "show", first)
    step_runs = {step: cells[3] for step, cells in rows(shown).items()}

    code, out, _ = pipeline_run(capsys, flow, "chain")

    assert code == 0 and set(states(out).values()) == {"cached"}
    assert {step: cells[2] for step, cells in rows(out).items()} == step_runs
    assert run_id_in(out) != first


def test_no_cache_runs_every_step(flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline_run(capsys, flow, "chain")
    code, out, _ = pipeline_run(capsys, flow, "chain", "--no-cache")
    assert code == 0 and set(states(out).values()) == {"done"}


def test_a_param_given_as_text_takes_the_parameter_type(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = pipeline_run(capsys, flow, "chain", "-p", "rows=4", "--param", "rows=5")
    assert code == 0, err  # range("5") would have failed the step
    assert "(chain: rows=5)" in out and set(states(out).values()) == {"done"}


def test_a_param_of_the_wrong_type_is_refused_naming_it(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "pipeline", "run", f"{flow}:chain", "-p", "rows=many")
    assert "'rows'" in err and "'many'" in err and "integer" in err


@pytest.mark.parametrize(
    ("option", "named"),
    [(["--param", "rows"], "--param"), (["--executor", "gpu"], "--executor")],
    ids=["param-without-equals", "unknown-executor"],
)
def test_a_malformed_option_is_a_usage_error_naming_it(
    flow: Path, option: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "pipeline", "run", f"{flow}:chain", *option)
    assert code == 2 and named in err and repr(option[1]) in err
    assert not out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("flow.py:nothing", "has no 'nothing'; pipelines there: breaks, chain, noisy"),
        ("missing.py:chain", "No pipeline file at"),
    ],
    ids=["unknown-pipeline", "missing-file"],
)
def test_an_unknown_target_says_what_is_missing(
    flow: Path, target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "pipeline", "run", str(flow.parent / target))
    assert code == NotFound.exit_code
    assert err.startswith("Error: ") and message in err


def test_a_failing_step_exits_1_and_prints_its_traceback_once(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = pipeline_run(capsys, flow, "breaks")
    assert code == 1
    assert (out + err).count("Traceback (most recent call last)") == 1
    assert 'raise ValueError("bad rows")' in err
    assert "Error: Step 'check' of pipeline 'breaks' failed: ValueError: bad rows" in err
    assert states(out) == {"side": "done", "load": "done", "check": "failed", "total": "skipped"}
    assert "failed" in out and run_id_in(out) in err


def test_resume_after_a_fix_runs_the_failed_step_and_what_follows(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = run_id_in(pipeline_run(capsys, flow, "breaks")[1])
    flow.write_text(FLOW.replace('raise ValueError("bad rows")', "return xs"))
    # A new process, as after editing the code: this one keeps the module it loaded.
    env = {**os.environ, "COLUMNS": "200"}
    cli = [str(Path(sys.executable).parent / "loopml")]
    resumed = subprocess.run(
        [*cli, "pipeline", "resume", failed, "--executor", "inline"],
        env=env,
        capture_output=True,
        text=True,
        cwd=flow.parent.parent,  # the recorded target does not depend on the folder
    )
    assert resumed.returncode == 0, resumed.stderr
    assert states(resumed.stdout) == {
        "side": "cached",
        "load": "cached",
        "check": "done",
        "total": "done",
    }
    assert run_id_in(resumed.stdout) != failed


def test_rerun_of_a_deterministic_pipeline_is_reproduced(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_id_in(pipeline_run(capsys, flow, "chain")[1])
    code, out, err = run_cli(capsys, "pipeline", "rerun", first, "--executor", "inline")
    assert code == 0, err
    assert set(states(out).values()) == {"done"}  # executed again, not cached
    assert "Same output: side, load, double, total." in out
    assert "Commit matches" in out and f"Reproduced pipeline run {first}" in out


def test_rerun_with_different_outputs_exits_1_naming_the_step(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_id_in(pipeline_run(capsys, flow, "noisy")[1])
    code, out, _ = run_cli(capsys, "pipeline", "rerun", first, "--executor", "inline")
    assert code == 1
    assert "outputs that differ" in out and "noise" in rows(out)
    assert "Not reproduced" in out and "1 step(s)" in out


def test_show_lists_the_steps_in_dag_order_and_the_edges(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = run_id_in(pipeline_run(capsys, flow, "breaks")[1])
    code, out, _ = run_cli(capsys, "pipeline", "show", failed)
    assert code == 0
    shown = rows(out)
    assert list(shown) == ["side", "load", "check", "total"]
    assert [cells[0] for cells in shown.values()] == ["done", "done", "failed", "skipped"]
    assert "load -> check\ncheck -> total\n" in out and "side ->" not in out
    step_run = shown["load"][3]
    err = fails(capsys, "pipeline", "show", step_run)
    assert f"Run {step_run} is not a pipeline run" in err


def test_run_with_the_default_local_executor(
    flow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "pipeline", "run", f"{flow}:chain", "--workers", "2")
    assert code == 0, err
    assert list(states(out).items()) == [(step, "done") for step in CHAIN]
    code, out, _ = run_cli(capsys, "pipeline", "show", run_id_in(out))
    assert code == 0 and "double -> total" in out
