"""``loopml predict``, in-process (exit codes and output) and as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.config import load_settings
from loopml.domain import RunStatus
from loopml.tracking import Client
from tests.cli.test_models_cli import _wide_console, fails, run_cli
from tests.serving.test_batch import FEATURES, customers, register_churn, write

__all__ = ["_wide_console"]

SUMMARY = re.compile(
    r"Scored ([\d,]+) rows of (\d+) file\(s\) in [\d.]+ s \([\d,]+ rows/s\) with (\S+) into "
    r"(.+); run ([0-9a-f]{32})"
)


@pytest.fixture
def home_client() -> Iterator[Client]:
    """A client over the store the CLI uses (the isolated LOOPML_HOME of the test)."""
    made = Client(load_settings(), capture_environment=False)
    yield made
    made.close()


@pytest.fixture
def churn(home_client: Client) -> LogisticRegression:
    return register_churn(home_client)


def test_predict_writes_the_scores_and_prints_a_summary(
    capsys: pytest.CaptureFixture[str],
    home_client: Client,
    churn: LogisticRegression,
    tmp_path: Path,
) -> None:
    frame = customers(500)
    source = write(frame, tmp_path / "in.parquet")
    code, out, err = run_cli(
        capsys, "predict", "churn@latest", str(source), str(tmp_path / "out.csv")
    )
    assert code == 0, err
    found = SUMMARY.search(out)
    assert found is not None, out
    assert found.group(1, 2, 3, 4) == ("500", "1", "churn/1", str(tmp_path / "out.csv"))
    output = pd.read_csv(tmp_path / "out.csv")
    assert list(output.columns) == ["id", "region", "prediction", "model_version"]
    np.testing.assert_array_equal(output["prediction"], churn.predict(frame[FEATURES]))
    run = home_client.get_run(found.group(5))
    assert run.status is RunStatus.FINISHED and run.params["executor"] == "local"


def test_predict_options_reach_the_job(
    capsys: pytest.CaptureFixture[str],
    home_client: Client,
    churn: LogisticRegression,
    tmp_path: Path,
) -> None:
    source = write(customers(300), tmp_path / "in.csv")
    (tmp_path / "out.parquet").write_text("old")
    argv = ["predict", "churn/1", str(source), str(tmp_path / "out.parquet"), "--key", "region"]
    argv += ["--key", "id", "--proba", "--chunk-rows", "50", "--overwrite"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    output = pd.read_parquet(tmp_path / "out.parquet")
    columns = ["region", "id", "prediction", "proba_0", "proba_1", "model_version"]
    assert list(output.columns) == columns
    found = SUMMARY.search(out)
    assert found is not None, out
    run = home_client.get_run(found.group(5))
    assert (run.params["chunk_rows"], run.params["proba"]) == (50, True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nobody/1", "{in}", "{out}"], "No registered model named 'nobody'"),
        (["churn/4", "{in}", "{out}"], "Model 'churn' has no version 4"),
        (["churn/1", "{dir}/absent.csv", "{out}"], "No file or folder at"),
        (["churn/1", "{in}", "{dir}/out.txt"], "unsupported extension '.txt'"),
        (["churn/1", "{in}", "{out}", "--key", "nope"], "Key column 'nope' is not in"),
        (["churn/1", "{in}", "{out}", "--executor", "spark"], "Unknown executor 'spark'"),
        (["churn/1", "{in}", "{dir}/taken.parquet"], "exists already; pass overwrite=True"),
    ],
    ids=[
        "unknown model",
        "unknown version",
        "missing input",
        "bad output",
        "missing key",
        "unknown executor",
        "existing output",
    ],
)
def test_predict_refuses_bad_input_with_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    churn: LogisticRegression,
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    source = write(customers(20), tmp_path / "in.parquet")
    (tmp_path / "taken.parquet").write_text("keep")
    names = {"in": str(source), "out": str(tmp_path / "out.parquet"), "dir": str(tmp_path)}
    err = fails(capsys, "predict", *(arg.format(**names) for arg in argv))
    assert message in err
    assert not (tmp_path / "out.parquet").exists()
    assert (tmp_path / "taken.parquet").read_text() == "keep"


def test_chunk_rows_below_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], churn: LogisticRegression, tmp_path: Path
) -> None:
    source = write(customers(20), tmp_path / "in.parquet")
    code, _, err = run_cli(
        capsys, "predict", "churn/1", str(source), str(tmp_path / "o.csv"), "--chunk-rows", "0"
    )
    assert code == 2 and "--chunk-rows" in err


def test_predict_as_a_real_process(churn: LogisticRegression, tmp_path: Path) -> None:
    source = write(customers(100), tmp_path / "in.csv")
    cli = [str(Path(sys.executable).parent / "loopml")]
    done = subprocess.run(
        [*cli, "predict", "churn/1", str(source), str(tmp_path / "out.parquet")],
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert SUMMARY.search(done.stdout) is not None, done.stdout
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 100
    refused = subprocess.run(
        [*cli, "predict", "churn/1", str(source), str(tmp_path / "out.parquet")],
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and refused.stderr.startswith("Error: Output ")
