"""2. ``log_metric`` in one run through each tool's own server, both over SQLite.

loopml logs 5,000 values through ``loopml server``; MLflow logs 300 through
``mlflow server`` (at ~18 calls/s 5,000 would take minutes), once with its default
workers and once with ``--workers 1`` (informational). Calls per second are compared;
as in benchmark 1 the goal uses the loop plus the run end, and every value is read back
through the server and checked. Servers run side by side; repetitions alternate.
"""

from __future__ import annotations

from contextlib import ExitStack

from _report import Row
from _servers import Server, loopml_server, mlflow_server, running
from _workers import LOOPML, MLFLOW, WORKSPACE, JsonDict, run_worker
from bench_log_metric import MODULE, compare_logging, rate, readback_note

BENCHMARK = "2. log_metric in one run, through the server (SQLite)"
LOOPML_CALLS = 5_000
MLFLOW_CALLS = 300
REPEATS = 3
GOAL_RATIO = 100.0


def _log(label: str, server: Server, repeat: int) -> JsonDict:
    if label == "loopml":
        home = WORKSPACE / "server_log_metric" / f"client-{repeat}" / ".loopml"
        args = {"n": LOOPML_CALLS, "home": str(home), "tracking_uri": server.url}
        result = run_worker(LOOPML, MODULE, "loopml_log_loop", args)
    else:
        result = run_worker(
            MLFLOW, MODULE, "mlflow_log_loop", {"n": MLFLOW_CALLS, "uri": server.url}
        )
    print(
        f"  {label} #{repeat}: {result['calls'] / result['total_s']:,.1f} calls/s "
        f"(loop {result['loop_s']:.2f} s, end {result['end_s']:.3f} s), "
        f"read back {result['stored']}/{result['calls']} all_match={result['all_values_match']}",
        flush=True,
    )
    return result


def _collect() -> dict[str, list[JsonDict]]:
    folder = WORKSPACE / "server_log_metric"
    specs = {
        "loopml": loopml_server(folder / "loopml" / ".loopml"),
        "mlflow": mlflow_server(folder / "mlflow"),
        "mlflow-1-worker": mlflow_server(folder / "mlflow-1", workers=1, label="mlflow 1 worker"),
    }
    results: dict[str, list[JsonDict]] = {label: [] for label in specs}
    with ExitStack() as stack:
        servers = {label: stack.enter_context(running(spec)) for label, spec in specs.items()}
        for repeat in range(REPEATS):
            for label, server in servers.items():
                results[label].append(_log(label, server, repeat))
    return results


def run() -> list[Row]:
    results = _collect()
    rows = compare_logging(BENCHMARK, results["loopml"], results["mlflow"], GOAL_RATIO)
    single = results["mlflow-1-worker"]
    rows.append(
        Row(
            BENCHMARK,
            "calls/s, loop + run end, vs mlflow server --workers 1",
            "calls/s",
            rate(results["loopml"], "total_s"),
            rate(single, "total_s"),
            higher_is_better=True,
            note=f"informational; {MLFLOW_CALLS} MLflow calls, " + readback_note(single),
        )
    )
    return rows
