"""7. Model registry: register a scikit-learn model, load it by alias in a fresh process,
and what the loaded model's ``predict`` costs over the bare model's.

The model is the same for both tools: ``LogisticRegression(max_iter=5000)`` fitted once on
scikit-learn's breast_cancer as a DataFrame (569 rows, 30 float columns), pickled with
the data by a set-up worker (both venvs pin scikit-learn 1.9.1 and pandas 3.1.1, so one
pickle serves both). Nothing is trained in a timed process.

- **Register.** A fresh process per repetition: unpickle the model and ``X.head()``,
  import the tool, start a run, log + register the model with a signature inferred from
  ``X.head()`` (loopml ``ModelRegistry().log_model`` inside ``loopml.start_run``; MLflow
  ``mlflow.sklearn.log_model(..., registered_model_name=..., input_example=...)`` over a
  SQLite store with local artifacts), end the run. Timed: the call, and the whole process
  from spawning it until it says it is done. One untimed round first creates both
  stores. Each process then registers once more, outside its whole-process time, to
  time a warm second call.
- **Load by alias.** ``champion`` is set on the last version (loopml
  ``ModelRegistry.set_alias``, MLflow ``MlflowClient.set_registered_model_alias``). A
  fresh process unpickles one row (importing pandas), imports the tool, loads
  ``name@champion`` (MLflow ``mlflow.pyfunc.load_model("models:/name@champion")``) and
  predicts the row. Timed: the load call, and the whole process from spawning it until
  the prediction is printed. A third process, the floor of any loader, does the same
  with ``pickle.loads`` of the model file instead of a registry (importing scikit-learn
  is most of it). One untimed round first (loopml's first load fills its model cache;
  the OS caches every file), then ``LOAD_REPEATS`` rounds, who goes first rotating.
- **predict overhead.** In one process per tool, the loaded model's ``predict`` and the
  bare model's on the same one-row DataFrame and on a 100,000-row one (rows of
  breast_cancer drawn with a fixed seed), in alternating ``timeit`` batches; medians.

Every prediction is compared with the bare model's: a tool whose loaded model predicts
differently does not meet its goals.
"""

from __future__ import annotations

import pickle
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from _report import Row, format_value
from _workers import (
    LOOPML,
    MLFLOW,
    WORKSPACE,
    BenchError,
    JsonDict,
    Tool,
    Worker,
    median,
    run_worker,
    serve_worker,
    wait_until_released,
)

MODULE = "bench_registry.py"
BENCHMARK = "7. model registry, scikit-learn LogisticRegression on breast_cancer"
NAME = "bench-model"
ALIAS = "champion"
EXPERIMENT = "registry"
REGISTER_REPEATS = 5
LOAD_REPEATS = 7
BULK_ROWS = 100_000
SEED = 20_251_122
# timeit batches: (calls per batch, batches per variant); the variants alternate.
ONE_ROW_TIMEIT = (50, 100)
BULK_TIMEIT = (3, 30)
GOAL_LOAD_RATIO = 3.0
GOAL_ONE_ROW_US = 50.0
GOAL_BULK_PCT = 5.0
PROCESS_TIMEOUT = 600


# -- worker side (runs in each tool's interpreter) ------------------------------------


