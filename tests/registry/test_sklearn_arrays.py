"""scikit-learn estimators fit on numeric DataFrames are called with float arrays in their
fit order: the same answers as on the DataFrame, no feature-name warning, the fitted
model untouched; everything else keeps getting its DataFrame."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.registry import ColumnSpec, PackagedModel, Signature, TensorSpec
from loopml.registry._flavors import get_flavor
from loopml.registry._package import load_package, write_package

RNG = np.random.default_rng(11)
TRAIN = pd.DataFrame(
    {
        "age": RNG.integers(18, 80, 300),
        "income": RNG.normal(50, 10, 300),
        "score": RNG.random(300).astype(np.float32),
    }
)
LABELS = ((TRAIN["income"] > 50) ^ (TRAIN["age"] > 50)).astype(int)
BATCH = pd.DataFrame(
    {
        "age": RNG.integers(18, 80, 1000),
        "income": RNG.normal(50, 10, 1000),
        "score": RNG.random(1000).astype(np.float32),
    }
)


def _package(model: object, tmp_path: Path, **more: Any) -> PackagedModel:
    folder = tmp_path / "package"
    manifest = write_package(model, folder, **more)
    return load_package(manifest, folder)


def _spied(model: PackagedModel) -> list[Any]:
    """The inputs the estimator receives from now on."""
    seen: list[Any] = []
    callee: Any = model._callee
    predict = callee.predict

    def spy(data: Any) -> Any:
        seen.append(data)
        return predict(data)

    callee.predict = spy  # an instance attribute: the class is untouched
    return seen


FRAME_FIT = [
    pytest.param(lambda: LogisticRegression(max_iter=1000), id="logistic-regression"),
    pytest.param(lambda: RandomForestClassifier(n_estimators=20, random_state=0), id="forest"),
]


@pytest.mark.parametrize("make", FRAME_FIT)
def test_a_model_fit_on_numeric_columns_gets_a_float_array_and_answers_the_same(
    tmp_path: Path, make: Any
) -> None:
    estimator = make().fit(TRAIN, LABELS)
    model = _package(estimator, tmp_path, input_example=TRAIN.head())
    seen = _spied(model)
    record = BATCH.head(1).to_dict("records")[0]

    one = model.predict(record)
    many = model.predict(BATCH)

    assert np.array_equal(one, estimator.predict(BATCH.iloc[:1]))
    assert np.array_equal(many, estimator.predict(BATCH))
    assert np.array_equal(model.predict_proba(BATCH), estimator.predict_proba(BATCH))
    assert [type(data) for data in seen] == [np.ndarray, np.ndarray]
    assert [data.dtype.kind for data in seen] == ["f", "f"] and seen[1].shape == (1000, 3)


def test_the_fitted_model_is_left_as_it_was(tmp_path: Path) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN, LABELS)
    model = _package(estimator, tmp_path, input_example=TRAIN.head())
    raw: Any = model.raw
    before = set(vars(raw))

    model.predict(BATCH)

    assert set(vars(raw)) == before
    assert list(raw.feature_names_in_) == ["age", "income", "score"]
    assert "feature_names_in_" not in vars(model._callee)
    assert model._callee.coef_ is raw.coef_  # shared, not copied


def test_a_signature_in_another_order_is_laid_out_in_the_fit_order(tmp_path: Path) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN, LABELS)
    # With its outputs given, a signature is taken as it is (not tried on the model).
    reordered = Signature(
        (
            ColumnSpec("score", "float32"),
            ColumnSpec("income", "float64"),
            ColumnSpec("age", "int64"),
        ),
        TensorSpec("int64", (-1,)),
    )
    model = _package(estimator, tmp_path, input_example=TRAIN.head(), signature=reordered)
    seen = _spied(model)

    answer = model.predict(BATCH[["score", "income", "age"]])

    assert np.array_equal(answer, estimator.predict(BATCH))
    np.testing.assert_array_equal(seen[0], BATCH.to_numpy(dtype=np.float64))


def test_nan_is_refused_as_on_the_dataframe(tmp_path: Path) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN, LABELS)
    model = _package(estimator, tmp_path, input_example=TRAIN.head())
    holed = BATCH.head(3).assign(income=[1.0, np.nan, 2.0])

    with pytest.raises(ValueError, match="Input X contains NaN") as on_frame:
        estimator.predict(holed)
    with pytest.raises(ValueError, match="Input X contains NaN") as on_array:
        model.predict(holed)
    assert str(on_array.value) == str(on_frame.value)


def test_threads_predicting_at_once_get_the_same_answers(tmp_path: Path) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN, LABELS)
    model = _package(estimator, tmp_path, input_example=TRAIN.head())
    expected = estimator.predict(BATCH)
    records = BATCH.head(50).to_dict("records")
    failures: list[BaseException] = []

    def work() -> None:
        try:  # a warning is an error in this suite, in threads too
            for index, record in enumerate(records):
                assert model.predict(record)[0] == expected[index]
            assert np.array_equal(model.predict(BATCH), expected)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_pipeline_that_selects_columns_by_name_keeps_getting_a_dataframe(
    tmp_path: Path,
) -> None:
    train = TRAIN.assign(plan=RNG.choice(["free", "pro"], len(TRAIN)))
    batch = BATCH.assign(plan=RNG.choice(["free", "pro"], len(BATCH)))
    encode = make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough")
    pipeline = make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(train, LABELS)
    model = _package(pipeline, tmp_path, input_example=train.head())
    seen = _spied(model)

    answer = model.predict(batch)

    assert model._callee is model.raw
    assert np.array_equal(answer, pipeline.predict(batch))
    assert isinstance(seen[0], pd.DataFrame)


def test_a_numeric_pipeline_keeps_getting_a_dataframe(tmp_path: Path) -> None:
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(TRAIN, LABELS)
    model = _package(pipeline, tmp_path, input_example=TRAIN.head())
    seen = _spied(model)

    assert np.array_equal(model.predict(BATCH), pipeline.predict(BATCH))
    assert isinstance(seen[0], pd.DataFrame)


def test_a_model_fit_on_an_array_gets_an_array_as_before(tmp_path: Path) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN.to_numpy(), LABELS)
    model = _package(estimator, tmp_path, input_example=TRAIN.head())
    seen = _spied(model)

    assert np.array_equal(model.predict(BATCH), estimator.predict(BATCH.to_numpy()))
    assert model._callee is model.raw and isinstance(seen[0], np.ndarray)


HOLDING_NAMED_PARTS = [
    pytest.param(
        lambda: StackingClassifier(
            [("forest", RandomForestClassifier(n_estimators=5, random_state=0))],
            final_estimator=LogisticRegression(),
        ),
        id="stacking",
    ),
    pytest.param(lambda: CalibratedClassifierCV(LogisticRegression(), cv=3), id="calibrated"),
]


@pytest.mark.parametrize("make", HOLDING_NAMED_PARTS)
def test_a_model_holding_parts_fit_on_named_columns_keeps_its_dataframe(make: Any) -> None:
    estimator = make().fit(TRAIN, LABELS)
    columns = tuple(ColumnSpec(str(name), str(kind)) for name, kind in TRAIN.dtypes.items())

    assert get_flavor("sklearn").array_call(estimator, columns) is None


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param(
            (
                ColumnSpec("age", "int64"),
                ColumnSpec("income", "string"),
                ColumnSpec("score", "float32"),
            ),
            id="a-string-column",
        ),
        pytest.param(
            (ColumnSpec("age", "int64"), ColumnSpec("income", "float64")), id="fewer-columns"
        ),
        pytest.param(
            (
                ColumnSpec("age", "int64"),
                ColumnSpec("pay", "float64"),
                ColumnSpec("score", "float32"),
            ),
            id="other-names",
        ),
    ],
)
def test_columns_that_do_not_match_the_fit_keep_the_dataframe(
    columns: tuple[ColumnSpec, ...],
) -> None:
    estimator = LogisticRegression(max_iter=1000).fit(TRAIN, LABELS)

    assert get_flavor("sklearn").array_call(estimator, columns) is None
