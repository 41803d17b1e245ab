"""11. Online serving: single-row REST predictions of ``loopml serve`` against
``mlflow models serve`` and a minimal FastAPI app, and alias swaps under load.

The model is the anchor's (``/work/shared/anchors/tracking-serving/model_common.py``):
``LogisticRegression(max_iter=5000)`` fitted on scikit-learn's breast_cancer as a
DataFrame (30 float columns). A loopml worker fits it, pickles it, and registers it in a
fresh loopml home with an input example (so with a signature) as version 1, plus a
second model (``C=0.5``) as version 2; ``champion`` points at version 1. An MLflow worker
logs the same pickled model with ``mlflow.sklearn.log_model`` (input example, registered
model, alias ``champion``) into a SQLite store.

Servers, each one uvicorn worker on 127.0.0.1, all started before the first load and
stopped at the end (logs in ``/var/tmp/loopml-bench/logs/``):

- **loopml**: ``loopml serve NAME@champion --workers 1``, which logs every prediction
  (its default);
- **loopml, log off**: the same with ``--no-log``, for comparison;
- **MLflow**: ``mlflow models serve -m models:/NAME@champion --env-manager local
  --workers 1``;
- **minimal FastAPI**: the anchor's ``fastapi_ref_app.py`` over the pickled model, run
  as its docstring says (``python -m uvicorn ... --workers 1``, in MLflow's venv, which
  pins the same FastAPI, uvicorn and scikit-learn as loopml's).

Every server gets the same row (breast_cancer's first) in its own body format: one JSON
record of field -> value for loopml, ``dataframe_split`` for MLflow and the minimal app
(the anchor's ``post.lua`` posts the body file). Each answer is checked against the bare
model's prediction before any load.

**Load.** wrk, one thread, at 1, 8 and 64 connections: for each concurrency, each
server gets 2 s of warm-up then ``LOAD_S`` seconds measured (``--latency`` for p50 and
p99), the servers' order rotating; ``ROUNDS`` such rounds, medians. The goals are judged
on the median of the per-round ratios (loopml's load and the other server's ran
back to back, so a busy spell of the shared machine hits both), shown beside the
medians. Non-2xx answers and socket errors (connect, read, write, timeout) are failures. Also per load: the server's
CPU time per request (user + system over its process tree, from psutil: the figure
least moved by other work on a shared machine), loopml's own time in its handler (its
``/metrics`` latency histogram), and RSS over the process tree after each load.

**Alias swaps.** While wrk drives loopml (log on) at 8 connections, a loopml worker
moves ``champion`` between versions 2 and 1 ``SWAPS`` times, after each move polling
``/health`` until the server reports the new version, then waiting 0.5-2.5 s (seeded
random, so that the moves do not lock onto the server's poll cycle).
wrk is stopped (SIGINT, which still prints its figures) a second after the last swap.

**Prediction log.** After the loopml server with the log on has stopped (it writes what
it holds when it stops), a worker counts the rows of every ``predictions:*`` stream of
the home: they must equal the requests that server answered with 200 (its
``/metrics``), so the log took every request and the log-off server logged none.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _report import Row, format_value
from _servers import Server, ServerSpec, free_port, running
from _workers import (
    LOOPML,
    MLFLOW,
    WORKSPACE,
    BenchError,
    JsonDict,
    Worker,
    median,
    run_worker,
    serve_worker,
    wait_until_released,
)

MODULE = "bench_serving.py"
BENCHMARK = "11. REST serving, one row, LogisticRegression on breast_cancer, 1 worker"
ANCHOR = Path("/work/shared/anchors/tracking-serving")
FOLDER = WORKSPACE / "serving"
NAME = "bench-serving"
ALIAS = "champion"
CONCURRENCIES = (1, 8, 64)
GOAL_CONCURRENCY = 8
ROUNDS = 3
WARM_S = 2
LOAD_S = 10
WRK_TIMEOUT_S = 30
SWAPS = 10
# Seconds between a swap showing and the next one, drawn at random (seeded) so that
# the moves fall anywhere in the server's poll cycle: a fixed pause would lock onto it.
SWAP_PAUSE_S = (0.5, 2.5)
SEED = 20_251_122
GOAL_RATE = 10.0
GOAL_P99 = 0.1
GOAL_SHARE = 0.6

LOOPML_LOG = "loopml"
LOOPML_NOLOG = "loopml, log off"
MLFLOW_SERVE = "MLflow"
MINIMAL = "minimal FastAPI"
SERVERS = (LOOPML_LOG, LOOPML_NOLOG, MLFLOW_SERVE, MINIMAL)


# -- worker side (runs in each tool's interpreter) ------------------------------------


def _client(home: str) -> Any:
    from loopml.config import load_settings
    from loopml.tracking import Client

    return Client(load_settings({"home": home}, environ={}), capture_environment=False)


def prepare(args: JsonDict) -> JsonDict:
    """Fit the anchor's model, pickle it, register it (and a second version) in loopml,
    and write each server's request body for the first row."""
    import pickle
    import sys
    import warnings

    sys.path.insert(0, str(ANCHOR))
    from model_common import one_row_request, train
    from sklearn.linear_model import LogisticRegression

    from loopml.registry import ModelRegistry

    model, features, target = train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs ConvergenceWarning on unscaled data
        other = LogisticRegression(C=0.5, max_iter=5000).fit(features, target)
    Path(args["model_path"]).write_bytes(pickle.dumps(model))
    Path(args["example_path"]).write_bytes(pickle.dumps(features.head()))
    row = features.iloc[[0]]
    Path(args["loopml_body"]).write_text(json.dumps(row.iloc[0].to_dict()))
    Path(args["mlflow_body"]).write_text(one_row_request(features, 0))
    client = _client(args["home"])
    try:
        registry = ModelRegistry(client)
        versions = [
            registry.log_model(fitted, NAME, input_example=features.head()).version
            for fitted in (model, other)
        ]
        registry.set_alias(NAME, ALIAS, versions[0], reason="benchmark")
    finally:
        client.close()
    return {
        "versions": versions,
        "expected": int(model.predict(row)[0]),
        "expected_other": int(other.predict(row)[0]),
    }


