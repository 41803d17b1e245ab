"""The fluent API: the contract users and later features build on."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import loopml
from loopml.tracking import Client


def test_the_documented_example_round_trips(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("<h1>report</h1>")
    with loopml.start_run(experiment="churn", name="rf-baseline") as run:
        assert loopml.active_run() is run
        loopml.log_params({"model": "rf", "depth": 8})
        loopml.log_metric("loss", 0.31, step=3)
        loopml.log_metrics({"acc": 0.9}, step=3)
        loopml.log_artifact(report)
        loopml.set_tags({"team": "risk"})
    assert loopml.active_run() is None
    stored = loopml.get_run(run.id)
    assert stored.status is loopml.RunStatus.FINISHED
    assert stored.params == {"model": "rf", "depth": 8}
    assert stored.metrics == {"loss": 0.31, "acc": 0.9}
    assert stored.tags == {"team": "risk"}
    assert stored.name == "rf-baseline"
    assert stored.end_time is not None and stored.end_time >= stored.start_time
    history = loopml.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(3, 0.31)]
    assert [a.path for a in client.list_artifacts(run.id)] == ["report.html"]


def test_every_value_of_a_tight_loop_is_stored(client: Client) -> None:
    with loopml.start_run(experiment="loop") as run:
        for step in range(5000):
            loopml.log_metric("loss", 1.0 / (step + 1), step=step)
    history = loopml.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(5000))
    assert history[-1].value == 1.0 / 5000


def test_exception_fails_the_run_and_keeps_what_was_logged(client: Client) -> None:
    with pytest.raises(RuntimeError, match="boom"), loopml.start_run(experiment="e") as run:
        loopml.log_param("lr", 0.1)
        for step in range(100):
            loopml.log_metric("loss", float(step), step=step)
        raise RuntimeError("boom")
    stored = loopml.get_run(run.id)
    assert stored.status is loopml.RunStatus.FAILED
    assert stored.params == {"lr": 0.1}
    assert len(loopml.get_metric_history(run.id, "loss")) == 100


def test_keyboard_interrupt_kills_the_run(client: Client) -> None:
    with pytest.raises(KeyboardInterrupt), loopml.start_run(experiment="e") as run:
        raise KeyboardInterrupt
    assert loopml.get_run(run.id).status is loopml.RunStatus.KILLED


def test_nan_and_inf_metrics_are_stored_as_such(client: Client) -> None:
    with loopml.start_run(experiment="e") as run:
        loopml.log_metric("nan", math.nan)
        loopml.log_metric("inf", math.inf)
        loopml.log_metric("ninf", -math.inf)
    metrics = loopml.get_run(run.id).metrics
    assert math.isnan(metrics["nan"])
    assert (metrics["inf"], metrics["ninf"]) == (math.inf, -math.inf)


def test_nested_runs_record_their_parent(client: Client) -> None:
    with loopml.start_run(experiment="e", name="parent") as parent:
        with pytest.raises(loopml.Conflict, match="nested=True"):
            loopml.start_run(experiment="e")
        with loopml.start_run(experiment="e", name="child", nested=True) as child:
            assert loopml.active_run() is child
        assert loopml.active_run() is parent
    assert loopml.get_run(child.id).parent_id == parent.id
    frame = loopml.search_runs("e", filter=f"parent_id = '{parent.id}'")
    assert list(frame["name"]) == ["child"]


def test_logging_without_an_active_run_is_a_conflict(client: Client) -> None:
    with pytest.raises(loopml.Conflict, match="start_run"):
        loopml.log_metric("loss", 1.0)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty"),
        ("k" * 10_000, "10000 characters"),
        ("a/b", "'/'"),
        ("..", "'..'"),
        ("../etc", "'..'"),
        ("bad$", "invalid character"),
    ],
    ids=["empty", "10k-chars", "slash", "dotdot", "dotdot-path", "dollar"],
)
def test_bad_keys_are_refused_at_the_call(client: Client, key: str, message: str) -> None:
    with loopml.start_run(experiment="e") as run:
        for log in (
            lambda: loopml.log_metric(key, 1.0),
            lambda: loopml.log_param(key, 1),
            lambda: loopml.set_tag(key, "v"),
        ):
            with pytest.raises(loopml.InvalidInput, match=message):
                log()
    stored = loopml.get_run(run.id)
    assert (stored.params, stored.metrics, stored.tags) == ({}, {}, {})


@pytest.mark.parametrize(
    "value", ["0.5", None, [1.0], True], ids=["string", "none", "list", "bool"]
)
def test_non_numeric_metric_values_are_refused(client: Client, value: object) -> None:
    with loopml.start_run(experiment="e"), pytest.raises(loopml.InvalidInput, match="real number"):
        loopml.log_metric("m", value)  # type: ignore[arg-type]


def test_param_logged_twice_with_another_value_is_a_conflict(client: Client) -> None:
    with loopml.start_run(experiment="e") as run:
        loopml.log_params({"lr": 0.1})
        loopml.log_params({"lr": 0.1})
        with pytest.raises(loopml.Conflict, match="'lr'"):
            loopml.log_params({"lr": 0.2, "other": 1})
    assert loopml.get_run(run.id).params == {"lr": 0.1}


def test_logging_to_a_finished_run_is_refused(client: Client) -> None:
    with loopml.start_run(experiment="e") as run:
        loopml.log_metric("m", 1.0)
    for log in (
        lambda: client.log_metric(run.id, "m", 2.0, step=1),
        lambda: client.log_params(run.id, {"p": 1}),
        lambda: client.set_tags(run.id, {"t": "v"}),
    ):
        with pytest.raises(loopml.Conflict, match="finished"):
            log()
    with pytest.raises(loopml.Conflict, match="finished"):
        loopml.start_run(run_id=run.id)
    assert loopml.get_run(run.id).metrics == {"m": 1.0}


def test_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(loopml.NotFound, match="no-such-run"):
        loopml.get_run("no-such-run")
    with pytest.raises(loopml.NotFound):
        client.log_metric("no-such-run", "m", 1.0)


def test_attaching_to_a_running_run_continues_it(client: Client) -> None:
    run = client.create_run("e", name="long")
    with loopml.start_run(run_id=run.id) as attached:
        loopml.log_metric("m", 1.0)
    assert attached.id == run.id
    assert loopml.get_run(run.id).status is loopml.RunStatus.FINISHED
