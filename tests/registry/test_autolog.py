"""loopml.autolog: every outermost fit recorded once, and training never broken by it."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.ensemble._forest import BaseForest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.config import Settings
from loopml.domain import Run, RunStatus
from loopml.errors import NotFound, StoreError
from loopml.registry._registry import ModelRegistry
from loopml.registry.autolog import _clean_key, _param_value, autolog
from loopml.tracking import Client, set_default_client

AUTOLOG_LOGGER = "loopml.registry.autolog"


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """A client over an empty store, used by the fluent functions and so by autolog."""
    made = Client(settings, capture_environment=False)
    set_default_client(made)
    yield made
    autolog(disable=True)
    while loopml.active_run() is not None:
        loopml.end_run()
    made.close()
    set_default_client(None)


@pytest.fixture
def registry(client: Client) -> ModelRegistry:
    return ModelRegistry(client)


@pytest.fixture
def autologged(client: Client, caplog: pytest.LogCaptureFixture) -> Iterator[Client]:
    """Autolog on; the test fails if autolog had to warn about anything."""
    caplog.set_level(logging.WARNING, logger=AUTOLOG_LOGGER)
    autolog()
    yield client
    autolog(disable=True)
    assert [r.getMessage() for r in caplog.records if r.name == AUTOLOG_LOGGER] == []


def _classification(rows: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=rows, n_features=4, n_informative=3, n_redundant=0, random_state=seed
    )
    return x, y


def _default_runs(client: Client) -> list[Run]:
    try:
        return client.search_runs_page("Default").runs
    except NotFound:  # no run started the Default experiment
        return []


def _only_version_run(registry: ModelRegistry, name: str) -> Run:
    versions = registry.list_versions(name)
    assert [v.version for v in versions] == [1]
    assert versions[0].run_id is not None
    return registry.client.get_run(versions[0].run_id)


def test_logistic_regression_fit_records_params_metrics_and_a_version(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification()
    clf = LogisticRegression(C=0.5)
    assert clf.fit(x, y) is clf
    run = _only_version_run(registry, "LogisticRegression")
    assert [r.id for r in _default_runs(autologged)] == [run.id]
    assert (run.name, run.status) == ("autolog-LogisticRegression", RunStatus.FINISHED)
    assert run.params["C"] == 0.5
    assert {
        "training_accuracy",
        "training_precision",
        "training_recall",
        "training_f1",
        "training_log_loss",
        "training_roc_auc",
        "training_score",
    } <= set(run.metrics)
    assert run.metrics["training_accuracy"] == pytest.approx(accuracy_score(y, clf.predict(x)))
    loaded = registry.load_model("LogisticRegression/1")
    np.testing.assert_array_equal(loaded.predict(x[:20]), clf.predict(x[:20]))


def test_multiclass_classifier_gets_ovr_roc_auc(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = make_classification(
        n_samples=150, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=1
    )
    RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    run = _only_version_run(registry, "RandomForestClassifier")
    assert 0.5 < run.metrics["training_roc_auc"] <= 1.0
    assert run.params["n_estimators"] == 5


def test_a_pipeline_is_recorded_once_with_its_params(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=2.0))])
    assert pipe.fit(x, y) is pipe
    run = _only_version_run(registry, "Pipeline")
    assert len(_default_runs(autologged)) == 1
    assert [m.name for m in registry.list_models()] == ["Pipeline"]
    assert run.params["clf__C"] == 2.0
    assert run.params["scale__with_mean"] is True
    assert str(run.params["clf"]).startswith("LogisticRegression(")
    assert "training_accuracy" in run.metrics


def test_grid_search_logs_its_best_params_and_score_once(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification()
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=3).fit(x, y)
    run = _only_version_run(registry, "GridSearchCV")
    assert len(_default_runs(autologged)) == 1
    assert run.params["best_C"] == search.best_params_["C"]
    assert run.params["estimator__C"] == 1.0
    assert run.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "training_accuracy" in run.metrics


def test_regressor_gets_regression_metrics(autologged: Client, registry: ModelRegistry) -> None:
    x, y = make_regression(n_samples=80, n_features=3, noise=5.0, random_state=0)
    reg = LinearRegression().fit(x, y)
    metrics = _only_version_run(registry, "LinearRegression").metrics
    assert metrics["training_mse"] == pytest.approx(mean_squared_error(y, reg.predict(x)))
    assert metrics["training_rmse"] == pytest.approx(math.sqrt(metrics["training_mse"]))
    assert metrics["training_r2"] == pytest.approx(metrics["training_score"])
    assert metrics["training_mae"] > 0


def test_xgb_classifier_logs_each_eval_iteration_as_a_step(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification(160)
    clf = xgboost.XGBClassifier(n_estimators=5, max_depth=2, eval_metric="logloss")
    clf.fit(x[:120], y[:120], eval_set=[(x[120:], y[120:])], verbose=False)
    run = _only_version_run(registry, "XGBClassifier")
    assert run.params["max_depth"] == 2
    history = autologged.get_metric_history(run.id, "validation_0-logloss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    expected = clf.evals_result()["validation_0"]["logloss"]
    assert [m.value for m in history] == pytest.approx(expected)
    assert "training_accuracy" in run.metrics


def test_lightgbm_train_logs_its_params_eval_steps_and_booster(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification(160)
    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    train_set = lightgbm.Dataset(x[:120], y[:120])
    valid = lightgbm.Dataset(x[120:], y[120:], reference=train_set)
    booster = lightgbm.train(params, train_set, num_boost_round=4, valid_sets=[valid])
    run = _only_version_run(registry, "Booster")
    assert run.name == "autolog-lightgbm.train"
    assert run.params["objective"] == "binary"
    assert (run.params["num_leaves"], run.params["num_boost_round"]) == (4, 4)
    history = autologged.get_metric_history(run.id, "valid_0-binary_logloss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    loaded = registry.load_model("Booster/1")
    np.testing.assert_allclose(np.ravel(loaded.predict(x[:10])), booster.predict(x[:10]), rtol=1e-6)


def test_xgboost_train_logs_its_params_and_eval_steps(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification(160)
    train, valid = xgboost.DMatrix(x[:120], label=y[:120]), xgboost.DMatrix(x[120:], y[120:])
    params = {"objective": "binary:logistic", "max_depth": 2, "eval_metric": "auc"}
    xgboost.train(params, train, 3, evals=[(valid, "valid")], verbose_eval=False)
    run = _only_version_run(registry, "Booster")
    assert (run.params["max_depth"], run.params["num_boost_round"]) == (2, 3)
    history = autologged.get_metric_history(run.id, "valid-auc")
    assert [m.step for m in history] == [0, 1, 2]


def test_fit_inside_an_active_run_logs_into_it_and_leaves_it_running(
    autologged: Client, registry: ModelRegistry
) -> None:
    x, y = _classification()
    with loopml.start_run(experiment="mine") as run:
        LogisticRegression(C=0.3).fit(x, y)
        assert loopml.active_run() is run
        stored = loopml.get_run(run.id)
        assert stored.status is RunStatus.RUNNING
        assert stored.params["C"] == 0.3
    assert registry.list_versions("LogisticRegression")[0].run_id == run.id
    assert _default_runs(autologged) == []
    assert loopml.get_run(run.id).status is RunStatus.FINISHED


def test_a_failing_fit_reraises_its_error_and_fails_the_run(
    client: Client, registry: ModelRegistry
) -> None:
    autolog()
    x, y = _classification()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN") as raised:
        LogisticRegression().fit(x, y)
    assert raised.type is ValueError
    [run] = _default_runs(client)
    assert (run.name, run.status) == ("autolog-LogisticRegression", RunStatus.FAILED)
    assert run.params["C"] == 1.0
    assert registry.list_models() == []


def test_disable_restores_every_patched_function(client: Client) -> None:
    originals = {
        (LogisticRegression, "fit"): LogisticRegression.fit,
        (BaseForest, "fit"): BaseForest.fit,
        (Pipeline, "fit"): Pipeline.fit,
        (BaseSearchCV, "fit"): BaseSearchCV.fit,
        (xgboost.XGBModel, "fit"): xgboost.XGBModel.fit,
        (lightgbm.LGBMClassifier, "fit"): lightgbm.LGBMClassifier.fit,
        (xgboost, "train"): xgboost.train,
        (lightgbm, "train"): lightgbm.train,
    }
    autolog()
    patched = {key: getattr(*key) for key in originals}
    autolog(log_models=False)
    for key, original in originals.items():
        assert getattr(*key) is patched[key], "patched twice"
        assert patched[key] is not original
        assert patched[key].__wrapped__ is original
        assert (patched[key].__name__, patched[key].__doc__) == (
            original.__name__,
            original.__doc__,
        )
    assert RandomizedSearchCV.fit is patched[(BaseSearchCV, "fit")]
    autolog(disable=True)
    for key, original in originals.items():
        assert getattr(*key) is original
    LogisticRegression().fit(*_classification())
    assert _default_runs(client) == []


def test_log_models_false_registers_nothing(client: Client, registry: ModelRegistry) -> None:
    autolog(log_models=False)
    LogisticRegression().fit(*_classification())
    [run] = _default_runs(client)
    assert "training_accuracy" in run.metrics
    assert registry.list_models() == []


def test_registered_model_name_names_every_version(client: Client, registry: ModelRegistry) -> None:
    autolog(registered_model_name="churn", log_input_examples=False)
    x, y = _classification()
    LogisticRegression().fit(x, y)
    LogisticRegression(C=0.1).fit(x, y)
    assert [v.version for v in registry.list_versions("churn")] == [2, 1]
    assert len(_default_runs(client)) == 2


def test_a_store_failure_while_logging_does_not_break_fit(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def store_down(*args: object, **kwargs: object) -> None:
        raise StoreError("The blob store is down.")

    monkeypatch.setattr(ModelRegistry, "log_model", store_down)
    caplog.set_level(logging.WARNING, logger=AUTOLOG_LOGGER)
    autolog()
    clf = LogisticRegression()
    assert clf.fit(*_classification()) is clf
    assert clf.coef_.shape == (1, 4)
    warnings = [r.getMessage() for r in caplog.records if r.name == AUTOLOG_LOGGER]
    assert len(warnings) == 1
    assert "log the model" in warnings[0] and "The blob store is down." in warnings[0]
    [run] = _default_runs(client)
    assert run.status is RunStatus.FINISHED
    assert "training_accuracy" in run.metrics


def test_an_unreachable_store_leaves_training_unrecorded_but_working(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def store_down(*args: object, **kwargs: object) -> None:
        raise StoreError("The database is down.")

    monkeypatch.setattr(Client, "create_run", store_down)
    caplog.set_level(logging.WARNING, logger=AUTOLOG_LOGGER)
    autolog()
    clf = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    assert clf.fit(*_classification()) is clf
    assert [r.getMessage() for r in caplog.records if r.name == AUTOLOG_LOGGER] == [
        "loopml.autolog could not start a run for Pipeline: The database is down."
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("clf__C", "clf__C"),
        ("validation_0/auc@5", "validation_0_auc_5"),
        ("a..b", "a.b"),
        (".hidden ", "hidden"),
        ("", "_"),
    ],
    ids=["dunder-kept", "slash-and-at", "double-dot", "edge-dots", "empty"],
)
def test_keys_are_made_valid(key: str, expected: str) -> None:
    assert _clean_key(key) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.5), 0.5),
        (np.int64(3), 3),
        (np.bool_(True), True),
        (None, None),
        (float("inf"), "inf"),
        ([1, 2], "[1, 2]"),
    ],
    ids=["numpy-float", "numpy-int", "numpy-bool", "none", "infinite", "list"],
)
def test_param_values_are_simple_or_their_repr(value: object, expected: object) -> None:
    assert _param_value(value) == expected


def test_long_param_values_are_truncated_to_the_limit() -> None:
    assert len(str(_param_value("x" * 10_000))) == 6000


def test_libraries_imported_after_autolog_are_recorded_too(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, loopml\n"
        "loopml.autolog()\n"
        "print('preloaded:', [m for m in ('sklearn', 'xgboost', 'lightgbm') if m in sys.modules])\n"
        "from sklearn.datasets import load_iris\n"  # resources still load through the hook
        "from sklearn.linear_model import LogisticRegression\n"
        "x, y = load_iris(return_X_y=True, as_frame=True)\n"
        "LogisticRegression(max_iter=500).fit(x, y)\n"
        "print('versions:', [v.ref for v in loopml.ModelRegistry().list_versions('LogisticRegression')])\n"
    )
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "preloaded: []" in out
    assert "versions: ['LogisticRegression/1']" in out
