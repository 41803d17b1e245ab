"""Model packages: write, verify and load each flavor; tampering; the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import InvalidInput, StoreError
from loopml.registry._package import (
    MANIFEST_NAME,
    Manifest,
    PackageFile,
    load_package,
    verify_files,
    write_package,
)
from loopml.registry._signature import ColumnSpec, Signature, TensorSpec
from tests.registry._torch_models import TinyNet

RNG = np.random.default_rng(11)
X = pd.DataFrame(RNG.random((120, 4)), columns=["a", "b", "c", "d"])
Y = (X["a"] + X["b"] > 1).astype(int)
XA = X.to_numpy()

UNPICKLED: list[str] = []
"""Side effects of unpickling a :class:`Recorder`: proves whether a pickle was loaded."""


class Recorder:
    """A python_function model whose unpickling leaves a trace."""

    def __init__(self) -> None:
        self.scale = 3.0

    def predict(self, data: Any) -> Any:
        return np.asarray(data, dtype=np.float64).sum(axis=1) * self.scale

    def __setstate__(self, state: dict[str, Any]) -> None:
        UNPICKLED.append("unpickled")
        self.__dict__.update(state)


class Thresholder:
    """A python_function model with predict_proba, taking a DataFrame."""

    def predict(self, data: pd.DataFrame) -> Any:
        return (data["a"] > 0.5).to_numpy().astype(np.int64)

    def predict_proba(self, data: pd.DataFrame) -> Any:
        p = data["a"].to_numpy()
        return np.column_stack([1 - p, p])


class Constant:
    """A python_function model that takes any columns."""

    def predict(self, data: pd.DataFrame) -> Any:
        return np.zeros(len(data))


def _torch_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet(n_inputs=4, hidden=6)


Case = tuple[Callable[[], Any], Any, str, bool]

CASES: dict[str, Case] = {
    "sklearn-frame": (lambda: LogisticRegression().fit(X, Y), X, "sklearn", True),
    "sklearn-array": (lambda: LogisticRegression().fit(XA, Y), XA, "sklearn", True),
    "pipeline-frame": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y),
        X,
        "sklearn",
        True,
    ),
    "pipeline-array": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(XA, Y),
        XA,
        "sklearn",
        True,
    ),
    "xgb-classifier": (
        lambda: xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, Y),
        X,
        "xgboost",
        True,
    ),
    "xgb-booster": (
        lambda: xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=Y), num_boost_round=3),
        X,
        "xgboost",
        False,
    ),
    "lgbm-classifier": (
        lambda: lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, Y),
        X,
        "lightgbm",
        True,
    ),
    "lgbm-booster": (
        lambda: lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(XA, Y), 3),
        XA,
        "lightgbm",
        False,
    ),
    "pytorch": (_torch_net, XA.astype(np.float32), "pytorch", False),
    "python-function": (Thresholder, X, "python_function", True),
}


def _expected(model: Any, data: Any) -> np.ndarray[Any, Any]:
    if isinstance(model, xgb.Booster):
        return np.asarray(model.predict(xgb.DMatrix(data)))
    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(data)).numpy())
    return np.asarray(model.predict(data))


def _write(model: object, folder: Path, **kwargs: Any) -> Manifest:
    options = {"init_kwargs": {"n_inputs": 4, "hidden": 6}} if isinstance(model, TinyNet) else None
    return write_package(model, folder, options=options, **kwargs)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_loaded_package_predicts_like_the_original(case: str, tmp_path: Path) -> None:
    build, data, flavor, _ = CASES[case]
    model = build()

    manifest = _write(model, tmp_path / "pkg", input_example=data[:5])
    loaded = load_package(manifest, tmp_path / "pkg")

    assert loaded.flavor == flavor == manifest.flavor
    np.testing.assert_allclose(loaded.predict(data), _expected(model, data), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][3]], ids=lambda c: c)
def test_predict_proba_matches_the_original(case: str, tmp_path: Path) -> None:
    build, data, _, _ = CASES[case]
    model = build()

    loaded = load_package(_write(model, tmp_path, input_example=data[:5]), tmp_path)

    np.testing.assert_allclose(loaded.predict_proba(data), model.predict_proba(data), rtol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if not CASES[c][3]], ids=lambda c: c)
def test_predict_proba_is_refused_when_the_model_has_none(case: str, tmp_path: Path) -> None:
    build, data, flavor, _ = CASES[case]
    loaded = load_package(_write(build(), tmp_path, input_example=data[:5]), tmp_path)

    with pytest.raises(InvalidInput, match=rf"\(flavor '{flavor}'\) has no predict_proba"):
        loaded.predict_proba(data)


def test_xgboost_classifier_keeps_its_classes(tmp_path: Path) -> None:
    model = xgb.XGBClassifier(n_estimators=2).fit(X, Y)

    loaded = load_package(write_package(model, tmp_path), tmp_path)

    assert list(loaded.raw.classes_) == [0, 1]
    assert list(loaded.raw.feature_names_in_) == ["a", "b", "c", "d"]


def test_the_loaded_model_accepts_records(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    loaded = load_package(write_package(model, tmp_path, input_example=X[:3]), tmp_path)

    predicted = loaded.predict({"d": 0.1, "c": 0.2, "b": 0.9, "a": 0.9})

    assert (
        predicted.tolist()
        == model.predict(pd.DataFrame([[0.9, 0.9, 0.2, 0.1]], columns=list("abcd"))).tolist()
    )


def test_the_signature_is_inferred_with_outputs(tmp_path: Path) -> None:
    manifest = write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X[:5])

    assert manifest.signature is not None
    assert manifest.signature.inputs == tuple(ColumnSpec(c, "float64", True) for c in "abcd")
    assert manifest.signature.outputs == TensorSpec("int64", (-1,))


def test_an_explicit_signature_is_checked_against_the_example(tmp_path: Path) -> None:
    signature = Signature((ColumnSpec("a", "float64", True),))

    with pytest.raises(InvalidInput, match="unexpected columns 'b', 'c', 'd'"):
        write_package(
            LogisticRegression().fit(X, Y), tmp_path, input_example=X, signature=signature
        )


def test_a_model_that_fails_on_its_example_is_refused(tmp_path: Path) -> None:
    model = LogisticRegression().fit(XA, Y)

    with pytest.raises(InvalidInput, match="predict failed on the input example"):
        write_package(model, tmp_path, input_example=np.ones((2, 7)))


def test_without_a_signature_arrays_pass_through(tmp_path: Path) -> None:
    model = LogisticRegression().fit(XA, Y)
    loaded = load_package(write_package(model, tmp_path), tmp_path)

    assert loaded.signature is None
    assert (loaded.predict(XA) == model.predict(XA)).all()


def test_the_input_example_reads_back(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2],
            "s": ["x", None],
            "t": pd.to_datetime(["2020-01-01", "2021-01-01"]),
            "f": [0.5, np.nan],
        }
    )
    loaded = load_package(write_package(Constant(), tmp_path, input_example=frame), tmp_path)

    example = loaded.input_example()

    assert isinstance(example, pd.DataFrame)
    assert example["n"].tolist() == [1, 2]
    assert example["s"].iloc[0] == "x"
    assert example["s"].isna().iloc[1]
    assert example["t"].tolist() == frame["t"].tolist()
    assert np.isnan(example["f"].iloc[1])


def test_an_array_example_reads_back_with_its_dtype(tmp_path: Path) -> None:
    data = XA[:3].astype(np.float32)
    loaded = load_package(write_package(Recorder(), tmp_path, input_example=data), tmp_path)

    example = loaded.input_example()

    assert isinstance(example, np.ndarray)
    assert example.dtype == np.float32
    np.testing.assert_array_equal(example, data)


def test_the_example_is_capped_at_100_rows(tmp_path: Path) -> None:
    write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X)

    stored = json.loads((tmp_path / "input_example.json").read_text())

    assert len(stored["data"][0]) == 100


def test_a_non_empty_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("x")

    with pytest.raises(InvalidInput, match="is not an empty folder"):
        write_package(Recorder(), tmp_path)


# --- requirements and libraries -----------------------------------------------------------


def test_requirements_pin_the_flavor_and_pickled_libraries(tmp_path: Path) -> None:
    manifest = write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X[:2])

    names = [line.split("==")[0] for line in manifest.requirements]
    assert "scikit-learn" in names and "numpy" in names
    assert (tmp_path / "requirements.txt").read_text().splitlines() == list(manifest.requirements)
    assert (
        manifest.libraries["scikit-learn"]
        == manifest.requirements[names.index("scikit-learn")].split("==")[1]
    )


def test_xgboost_requirements_name_the_installed_distribution(tmp_path: Path) -> None:
    manifest = write_package(xgb.XGBClassifier(n_estimators=2).fit(X, Y), tmp_path)

    assert any(line.startswith(("xgboost==", "xgboost-cpu==")) for line in manifest.requirements)


def test_caller_requirements_override_detected_pins(tmp_path: Path) -> None:
    manifest = write_package(
        LogisticRegression().fit(X, Y), tmp_path, pip_requirements=["scikit_learn>=1.4", "shap"]
    )

    assert "scikit_learn>=1.4" in manifest.requirements
    assert "shap" in manifest.requirements
    assert not any(line.startswith("scikit-learn==") for line in manifest.requirements)


def test_a_malformed_requirement_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="pip_requirements entry '>=1' is not a requirement"):
        write_package(Recorder(), tmp_path, pip_requirements=[">=1"])

    assert list(tmp_path.iterdir()) == []


def test_a_bad_example_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="mixes value types"):
        write_package(Constant(), tmp_path / "pkg", input_example={"a": [1, "x"]})

    assert not (tmp_path / "pkg").exists()


# --- the manifest -------------------------------------------------------------------------


def test_the_manifest_lists_every_file_but_itself(tmp_path: Path) -> None:
    manifest = write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X[:2])

    paths = [file.path for file in manifest.files]
    assert paths == ["input_example.json", "model.pkl", "requirements.txt"]
    assert (tmp_path / MANIFEST_NAME).read_text() == manifest.to_json()


def test_the_manifest_json_is_canonical_and_round_trips(tmp_path: Path) -> None:
    manifest = write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X[:2])
    text = manifest.to_json()

    assert Manifest.from_json(text) == manifest
    assert Manifest.from_json(text).to_json() == text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_the_same_model_gives_the_same_manifest(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)

    first = write_package(model, tmp_path / "one", input_example=X[:3])
    second = write_package(model, tmp_path / "two", input_example=X[:3])

    assert first.to_json() == second.to_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param("[]", "expected a JSON object", id="not-object"),
        pytest.param('{"format_version": 1}', "is None, expected", id="missing-field"),
        pytest.param(
            '{"format_version": "1"}', "format_version is '1', expected int", id="bad-type"
        ),
    ],
)
def test_a_malformed_manifest_is_a_store_error(text: str, message: str) -> None:
    with pytest.raises(StoreError, match="The model manifest is malformed") as caught:
        Manifest.from_json(text)

    assert message in str(caught.value)


def test_a_manifest_from_a_newer_loopml_asks_for_an_upgrade(tmp_path: Path) -> None:
    document = json.loads(write_package(Recorder(), tmp_path).to_json())
    document["format_version"] = 2

    with pytest.raises(StoreError, match="upgrade loopml"):
        Manifest.from_json(json.dumps(document))


def test_a_bad_signature_in_the_manifest_is_a_store_error(tmp_path: Path) -> None:
    document = json.loads(write_package(Recorder(), tmp_path, input_example=XA[:2]).to_json())
    document["signature"]["inputs"]["dtype"] = "float128"

    with pytest.raises(StoreError, match=r"malformed: Invalid signature: inputs.dtype"):
        Manifest.from_json(json.dumps(document))


# --- verification -------------------------------------------------------------------------


def test_a_tampered_pickle_is_refused_before_it_is_unpickled(tmp_path: Path) -> None:
    manifest = write_package(Recorder(), tmp_path, input_example=XA[:2])
    UNPICKLED.clear()
    model_file = tmp_path / "model.pkl"
    content = bytearray(model_file.read_bytes())
    content[-2] ^= 0x01
    model_file.write_bytes(bytes(content))

    with pytest.raises(StoreError) as caught:
        load_package(manifest, tmp_path)

    assert UNPICKLED == []
    message = str(caught.value)
    assert message.startswith("Model package file 'model.pkl' does not match the hash recorded")
    assert message.endswith("; refusing to load it.")
    assert manifest.files[1].digest[:12] in message


def test_an_untampered_pickle_is_unpickled(tmp_path: Path) -> None:
    manifest = write_package(Recorder(), tmp_path, input_example=XA[:2])
    UNPICKLED.clear()

    loaded = load_package(manifest, tmp_path)

    assert UNPICKLED == ["unpickled"]
    np.testing.assert_allclose(loaded.predict(XA[:2]), Recorder().predict(XA[:2]))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    manifest = write_package(Recorder(), tmp_path)
    (tmp_path / "requirements.txt").unlink()

    with pytest.raises(StoreError, match=r"'requirements\.txt' is missing"):
        verify_files(manifest, tmp_path)


def test_a_path_leading_outside_the_package_is_refused(tmp_path: Path) -> None:
    manifest = write_package(Recorder(), tmp_path / "pkg")
    escaping = PackageFile("../secret", manifest.files[0].digest, 1)
    forged = Manifest.from_json(manifest.to_json())
    forged = Manifest(**{**_fields(forged), "files": (escaping,)})

    with pytest.raises(StoreError, match="leads outside the package folder"):
        verify_files(forged, tmp_path / "pkg")


def test_a_loader_file_not_listed_in_the_manifest_is_refused(tmp_path: Path) -> None:
    manifest = write_package(Recorder(), tmp_path)
    unlisted = Manifest(**{**_fields(manifest), "loader": {"file": "other.pkl"}})

    with pytest.raises(StoreError, match=r"loader\.file 'other\.pkl' is not a listed file"):
        load_package(unlisted, tmp_path)


def test_repr_names_the_flavor_and_source(tmp_path: Path) -> None:
    manifest = write_package(LogisticRegression().fit(X, Y), tmp_path, input_example=X[:2])

    loaded = load_package(manifest, tmp_path, source="models:/churn/3")

    assert (
        repr(loaded)
        == "<PackagedModel flavor='sklearn', source='models:/churn/3', inputs=4 columns>"
    )


def _fields(manifest: Manifest) -> dict[str, Any]:
    return {name: getattr(manifest, name) for name in Manifest.__dataclass_fields__}
