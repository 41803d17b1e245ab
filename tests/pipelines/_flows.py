"""Pipelines the tests run (a module of its own: workers receive this code by value)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from loopml.pipelines import pipeline, step


def scale_of(x: float) -> float:
    return x * 2


@step
def make(rows: int = 5) -> pd.DataFrame:
    print(f"making {rows} rows")
    return pd.DataFrame({"x": np.arange(rows, dtype=float)})


@step
def double(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(y=scale_of(df["x"]))


@step
def total(df: pd.DataFrame, factor: float = 1.0) -> float:
    return float(df["y"].sum() * factor)


@step
def side(n: int) -> np.ndarray:
    return np.arange(n)


@pipeline
def tables(rows: int = 5, factor: float = 1.0):
    doubled = double(make(rows=rows))
    side(rows)
    return total(doubled, factor=factor)


@step
def inc(x: int) -> int:
    return x + 1


@pipeline
def linear(steps: int = 10):
    value = inc(0)
    for _ in range(steps - 1):
        value = inc(value)
    return value


@step
def boom(x: int) -> int:
    raise ValueError(f"boom at {x}")


@pipeline
def failing():
    first = inc(1)
    broken = boom(first)
    inc(broken)
    return inc(5)


@step(retries=2, backoff=0.01)
def flaky(marker: str, failures: int) -> str:
    path = Path(marker)
    seen = int(path.read_text()) if path.exists() else 0
    path.write_text(str(seen + 1))
    if seen < failures:
        raise RuntimeError(f"attempt {seen + 1} fails")
    return f"ok after {seen + 1}"


@pipeline
def retried(marker: str, failures: int = 1):
    return flaky(marker, failures)


@step(retries=1, backoff=0.01)
def dies_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


@step
def dies_always(marker: str) -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


@pipeline
def killed(marker: str, always: bool = False):
    return dies_always(marker) if always else dies_once(marker)


@step
def lock() -> object:
    return threading.Lock()


@pipeline
def unstorable():
    return lock()


@step
def nap(name: str, folder: str) -> float:
    started = time.time()
    time.sleep(0.5)
    Path(folder, name).write_text(f"{started} {time.time()}")
    return started


@pipeline
def parallel(folder: str):
    return nap("a", folder), nap("b", folder)


@step
def read_rows(path: str) -> int:
    return len(Path(path).read_text().splitlines())


@pipeline
def reads_data(ref: str = "rows"):
    from loopml.pipelines import dataset

    return read_rows(dataset(ref))


@step(cache=False)
def noise(seed_from: int) -> float:
    return float(np.random.default_rng().random()) + seed_from


@pipeline
def random_outputs():
    return noise(1)
