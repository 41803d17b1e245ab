"""12. Stream consumer: events per second end to end through a real Redis, ``loopml
stream`` against a hand-written redis-py consumer.

The model is the anchor's (``/work/shared/anchors/tracking-serving/model_common.py``):
``LogisticRegression(max_iter=5000)`` fitted on scikit-learn's breast_cancer as a
DataFrame (30 float columns), registered in a fresh loopml home with an input example
(so with a signature) as ``bench-stream``, ``champion`` on version 1, and pickled for the
hand-written consumer.

A redis-server of the machine's Debian package runs on a free port of 127.0.0.1 (no
persistence, its folder under ``/var/tmp/loopml-bench``). For each case, one after the
other and repetition after repetition (the cases rotate): the database is emptied, the
consumer is started as its own process and is ready once it has answered one untimed
warm-up event. Then the measuring worker, one process:

1. **burst**: writes ``EVENTS`` single-record events (``data`` = one breast_cancer row
   as JSON, the 569 rows in turn) with pipelined XADDs of 1,000, while a thread of it
   reads the output stream (blocking XREAD) until every event has its prediction;
2. **paced**: writes ``PACED_EVENTS`` more, one XADD every ``1/PACED_RATE`` s, the
   thread again reading every prediction.

The consumer is then stopped with SIGTERM and must exit 0.

- **loopml**: ``loopml stream bench-stream@champion --source URL --in events --out
  predictions --group bench --batch-size B --from-start``, with the prediction log on
  (its default), at batch sizes 1, 64 and 256; and once more at 256 with ``--no-log``.
- **by hand**: a plain redis-py loop in a process of the same interpreter (so with the
  same redis-py and hiredis): ``XREADGROUP COUNT B BLOCK`` → ``json`` rows →
  ``pandas.DataFrame`` → ``model.predict`` → one pipeline of ``XADD`` (input id,
  prediction) per event and one ``XACK``; no checks, no dead letters, no log, not
  transactional. The reference, at the same batch sizes.

Measured: **events/s end to end** of the burst, from just before its first XADD until
the reader has seen its last prediction; **event latency** p50/p99: for the burst, from
an event's XADD to its prediction's XADD, both read from the stream ids (Redis' clock, in
milliseconds; 100,000 events at once queue, so this is mostly waiting time), and for the
paced events, from the XADD's return to the reader seeing the prediction (this process's
clock); the consumer process's **CPU time per event** during the burst (user + system,
from psutil: the figure least moved by other load). Every event must be answered, each
prediction must equal the bare model's, and duplicates are counted (none are expected
without a crash). No goal is set: the figures are reported.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _report import Row, format_value
from _workers import (
    BENCH_DIR,
    LOOPML,
    WORKSPACE,
    BenchError,
    JsonDict,
    median,
    run_worker,
    serve_worker,
    worker_env,
)

MODULE = "bench_stream.py"
BENCHMARK = "12. stream consumer, breast_cancer LogisticRegression through a real Redis"
ANCHOR = Path("/work/shared/anchors/tracking-serving")
DATA = WORKSPACE / "stream"
NAME = "bench-stream"
IN, OUT, GROUP = "events", "predictions", "bench"
EVENTS = 100_000
CHUNK = 1_000
PACED_EVENTS = 2_000
PACED_RATE = 500.0  # events/s: below what each consumer keeps up with at batch size 1
BATCH_SIZES = (1, 64, 256)
REPEATS = {1: 1, 64: 3, 256: 3}
READY_TIMEOUT_S = 120.0
STALL_TIMEOUT_S = 120.0
TIMEOUT = 3600


# -- worker side: set-up -----------------------------------------------------------------


def prepare(args: JsonDict) -> JsonDict:
    """Fit the anchor's model, pickle it, register it, and write the 569 event payloads."""
    import pickle

    sys.path.insert(0, str(ANCHOR))
    from model_common import train

    from loopml.config import load_settings
    from loopml.registry import ModelRegistry
    from loopml.tracking import Client

    model, features, _ = train()
    Path(args["model"]).write_bytes(pickle.dumps(model))
    payloads = [json.dumps(row) for row in features.to_dict("records")]
    Path(args["payloads"]).write_text(json.dumps(payloads))
    client = Client(load_settings({"home": args["home"]}, environ={}), capture_environment=False)
    try:
        registry = ModelRegistry(client)
        version = registry.log_model(model, NAME, input_example=features.head()).version
        registry.set_alias(NAME, "champion", version, reason="benchmark")
    finally:
        client.close()
    return {"version": version, "expected": [int(p) for p in model.predict(features)]}


