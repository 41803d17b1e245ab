"""``python -m loopml.pipelines._fire``: run one schedule firing's pipeline.

Started by the :class:`~loopml.pipelines.Scheduler` with ``(settings, firing_id)``
pickled on stdin. It runs the schedule's pipeline in the schedule's working folder,
tags the run with the schedule and the firing, and records the run and the outcome on
the firing. Its output goes to the firing's log file.
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import traceback
from typing import TYPE_CHECKING

from loopml.domain.schedules import Firing, FiringState, FiringUpdate, Schedule
from loopml.errors import LoopmlError

if TYPE_CHECKING:
    from loopml.pipelines._authoring import Graph
    from loopml.tracking import Client

__all__ = ["SCHEDULE_FIRING_TAG", "SCHEDULE_TAG", "main", "run_firing"]

SCHEDULE_TAG = "loopml.schedule"
SCHEDULE_FIRING_TAG = "loopml.schedule.firing"


def run_firing(client: Client, firing_id: str) -> FiringState:
    """Run the pipeline of firing ``firing_id`` and record its outcome on the firing."""
    from loopml.pipelines._runner import StepFailed, run_graph
    from loopml.pipelines._targets import load_target

    store = client.stores.schedules
    firing = store.get_firing(firing_id)
    schedule = store.get_schedule(firing.schedule)
    store.update_firing(firing.id, FiringUpdate(host=socket.gethostname(), pid=os.getpid()))
    run_id: str | None = None
    try:
        graph = load_target(schedule.target).build(schedule.params)
        outcome = run_graph(
            graph,
            executor=schedule.executor,
            client=client,
            target=schedule.target,
            pinned=_pinned(graph, schedule, firing),
            tags={SCHEDULE_TAG: schedule.name, SCHEDULE_FIRING_TAG: firing.id},
            on_start=lambda run: _link_run(client, firing.id, run),
        )
        run_id, state, error = outcome.id, FiringState.SUCCEEDED, None
    except StepFailed as exc:
        run_id, state, error = exc.run.id, FiringState.FAILED, str(exc)
        print(exc.traceback, file=sys.stderr)
    except LoopmlError as exc:
        state, error = FiringState.FAILED, str(exc)
    except Exception as exc:  # the pipeline's own code raised while being built
        traceback.print_exc()
        state, error = FiringState.FAILED, f"{type(exc).__name__}: {exc}"
    store.update_firing(firing.id, FiringUpdate(state=state, run_id=run_id, error=error))
    return state


def _link_run(client: Client, firing_id: str, run_id: str) -> None:
    """Record the pipeline run on the firing as soon as it exists, so that a running
    firing already shows its run."""
    client.stores.schedules.update_firing(firing_id, FiringUpdate(run_id=run_id))


def _pinned(graph: Graph, schedule: Schedule, firing: Firing) -> dict[str, int]:
    """The version that fired a dataset schedule, for the steps that read its dataset
    without naming a version (a step that names one keeps it)."""
    if schedule.dataset is None or firing.dataset_version is None:
        return {}
    from loopml.data._refs import parse_dataset_ref

    for node in graph.nodes:
        for dataset in node.datasets.values():
            ref = parse_dataset_ref(dataset.ref)
            if ref.name == schedule.dataset and ref.version is not None:
                return {}
    return {schedule.dataset: firing.dataset_version}


def main() -> None:
    """Read ``(settings, firing_id)`` from stdin, run the firing, exit 0 or 1."""
    from loopml.tracking import Client

    settings, firing_id = pickle.loads(sys.stdin.buffer.read())
    client = Client(settings)
    try:
        state = run_firing(client, firing_id)
    finally:
        client.close()
    raise SystemExit(0 if state is FiringState.SUCCEEDED else 1)


if __name__ == "__main__":
    main()
