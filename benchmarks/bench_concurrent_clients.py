"""3. Eight client processes logging to one server at once, each to its own run.

Each client starts its run, says it is ready, and waits; when all eight are ready they
are released together, log their values with the fluent API and end their run (loopml
flushes then). Throughput is every value logged divided by the span from the first
release to the last run end. Afterwards a separate process reads every run's history
back through the server: lost values are the ones missing or wrong (must be 0).

loopml: 5,000 values per client. MLflow (default ``mlflow server``): 200 per client, to
keep its rounds under ~20 s. Rounds alternate between the tools.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from _report import Row
from _servers import Server, loopml_server, mlflow_server, running
from _workers import (
    LOOPML,
    MLFLOW,
    WORKSPACE,
    JsonDict,
    Tool,
    Worker,
    check_history,
    median,
    run_worker,
    serve_worker,
    wait_until_released,
)

if TYPE_CHECKING:
    from loopml.tracking import Client  # only loopml's interpreter runs the loopml workers

MODULE = "bench_concurrent_clients.py"
BENCHMARK = "3. 8 client processes logging to one server"
EXPERIMENT = "concurrent"
CLIENTS = 8
LOOPML_VALUES = 5_000
MLFLOW_VALUES = 200
ROUNDS = 3
GOAL_RATIO = 20.0


# -- worker side ----------------------------------------------------------------------


def _loopml_client(args: JsonDict) -> Client:
    from loopml.config import load_settings
    from loopml.tracking import Client

    return Client(load_settings({"home": args["home"], "tracking_uri": args["url"]}))


def loopml_prepare(args: JsonDict) -> JsonDict:
    return {"experiment": _loopml_client(args).ensure_experiment(EXPERIMENT).id}


def loopml_logger(args: JsonDict) -> JsonDict:
    import loopml
    from loopml.tracking import set_default_client

    set_default_client(_loopml_client(args))
    active = loopml.start_run(experiment=EXPERIMENT, name=args["name"])
    wait_until_released()
    began = time.time()
    for i in range(args["n"]):
        loopml.log_metric("loss", 1.0 / (i + 1), step=i)
    loopml.end_run()
    return {"run_id": active.id, "began": began, "ended": time.time()}


def loopml_count(args: JsonDict) -> JsonDict:
    client = _loopml_client(args)
    histories = {run_id: client.get_metric_history(run_id, "loss") for run_id in args["run_ids"]}
    return {
        run_id: check_history([(m.step, m.value) for m in history], args["n"])
        for run_id, history in histories.items()
    }


def mlflow_prepare(args: JsonDict) -> JsonDict:
    from mlflow import MlflowClient

    return {"experiment": MlflowClient(args["url"]).create_experiment(EXPERIMENT)}


def mlflow_logger(args: JsonDict) -> JsonDict:
    import mlflow

    mlflow.set_tracking_uri(args["url"])
    mlflow.set_experiment(EXPERIMENT)
    active = mlflow.start_run(run_name=args["name"])
    wait_until_released()
    began = time.time()
    for i in range(args["n"]):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.end_run()
    return {"run_id": active.info.run_id, "began": began, "ended": time.time()}


def mlflow_count(args: JsonDict) -> JsonDict:
    from mlflow import MlflowClient

    client = MlflowClient(args["url"])
    histories = {run_id: client.get_metric_history(run_id, "loss") for run_id in args["run_ids"]}
    return {
        run_id: check_history([(m.step, m.value) for m in history], args["n"])
        for run_id, history in histories.items()
    }


# -- orchestrator side ----------------------------------------------------------------


def _round(tool: Tool, server: Server, values: int, round_no: int) -> JsonDict:
    """One round: start the clients, release them together, check what was stored."""
    base = {"url": server.url, "home": str(WORKSPACE / "concurrent" / "client-home")}
    workers = [
        Worker(tool, MODULE, f"{tool.name}_logger", {**base, "n": values, "name": f"c{index}"})
        for index in range(CLIENTS)
    ]
    try:
        for worker in workers:
            worker.wait_ready()
        for worker in workers:
            worker.release()
        results = [worker.result(timeout=600) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    run_ids = [r["run_id"] for r in results]
    checks = run_worker(
        tool, MODULE, f"{tool.name}_count", {**base, "n": values, "run_ids": run_ids}
    )
    span = max(r["ended"] for r in results) - min(r["began"] for r in results)
    logged = values * CLIENTS
    stored = sum(c["stored"] for c in checks.values() if c["all_values_match"])
    outcome = {"rate": logged / span, "span_s": span, "logged": logged, "lost": logged - stored}
    print(
        f"  {tool.name} round {round_no}: {outcome['rate']:,.0f} values/s "
        f"({logged:,} in {span:.2f} s), lost {outcome['lost']}",
        flush=True,
    )
    return outcome


def _collect() -> dict[str, list[JsonDict]]:
    folder: Path = WORKSPACE / "concurrent"
    outcomes: dict[str, list[JsonDict]] = {"loopml": [], "mlflow": []}
    with (
        running(loopml_server(folder / "loopml" / ".loopml")) as ours,
        running(mlflow_server(folder / "mlflow")) as theirs,
    ):
        run_worker(LOOPML, MODULE, "loopml_prepare", {"url": ours.url, "home": str(folder / "c")})
        run_worker(MLFLOW, MODULE, "mlflow_prepare", {"url": theirs.url})
        for round_no in range(ROUNDS):
            outcomes["loopml"].append(_round(LOOPML, ours, LOOPML_VALUES, round_no))
            outcomes["mlflow"].append(_round(MLFLOW, theirs, MLFLOW_VALUES, round_no))
    return outcomes


def run() -> list[Row]:
    outcomes = _collect()
    ours, theirs = outcomes["loopml"], outcomes["mlflow"]
    lost_ours = sum(o["lost"] for o in ours)
    lost_theirs = sum(o["lost"] for o in theirs)
    throughput = Row(
        BENCHMARK,
        "total values/s (first release to last run end)",
        "values/s",
        median(o["rate"] for o in ours),
        median(o["rate"] for o in theirs),
        higher_is_better=True,
        goal=f"≥{GOAL_RATIO:.0f}x MLflow, 0 lost",
        note=f"median of {ROUNDS} rounds; {CLIENTS} x {LOOPML_VALUES:,} vs "
        f"{CLIENTS} x {MLFLOW_VALUES} values",
    )
    met = (throughput.ratio or 0) >= GOAL_RATIO and lost_ours == 0
    lost = Row(
        BENCHMARK,
        "values lost (all rounds)",
        "values",
        float(lost_ours),
        float(lost_theirs),
        higher_is_better=False,
        goal="0",
        met=lost_ours == 0,
        note=f"of {sum(o['logged'] for o in ours):,} vs {sum(o['logged'] for o in theirs):,}, "
        "each history read back and checked",
    )
    return [replace(throughput, met=met), lost]


if __name__ == "__main__":
    serve_worker(globals())
