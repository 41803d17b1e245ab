"""Probe: single-row REST predictions, loopml's serving app against a minimal FastAPI app.

Registers scikit-learn's LogisticRegression on the bundled breast_cancer data (30 float
columns, fit on a DataFrame, as in ``/work/shared/anchors/tracking-serving``) in a
temporary home, then, one server at a time on 127.0.0.1 (one uvicorn worker each):

* ``loopml``: ``serve("bench@champion")`` with a prediction sink that enqueues every
  record to a thread (what a real log writer does on the request path);
* ``loopml-array``: the same for the model fit on a numpy array (same coefficients): the
  registry then hands scikit-learn an array, not a one-row DataFrame;
* ``minimal-frame``: FastAPI doing only ``model.predict(pd.DataFrame([record]))``;
* ``minimal-numpy``: FastAPI doing only ``model.predict(np.array([[values]]))`` (the
  anchor's reference app; scikit-learn's feature-name warning filtered out).

Each is loaded for ``--seconds`` by an asyncio httpx client at concurrency 8 (after a
warm-up), and optionally by wrk (``--wrk``), printing requests/s, p50/p99 and the
server's CPU time per request (user + system, from /proc: the figure least moved by
other load on a shared machine). Not a test: figures depend on the machine. Run::

    .venv/bin/python benchmarks/serving_probe.py [--seconds 5] [--rounds 3] [--wrk]

(No ``from __future__ import annotations`` here: FastAPI must see the minimal apps'
``Request`` annotation as the class, not as text naming a local import.)
"""

import argparse
import asyncio
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONCURRENCY = 8
MODEL = "bench"
SERVERS = ("loopml", "loopml-array", "minimal-frame", "minimal-numpy")


# -- the servers (run as subprocesses of this script) -----------------------------------