def prepare(args: JsonDict) -> JsonDict:
    """Fit the model once and pickle it, and the data, for every later process."""
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    frame = load_breast_cancer(as_frame=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs ConvergenceWarning on unscaled data
        model = LogisticRegression(max_iter=5000).fit(frame.data, frame.target)
    Path(args["model_path"]).write_bytes(pickle.dumps(model))
    Path(args["data_path"]).write_bytes(pickle.dumps(frame.data))
    Path(args["row_path"]).write_bytes(pickle.dumps(frame.data.iloc[[0]]))
    return {"rows": len(frame.data), "columns": frame.data.shape[1]}


def _unpickle(path: str) -> Any:
    return pickle.loads(Path(path).read_bytes())


def _loopml_client(home: str) -> Any:
    from loopml.config import load_settings
    from loopml.tracking import Client, set_default_client

    client = Client(load_settings({"home": home}))
    set_default_client(client)
    return client


def loopml_register(args: JsonDict) -> JsonDict:
    model, example = _unpickle(args["model_path"]), _unpickle(args["data_path"]).head()
    import loopml
    from loopml.registry._registry import ModelRegistry

    registry = ModelRegistry(_loopml_client(args["home"]))

    def register() -> tuple[float, int]:
        with loopml.start_run(experiment=EXPERIMENT):
            began = time.perf_counter()
            version = registry.log_model(model, NAME, input_example=example)
            seconds = time.perf_counter() - began
        return seconds, version.version

    call_s, version = register()
    wait_until_released()  # the orchestrator's whole-process time stops here
    warm_s, _ = register() if args["warm"] else (None, None)
    return {"call_s": call_s, "warm_call_s": warm_s, "version": version}


def _mlflow_store(uri: str, artifacts: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=Path(artifacts).as_uri())
    mlflow.set_experiment(EXPERIMENT)


def mlflow_register(args: JsonDict) -> JsonDict:
    model, example = _unpickle(args["model_path"]), _unpickle(args["data_path"]).head()
    import mlflow
    import mlflow.sklearn

    _mlflow_store(args["uri"], args["artifacts"])

    def register() -> tuple[float, int]:
        with mlflow.start_run():
            began = time.perf_counter()
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=NAME, input_example=example
            )
            seconds = time.perf_counter() - began
        return seconds, int(info.registered_model_version)

    call_s, version = register()
    wait_until_released()
    warm_s, _ = register() if args["warm"] else (None, None)
    return {"call_s": call_s, "warm_call_s": warm_s, "version": version}


def loopml_set_alias(args: JsonDict) -> JsonDict:
    from loopml.registry._registry import ModelRegistry

    registry = ModelRegistry(_loopml_client(args["home"]))
    version = registry.get_model(NAME).latest_version
    if version is None:
        raise BenchError(f"model {NAME!r} has no version to point {ALIAS!r} at")
    began = time.perf_counter()
    registry.set_alias(NAME, ALIAS, version, reason="benchmark")
    return {"call_s": time.perf_counter() - began, "version": version}


def mlflow_set_alias(args: JsonDict) -> JsonDict:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(args["uri"])
    client = MlflowClient()
    version = max(int(v.version) for v in client.search_model_versions(f"name = '{NAME}'"))
    began = time.perf_counter()
    client.set_registered_model_alias(NAME, ALIAS, str(version))
    return {"call_s": time.perf_counter() - began, "version": version}


def _predicted(values: Any) -> list[Any]:
    import numpy as np

    return np.asarray(values).tolist()  # type: ignore[no-any-return]


def loopml_load(args: JsonDict) -> JsonDict:
    row = _unpickle(args["row_path"])  # imports pandas, as the caller's own data would
    from loopml.registry._registry import ModelRegistry

    registry = ModelRegistry(_loopml_client(args["home"]))
    began = time.perf_counter()
    model = registry.load_model(f"{NAME}@{ALIAS}")
    loaded = time.perf_counter()
    prediction = _predicted(model.predict(row))
    print(f"prediction: {prediction}", flush=True)
    wait_until_released()  # the orchestrator's whole-process time stops here
    return {"load_s": loaded - began, "prediction": prediction}


def mlflow_load(args: JsonDict) -> JsonDict:
    row = _unpickle(args["row_path"])
    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(args["uri"])
    began = time.perf_counter()
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@{ALIAS}")
    loaded = time.perf_counter()
    prediction = _predicted(model.predict(row))
    print(f"prediction: {prediction}", flush=True)
    wait_until_released()
    return {"load_s": loaded - began, "prediction": prediction}


def plain_load(args: JsonDict) -> JsonDict:
    """The floor of any loader: ``pickle.loads`` of the model file, no registry at all."""
    row = _unpickle(args["row_path"])
    began = time.perf_counter()
    model = _unpickle(args["model_path"])
    loaded = time.perf_counter()
    prediction = _predicted(model.predict(row))
    print(f"prediction: {prediction}", flush=True)
    wait_until_released()
    return {"load_s": loaded - began, "prediction": prediction}


def _bulk_frame(data: Any) -> Any:
    """``BULK_ROWS`` rows of breast_cancer drawn with replacement, the same on both sides."""
    import numpy as np

    picks = np.random.default_rng(SEED).integers(0, len(data), BULK_ROWS)
    return data.iloc[picks].reset_index(drop=True)


