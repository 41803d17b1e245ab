"""`make demo` runs examples/demo.py: it must keep working end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


@pytest.mark.slow
def test_demo_versions_data_trains_registers_and_reports_the_best_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Best run of the demo" in done.stdout
    assert (tmp_path / ".loopml" / "loopml.db").is_file()
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "loopml"), "runs", "list", "-e", "breast-cancer-demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "7 run(s)" in listed.stdout  # loading the data, then six models
    assert "Dataset breast-cancer@v1" in done.stdout and "4 data checks passed" in done.stdout
    lineage = subprocess.run(
        [str(Path(sys.executable).parent / "loopml"), "models", "lineage", "breast-cancer@champion"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dataset breast-cancer@1" in lineage.stdout