def mlflow_prepare(args: JsonDict) -> JsonDict:
    """Log the same pickled model to MLflow (SQLite store), registered, alias champion."""
    import pickle

    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    model = pickle.loads(Path(args["model_path"]).read_bytes())
    example = pickle.loads(Path(args["example_path"]).read_bytes())
    mlflow.set_tracking_uri(args["uri"])
    experiment = mlflow.create_experiment("serving", artifact_location=args["artifacts"])
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=NAME, input_example=example
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(NAME, ALIAS, version)
    return {"version": int(version)}


def loopml_swaps(args: JsonDict) -> JsonDict:
    """Move ``champion`` between the two versions ``swaps`` times; after each move, poll
    ``/health`` until the server serves the new version."""
    from loopml.registry import ModelRegistry

    client = _client(args["home"])
    registry = ModelRegistry(client)
    first, second = args["versions"]
    pauses = random.Random(SEED)
    swaps: list[JsonDict] = []
    wait_until_released()
    try:
        for index in range(args["swaps"]):
            version = second if index % 2 == 0 else first
            began = time.perf_counter()
            registry.set_alias(NAME, ALIAS, version, reason=f"benchmark swap {index + 1}")
            set_s = time.perf_counter() - began
            while _served_version(args["health"]) != version:
                if time.perf_counter() - began > 120:
                    raise BenchError(f"swap {index + 1} to v{version} never showed in /health")
                time.sleep(0.01)
            swaps.append(
                {"version": version, "set_s": set_s, "seen_s": time.perf_counter() - began}
            )
            time.sleep(pauses.uniform(*SWAP_PAUSE_S))
    finally:
        client.close()
    return {"swaps": swaps}


def _served_version(health_url: str) -> int | None:
    with urllib.request.urlopen(health_url, timeout=5) as response:
        targets = json.loads(response.read())["targets"]
    version = targets.get(ALIAS)
    return int(version) if version is not None else None


