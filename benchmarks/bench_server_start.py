"""5. Server start: wall time from spawning the server until its health endpoint answers
200, and RSS summed over its process tree (psutil) during the 3 s that follow.

The first start of each tool is on an empty store (it creates the schema); three more
start on the store the first one made. Tools alternate. Defaults both: ``loopml server``
and ``mlflow server`` with no worker option.
"""

from __future__ import annotations

import time
from pathlib import Path

from _report import Row
from _servers import ServerSpec, loopml_server, mlflow_server, running
from _workers import WORKSPACE, median

BENCHMARK = "5. server start (default options)"
RESTARTS = 3
SETTLE_S = 5.0
GOAL_START_S = 2.0
GOAL_RSS_MB = 250.0

Sample = tuple[float, float, int]  # start seconds, peak RSS MB, processes


def measure_start(spec: ServerSpec) -> Sample:
    """Start the server once; its start time and its peak tree RSS while settling."""
    with running(spec) as server:
        peak_mb, processes = server.memory()
        deadline = time.perf_counter() + SETTLE_S
        while time.perf_counter() < deadline:
            time.sleep(0.25)
            mb, count = server.memory()
            if mb > peak_mb:
                peak_mb, processes = mb, count
        return server.start_s, peak_mb, processes


def _specs(folder: Path) -> dict[str, ServerSpec]:
    return {
        "loopml": loopml_server(folder / "loopml" / ".loopml"),
        "mlflow": mlflow_server(folder / "mlflow"),
    }


def _collect() -> dict[str, list[Sample]]:
    folder = WORKSPACE / "start"
    samples: dict[str, list[Sample]] = {"loopml": [], "mlflow": []}
    for attempt in range(1 + RESTARTS):
        for tool, spec in _specs(folder).items():  # fresh ports, same data folders
            sample = measure_start(spec)
            samples[tool].append(sample)
            print(
                f"  {tool} start #{attempt}: {sample[0]:.2f} s, {sample[1]:.0f} MB "
                f"over {sample[2]} processes",
                flush=True,
            )
    return samples


def _start_rows(ours: list[Sample], theirs: list[Sample]) -> list[Row]:
    goal = f"≤{GOAL_START_S:.0f} s"
    first = Row(
        BENCHMARK,
        "start until /health answers, empty store",
        "s",
        ours[0][0],
        theirs[0][0],
        higher_is_better=False,
        goal=goal,
        met=ours[0][0] <= GOAL_START_S,
        note="creates the schema; one start each",
    )
    restart_ours = median(s[0] for s in ours[1:])
    restart = Row(
        BENCHMARK,
        "start until /health answers, existing store",
        "s",
        restart_ours,
        median(s[0] for s in theirs[1:]),
        higher_is_better=False,
        goal=goal,
        met=restart_ours <= GOAL_START_S,
        note=f"median of {RESTARTS}",
    )
    return [first, restart]


def _memory_row(ours: list[Sample], theirs: list[Sample]) -> Row:
    rss_ours = median(s[1] for s in ours)
    counts = f"{ours[0][2]} vs {theirs[0][2]} processes"
    return Row(
        BENCHMARK,
        f"RSS over the process tree, peak in {SETTLE_S:.0f} s after start",
        "MB",
        rss_ours,
        median(s[1] for s in theirs),
        higher_is_better=False,
        goal=f"<{GOAL_RSS_MB:.0f} MB",
        met=rss_ours < GOAL_RSS_MB,
        note=f"median of {1 + RESTARTS}; {counts}",
    )


def run() -> list[Row]:
    samples = _collect()
    return [
        *_start_rows(samples["loopml"], samples["mlflow"]),
        _memory_row(samples["loopml"], samples["mlflow"]),
    ]
