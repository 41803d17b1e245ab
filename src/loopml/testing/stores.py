"""Contract suites of the metadata store ports, run unchanged against every adapter.

Subclass a contract in your tests and provide its fixture::

    class TestSqliteRuns(RunStoreContract):
        @pytest.fixture
        def run_store(self, tmp_path): ...   # yields a RunStore with an ExperimentStore

The run fixture yields ``(experiments, runs)``: runs need an experiment to live in.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from loopml.domain import Artifact, Metric, ParamValue, Run, RunQuery, RunStatus, RunUpdate
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store import ExperimentStore, RunStore

__all__ = ["ExperimentStoreContract", "RunStoreContract"]

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class ExperimentStoreContract:
    """What every ExperimentStore adapter must do."""

    def test_create_then_get_by_id_and_name(self, experiment_store: ExperimentStore) -> None:
        name = _name("exp")
        created = experiment_store.create_experiment(name, "about churn")
        assert experiment_store.get_experiment(created.id) == created
        assert experiment_store.find_experiment(name) == created
        assert created.description == "about churn"

    def test_duplicate_name_is_refused(self, experiment_store: ExperimentStore) -> None:
        name = _name("dup")
        experiment_store.create_experiment(name)
        with pytest.raises(AlreadyExists, match=name):
            experiment_store.create_experiment(name)

    def test_unknown_id_is_not_found(self, experiment_store: ExperimentStore) -> None:
        with pytest.raises(NotFound, match="nope"):
            experiment_store.get_experiment("nope")
        assert experiment_store.find_experiment(_name("missing")) is None

    def test_list_includes_created(self, experiment_store: ExperimentStore) -> None:
        names = [_name("list") for _ in range(3)]
        for name in names:
            experiment_store.create_experiment(name)
        listed = [e.name for e in experiment_store.list_experiments()]
        assert [n for n in listed if n in names] == names

    @pytest.mark.parametrize("bad", ["", "   ", "x" * 251], ids=["empty", "blank", "too-long"])
    def test_bad_name_is_invalid(self, experiment_store: ExperimentStore, bad: str) -> None:
        with pytest.raises(InvalidInput):
            experiment_store.create_experiment(bad)


class RunStoreContract:
    """What every RunStore adapter must do."""

    @pytest.fixture
    def experiment_id(self, run_store: tuple[ExperimentStore, RunStore]) -> str:
        return run_store[0].create_experiment(_name("runs")).id

    @pytest.fixture
    def runs(self, run_store: tuple[ExperimentStore, RunStore]) -> RunStore:
        return run_store[1]

    def _new_run(self, runs: RunStore, experiment_id: str, **fields: object) -> Run:
        run = Run(
            id=uuid.uuid4().hex,
            experiment_id=experiment_id,
            name=str(fields.pop("name", "r")),
            status=RunStatus.RUNNING,
            start_time=T0,
            heartbeat_at=T0,
            **fields,  # type: ignore[arg-type]
        )
        return runs.create_run(run)

    def test_create_and_get_round_trip(self, runs: RunStore, experiment_id: str) -> None:
        created = self._new_run(
            runs,
            experiment_id,
            git_commit="abc",
            git_dirty=True,
            host="h",
            pid=42,
            params={"model": "rf"},
            tags={"team": "risk"},
        )
        fetched = runs.get_run(created.id)
        assert fetched.status is RunStatus.RUNNING
        assert fetched.start_time == T0
        assert (fetched.git_commit, fetched.git_dirty, fetched.host, fetched.pid) == (
            "abc",
            True,
            "h",
            42,
        )
        assert fetched.params == {"model": "rf"}
        assert fetched.tags == {"team": "risk"}

    def test_duplicate_run_id_is_refused(self, runs: RunStore, experiment_id: str) -> None:
        run = self._new_run(runs, experiment_id)
        with pytest.raises(AlreadyExists):
            runs.create_run(run)

    def test_unknown_experiment_or_parent_is_not_found(
        self, runs: RunStore, experiment_id: str
    ) -> None:
        with pytest.raises(NotFound):
            self._new_run(runs, "no-such-experiment")
        with pytest.raises(NotFound):
            self._new_run(runs, experiment_id, parent_id="no-such-run")

    def test_unknown_run_is_not_found(self, runs: RunStore) -> None:
        with pytest.raises(NotFound, match="missing-run"):
            runs.get_run("missing-run")
        with pytest.raises(NotFound):
            runs.log_run_data("missing-run", RunUpdate(tags={"a": "b"}))
        with pytest.raises(NotFound):
            runs.get_metric_history("missing-run", "loss")

    def test_params_are_typed_and_fixed(self, runs: RunStore, experiment_id: str) -> None:
        run = self._new_run(runs, experiment_id)
        values: dict[str, ParamValue] = {"s": "rf", "i": 8, "f": 0.1, "b": True, "n": None}
        runs.log_run_data(run.id, RunUpdate(params=values))
        runs.log_run_data(run.id, RunUpdate(params={"i": 8}))  # same value: no-op
        with pytest.raises(Conflict, match="'i'"):
            runs.log_run_data(run.id, RunUpdate(params={"i": 9, "new": "x"}))
        assert runs.get_run(run.id).params == values  # nothing of the refused batch

    def test_metrics_history_and_latest(self, runs: RunStore, experiment_id: str) -> None:
        run = self._new_run(runs, experiment_id)
        values = [Metric("loss", 1.0 / (s + 1), s, T0 + timedelta(seconds=s)) for s in range(50)]
        runs.log_run_data(run.id, RunUpdate(metrics=values[25:]))
        runs.log_run_data(run.id, RunUpdate(metrics=values[:25]))  # older steps later
        history = runs.get_metric_history(run.id, "loss")
        assert [(m.step, m.value, m.timestamp) for m in history] == [
            (m.step, m.value, m.timestamp) for m in values
        ]
        assert runs.get_run(run.id).metrics == {"loss": values[-1].value}

    def test_a_batch_id_is_applied_once(self, runs: RunStore, experiment_id: str) -> None:
        run = self._new_run(runs, experiment_id)
        batch_id = uuid.uuid4().hex
        update = RunUpdate(metrics=[Metric("m", 1.0, 0, T0)], tags={"t": "v"}, batch_id=batch_id)
        runs.log_run_data(run.id, update)
        runs.log_run_data(run.id, update)  # re-sent after a lost reply
        assert len(runs.get_metric_history(run.id, "m")) == 1
        runs.end_run(run.id, RunStatus.FINISHED, T0)
        runs.log_run_data(run.id, update)  # still a no-op, not a Conflict

    def test_nan_and_inf_are_stored_as_such(self, runs: RunStore, experiment_id: str) -> None:
        run = self._new_run(runs, experiment_id)
        batch = [
            Metric("odd", math.nan, 0, T0),
            Metric("odd", math.inf, 1, T0),
            Metric("odd", -math.inf, 2, T0),
            Metric("nan_last", math.nan, 0, T0),
        ]
        runs.log_run_data(run.id, RunUpdate(metrics=batch))
        history = [m.value for m in runs.get_metric_history(run.id, "odd")]
        assert math.isnan(history[0]) and history[1:] == [math.inf, -math.inf]
        assert math.isnan(runs.get_run(run.id).metrics["nan_last"])

    def test_tags_can_change_and_artifacts_are_listed(
        self, runs: RunStore, experiment_id: str
    ) -> None:
        run = self._new_run(runs, experiment_id)
        runs.log_run_data(run.id, RunUpdate(tags={"stage": "dev"}))
        runs.log_run_data(run.id, RunUpdate(tags={"stage": "prod"}))
        arts = [Artifact("model/model.pkl", "a" * 64, 10), Artifact("report.html", "b" * 64, 5)]
        runs.log_run_data(run.id, RunUpdate(artifacts=arts))
        assert runs.get_run(run.id).tags == {"stage": "prod"}
        assert runs.list_artifacts(run.id) == arts
        assert runs.list_artifacts(run.id, "model/") == arts[:1]
        assert runs.list_artifacts(run.id, "mod%") == []

    @pytest.mark.parametrize(
        "update",
        [
            RunUpdate(params={"": "x"}),
            RunUpdate(params={"a/b": "x"}),
            RunUpdate(params={"..": "x"}),
            RunUpdate(params={"k" * 10_000: "x"}),
            RunUpdate(tags={"t": "v" * 10_000}),
            RunUpdate(artifacts=[Artifact("../escape", "a" * 64, 1)]),
        ],
        ids=["empty-key", "slash", "dotdot", "10k-key", "huge-tag", "artifact-escape"],
    )
    def test_bad_batch_is_invalid_and_changes_nothing(
        self, runs: RunStore, experiment_id: str, update: RunUpdate
    ) -> None:
        run = self._new_run(runs, experiment_id)
        mixed = RunUpdate(
            params={"ok": 1, **update.params},
            tags=update.tags,
            metrics=[Metric("good", 1.0, 0, T0)],
            artifacts=update.artifacts,
        )
        with pytest.raises(InvalidInput):
            runs.log_run_data(run.id, mixed)
        after = runs.get_run(run.id)
        assert (after.params, after.metrics, after.tags) == ({}, {}, {})

    def test_ended_run_refuses_data_and_second_end(
        self, runs: RunStore, experiment_id: str
    ) -> None:
        run = self._new_run(runs, experiment_id)
        ended = runs.end_run(run.id, RunStatus.FINISHED, T0 + timedelta(minutes=1))
        assert ended.status is RunStatus.FINISHED
        assert ended.end_time == T0 + timedelta(minutes=1)
        with pytest.raises(Conflict, match="finished"):
            runs.log_run_data(run.id, RunUpdate(metrics=[Metric("m", 1.0, 0, T0)]))
        with pytest.raises(Conflict):
            runs.end_run(run.id, RunStatus.FAILED, T0)
        with pytest.raises(InvalidInput):
            runs.end_run(self._new_run(runs, experiment_id).id, RunStatus.RUNNING, T0)

    def test_stale_and_dead_runs_are_failed(self, runs: RunStore, experiment_id: str) -> None:
        host = _name("host")
        stale = self._new_run(runs, experiment_id, host=host, pid=1)
        dead = self._new_run(runs, experiment_id, host=host, pid=2)
        alive = self._new_run(runs, experiment_id, host=host, pid=3)
        runs.heartbeat([dead.id, alive.id], T0 + timedelta(minutes=10))
        assert sorted(runs.list_running_on(host)) == sorted(
            [(stale.id, 1), (dead.id, 2), (alive.id, 3)]
        )
        failed = set(runs.fail_stale_runs(T0 + timedelta(minutes=5), [dead.id]))
        # Runs of other tests sharing the store may be stale too: check ours only.
        assert {stale.id, dead.id} <= failed
        assert alive.id not in failed
        assert runs.get_run(stale.id).status is RunStatus.FAILED
        assert runs.get_run(alive.id).status is RunStatus.RUNNING
        assert runs.list_running_on(host) == [(alive.id, 3)]

    def test_search_filters_orders_and_pages(self, runs: RunStore, experiment_id: str) -> None:
        made = []
        for i in range(7):
            run = self._new_run(runs, experiment_id, name=f"run{i}")
            runs.log_run_data(
                run.id,
                RunUpdate(
                    params={"model": "rf" if i % 2 else "lr", "depth": i},
                    metrics=[Metric("acc", 0.5 + i / 20, 0, T0)],
                    tags={"team": "x" if i < 4 else "y"},
                ),
            )
            made.append(run.id)
        query = RunQuery(
            (experiment_id,),
            "metrics.acc > 0.6 and params.model = 'rf' and tags.team = 'x'",
            ("-metrics.acc",),
        )
        assert [r.id for r in runs.search_runs(query).runs] == [made[3]]
        by_depth = RunQuery((experiment_id,), "params.depth >= 2", ("-params.depth",), limit=3)
        first = runs.search_runs(by_depth)
        assert [r.id for r in first.runs] == [made[6], made[5], made[4]]
        assert first.next_page_token is not None
        second = runs.search_runs(
            RunQuery(
                by_depth.experiment_ids,
                by_depth.filter,
                by_depth.order_by,
                3,
                first.next_page_token,
            )
        )
        assert [r.id for r in second.runs] == [made[3], made[2]]
        assert second.next_page_token is None

    def test_long_values_are_stored_and_matched_exactly(
        self, runs: RunStore, experiment_id: str
    ) -> None:
        shared = "".join(chr(0x41 + (i * 7919) % 26) for i in range(300))  # no compression
        long_param, other = shared + "x" * 5700, shared + "y" * 5700
        long_tag = (shared * 30)[:8000]
        first = self._new_run(
            runs, experiment_id, params={"prompt": long_param}, tags={"t": long_tag}
        )
        self._new_run(runs, experiment_id, params={"prompt": other})
        assert runs.get_run(first.id).params["prompt"] == long_param
        assert runs.get_run(first.id).tags["t"] == long_tag
        found = runs.search_runs(RunQuery((experiment_id,), f"params.prompt = '{long_param}'"))
        assert [r.id for r in found.runs] == [first.id]
        tagged = runs.search_runs(RunQuery((experiment_id,), f"tags.t IN ('{long_tag}', 'z')"))
        assert [r.id for r in tagged.runs] == [first.id]

    def test_search_bad_filter_points_at_token(self, runs: RunStore, experiment_id: str) -> None:
        with pytest.raises(InvalidInput, match="foo"):
            runs.search_runs(RunQuery((experiment_id,), "metrics.acc foo 0.9"))
        with pytest.raises(InvalidInput):
            runs.search_runs(RunQuery((experiment_id,), "", limit=0))
        with pytest.raises(InvalidInput):
            runs.search_runs(RunQuery((experiment_id,), "", page_token="garbage!"))
