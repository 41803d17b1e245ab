"""Prefect 3.8: a flow of 10 sequential tasks, each adding one to the previous result.

Run with /var/tmp/anchors/venv-prefect's python. ``seconds`` is the wall time of the flow
call, which includes starting Prefect's ephemeral API server (a uvicorn subprocess);
``import_seconds`` the time to import prefect; ``loop_seconds`` the ten task calls alone,
inside the running flow (Prefect's per-task cost once its server is up). The server is
stopped at interpreter exit, which only the harness's whole-process time sees.

``--cached``: the tasks use ``cache_policy=INPUTS`` (results persisted under PREFECT_HOME),
so a second run with the same PREFECT_HOME takes every result from the cache; the JSON line
counts the tasks that did (``cached_tasks``).
"""

from __future__ import annotations

import argparse
import time

import _local
import _work

_local.configure_prefect()
_began = time.perf_counter()
from prefect import flow, task  # noqa: E402  # reads its settings at import
from prefect.cache_policies import INPUTS  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _began

add_one = task(_work.add_one)
add_one_cached = task(cache_policy=INPUTS)(_work.add_one)


@flow
def linear(use_cache: bool) -> tuple[int, int, float]:
    """Chain the ten tasks; return the final value, how many were cached, the loop's time."""
    step = add_one_cached if use_cache else add_one
    value, cached = 0, 0
    began = time.perf_counter()
    for _ in range(_work.STEPS):
        state = step(value, return_state=True)
        cached += state.name == "Cached"
        value = state.result()
    return value, cached, time.perf_counter() - began


def main() -> None:
    """Run the flow once and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cached", action="store_true", help="tasks cache on their inputs")
    use_cache = parser.parse_args().cached
    began = time.perf_counter()
    value, cached, loop_seconds = linear(use_cache)
    seconds = time.perf_counter() - began
    work = "linear-cached" if use_cache else "linear"
    _work.report(
        "prefect",
        work,
        seconds,
        IMPORT_SECONDS,
        steps=_work.STEPS,
        result=value,
        cached_tasks=cached,
        loop_seconds=loop_seconds,
    )


if __name__ == "__main__":
    main()