class QueueSink:
    """A prediction sink as the real log has it on the request path: append to a buffer
    under a lock and return. A thread takes the buffer every second (and only counts the
    records: writing them is not what this probe measures)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._stop = threading.Event()
        self.count = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def log(self, record: Any) -> None:
        with self._lock:
            self._buffer.append(record)

    def close(self) -> None:
        self._stop.set()

    def _drain(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                taken, self._buffer = self._buffer, []
            self.count += len(taken)


def queue_sink(settings: Any) -> QueueSink:
    return QueueSink()


def serve_loopml(home: str, port: int, model: str) -> None:
    from loopml.config import load_settings
    from loopml.serving._server import serve

    settings = load_settings({"home": home})
    serve(f"{model}@champion", settings=settings, port=port, sink_factory=queue_sink)


def serve_minimal(pickle_path: str, port: int, kind: str) -> None:
    import numpy as np
    import pandas as pd
    import uvicorn
    from fastapi import FastAPI, Request

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    with open(pickle_path, "rb") as f:
        model = pickle.load(f)
    columns = list(model.feature_names_in_)
    app = FastAPI()

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    if kind == "frame":

        @app.post("/predict")
        async def predict_frame(request: Request) -> dict[str, Any]:
            record = await request.json()
            return {"predictions": model.predict(pd.DataFrame([record])).tolist()}

    else:

        @app.post("/predict")
        async def predict_numpy(request: Request) -> dict[str, Any]:
            record = await request.json()
            row = np.asarray([[record[c] for c in columns]], dtype=np.float64)
            return {"predictions": model.predict(row).tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the orchestration ------------------------------------------------------------------


def prepare(folder: Path) -> tuple[Path, Path, bytes]:
    """Register the model in a home under ``folder``; pickle it for the minimal apps."""
    import orjson
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from loopml.config import load_settings
    from loopml.registry import ModelRegistry
    from loopml.tracking import Client

    data = load_breast_cancer(as_frame=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=5000).fit(data.data, data.target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_array = LogisticRegression(max_iter=5000).fit(data.data.to_numpy(), data.target)
    home = folder / ".loopml"
    client = Client(load_settings({"home": home}, environ={}), capture_environment=False)
    registry = ModelRegistry(client)
    for name, fitted in ((MODEL, model), (f"{MODEL}-array", on_array)):
        version = registry.log_model(fitted, name, input_example=data.data.head())
        registry.set_alias(name, "champion", version.version)
    client.close()
    pickle_path = folder / "model.pkl"
    pickle_path.write_bytes(pickle.dumps(model))
    body = orjson.dumps(data.data.iloc[0].to_dict())
    return home, pickle_path, body


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"server did not get ready:\n{log.read_text()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Figures:
    """One load of one server."""

    rate: float
    p50_ms: float
    p99_ms: float
    failed: int
    cpu_us: float

    def __str__(self) -> str:
        return (
            f"{self.rate:7.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"server CPU {self.cpu_us:5.0f} µs/request  failed {self.failed}"
        )

    @staticmethod
    def median(runs: "list[Figures]") -> "Figures":
        return Figures(
            statistics.median(r.rate for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.failed for r in runs),
            statistics.median(r.cpu_us for r in runs),
        )


async def load(url: str, body: bytes, seconds: float, pid: int) -> Figures:
    """Requests/s, p50 and p99, failures and the server's CPU µs per request, at
    CONCURRENCY for ``seconds``, by an asyncio httpx client."""
    import httpx

    latencies: list[float] = []
    failures = 0
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(until: float, record: bool) -> None:
            nonlocal failures
            while time.perf_counter() < until:
                began = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    failures += 1
                if record:
                    latencies.append(time.perf_counter() - began)

        warm_until = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm_until, False) for _ in range(CONCURRENCY)))
        cpu_before = cpu_seconds(pid)
        began = time.perf_counter()
        until = began + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
        cpu = (cpu_seconds(pid) - cpu_before) / len(latencies) * 1e6
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    p50 = statistics.median(latencies) * 1000
    return Figures(len(latencies) / elapsed, p50, p99 * 1000, failures, cpu)


def load_wrk(url: str, body: bytes, seconds: float, folder: Path, pid: int) -> Figures:
    """The same load by wrk (one thread, CONCURRENCY connections): far lighter than an
    httpx client, so the server, not the client, is what saturates."""
    body_file = folder / "body.json"
    body_file.write_bytes(body)
    script = folder / "post.lua"
    script.write_text(
        'local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))\n'
        'wrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONCURRENCY}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        env={**os.environ, "WRK_BODY_FILE": str(body_file)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - cpu_before
    lines = [line.strip() for line in out.splitlines()]
    total = int(next(line for line in lines if "requests in" in line).split()[0])
    failed = sum(int(line.split()[-1]) for line in lines if line.startswith("Non-2xx"))
    return Figures(
        float(next(line for line in lines if line.startswith("Requests/sec")).split()[-1]),
        _ms(next(line for line in lines if line.startswith("50%")).split()[-1]),
        _ms(next(line for line in lines if line.startswith("99%")).split()[-1]),
        failed,
        cpu / total * 1e6,
    )


def _ms(text: str) -> float:
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    raise ValueError(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the servers N times")
    parser.add_argument("--wrk", action="store_true", help="also load with wrk")
    parser.add_argument("--only", choices=SERVERS, action="append")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, where, port = args.serve
        if kind.startswith("loopml"):
            serve_loopml(where, int(port), MODEL + kind.removeprefix("loopml"))
        else:
            serve_minimal(where, int(port), kind.removeprefix("minimal-"))
        return
    names = args.only or list(SERVERS)
    clients = ["httpx", "wrk"] if args.wrk else ["httpx"]
    with tempfile.TemporaryDirectory(prefix="loopml-serving-probe-") as tmp:
        folder = Path(tmp)
        home, pickle_path, body = prepare(folder)
        servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        try:
            for name in names:  # all up at once; an idle server costs nothing
                port = free_port()
                where = str(home) if name.startswith("loopml") else str(pickle_path)
                process = start(["--serve", name, where, str(port)], port, folder / f"{name}.log")
                servers[name] = (f"http://127.0.0.1:{port}/predict", process)
            results = _measure(servers, clients, body, args.seconds, args.rounds, folder)
        finally:
            for _, process in servers.values():
                process.terminate()
                process.wait(timeout=30)
    _report(results, clients)


def _measure(
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]],
    clients: list[str],
    body: bytes,
    seconds: float,
    rounds: int,
    folder: Path,
) -> dict[tuple[str, str], list[Figures]]:
    """Each server under each client, alternating, ``rounds`` times."""
    results: dict[tuple[str, str], list[Figures]] = {}
    for round_ in range(rounds):
        for name, (url, process) in servers.items():
            for client in clients:
                if client == "httpx":
                    figures = asyncio.run(load(url, body, seconds, process.pid))
                else:
                    figures = load_wrk(url, body, seconds, folder, process.pid)
                results.setdefault((name, client), []).append(figures)
                print(f"round {round_ + 1}: {name:14} {client:5} {figures}", flush=True)
    return results


def _report(results: dict[tuple[str, str], list[Figures]], clients: list[str]) -> None:
    print(f"\nmedians of {len(next(iter(results.values())))} round(s):")
    medians = {key: Figures.median(runs) for key, runs in results.items()}
    for (name, client), figures in medians.items():
        print(f"{name:14} {client:5} {figures}")
    for client in clients:
        for ours, theirs in (
            ("loopml", "minimal-frame"),
            ("loopml", "minimal-numpy"),
            ("loopml-array", "minimal-numpy"),
        ):
            if (ours, client) in medians and (theirs, client) in medians:
                mine, other = medians[(ours, client)], medians[(theirs, client)]
                print(
                    f"{client:5} {ours} / {theirs}: {mine.rate / other.rate:.0%} of its "
                    f"requests/s; CPU per request {mine.cpu_us / other.cpu_us:.2f}x"
                )


if __name__ == "__main__":
    main()
