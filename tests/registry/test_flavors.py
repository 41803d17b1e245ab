"""Flavors: detection, refusals, and what each one asks of its input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import InvalidInput
from loopml.registry._flavors import FLAVORS, get_flavor, resolve_flavor
from tests.registry._torch_models import TinyNet

RNG = np.random.default_rng(7)
X = pd.DataFrame(RNG.random((60, 4)), columns=["a", "b", "c", "d"])
Y = (X["a"] + X["b"] > 1).astype(int)


class Doubler:
    """A python_function model: anything with a predict method."""

    def predict(self, data: Any) -> Any:
        return np.asarray(data)[:, 0] * 2


def _models() -> list[Any]:
    return [
        pytest.param(LogisticRegression().fit(X, Y), "sklearn", id="sklearn"),
        pytest.param(
            make_pipeline(StandardScaler(), LogisticRegression()), "sklearn", id="pipeline"
        ),
        pytest.param(xgb.XGBClassifier(n_estimators=2).fit(X, Y), "xgboost", id="xgb-wrapper"),
        pytest.param(
            xgb.train({}, xgb.DMatrix(X, label=Y), num_boost_round=2), "xgboost", id="xgb-booster"
        ),
        pytest.param(
            lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, Y), "lightgbm", id="lgbm-wrapper"
        ),
        pytest.param(
            lgb.train({"verbose": -1}, lgb.Dataset(X, Y), num_boost_round=2),
            "lightgbm",
            id="lgbm-booster",
        ),
        pytest.param(TinyNet(), "pytorch", id="torch"),
        pytest.param(Doubler(), "python_function", id="python-function"),
    ]


@pytest.mark.parametrize(("model", "expected"), _models())
def test_detection_picks_the_flavor(model: object, expected: str) -> None:
    assert resolve_flavor(model).name == expected


def test_detection_order_puts_wrappers_before_sklearn() -> None:
    names = [flavor.name for flavor in FLAVORS]

    assert names == ["xgboost", "lightgbm", "pytorch", "sklearn", "python_function"]


def test_an_unsupported_object_is_refused_with_the_supported_kinds() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_flavor(object())

    assert str(caught.value) == (
        "Cannot package a builtins.object object: supported: scikit-learn estimators, XGBoost, "
        "LightGBM, PyTorch modules, or any object with a predict method."
    )


def test_a_class_instead_of_an_instance_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Cannot package the class LogisticRegression"):
        resolve_flavor(LogisticRegression)


def test_a_requested_flavor_that_does_not_match_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Flavor 'xgboost' cannot package a sklearn"):
        resolve_flavor(LogisticRegression(), "xgboost")


def test_a_requested_flavor_may_override_detection() -> None:
    assert resolve_flavor(LogisticRegression(), "python_function").name == "python_function"


def test_an_unknown_flavor_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="known flavors: xgboost, lightgbm, pytorch"):
        get_flavor("keras")


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Unknown option 'init_kwarg' for flavor 'sklearn'"):
        get_flavor("sklearn").save(LogisticRegression(), tmp_path, {"init_kwarg": {}})


def test_sklearn_wants_a_frame_only_when_fit_on_one() -> None:
    flavor = get_flavor("sklearn")

    assert flavor.wants(LogisticRegression().fit(X, Y)) == "frame"
    assert flavor.wants(LogisticRegression().fit(X.to_numpy(), Y)) == "array"


def test_sklearn_predicts_arrays_with_a_frame_fit_model_without_warning() -> None:
    model = LogisticRegression().fit(X, Y)

    predicted = get_flavor("sklearn").predict(model, X.to_numpy())

    assert (predicted == model.predict(X)).all()


def test_pipelines_know_their_feature_names() -> None:
    pipeline: Pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)

    assert get_flavor("sklearn").wants(pipeline) == "frame"


def test_pytorch_refuses_a_class_defined_in_main(tmp_path: Path) -> None:
    Net = type("Net", (torch.nn.Module,), {"__module__": "__main__"})

    with pytest.raises(
        InvalidInput, match=r"defined in __main__.*move the class into an importable"
    ):
        get_flavor("pytorch").save(Net(), tmp_path, {})


def test_pytorch_refuses_a_local_class(tmp_path: Path) -> None:
    class Local(torch.nn.Module):
        pass

    with pytest.raises(InvalidInput, match="move the class into an importable module"):
        get_flavor("pytorch").save(Local(), tmp_path, {})


def test_pytorch_refuses_init_kwargs_that_do_not_rebuild_the_module(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match=r"Cannot rebuild tests\.registry\._torch_models:TinyNet"
    ):
        get_flavor("pytorch").save(TinyNet(hidden=4), tmp_path, {"init_kwargs": {"hidden": 5}})


def test_pytorch_refuses_init_kwargs_that_are_not_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="must be JSON-serialisable"):
        get_flavor("pytorch").save(TinyNet(), tmp_path, {"init_kwargs": {"hidden": object()}})


def test_pytorch_has_no_predict_proba() -> None:
    assert get_flavor("pytorch").has_predict_proba(TinyNet()) is False


def test_detection_imports_no_model_library() -> None:
    script = textwrap.dedent(
        """
        import sys
        from loopml.registry._flavors import resolve_flavor

        class Model:
            def predict(self, data):
                return data

        assert resolve_flavor(Model()).name == "python_function"
        heavy = {"torch", "xgboost", "lightgbm", "sklearn"} & set(sys.modules)
        print(sorted(heavy))
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip() == "[]"
