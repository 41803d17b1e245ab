"""4. ``search_runs`` over 10,000 runs of 10 params and 10 metrics each, in-process, SQLite.

Both stores are seeded with the same runs (``random.Random(SEED)``) through each tool's
batch API: a run is created, gets one batch of 10 params and 10 metrics, and is ended.
Seeding time is reported, but it is not the benchmark. Then each tool answers the same
queries: a filter on one metric and one param, ordered by another metric, with a limit of
100 and of 1,000, both as a pandas DataFrame (``search_runs``) and as records
(loopml ``Client.search_runs_page``, MLflow ``MlflowClient.search_runs``). Each query is
timed ``REPEATS`` times (over ``ROUNDS`` alternating worker processes per tool, each after
``WARMUP`` untimed queries); the median is reported. The run names each tool returns are
compared: the answers must be identical.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from _report import Row
from _workers import (
    LOOPML,
    MLFLOW,
    WORKSPACE,
    JsonDict,
    Worker,
    median,
    run_worker,
    serve_worker,
)

MODULE = "bench_search_runs.py"
BENCHMARK = "4. search_runs, 10,000 runs x (10 params + 10 metrics)"
RUNS = 10_000
SEED = 20_251_122
EXPERIMENT = "search"
FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
LIMITS = (100, 1000)
FORMS = ("frame", "records")
WARMUP = 1  # per round and query
ROUNDS = 2  # the tools' query workers alternate, so that a busy spell hits both
REPEATS = {100: 20, 1000: 10}  # per limit: MLflow takes ~1.5 s per 1,000-row query
GOAL_MS = 50.0
GOAL_RATIO = 10.0


# -- worker side ----------------------------------------------------------------------


def generate_runs(count: int, seed: int) -> Iterator[tuple[str, dict[str, str], dict[str, float]]]:
    """``(name, params, metrics)`` of each run; the same on both sides for one seed."""
    rng = random.Random(seed)
    for index in range(count):
        params = {"p0": rng.choice("abcd")}
        params.update({f"p{k}": f"v{rng.randint(0, 99)}" for k in range(1, 10)})
        metrics = {f"m{k}": rng.random() for k in range(10)}
        yield f"run-{index:05d}", params, metrics


def _time_queries(search: Callable[[str, int], list[str]]) -> JsonDict:
    """Time each (form, limit) query; ``search(form, limit)`` returns the run names.

    One call does one round: its share of the repetitions, after ``WARMUP`` queries.
    """
    timings: JsonDict = {}
    for form in FORMS:
        for limit in LIMITS:
            for _ in range(WARMUP):
                names = search(form, limit)
            samples = []
            for _ in range(REPEATS[limit] // ROUNDS):
                began = time.perf_counter()
                names = search(form, limit)
                samples.append(time.perf_counter() - began)
            timings[f"{form}-{limit}"] = {"samples": samples, "names": names}
    return timings


def loopml_seed(args: JsonDict) -> JsonDict:
    from datetime import UTC, datetime

    from loopml.config import load_settings
    from loopml.domain import Metric, RunUpdate
    from loopml.tracking import Client

    client = Client(load_settings({"home": args["home"]}), capture_environment=False)
    client.ensure_experiment(EXPERIMENT)
    moment = datetime.now(UTC)
    began = time.perf_counter()
    for name, params, metrics in generate_runs(args["runs"], SEED):
        run = client.create_run(EXPERIMENT, name=name)
        values = [Metric(key, value, 0, moment) for key, value in metrics.items()]
        client.log_batch(run.id, RunUpdate(params=dict(params), metrics=values))
        client.end_run(run.id)
    seconds = time.perf_counter() - began
    client.close()
    return {"seed_s": seconds}


def mlflow_seed(args: JsonDict) -> JsonDict:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(args["uri"])
    experiment_id = client.create_experiment(EXPERIMENT)
    moment = int(time.time() * 1000)
    began = time.perf_counter()
    for name, params, metrics in generate_runs(args["runs"], SEED):
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, moment, 0) for key, value in metrics.items()],
            params=[Param(key, value) for key, value in params.items()],
        )
        client.set_terminated(run_id)
    return {"seed_s": time.perf_counter() - began}


def loopml_query(args: JsonDict) -> JsonDict:
    from loopml.config import load_settings
    from loopml.tracking import Client

    client = Client(load_settings({"home": args["home"]}))

    def search(form: str, limit: int) -> list[str]:
        if form == "frame":
            frame = client.search_runs(EXPERIMENT, FILTER, ORDER_BY, limit)
            return list(frame["name"])
        page = client.search_runs_page(EXPERIMENT, FILTER, ORDER_BY, limit)
        return [run.name for run in page.runs]

    return _time_queries(search)


def mlflow_query(args: JsonDict) -> JsonDict:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(args["uri"])
    client = MlflowClient()
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def search(form: str, limit: int) -> list[str]:
        if form == "frame":
            frame = mlflow.search_runs(
                experiment_names=[EXPERIMENT],
                filter_string=FILTER,
                order_by=ORDER_BY,
                max_results=limit,
            )
            return list(frame["tags.mlflow.runName"])
        runs = client.search_runs(
            [experiment_id], filter_string=FILTER, order_by=ORDER_BY, max_results=limit
        )
        return [run.info.run_name for run in runs]

    return _time_queries(search)


# -- orchestrator side ----------------------------------------------------------------


def _stores() -> tuple[JsonDict, JsonDict]:
    folder = WORKSPACE / "search"
    folder.mkdir(parents=True)
    return {"home": str(folder / ".loopml")}, {"uri": f"sqlite:///{folder / 'mlflow.db'}"}


def _seed(ours: JsonDict, theirs: JsonDict) -> Row:
    """Seed both stores at once (two processes on two cores): seeding is not the benchmark,
    and MLflow's alone takes minutes."""
    seeders = [
        Worker(LOOPML, MODULE, "loopml_seed", {**ours, "runs": RUNS}),
        Worker(MLFLOW, MODULE, "mlflow_seed", {**theirs, "runs": RUNS}),
    ]
    try:
        loopml_s, mlflow_s = (seeder.result(timeout=1200)["seed_s"] for seeder in seeders)
    finally:
        for seeder in seeders:
            seeder.kill()
    print(f"  seeded {RUNS:,} runs: loopml {loopml_s:.1f} s, MLflow {mlflow_s:.1f} s", flush=True)
    return Row(
        BENCHMARK,
        "seeding (not the benchmark): create + log_batch + end, per run",
        "runs/s",
        RUNS / loopml_s,
        RUNS / mlflow_s,
        higher_is_better=True,
        note=f"{RUNS:,} runs: loopml {loopml_s:.0f} s, MLflow {mlflow_s:.0f} s (seeded concurrently)",
    )


