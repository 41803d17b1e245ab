"""loopml: a 10-step linear pipeline of trivial steps on the default local executor.

Run with loopml's venv python (``/work/main/.venv/bin/python loopml_linear.py``). The
tracking home is ``$ANCHOR_WORKDIR/loopml-home`` (a fresh one per measurement, given by
the harness). ``seconds`` is the wall time of the ``run_pipeline`` call, opening the store
included, plus reading the result back; ``import_seconds`` the time to import loopml's
pipelines and tracking client.

``--cached``: caching on (the default of ``run_pipeline``); run twice with the same home,
the second run takes every step from the cache, and the JSON line counts the steps that
did (``cached_tasks``). Without it, ``cache=False``: every step executes.
"""

from __future__ import annotations

import argparse
import time

import _work

_began = time.perf_counter()
from loopml.config import Settings, load_settings  # noqa: E402  # timed: a script's imports
from loopml.pipelines import pipeline, run_pipeline, step  # noqa: E402
from loopml.tracking import Client  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _began

add_one = step(_work.add_one)


@pipeline
def linear():
    """Ten steps, each adding one to the previous step's value."""
    value = add_one(0)
    for _ in range(_work.STEPS - 1):
        value = add_one(value)
    return value


def _settings() -> Settings:
    """A home in the work folder; ``LOOPML_*`` variables of the caller do not apply."""
    return load_settings({"home": str(_work.workdir() / "loopml-home")}, environ={})


def main() -> None:
    """Run the pipeline once and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cached", action="store_true", help="caching on (run twice)")
    use_cache = parser.parse_args().cached
    began = time.perf_counter()
    with Client(_settings()) as client:
        run = run_pipeline(linear, cache=use_cache, client=client)
        value = run.output()
    seconds = time.perf_counter() - began
    _work.report(
        "loopml",
        "linear-cached" if use_cache else "linear",
        seconds,
        IMPORT_SECONDS,
        steps=_work.STEPS,
        result=value,
        cached_tasks=len(run.cached),
    )


if __name__ == "__main__":
    main()