def _alternating(
    bare: Callable[[Any], Any], loaded: Callable[[Any], Any], data: Any, plan: tuple[int, int]
) -> JsonDict:
    """Seconds per call of each, in alternating ``timeit`` batches after a warm-up."""
    number, batches = plan
    for _ in range(max(3, number)):
        bare(data)
        loaded(data)
    samples: JsonDict = {"bare": [], "loaded": []}
    for _ in range(batches):
        samples["bare"].append(timeit.timeit(lambda: bare(data), number=number) / number)
        samples["loaded"].append(timeit.timeit(lambda: loaded(data), number=number) / number)
    return samples


def _predict_timings(bare: Any, loaded: Any, data: Any) -> JsonDict:
    row, bulk = data.iloc[[0]], _bulk_frame(data)
    agree = all(
        _predicted(loaded.predict(frame)) == _predicted(bare.predict(frame))
        for frame in (row, bulk)
    )
    return {
        "one_row": _alternating(bare.predict, loaded.predict, row, ONE_ROW_TIMEIT),
        "bulk": _alternating(bare.predict, loaded.predict, bulk, BULK_TIMEIT),
        "same_predictions": agree,
    }


def loopml_predict(args: JsonDict) -> JsonDict:
    from loopml.registry._registry import ModelRegistry

    loaded = ModelRegistry(_loopml_client(args["home"])).load_model(f"{NAME}@{ALIAS}")
    bare, data = _unpickle(args["model_path"]), _unpickle(args["data_path"])
    return _predict_timings(bare, loaded, data)


def mlflow_predict(args: JsonDict) -> JsonDict:
    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(args["uri"])
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@{ALIAS}")
    bare, data = _unpickle(args["model_path"]), _unpickle(args["data_path"])
    return _predict_timings(bare, loaded, data)


# -- orchestrator side ----------------------------------------------------------------


def _stores() -> dict[Tool, JsonDict]:
    folder = WORKSPACE / "registry"
    folder.mkdir(parents=True)
    files = {
        "model_path": str(folder / "model.pkl"),
        "data_path": str(folder / "data.pkl"),
        "row_path": str(folder / "row.pkl"),
    }
    return {
        LOOPML: {**files, "home": str(folder / ".loopml")},
        MLFLOW: {
            **files,
            "uri": f"sqlite:///{folder / 'mlflow.db'}",
            "artifacts": str(folder / "mlartifacts"),
        },
    }


def _tool(function: str) -> Tool:
    return MLFLOW if function.startswith("mlflow_") else LOOPML


def _timed_process(function: str, args: JsonDict) -> JsonDict:
    """Run a worker that calls ``wait_until_released`` once its work is done; add
    ``process_s`` (spawn to that point) and ``exit_s`` (spawn to exit) to its result."""
    began = time.perf_counter()
    worker = Worker(_tool(function), MODULE, function, args)
    try:
        worker.wait_ready()
        ready = time.perf_counter()
        worker.release()
        result = worker.result(timeout=PROCESS_TIMEOUT)
        ended = time.perf_counter()
    finally:
        worker.kill()
    return {**result, "process_s": ready - began, "exit_s": ended - began}


def _rounds(
    functions: Sequence[str], stores: dict[Tool, JsonDict], repeats: int, **extra: Any
) -> dict[str, list[JsonDict]]:
    """``repeats`` timed rounds after one untimed round, one fresh process per worker
    function and round; who goes first rotates, so that a busy spell hits everyone."""
    results: dict[str, list[JsonDict]] = {function: [] for function in functions}
    for index in range(repeats + 1):
        shift = index % len(functions)
        for function in (*functions[shift:], *functions[:shift]):
            result = _timed_process(function, {**stores[_tool(function)], **extra})
            label = "untimed" if index == 0 else f"#{index}"
            print(f"  {function} {label}: {_describe(result)}", flush=True)
            results[function].append(result)
    return results


def _describe(result: JsonDict) -> str:
    call = result.get("call_s", result.get("load_s"))
    return f"call {call:.3f} s, process {result['process_s']:.3f} s, exit {result['exit_s']:.3f} s"


