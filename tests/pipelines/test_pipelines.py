"""Pipelines end to end: the DAG from the code, run records, cache, failures, executors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.blobs import read_bytes
from loopml.config import Settings
from loopml.data import DataRepo
from loopml.domain import RunStatus
from loopml.errors import InvalidInput, NotFound
from loopml.pipelines import (
    Graph,
    Node,
    Output,
    StepFailed,
    load_target,
    pipeline,
    rerun_pipeline,
    resume_pipeline,
    run_pipeline,
    step,
)
from loopml.tracking import Client, _system
from tests.pipelines import _flows


def _children(client: Client, run_id: str) -> dict[str, dict[str, str]]:
    runs = client.search_runs_page(filter=f"parent_id = '{run_id}'").runs
    return {run.tags["loopml.step"]: {**run.tags, "status": run.status.value} for run in runs}


# -- authoring ---------------------------------------------------------------------------


def test_the_dag_comes_from_the_calls() -> None:
    graph = _flows.tables.build({"rows": 3})
    assert [node.name for node in graph.nodes] == ["make", "double", "side", "total"]
    assert sorted(graph.edges()) == [("double", "total"), ("make", "double")]
    assert graph.downstream("make") == {"double", "total"}
    assert graph["total"].params == {"factor": 1.0}


def test_calling_a_pipeline_directly_runs_its_steps_in_place() -> None:
    assert _flows.tables(rows=3) == 6.0  # 0 + 2 + 4
    assert _flows.linear(steps=4) == 4


def test_a_step_called_twice_gets_numbered_names() -> None:
    assert [node.name for node in _flows.linear.build({"steps": 3}).nodes] == [
        "inc",
        "inc_2",
        "inc_3",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rows": "many"}, "parameter 'rows' must be an integer, got 'many'"),
        ({"rows": 2.5}, "parameter 'rows' must be an integer"),
        ({"colour": 1}, "has no parameter 'colour'"),
        ({"factor": "true"}, "parameter 'factor' must be a number"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _flows.tables.build(params)


def test_parameters_given_as_text_are_converted() -> None:
    graph = _flows.tables.build({"rows": "7", "factor": "0.5"})
    assert graph.params == {"rows": 7, "factor": 0.5}


def test_a_missing_parameter_is_named() -> None:
    with pytest.raises(InvalidInput, match="needs parameter 'marker'"):
        _flows.retried.build({})


def test_a_step_called_with_an_unknown_argument_fails_the_build() -> None:
    @pipeline
    def wrong() -> object:
        return _flows.inc(1, y=1)

    with pytest.raises(InvalidInput, match=r"Step 'inc'.*unexpected keyword argument 'y'"):
        wrong.build()


def test_a_step_argument_that_is_not_a_parameter_is_refused() -> None:
    @pipeline
    def wrong() -> object:
        return _flows.double(pd.DataFrame({"x": [1.0]}))

    with pytest.raises(InvalidInput, match="argument 'df' is a DataFrame"):
        wrong.build()


def test_branching_on_an_output_while_building_is_refused() -> None:
    @pipeline
    def wrong() -> object:
        value = _flows.inc(1)
        return _flows.inc(2) if value else value

    with pytest.raises(InvalidInput, match="has no value while the pipeline is built"):
        wrong.build()


def test_a_graph_whose_step_waits_on_a_later_one_is_a_cycle() -> None:
    first = Node("a", _flows.inc, {"x": Output("b")})
    second = Node("b", _flows.inc, {"x": Output("a")})
    with pytest.raises(InvalidInput, match="cycle"):
        Graph("loop", {}, (first, second))


def test_bad_step_options_are_refused() -> None:
    with pytest.raises(InvalidInput, match="retries"):
        step(retries=-1)(lambda: 1)
    with pytest.raises(InvalidInput, match="Invalid step name"):
        step(name="no spaces")(lambda: 1)


# -- running and recording -----------------------------------------------------------


def test_a_run_records_a_parent_and_one_child_per_step(client: Client) -> None:
    run = run_pipeline(_flows.tables, {"rows": 4}, executor="inline", client=client)

    assert run.status is RunStatus.FINISHED
    assert run.output() == 12.0
    assert isinstance(run.output("make"), pd.DataFrame)
    assert np.array_equal(run.output("side"), np.arange(4))
    parent = client.get_run(run.id)
    assert parent.params == {"rows": 4, "factor": 1.0}
    assert parent.tags["loopml.pipeline"] == "tables"
    children = _children(client, run.id)
    assert set(children) == {"make", "double", "side", "total"}
    assert {c["loopml.step.state"] for c in children.values()} == {"done"}
    assert children["total"]["loopml.step.upstream"] == "double"
    logs = [
        a for a in client.list_artifacts(run.steps["make"].run_id or "") if a.path == "logs.txt"
    ]
    assert read_bytes(client.stores.blobs, logs[0].digest) == b"making 4 rows\n"


def test_step_runs_record_the_pipeline_runs_commit_asking_git_once(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "flow.py").write_text("# the project\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    head = subprocess.check_output([*git, "rev-parse", "HEAD"], text=True).strip()
    monkeypatch.chdir(repo)
    asked: list[object] = []
    ask_git = _system.git_state
    monkeypatch.setattr(_system, "git_state", lambda cwd=None: asked.append(cwd) or ask_git(cwd))

    with Client(settings) as client:
        run = run_pipeline(_flows.linear, {"steps": 3}, executor="inline", client=client)
        ids = [run.id, *(record.run_id or "" for record in run.steps.values())]
        recorded = {(r.git_commit, r.git_dirty) for r in map(client.get_run, ids)}

    assert recorded == {(head, False)} and len(asked) == 1


def test_a_second_run_reuses_every_step(client: Client) -> None:
    first = run_pipeline(_flows.tables, {"rows": 4}, executor="inline", client=client)
    second = run_pipeline(_flows.tables, {"rows": 4}, executor="inline", client=client)

    assert sorted(second.cached) == ["double", "make", "side", "total"]
    assert second.steps["make"].cached_from == first.steps["make"].run_id
    assert second.output() == first.output()


def test_changing_a_parameter_reruns_that_step_and_what_follows(client: Client) -> None:
    run_pipeline(_flows.tables, {"rows": 4}, executor="inline", client=client)
    changed = run_pipeline(
        _flows.tables, {"rows": 4, "factor": 3.0}, executor="inline", client=client
    )

    assert sorted(changed.cached) == ["double", "make", "side"]
    assert changed.executed == ["total"]
    assert changed.output() == 36.0


def test_no_cache_runs_everything(client: Client) -> None:
    run_pipeline(_flows.tables, executor="inline", client=client)
    again = run_pipeline(_flows.tables, executor="inline", client=client, cache=False)
    assert again.cached == []


def test_a_step_marked_cache_false_always_runs(client: Client) -> None:
    run_pipeline(_flows.random_outputs, executor="inline", client=client)
    again = run_pipeline(_flows.random_outputs, executor="inline", client=client)
    assert again.cached == []


def test_editing_a_step_or_a_helper_it_calls_reruns_it(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "edited.py"
    template = (
        "from loopml.pipelines import pipeline, step\n"
        "def helper(x):\n    return x * {helper}\n"
        "@step\ndef first(x: int) -> int:\n    return x + {first}\n"
        "@step\ndef second(x: int) -> int:\n    return helper(x)\n"
        "@pipeline\ndef edited():\n    return second(first(1))\n"
    )

    def run(helper: int, first: int) -> list[str]:
        source.write_text(template.format(helper=helper, first=first))
        for name in [n for n in sys.modules if n.startswith("loopml_pipeline_")]:
            del sys.modules[name]
        flow = load_target(f"{source}:edited")
        return run_pipeline(flow, executor="inline", client=client).executed

    assert run(helper=2, first=1) == ["first", "second"]
    assert run(helper=2, first=1) == []
    assert run(helper=3, first=1) == ["second"]  # the helper changed
    assert run(helper=3, first=5) == ["first", "second"]  # new input for second


# -- failures ------------------------------------------------------------------------


def test_a_failing_step_fails_the_run_and_skips_what_depends_on_it(client: Client) -> None:
    with pytest.raises(StepFailed, match=r"Step 'boom'.*ValueError: boom at 2") as caught:
        run_pipeline(_flows.failing, executor="inline", client=client)

    run = caught.value.run
    assert run.status is RunStatus.FAILED
    assert "Traceback" in caught.value.traceback and "boom at 2" in caught.value.traceback
    assert {name: record.state for name, record in run.steps.items()} == {
        "inc": "done",
        "boom": "failed",
        "inc_2": "skipped",
        "inc_3": "done",  # independent: ready at the start, before the failure
    }
    assert client.get_run(run.id).status is RunStatus.FAILED
    failed = client.get_run(run.steps["boom"].run_id or "")
    assert failed.status is RunStatus.FAILED
    trace = [a for a in client.list_artifacts(failed.id) if a.path == "traceback.txt"]
    assert b"ValueError: boom at 2" in read_bytes(client.stores.blobs, trace[0].digest)


def test_a_flaky_step_is_retried_with_backoff(client: Client, tmp_path: Path) -> None:
    marker = str(tmp_path / "attempts")
    run = run_pipeline(
        _flows.retried, {"marker": marker, "failures": 2}, executor="inline", client=client
    )

    assert run.output() == "ok after 3"
    assert run.steps["flaky"].attempts == 3
    assert _children(client, run.id)["flaky"]["loopml.step.attempts"] == "3"


def test_a_step_failing_more_often_than_its_retries_fails(client: Client, tmp_path: Path) -> None:
    marker = str(tmp_path / "attempts")
    with pytest.raises(StepFailed, match="after 3 attempts"):
        run_pipeline(
            _flows.retried, {"marker": marker, "failures": 5}, executor="inline", client=client
        )
    assert Path(marker).read_text() == "3"


def test_an_unstorable_output_fails_the_step_naming_its_type(client: Client) -> None:
    with pytest.raises(
        StepFailed, match=r"Step 'lock' returned a _thread.lock that cannot be stored"
    ):
        run_pipeline(_flows.unstorable, executor="inline", client=client)


def test_a_missing_dataset_version_fails_before_anything_is_recorded(client: Client) -> None:
    with pytest.raises(NotFound, match="nothing"):
        run_pipeline(_flows.reads_data, {"ref": "nothing"}, executor="inline", client=client)
    assert client.search_runs_page().runs == []


# -- datasets, resume and rerun --------------------------------------------------------


def test_a_dataset_version_is_an_input_and_part_of_the_cache_key(
    client: Client, tmp_path: Path
) -> None:
    repo = DataRepo(client)
    data = tmp_path / "rows.txt"
    data.write_text("a\nb\n")
    repo.add(data, "rows")
    first = run_pipeline(_flows.reads_data, executor="inline", client=client)
    data.write_text("a\nb\nc\n")
    repo.add(data, "rows")
    second = run_pipeline(_flows.reads_data, executor="inline", client=client)
    pinned = run_pipeline(_flows.reads_data, {"ref": "rows@v1"}, executor="inline", client=client)

    assert (first.output(), second.output(), pinned.output()) == (2, 3, 2)
    assert second.cached == [] and pinned.cached == ["read_rows"]
    assert client.get_run(second.id).tags["loopml.input_dataset:rows"] == "2"
    step_run = client.get_run(second.steps["read_rows"].run_id or "")
    assert step_run.tags["loopml.input_dataset:rows"] == "2"


def test_resume_runs_only_the_failed_step_and_what_follows(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "resumable.py"
    template = (
        "from loopml.pipelines import pipeline, step\n"
        "@step\ndef first(x: int) -> int:\n    return x + 1\n"
        "@step\ndef second(x: int) -> int:\n    {body}\n"
        "@step\ndef third(x: int) -> int:\n    return x * 10\n"
        "@pipeline\ndef resumable(start: int = 1):\n    return third(second(first(start)))\n"
    )
    source.write_text(template.format(body="raise RuntimeError('not yet')"))
    flow = load_target(f"{source}:resumable")
    with pytest.raises(StepFailed) as caught:
        run_pipeline(flow, {"start": 2}, executor="inline", client=client)
    source.write_text(template.format(body="return x + 100"))
    for name in [n for n in sys.modules if n.startswith("loopml_pipeline_")]:
        del sys.modules[name]

    resumed = resume_pipeline(caught.value.run.id, executor="inline", client=client)

    assert resumed.output() == 1030
    assert resumed.cached == ["first"] and resumed.executed == ["second", "third"]
    assert client.get_run(resumed.id).tags["loopml.pipeline.resumed_from"] == caught.value.run.id


def test_resume_of_a_run_that_is_not_a_pipeline_is_refused(client: Client) -> None:
    run = client.create_run("plain")
    with pytest.raises(InvalidInput, match="not a pipeline run"):
        resume_pipeline(run.id, executor="inline", client=client)


def test_rerun_reproduces_a_deterministic_run(client: Client) -> None:
    run = run_pipeline(_flows.tables, executor="inline", client=client)
    again = rerun_pipeline(run.id, executor="inline", client=client)

    assert again.reproduced and again.changed == {}
    assert sorted(again.same) == ["double", "make", "side", "total"]
    assert again.run.cached == []


def test_rerun_reports_outputs_that_differ(client: Client) -> None:
    run = run_pipeline(_flows.random_outputs, executor="inline", client=client)
    again = rerun_pipeline(run.id, executor="inline", client=client)
    assert not again.reproduced and list(again.changed) == ["noise"]


# -- executors ---------------------------------------------------------------------------


def test_the_local_pool_gives_the_inline_results(client: Client) -> None:
    inline = run_pipeline(_flows.tables, {"rows": 6}, executor="inline", client=client, cache=False)
    local = run_pipeline(_flows.tables, {"rows": 6}, executor="local", client=client, cache=False)
    assert {n: r.digest for n, r in local.steps.items()} == {
        n: r.digest for n, r in inline.steps.items()
    }


def test_independent_steps_run_at_the_same_time(client: Client, tmp_path: Path) -> None:
    run_pipeline(
        _flows.parallel, {"folder": str(tmp_path)}, executor="local", client=client, workers=2
    )
    (a_start, a_end), (b_start, b_end) = (
        map(float, (tmp_path / name).read_text().split()) for name in ("a", "b")
    )
    assert a_start < b_end and b_start < a_end  # the two intervals overlap


def test_a_killed_worker_is_retried_then_succeeds(client: Client, tmp_path: Path) -> None:
    run = run_pipeline(
        _flows.killed, {"marker": str(tmp_path / "m")}, executor="local", client=client, workers=1
    )
    assert run.output() == "survived" and run.steps["dies_once"].attempts == 2


def test_a_killed_worker_never_counts_as_success(client: Client, tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="worker process running the step died") as caught:
        run_pipeline(
            _flows.killed,
            {"marker": str(tmp_path / "m"), "always": True},
            executor="local",
            client=client,
            workers=1,
        )
    assert caught.value.run.steps["dies_always"].state == "failed"


@pytest.mark.slow
def test_dask_gives_the_same_results_and_records(client: Client) -> None:
    local = run_pipeline(_flows.tables, {"rows": 6}, executor="inline", client=client, cache=False)
    dask = run_pipeline(
        _flows.tables, {"rows": 6}, executor="dask", client=client, cache=False, workers=2
    )
    assert {n: r.digest for n, r in dask.steps.items()} == {
        n: r.digest for n, r in local.steps.items()
    }
    assert set(_children(client, dask.id)) == {"make", "double", "side", "total"}