# -- worker side: the hand-written consumer ----------------------------------------------


def reference_consumer(args: JsonDict) -> JsonDict:
    """XREADGROUP → model.predict → XADD + XACK, until SIGTERM."""
    import pickle

    import pandas as pd
    import redis

    model = pickle.loads(Path(args["model"]).read_bytes())
    columns = list(model.feature_names_in_)
    client = redis.Redis.from_url(args["url"])
    try:
        client.xgroup_create(IN, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    consumer, batch, processed = f"ref-{os.getpid()}", int(args["batch_size"]), 0
    while not stopping.is_set():
        reply = client.xreadgroup(GROUP, consumer, {IN: ">"}, count=batch, block=200)
        if not reply:
            continue
        messages = reply[0][1]
        rows = [json.loads(fields[b"data"]) for _, fields in messages]
        predictions = model.predict(pd.DataFrame(rows, columns=columns)).tolist()
        pipe = client.pipeline(transaction=False)
        for (message_id, _), prediction in zip(messages, predictions, strict=True):
            pipe.xadd(OUT, {"input_id": message_id, "prediction": json.dumps(prediction)})
        pipe.xack(IN, GROUP, *[message_id for message_id, _ in messages])
        pipe.execute()
        processed += len(messages)
    return {"processed": processed}


# -- worker side: the measurement ----------------------------------------------------------


def measure(args: JsonDict) -> JsonDict:
    """Every case with its repetitions, rotating; the figures of each run."""
    import redis

    payloads = [p.encode() for p in json.loads(Path(args["payloads"]).read_text())]
    expected: list[int] = args["expected"]
    cases = [("loopml", size, True) for size in BATCH_SIZES] + [("loopml", 256, False)]
    cases += [("by_hand", size, True) for size in BATCH_SIZES]
    runs: list[JsonDict] = []
    with _redis_server() as url:
        client = redis.Redis.from_url(url)
        rounds = max(REPEATS.values())
        for round_index in range(rounds):
            for tool, size, log in cases[round_index:] + cases[:round_index]:
                if round_index >= REPEATS[size]:
                    continue
                client.flushall()
                with _consumer(tool, size, log, url, args) as process:
                    after = _warm_up(client, payloads[0], process)
                    figures = _load(url, payloads, expected, process.pid, after)
                runs.append({"tool": tool, "batch": size, "log": log, **figures})
                print(
                    f"  {tool} batch {size} log {log}: {figures['rate']:,.0f} events/s",
                    file=sys.stderr,
                    flush=True,
                )
        client.close()
    return {"runs": runs}


@contextmanager
def _redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is missing: `make system-deps` installs it.")
    folder = DATA / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)]
    command += ["--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, process)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _consumer(
    tool: str, size: int, log: bool, url: str, args: JsonDict
) -> Iterator[subprocess.Popen[bytes]]:
    if tool == "loopml":
        command = [LOOPML.script("loopml"), "--home", args["home"], "stream", f"{NAME}@champion"]
        command += ["--source", url, "--in", IN, "--out", OUT, "--group", GROUP]
        command += ["--batch-size", str(size), "--from-start"] + ([] if log else ["--no-log"])
    else:
        job = {"url": url, "model": args["model"], "batch_size": size}
        command = [LOOPML.python, str(BENCH_DIR / MODULE), "--worker", "reference_consumer"]
        command.append(json.dumps(job))
    logs = WORKSPACE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"stream-{tool}-{size}-{'log' if log else 'nolog'}-{time.time_ns()}.log"
    with path.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=worker_env(), cwd=WORKSPACE
        )
    try:
        yield process
        process.send_signal(signal.SIGTERM)
        if process.wait(timeout=60) != 0:
            raise BenchError(f"{tool} consumer exited {process.returncode}; log {path}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _warm_up(client: Any, payload: bytes, process: subprocess.Popen[bytes]) -> bytes:
    """One event through the consumer: it is ready (model loaded, group joined) once the
    event's prediction is out. Returns the prediction's entry id."""
    client.xadd(IN, {"data": payload})
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the consumer exited {process.returncode} before it was ready")
        answered = client.xrange(OUT, count=1)
        if answered:
            entry_id: bytes = answered[0][0]
            return entry_id
        time.sleep(0.05)
    raise BenchError(f"the consumer was not ready in {READY_TIMEOUT_S} s")


def _load(url: str, payloads: list[bytes], expected: list[int], pid: int, after: bytes) -> JsonDict:
    """The burst, then the paced events; the run's figures."""
    import psutil
    import redis

    writer = redis.Redis.from_url(url)
    consumer = psutil.Process(pid)
    try:
        cpu_before = sum(consumer.cpu_times()[:2])
        reader = _Reader(url, after, EVENTS)
        started = time.perf_counter()
        ids: list[bytes] = []
        for first in range(0, EVENTS, CHUNK):
            pipe = writer.pipeline(transaction=False)
            for index in range(first, min(first + CHUNK, EVENTS)):
                pipe.xadd(IN, {"data": payloads[index % len(payloads)]})
            ids += pipe.execute()
        finished = reader.wait()
        cpu_after = sum(consumer.cpu_times()[:2])
        burst = reader.check(ids, expected)
        paced = _paced(writer, url, reader.last, payloads, expected)
    finally:
        writer.close()
    return {
        **burst,
        "rate": EVENTS / (finished - started),
        "cpu_us": (cpu_after - cpu_before) / EVENTS * 1e6,
        "paced_p50_ms": paced["p50_ms"],
        "paced_p99_ms": paced["p99_ms"],
        "paced_ok": paced["answered"] == PACED_EVENTS and not paced["wrong"],
    }


def _paced(
    writer: Any, url: str, after: bytes, payloads: list[bytes], expected: list[int]
) -> JsonDict:
    """PACED_EVENTS events, one XADD every 1/PACED_RATE s; latency from the XADD's return
    to the reader seeing the prediction, on this process's clock."""
    reader = _Reader(url, after, PACED_EVENTS)
    sent: dict[bytes, float] = {}
    ids = []
    began = time.perf_counter()
    for index in range(PACED_EVENTS):
        pause = began + index / PACED_RATE - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        entry_id = writer.xadd(IN, {"data": payloads[index % len(payloads)]})
        sent[entry_id] = time.perf_counter()
        ids.append(entry_id)
    reader.wait()
    figures = reader.check(ids, expected)
    latencies = [(reader.seen_at[entry_id] - sent[entry_id]) * 1000 for entry_id in ids]
    return {**figures, **_percentiles(latencies)}


class _Reader:
    """Reads the output stream in a thread until ``count`` events have a prediction."""

    def __init__(self, url: str, after: bytes, count: int) -> None:
        self.url = url
        self.last = after
        self.count = count
        self.first: dict[bytes, tuple[bytes, bytes]] = {}  # input id -> (entry id, prediction)
        self.seen_at: dict[bytes, float] = {}
        self.outputs = 0
        self.finished = 0.0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def wait(self) -> float:
        """When the last prediction was seen (perf_counter)."""
        self._thread.join()
        if self.error is not None:
            raise BenchError(f"the predictions were not all read: {self.error}")
        return self.finished

    def _run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        moved = time.monotonic()
        try:
            while len(self.first) < self.count:
                reply = client.xread({OUT: self.last}, count=10_000, block=500)
                if not reply:
                    if time.monotonic() - moved > STALL_TIMEOUT_S:
                        raise BenchError(f"no prediction for {STALL_TIMEOUT_S} s")
                    continue
                moved, now = time.monotonic(), time.perf_counter()
                for entry_id, fields in reply[0][1]:
                    self.outputs += 1
                    input_id = fields[b"input_id"]
                    if input_id not in self.first:
                        self.first[input_id] = (entry_id, fields[b"prediction"])
                        self.seen_at[input_id] = now
                    self.last = entry_id
            self.finished = time.perf_counter()
        except BaseException as exc:
            self.error = exc
        finally:
            client.close()

    def check(self, ids: list[bytes], expected: list[int]) -> JsonDict:
        """Every event answered, each as the bare model; latencies from the stream ids
        (Redis' clock, milliseconds)."""
        latencies, wrong = [], 0
        for index, input_id in enumerate(ids):
            output_id, prediction = self.first[input_id]
            wrong += json.loads(prediction) != expected[index % len(expected)]
            latencies.append(_millis(output_id) - _millis(input_id))
        return {
            "answered": len(self.first),
            "duplicates": self.outputs - len(self.first),
            "wrong": wrong,
            **_percentiles(latencies),
        }


def _percentiles(values: list[float]) -> JsonDict:
    cuts = statistics.quantiles(values, n=100)
    return {"p50_ms": statistics.median(values), "p99_ms": cuts[98]}


def _millis(entry_id: bytes) -> int:
    return int(entry_id.split(b"-")[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"redis-server exited {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise BenchError("redis-server did not listen in 30 s")


# -- orchestrator side --------------------------------------------------------------------


def _summary(runs: list[JsonDict], tool: str, size: int, log: bool = True) -> JsonDict:
    mine = [r for r in runs if r["tool"] == tool and r["batch"] == size and r["log"] == log]
    if not mine:
        raise BenchError(f"no run of {tool} at batch size {size}")
    summary = {
        key: median(run[key] for run in mine)
        for key in ("rate", "p50_ms", "p99_ms", "cpu_us", "paced_p50_ms", "paced_p99_ms")
    }
    summary["runs"] = "/".join(f"{run['rate']:,.0f}" for run in mine)
    summary["ok"] = all(
        run["answered"] == EVENTS and not run["wrong"] and not run["duplicates"] and run["paced_ok"]
        for run in mine
    )
    return summary


def _describe(figures: JsonDict) -> str:
    return (
        f"burst p50/p99 {figures['p50_ms']:,.0f}/{figures['p99_ms']:,.0f} ms, at "
        f"{PACED_RATE:.0f}/s {figures['paced_p50_ms']:.1f}/{figures['paced_p99_ms']:.1f} ms, "
        f"CPU {figures['cpu_us']:.0f} µs/event"
    )


def _rows(runs: list[JsonDict]) -> list[Row]:
    rows = []
    for size in BATCH_SIZES:
        ours, theirs = _summary(runs, "loopml", size), _summary(runs, "by_hand", size)
        same = ours["ok"] and theirs["ok"]
        verdict = "every event answered once, = model.predict" if same else "OUTPUTS WRONG"
        rows.append(
            Row(
                BENCHMARK,
                f"batch {size}: events/s end to end, {EVENTS:,} events, prediction log on "
                "(other: hand-written redis-py loop)",
                "events/s",
                ours["rate"],
                theirs["rate"],
                higher_is_better=True,
                note=f"report only; loopml runs {ours['runs']}: {_describe(ours)}; by hand "
                f"runs {theirs['runs']}: {_describe(theirs)}; {verdict}",
            )
        )
    quiet, logged = _summary(runs, "loopml", 256, log=False), _summary(runs, "loopml", 256)
    rows.append(
        Row(
            BENCHMARK,
            "batch 256, loopml with --no-log (other: loopml, log on)",
            "events/s",
            quiet["rate"],
            logged["rate"],
            higher_is_better=True,
            note=f"report only; runs {quiet['runs']}: {_describe(quiet)}"
            + ("" if quiet["ok"] else "; OUTPUTS WRONG"),
        )
    )
    return rows


def run() -> list[Row]:
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": str(DATA / "model.pkl"),
        "payloads": str(DATA / "payloads.json"),
        "home": str(DATA / "home"),
    }
    try:
        prepared = run_worker(LOOPML, MODULE, "prepare", paths, timeout=TIMEOUT)
        result = run_worker(
            LOOPML, MODULE, "measure", {**paths, "expected": prepared["expected"]}, timeout=TIMEOUT
        )
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    rows = _rows(result["runs"])
    for row in rows:
        print(
            f"  {row.measure}: loopml {format_value(row.loopml)}, other "
            f"{format_value(row.mlflow)} {row.unit}; {row.note}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    serve_worker(globals())