def _seconds(results: list[JsonDict], key: str) -> float:
    """The median over the timed rounds (the first, untimed, is left out)."""
    return median(result[key] for result in results[1:])


def _register_rows(results: dict[str, list[JsonDict]]) -> list[Row]:
    ours, theirs = results["loopml_register"], results["mlflow_register"]
    first = (
        f"untimed first round (empty store): loopml {ours[0]['process_s']:.2f} s, "
        f"MLflow {theirs[0]['process_s']:.2f} s"
    )
    return [
        Row(
            BENCHMARK,
            "register: log_model + register, signature inferred, first call of a process, "
            f"median of {REGISTER_REPEATS}",
            "s",
            _seconds(ours, "call_s"),
            _seconds(theirs, "call_s"),
            higher_is_better=False,
            note="MLflow infers pip requirements in a subprocess",
        ),
        Row(
            BENCHMARK,
            "register: whole process (spawn, unpickle, import, start run, log_model, end run)",
            "s",
            _seconds(ours, "process_s"),
            _seconds(theirs, "process_s"),
            higher_is_better=False,
            note=first,
        ),
        Row(
            BENCHMARK,
            "register: a second log_model in the same process (warm)",
            "s",
            _seconds(ours, "warm_call_s"),
            _seconds(theirs, "warm_call_s"),
            higher_is_better=False,
        ),
    ]


def _alias_row(stores: dict[Tool, JsonDict]) -> Row:
    ours = run_worker(LOOPML, MODULE, "loopml_set_alias", stores[LOOPML])
    theirs = run_worker(MLFLOW, MODULE, "mlflow_set_alias", stores[MLFLOW])
    print(
        f"  set_alias: loopml v{ours['version']} {ours['call_s'] * 1000:.1f} ms, "
        f"MLflow v{theirs['version']} {theirs['call_s'] * 1000:.1f} ms",
        flush=True,
    )
    return Row(
        BENCHMARK,
        f"set alias {ALIAS!r} (one call, informational)",
        "ms",
        ours["call_s"] * 1000,
        theirs["call_s"] * 1000,
        higher_is_better=False,
        note=f"on version {ours['version']} (loopml) / {theirs['version']} (MLflow)",
    )


def _load_rows(results: dict[str, list[JsonDict]]) -> list[Row]:
    ours, theirs, floor = results["loopml_load"], results["mlflow_load"], results["plain_load"]
    expected = floor[0]["prediction"]
    correct = all(r["prediction"] == expected for r in ours + theirs + floor)
    verdict = "every prediction equal to the bare model's" if correct else "PREDICTIONS DIFFER"
    goal = f"≥{GOAL_LOAD_RATIO:.0f}x faster"
    rows = [
        Row(
            BENCHMARK,
            f"load name@{ALIAS} in a fresh process: the load call, median of {LOAD_REPEATS}",
            "s",
            _seconds(ours, "load_s"),
            _seconds(theirs, "load_s"),
            higher_is_better=False,
            goal=goal,
            note=f"{verdict}; floor (pickle.loads of the model file, imports scikit-learn): "
            f"{_seconds(floor, 'load_s'):.2f} s; first loopml load (cache empty): "
            f"{ours[0]['load_s']:.2f} s",
        ),
        Row(
            BENCHMARK,
            "load + predict one row: whole process, spawn to prediction printed",
            "s",
            _seconds(ours, "process_s"),
            _seconds(theirs, "process_s"),
            higher_is_better=False,
            goal=goal,
            note=f"floor (pickle.loads, no registry): {_seconds(floor, 'process_s'):.2f} s; "
            f"spawn to exit: loopml {_seconds(ours, 'exit_s'):.2f} s, "
            f"MLflow {_seconds(theirs, 'exit_s'):.2f} s, floor {_seconds(floor, 'exit_s'):.2f} s",
        ),
    ]
    return [replace(row, met=(row.ratio or 0) >= GOAL_LOAD_RATIO and correct) for row in rows]


def _overhead(samples: JsonDict) -> tuple[float, float, float]:
    """Medians of bare and loaded seconds per call, and the median paired difference."""
    pairs = zip(samples["loaded"], samples["bare"], strict=True)
    return median(samples["bare"]), median(samples["loaded"]), median(a - b for a, b in pairs)