def loopml_logged_rows(args: JsonDict) -> JsonDict:
    """Rows of every prediction log stream of the home (``predictions:*``)."""
    from loopml.serving import predictions

    client = _client(args["home"])
    try:
        streams = client.stores.segments.list_streams(prefix="predictions:")
        counts = {s: len(predictions(s.partition(":")[2], client=client)) for s in streams}
    finally:
        client.close()
    return {"rows": counts}


# -- orchestrator side: servers -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A server under load: how to start it, where to post, what to post."""

    label: str
    spec: ServerSpec
    path: str
    body: Path


def _log_off_flag() -> str:
    """``loopml serve``'s switch for the prediction log, read from its help: the log is
    on unless it is given, and the benchmark refuses a loopml without it (whose serve
    command logged nothing)."""
    shown = subprocess.run(
        [LOOPML.script("loopml"), "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    ).stdout
    if "--no-log" not in shown:
        raise BenchError("`loopml serve` has no --no-log: this loopml does not log predictions")
    return "--no-log"


def _targets(paths: JsonDict) -> dict[str, Target]:
    home, target = paths["home"], f"{NAME}@{ALIAS}"
    loopml_cmd = [LOOPML.script("loopml"), "--home", home, "serve", target, "--workers", "1"]

    def loopml(label: str, flags: list[str]) -> Target:
        port = free_port()
        command = [*loopml_cmd, "--port", str(port), *flags]
        spec = ServerSpec(label, command, port, "/ready", FOLDER / label.replace(" ", "_"))
        return Target(label, spec, "/predict", Path(paths["loopml_body"]))

    mlflow_port, minimal_port = free_port(), free_port()
    venv_path = f"PATH={MLFLOW.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    mlflow_cmd = ["env", f"MLFLOW_TRACKING_URI={paths['uri']}", venv_path, MLFLOW.script("mlflow")]
    mlflow_cmd += ["models", "serve", "-m", f"models:/{target}", "--env-manager", "local"]
    mlflow_cmd += ["--workers", "1", "--host", "127.0.0.1", "--port", str(mlflow_port)]
    minimal_cmd = ["env", f"REF_MODEL_PKL={paths['model_path']}", MLFLOW.python, "-m", "uvicorn"]
    minimal_cmd += ["fastapi_ref_app:app", "--app-dir", str(ANCHOR), "--host", "127.0.0.1"]
    minimal_cmd += ["--port", str(minimal_port), "--workers", "1"]
    mlflow_body, mlflow_dir = Path(paths["mlflow_body"]), FOLDER / "mlflow-serve"
    targets = [
        loopml(LOOPML_LOG, []),
        loopml(LOOPML_NOLOG, [_log_off_flag()]),
        Target(
            MLFLOW_SERVE,
            ServerSpec(MLFLOW_SERVE, mlflow_cmd, mlflow_port, "/ping", mlflow_dir),
            "/invocations",
            mlflow_body,
        ),
        Target(
            MINIMAL,
            ServerSpec(MINIMAL, minimal_cmd, minimal_port, "/ping", FOLDER / "minimal"),
            "/invocations",
            mlflow_body,
        ),
    ]
    return {t.label: t for t in targets}


def _post(url: str, body: bytes) -> JsonDict:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: JsonDict = json.loads(response.read())
        return answer


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def _check_answers(servers: dict[str, Server], targets: dict[str, Target], expected: int) -> None:
    for label, server in servers.items():
        target = targets[label]
        answer = _post(server.url + target.path, target.body.read_bytes())
        if answer.get("predictions") != [expected]:
            raise BenchError(f"{label} answered {answer!r}; the bare model predicts {expected}")


# -- orchestrator side: load ------------------------------------------------------------


@dataclass(slots=True)
class Load:
    """One wrk load of one server."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    seconds: float
    cpu_us: float = 0.0
    handler_us: float | None = None
    detail: str = ""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)([a-z]+)", text)
    if found is None or found.group(2) not in _UNITS:
        raise BenchError(f"unexpected duration in wrk's report: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _parse_wrk(out: str) -> Load:
    """Figures of wrk's report; failures are non-2xx answers plus socket errors."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    # anchored: "93.50%" ends a stdev column too
    p50 = re.search(r"^\s*50%\s+(\S+)\s*$", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M)
    if not (done and rate and p50 and p99):
        raise BenchError(f"could not read wrk's report:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    failures = (int(non2xx.group(1)) if non2xx else 0) + socket_errors
    detail = f"non-2xx {non2xx.group(1) if non2xx else 0}, socket errors " + (
        sockets.group(0) if sockets else "none"
    )
    seconds = _ms(done.group(2) + done.group(3)) / 1000
    return Load(
        float(rate.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        int(done.group(1)),
        failures,
        seconds,
        detail=detail,
    )


def _wrk_command(url: str, connections: int, seconds: float) -> list[str]:
    return [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        f"--timeout={WRK_TIMEOUT_S}s",
        "--latency",
        "-s",
        str(ANCHOR / "post.lua"),
        url,
    ]


def _wrk(target: Target, server: Server, connections: int, seconds: float) -> Load:
    done = subprocess.run(
        _wrk_command(server.url + target.path, connections, seconds),
        capture_output=True,
        text=True,
        env={"WRK_BODY_FILE": str(target.body), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return _parse_wrk(done.stdout)


def _tree_cpu(server: Server) -> float:
    """User + system CPU seconds of the server's process tree so far."""
    import psutil  # in loopml's dev extras; only the orchestrator measures

    root = psutil.Process(server.process.pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _handler_totals(server: Server) -> tuple[float, int]:
    """loopml's handler seconds and requests so far, from its /metrics histogram."""
    text = _get(server.url + "/metrics")
    name = "loopml_serving_request_duration_seconds"
    total = sum(float(m) for m in re.findall(rf"^{name}_sum{{[^}}]*}} (\S+)$", text, re.M))
    count = sum(int(m) for m in re.findall(rf"^{name}_count{{[^}}]*}} (\S+)$", text, re.M))
    return total, count


def _measure(target: Target, server: Server, connections: int) -> Load:
    _wrk(target, server, connections, WARM_S)
    is_loopml = target.label.startswith("loopml")
    handler_before = _handler_totals(server) if is_loopml else (0.0, 0)
    cpu_before = _tree_cpu(server)
    load = _wrk(target, server, connections, LOAD_S)
    load.cpu_us = (_tree_cpu(server) - cpu_before) / max(load.requests, 1) * 1e6
    if is_loopml:
        seconds, count = _handler_totals(server)
        load.handler_us = (seconds - handler_before[0]) / max(count - handler_before[1], 1) * 1e6
    return load


@dataclass(slots=True)
class Results:
    """Every load of every server, RSS seen, and the load averages around each round."""

    loads: dict[tuple[str, int], list[Load]] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)
    load_averages: list[str] = field(default_factory=list)

    def median(self, label: str, connections: int, attribute: str) -> float:
        values = [getattr(load, attribute) for load in self.loads[(label, connections)]]
        return median(v for v in values if v is not None)

    def failures(self, label: str) -> int:
        return sum(
            load.failures
            for (name, _), loads in self.loads.items()
            if name == label
            for load in loads
        )


def _load_average() -> str:
    import os

    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _rounds(servers: dict[str, Server], targets: dict[str, Target]) -> Results:
    results = Results()
    labels = list(servers)
    for index in range(ROUNDS):
        results.load_averages.append(_load_average())
        for step, connections in enumerate(CONCURRENCIES):
            shift = (index + step) % len(labels)
            for label in (*labels[shift:], *labels[:shift]):
                load = _measure(targets[label], servers[label], connections)
                results.loads.setdefault((label, connections), []).append(load)
                rss, processes = servers[label].memory()
                results.rss_mb[label] = max(results.rss_mb.get(label, 0.0), rss)
                results.processes[label] = processes
                print(
                    f"  round {index + 1} c={connections:<2} {label:16} {load.rate:8.1f} req/s "
                    f"p50 {load.p50_ms:7.2f} ms p99 {load.p99_ms:8.2f} ms "
                    f"CPU {load.cpu_us:6.0f} µs/req"
                    + (f" handler {load.handler_us:5.0f} µs" if load.handler_us else "")
                    + f" failures {load.failures} RSS {rss:.0f} MB",
                    flush=True,
                )
    results.load_averages.append(_load_average())
    return results


# -- orchestrator side: swaps under load ----------------------------------------------


def _requests_by_version(server: Server) -> dict[str, int]:
    """``version/code -> count`` of loopml's /metrics request counter."""
    text = _get(server.url + "/metrics")
    pattern = r'^loopml_serving_requests_total\{version="([^"]*)",code="(\d+)"\} (\d+)$'
    return {f"v{v}/{code}": int(n) for v, code, n in re.findall(pattern, text, re.M)}


def _swaps(target: Target, server: Server, paths: JsonDict, versions: list[int]) -> JsonDict:
    before = _requests_by_version(server)
    args = {
        "home": paths["home"],
        "versions": versions,
        "health": server.url + "/health",
        "swaps": SWAPS,
    }
    worker = Worker(LOOPML, MODULE, "loopml_swaps", args)
    wrk: subprocess.Popen[str] | None = None
    try:
        worker.wait_ready()
        wrk = subprocess.Popen(
            _wrk_command(server.url + target.path, GOAL_CONCURRENCY, 3600),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"WRK_BODY_FILE": str(target.body), "PATH": "/usr/bin:/bin"},
        )
        time.sleep(WARM_S)
        worker.release()
        result = worker.result(timeout=900)
        time.sleep(1.0)
        wrk.send_signal(signal.SIGINT)  # wrk stops and prints its report
        out, _ = wrk.communicate(timeout=60)
    finally:
        worker.kill()
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    after = _requests_by_version(server)
    during = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    return {"load": _parse_wrk(out), "swaps": result["swaps"], "answered": during}


# -- rows -------------------------------------------------------------------------------


def _paired(results: Results, label: str, other: str, c: int, attribute: str) -> list[float]:
    """``label``'s figure over ``other``'s, round by round (the two ran one after the
    other, so a busy spell of the shared machine hits both alike)."""
    ours, theirs = results.loads[(label, c)], results.loads[(other, c)]
    return [
        getattr(a, attribute) / getattr(b, attribute) for a, b in zip(ours, theirs, strict=True)
    ]


def _ratios(values: list[float]) -> str:
    return f"median of per-round ratios {median(values):.3g}x ({', '.join(f'{v:.3g}' for v in values)})"


def _comparison(
    results: Results,
    c: int,
    attribute: str,
    other: str,
    goal: tuple[str, float, bool] | None,
    met_too: bool,
) -> tuple[bool | None, str]:
    """Whether the per-round ratio's median meets ``goal`` (text, bound, is_floor),
    and a note with the ratios, loopml log off's among them."""
    ratios = _paired(results, LOOPML_LOG, other, c, attribute)
    nolog = _paired(results, LOOPML_NOLOG, other, c, attribute)
    note = f"loopml/{other}: {_ratios(ratios)}; log off: {median(nolog):.3g}x"
    if goal is None:
        return None, note
    _, bound, is_floor = goal
    value = median(ratios)
    return ((value >= bound) if is_floor else (value <= bound)) and met_too, note


def _rate_rows(results: Results, log_ok: bool) -> list[Row]:
    loads = " | ".join(results.load_averages)
    clean = results.failures(LOOPML_LOG) == 0
    rows = []
    for c in CONCURRENCIES:
        goal = (f"≥{GOAL_RATE:.0f}x MLflow", GOAL_RATE, True) if c == GOAL_CONCURRENCY else None
        met, note = _comparison(results, c, "rate", MLFLOW_SERVE, goal, log_ok and clean)
        minimal, nolog = results.median(MINIMAL, c, "rate"), results.median(LOOPML_NOLOG, c, "rate")
        note = f"{note}; minimal FastAPI {minimal:,.0f}, loopml log off {nolog:,.0f} req/s"
        if goal is not None:
            note += f"; load average at each round's start and at the end: {loads}"
        rows.append(
            Row(
                BENCHMARK,
                f"requests/s at concurrency {c} (log on), median of {ROUNDS} rounds",
                "req/s",
                results.median(LOOPML_LOG, c, "rate"),
                results.median(MLFLOW_SERVE, c, "rate"),
                higher_is_better=True,
                goal=goal[0] if goal else "",
                met=met,
                note=note,
            )
        )
    return rows


def _p99_rows(results: Results, log_ok: bool) -> list[Row]:
    rows = []
    for c in CONCURRENCIES:
        goal = (f"≤{GOAL_P99:g}x MLflow's", GOAL_P99, False) if c == GOAL_CONCURRENCY else None
        met, note = _comparison(results, c, "p99_ms", MLFLOW_SERVE, goal, log_ok)
        p50 = ", ".join(f"{label} {results.median(label, c, 'p50_ms'):.2f}" for label in SERVERS)
        rows.append(
            Row(
                BENCHMARK,
                f"p99 latency at concurrency {c} (log on)",
                "ms",
                results.median(LOOPML_LOG, c, "p99_ms"),
                results.median(MLFLOW_SERVE, c, "p99_ms"),
                higher_is_better=False,
                goal=goal[0] if goal else "",
                met=met,
                note=f"{note}; p99 minimal FastAPI {results.median(MINIMAL, c, 'p99_ms'):.2f}, "
                f"loopml log off {results.median(LOOPML_NOLOG, c, 'p99_ms'):.2f}; p50 {p50}",
            )
        )
    return rows


def _minimal_rows(results: Results, log_ok: bool) -> list[Row]:
    rows = []
    for c in CONCURRENCIES:
        goal = (f"≥{GOAL_SHARE:.0%} of it", GOAL_SHARE, True) if c == GOAL_CONCURRENCY else None
        met, note = _comparison(results, c, "rate", MINIMAL, goal, log_ok)
        rows.append(
            Row(
                BENCHMARK,
                f"requests/s at concurrency {c} against the minimal FastAPI app "
                "(MLflow column: the minimal app)",
                "req/s",
                results.median(LOOPML_LOG, c, "rate"),
                results.median(MINIMAL, c, "rate"),
                higher_is_better=True,
                goal=goal[0] if goal else "",
                met=met,
                note=note,
            )
        )
    return rows


def _cost_rows(results: Results) -> list[Row]:
    c = GOAL_CONCURRENCY
    cpu = {label: results.median(label, c, "cpu_us") for label in SERVERS}
    handler = {
        label: results.median(label, c, "handler_us") for label in (LOOPML_LOG, LOOPML_NOLOG)
    }
    rss, procs = results.rss_mb, results.processes
    return [
        Row(
            BENCHMARK,
            f"server CPU time per request at concurrency {c} (user + system, process tree)",
            "µs",
            cpu[LOOPML_LOG],
            cpu[MLFLOW_SERVE],
            higher_is_better=False,
            note=f"minimal FastAPI {cpu[MINIMAL]:.0f}, loopml log off {cpu[LOOPML_NOLOG]:.0f}; "
            f"loopml's /predict handler (its /metrics): {handler[LOOPML_LOG]:.0f} µs log on, "
            f"{handler[LOOPML_NOLOG]:.0f} µs log off",
        ),
        Row(
            BENCHMARK,
            "server RSS, process tree, largest after a load",
            "MB",
            rss[LOOPML_LOG],
            rss[MLFLOW_SERVE],
            higher_is_better=False,
            note=f"processes: loopml {procs[LOOPML_LOG]}, MLflow {procs[MLFLOW_SERVE]}; "
            f"minimal FastAPI {rss[MINIMAL]:.0f} MB; loopml log off {rss[LOOPML_NOLOG]:.0f} MB",
        ),
    ]


def _swap_rows(swapped: JsonDict) -> list[Row]:
    load: Load = swapped["load"]
    seen = [swap["seen_s"] for swap in swapped["swaps"]]
    answered = ", ".join(f"{key} {n:,}" for key, n in sorted(swapped["answered"].items()) if n)
    return [
        Row(
            BENCHMARK,
            f"failed requests during {SWAPS} alias swaps under load (concurrency "
            f"{GOAL_CONCURRENCY}, log on)",
            "requests",
            float(load.failures),
            None,
            higher_is_better=False,
            goal="0",
            met=load.failures == 0 and len(seen) == SWAPS,
            note=f"{load.requests:,} requests in {load.seconds:.1f} s ({load.rate:,.0f} req/s, "
            f"p99 {load.p99_ms:.1f} ms); wrk: {load.detail}; answered by (from /metrics): "
            f"{answered}",
        ),
        Row(
            BENCHMARK,
            "alias swap: set_alias until /health serves the new version (median)",
            "s",
            median(seen),
            None,
            higher_is_better=False,
            note=f"max {max(seen):.2f} s, min {min(seen):.2f} s; polled every "
            "serving_poll_seconds (2 s by default); set_alias median "
            f"{median(s['set_s'] for s in swapped['swaps']) * 1000:.0f} ms",
        ),
    ]


def _log_row(rows_logged: dict[str, int], answered: int) -> Row:
    total = sum(rows_logged.values())
    streams = ", ".join(f"{stream} {n:,}" for stream, n in rows_logged.items()) or "none"
    return Row(
        BENCHMARK,
        "prediction log rows after the run, against requests answered 200 by loopml (log on)",
        "rows",
        float(total),
        None,
        higher_is_better=True,
        goal="= requests answered",
        met=total == answered and answered > 0,
        note=f"answered {answered:,} (its /metrics); streams: {streams}",
    )


# -- run ----------------------------------------------------------------------------------


def _paths() -> JsonDict:
    shutil.rmtree(FOLDER, ignore_errors=True)  # only this benchmark's folder
    FOLDER.mkdir(parents=True)
    return {
        "home": str(FOLDER / ".loopml"),
        "model_path": str(FOLDER / "model.pkl"),
        "example_path": str(FOLDER / "example.pkl"),
        "loopml_body": str(FOLDER / "body-loopml.json"),
        "mlflow_body": str(FOLDER / "body-mlflow.json"),
        "uri": f"sqlite:///{FOLDER / 'mlflow.db'}",
        "artifacts": (FOLDER / "mlartifacts").as_uri(),
    }


@contextmanager
def _started(targets: dict[str, Target], labels: Sequence[str]) -> Iterator[dict[str, Server]]:
    with ExitStack() as stack:
        servers = {}
        for label in labels:
            servers[label] = stack.enter_context(running(targets[label].spec))
            print(f"  {label} ready in {servers[label].start_s:.1f} s", flush=True)
        yield servers


def run() -> list[Row]:
    paths = _paths()
    prepared = run_worker(LOOPML, MODULE, "prepare", paths)
    mlflow_version = run_worker(MLFLOW, MODULE, "mlflow_prepare", paths)["version"]
    print(f"  registered: loopml v{prepared['versions']}, MLflow v{mlflow_version}", flush=True)
    targets = _targets(paths)
    with _started(targets, (LOOPML_NOLOG, MLFLOW_SERVE, MINIMAL)) as others:
        with _started(targets, (LOOPML_LOG,)) as logged:
            servers = {**logged, **others}
            _check_answers(servers, targets, prepared["expected"])
            results = _rounds(servers, targets)
            swapped = _swaps(targets[LOOPML_LOG], servers[LOOPML_LOG], paths, prepared["versions"])
            answered = sum(
                n
                for key, n in _requests_by_version(servers[LOOPML_LOG]).items()
                if key.endswith("/200")
            )
            tail = [
                line
                for line in _get(servers[LOOPML_LOG].url + "/metrics").splitlines()
                if "log" in line and not line.startswith("#")
            ]
        # the log-on server has stopped here: what it held is written
        logged_rows = run_worker(LOOPML, MODULE, "loopml_logged_rows", paths)["rows"]
    if tail:
        print("  loopml /metrics, prediction log:\n    " + "\n    ".join(tail), flush=True)
    log_ok = sum(logged_rows.values()) == answered
    print(f"  load average per round: {' | '.join(results.load_averages)}", flush=True)
    rows = [
        *_rate_rows(results, log_ok),
        *_p99_rows(results, log_ok),
        *_minimal_rows(results, log_ok),
        *_cost_rows(results),
        *_swap_rows(swapped),
        _log_row(logged_rows, answered),
    ]
    for row in rows:
        figures = f"loopml {format_value(row.loopml)}, other {format_value(row.mlflow)}"
        print(f"  {row.measure}: {figures} {row.unit}", flush=True)
    return rows


if __name__ == "__main__":
    serve_worker(globals())