def _query_row(key: str, ours: JsonDict, theirs: JsonDict) -> Row:
    form, limit = key.split("-")
    mine, other = ours[key], theirs[key]
    same = mine["names"] == other["names"]
    loopml_ms = median(mine["samples"]) * 1000
    mlflow_ms = median(other["samples"]) * 1000
    api = "DataFrame (search_runs)" if form == "frame" else "records (client)"
    row = Row(
        BENCHMARK,
        f"limit {limit}, {api}: median of {len(mine['samples'])}",
        "ms",
        loopml_ms,
        mlflow_ms,
        higher_is_better=False,
        goal=f"<{GOAL_MS:.0f} ms and ≥{GOAL_RATIO:.0f}x faster" if limit == "100" else "",
        note=f"{len(mine['names'])} rows, "
        + ("same runs in the same order" if same else "RESULTS DIFFER between the tools")
        + f"; loopml fastest {min(mine['samples']) * 1000:.0f} ms",
    )
    if limit != "100":
        return row
    met = loopml_ms < GOAL_MS and (row.ratio or 0) >= GOAL_RATIO and same
    return replace(row, met=met)


def _query_rounds(ours: JsonDict, theirs: JsonDict) -> tuple[JsonDict, JsonDict]:
    """Both tools' timings, their query workers alternating ``ROUNDS`` times."""
    mine: JsonDict = {}
    other: JsonDict = {}
    for _ in range(ROUNDS):
        for merged, tool, function, args in (
            (mine, LOOPML, "loopml_query", ours),
            (other, MLFLOW, "mlflow_query", theirs),
        ):
            for key, timing in run_worker(tool, MODULE, function, args).items():
                merged.setdefault(key, {"samples": [], "names": timing["names"]})
                merged[key]["samples"] += timing["samples"]
    return mine, other


def run() -> list[Row]:
    ours, theirs = _stores()
    rows = [_seed(ours, theirs)]
    mine, other = _query_rounds(ours, theirs)
    for key in mine:
        row = _query_row(key, mine, other)
        print(f"  {row.measure}: loopml {row.loopml:.1f} ms, MLflow {row.mlflow:.1f} ms")
        rows.append(row)
    return rows


if __name__ == "__main__":
    serve_worker(globals())