def _predict_rows(ours: JsonDict, theirs: JsonDict) -> list[Row]:
    """Loaded against bare, in each tool's process. The overhead rows are judged against
    their goals, not against MLflow (a difference near zero makes a ratio meaningless),
    so MLflow's overhead is in their note."""
    same = ours["same_predictions"] and theirs["same_predictions"]
    verdict = "same predictions as the bare model" if same else "PREDICTIONS DIFFER"
    bare, loaded, paired = _overhead(ours["one_row"])
    mlflow_bare, pyfunc, _ = _overhead(theirs["one_row"])
    overhead_us = (loaded - bare) * 1e6
    bulk_bare, bulk_loaded, bulk_paired = _overhead(ours["bulk"])
    mlflow_bulk_bare, mlflow_bulk, _ = _overhead(theirs["bulk"])
    bulk_pct = (bulk_loaded - bulk_bare) / bulk_bare * 100
    mlflow_bulk_pct = (mlflow_bulk - mlflow_bulk_bare) / mlflow_bulk_bare * 100
    number, batches = ONE_ROW_TIMEIT
    bulk_number, bulk_batches = BULK_TIMEIT
    return [
        Row(
            BENCHMARK,
            "predict one-row DataFrame: loaded model (loopml wrapper / MLflow pyfunc)",
            "µs",
            loaded * 1e6,
            pyfunc * 1e6,
            higher_is_better=False,
            note=f"bare model.predict {bare * 1e6:.0f} µs (loopml's process) / "
            f"{mlflow_bare * 1e6:.0f} µs (MLflow's); {batches} alternating timeit batches "
            f"of {number} calls each",
        ),
        Row(
            BENCHMARK,
            "predict one row: overhead over the bare model (median loaded - median bare)",
            "µs",
            overhead_us,
            None,
            higher_is_better=False,
            goal=f"<{GOAL_ONE_ROW_US:.0f} µs",
            met=overhead_us < GOAL_ONE_ROW_US and same,
            note=f"median paired difference {paired * 1e6:.1f} µs; MLflow pyfunc's overhead "
            f"{(pyfunc - mlflow_bare) * 1e6:,.0f} µs; {verdict}",
        ),
        Row(
            BENCHMARK,
            f"predict {BULK_ROWS:,} rows: loaded model",
            "ms",
            bulk_loaded * 1000,
            mlflow_bulk * 1000,
            higher_is_better=False,
            note=f"bare model.predict {bulk_bare * 1000:.1f} ms / "
            f"{mlflow_bulk_bare * 1000:.1f} ms; {bulk_batches} alternating batches "
            f"of {bulk_number}",
        ),
        Row(
            BENCHMARK,
            f"predict {BULK_ROWS:,} rows: overhead over the bare model",
            "%",
            bulk_pct,
            None,
            higher_is_better=False,
            goal=f"<{GOAL_BULK_PCT:.0f}%",
            met=bulk_pct < GOAL_BULK_PCT and same,
            note=f"median paired difference {bulk_paired * 1000:.2f} ms; MLflow pyfunc's "
            f"overhead {mlflow_bulk_pct:.0f}%; {verdict}",
        ),
    ]


def run() -> list[Row]:
    stores = _stores()
    prepared = run_worker(LOOPML, MODULE, "prepare", stores[LOOPML])
    print(f"  fitted on {prepared['rows']} rows x {prepared['columns']} columns", flush=True)
    registers = _rounds(("loopml_register", "mlflow_register"), stores, REGISTER_REPEATS, warm=True)
    rows = _register_rows(registers)
    rows.append(_alias_row(stores))
    loads = _rounds(("loopml_load", "mlflow_load", "plain_load"), stores, LOAD_REPEATS)
    rows.extend(_load_rows(loads))
    ours = run_worker(LOOPML, MODULE, "loopml_predict", stores[LOOPML])
    theirs = run_worker(MLFLOW, MODULE, "mlflow_predict", stores[MLFLOW])
    rows.extend(_predict_rows(ours, theirs))
    for row in rows:
        figures = f"loopml {format_value(row.loopml)}, MLflow {format_value(row.mlflow)}"
        print(f"  {row.measure}: {figures} {row.unit}", flush=True)
    return rows


if __name__ == "__main__":
    serve_worker(globals())
