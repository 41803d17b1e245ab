"""1. ``log_metric`` x5,000 in one run, in-process, each tool over its own SQLite file.

Timed per repetition, in a fresh store: the logging loop, and the loop plus the end of
the run (loopml writes its queued values then; MLflow wrote each one during the loop).
The goal ratio uses the loop plus the run end. Afterwards each worker reads the whole
history back through its tool's API and checks every step and value.

The worker functions here are also used through a server by ``bench_server_log_metric``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _report import Row
from _workers import (
    LOOPML,
    MLFLOW,
    WORKSPACE,
    JsonDict,
    Tool,
    check_history,
    median,
    run_worker,
    serve_worker,
)

MODULE = "bench_log_metric.py"
CALLS = 5_000
REPEATS = 3
BENCHMARK = "1. log_metric x5,000, in-process, SQLite"


# -- worker side (runs in each tool's interpreter) ------------------------------------


def _timings(start: float, started: float, looped: float, ended: float, n: int) -> JsonDict:
    return {
        "calls": n,
        "setup_s": started - start,
        "loop_s": looped - started,
        "end_s": ended - looped,
        "total_s": ended - started,
    }


def loopml_log_loop(args: JsonDict) -> JsonDict:
    """Log ``n`` values with the fluent API; ``tracking_uri`` set means through a server."""
    import loopml
    from loopml.config import load_settings
    from loopml.tracking import Client, set_default_client

    n: int = args["n"]
    start = time.perf_counter()
    settings = load_settings({"home": args["home"], "tracking_uri": args.get("tracking_uri")})
    set_default_client(Client(settings))
    with loopml.start_run(experiment="bench", name="r") as run:
        started = time.perf_counter()
        for i in range(n):
            loopml.log_metric("loss", 1.0 / (i + 1), step=i)
        looped = time.perf_counter()
    ended = time.perf_counter()
    history = loopml.get_metric_history(run.id, "loss")
    points = [(m.step, m.value) for m in history]
    return {**_timings(start, started, looped, ended, n), **check_history(points, n)}


def mlflow_log_loop(args: JsonDict) -> JsonDict:
    """Log ``n`` values with MLflow's fluent API to ``uri`` (sqlite:/// or http://)."""
    import mlflow
    from mlflow import MlflowClient

    n: int = args["n"]
    if args.get("async_logging"):
        mlflow.config.enable_async_logging(True)
    start = time.perf_counter()
    mlflow.set_tracking_uri(args["uri"])
    mlflow.set_experiment("bench")
    with mlflow.start_run(run_name="r") as run:
        started = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        looped = time.perf_counter()
    ended = time.perf_counter()
    history = MlflowClient().get_metric_history(run.info.run_id, "loss")
    points = [(m.step, m.value) for m in history]
    return {**_timings(start, started, looped, ended, n), **check_history(points, n)}


# -- orchestrator side ----------------------------------------------------------------


def _local_args(tool: Tool, folder: Path, **extra: Any) -> JsonDict:
    folder.mkdir(parents=True)
    if tool is LOOPML:
        return {"n": CALLS, "home": str(folder / ".loopml"), **extra}
    return {"n": CALLS, "uri": f"sqlite:///{folder / 'mlflow.db'}", **extra}


def _collect() -> dict[str, list[JsonDict]]:
    results: dict[str, list[JsonDict]] = {"loopml": [], "mlflow": [], "mlflow-async": []}
    for repeat in range(REPEATS):
        _measure(results, "loopml", LOOPML, repeat)
        _measure(results, "mlflow", MLFLOW, repeat)
    # Informational, and slow (~25 s a run): measured once.
    _measure(results, "mlflow-async", MLFLOW, 0, async_logging=True)
    return results


def _measure(
    results: dict[str, list[JsonDict]], label: str, tool: Tool, repeat: int, **extra: Any
) -> None:
    folder = WORKSPACE / "log_metric" / f"{label}-{repeat}"
    function = "loopml_log_loop" if tool is LOOPML else "mlflow_log_loop"
    result = run_worker(tool, MODULE, function, _local_args(tool, folder, **extra))
    print(f"  {label} #{repeat}: {_describe(result)}", flush=True)
    results[label].append(result)


def _describe(result: JsonDict) -> str:
    rate = result["calls"] / result["total_s"]
    return (
        f"loop {result['loop_s']:.3f} s, end {result['end_s']:.3f} s, {rate:,.0f} calls/s, "
        f"read back {result['stored']}/{result['calls']} all_match={result['all_values_match']}"
    )


def rate(results: list[JsonDict], part: str) -> float:
    """Median calls per second over the repetitions, on ``loop_s`` or ``total_s``."""
    return median(r["calls"] / r[part] for r in results)


def is_complete(results: list[JsonDict]) -> bool:
    """Every repetition read back every value it logged."""
    return all(r["all_values_match"] and r["stored"] == r["calls"] for r in results)


def readback_note(results: list[JsonDict]) -> str:
    stored = min(r["stored"] for r in results)
    return f"{stored:,}/{results[0]['calls']:,} read back" + (
        ", all equal" if is_complete(results) else ", MISMATCH"
    )


def compare_logging(
    benchmark: str, ours: list[JsonDict], theirs: list[JsonDict], goal: float
) -> list[Row]:
    """The rows shared by the in-process and the server benchmark."""
    total = Row(
        benchmark,
        "calls/s, loop + run end (flush)",
        "calls/s",
        rate(ours, "total_s"),
        rate(theirs, "total_s"),
        higher_is_better=True,
        goal=f"≥{goal:.0f}x MLflow",
    )
    calls = f"{ours[0]['calls']:,} vs {theirs[0]['calls']:,} calls"
    note = f"{calls}; loopml {readback_note(ours)}, MLflow {readback_note(theirs)}"
    met = (total.ratio or 0) >= goal and is_complete(ours) and is_complete(theirs)
    return [
        replace(total, met=met, note=note),
        Row(
            benchmark,
            "calls/s, logging loop only",
            "calls/s",
            rate(ours, "loop_s"),
            rate(theirs, "loop_s"),
            higher_is_better=True,
        ),
        Row(
            benchmark,
            "run end (final flush)",
            "s",
            median(r["end_s"] for r in ours),
            median(r["end_s"] for r in theirs),
            higher_is_better=False,
            note="loopml writes its queued values here",
        ),
        Row(
            benchmark,
            "set-up: settings to run started",
            "s",
            median(r["setup_s"] for r in ours),
            median(r["setup_s"] for r in theirs),
            higher_is_better=False,
            note="includes creating the experiment (and a fresh store's schema in-process)",
        ),
    ]


def run() -> list[Row]:
    results = _collect()
    rows = compare_logging(BENCHMARK, results["loopml"], results["mlflow"], goal=100)
    asynchronous = results["mlflow-async"]
    informational = Row(
        BENCHMARK,
        "calls/s, loop + run end, vs MLflow with async logging on (1 run)",
        "calls/s",
        rate(results["loopml"], "total_s"),
        rate(asynchronous, "total_s"),
        higher_is_better=True,
        note="informational, not MLflow's default; MLflow " + readback_note(asynchronous),
    )
    rows.append(informational)
    return rows


if __name__ == "__main__":
    serve_worker(globals())
