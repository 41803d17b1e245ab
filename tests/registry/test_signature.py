"""Signatures: inference from examples, the dict form, and input enforcement."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from loopml.errors import InvalidInput
from loopml.registry._signature import ColumnSpec, Signature, TensorSpec, infer_signature
from loopml.registry._tabular import column_dtypes


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([41, 35, 29], dtype=np.int64),
            "income": [52.5, np.nan, 61.0],
            "city": ["Oslo", "Lima", "Pune"],
            "member": [True, False, True],
            "joined": pd.to_datetime(["2020-01-02", "2021-05-06", "2022-07-08"]),
        }
    )


AGE = ColumnSpec("age", "int64")
CITY = ColumnSpec("city", "string")
SCORE = ColumnSpec("score", "float64", nullable=True)
SIG = Signature((AGE, CITY, SCORE))


# --- inference ---------------------------------------------------------------------------


def test_infer_from_pandas_names_each_column_type() -> None:
    inputs = infer_signature(_frame()).inputs

    assert inputs == (
        ColumnSpec("age", "int64", nullable=False),
        ColumnSpec("income", "float64", nullable=True),
        ColumnSpec("city", "string", nullable=False),
        ColumnSpec("member", "bool", nullable=False),
        ColumnSpec("joined", "datetime", nullable=False),
    )


def test_infer_marks_float_columns_nullable_even_without_nan() -> None:
    inputs = infer_signature(pd.DataFrame({"x": [1.0, 2.0]})).inputs

    assert inputs == (ColumnSpec("x", "float64", nullable=True),)


def test_infer_reads_a_categorical_of_strings_as_string() -> None:
    frame = pd.DataFrame({"plan": pd.Categorical(["pro", "free", None])})

    assert infer_signature(frame).inputs == (ColumnSpec("plan", "string", nullable=True),)


def test_infer_from_polars_keeps_nullable_integers() -> None:
    frame = pl.DataFrame(
        {
            "n": [1, None, 3],
            "s": ["a", "b", None],
            "c": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "t": [dt.datetime(2020, 1, 1)] * 3,
            "u": pl.Series([1, 2, 3], dtype=pl.UInt16),
        }
    )

    assert infer_signature(frame).inputs == (
        ColumnSpec("n", "int64", nullable=True),
        ColumnSpec("s", "string", nullable=True),
        ColumnSpec("c", "string", nullable=False),
        ColumnSpec("t", "datetime", nullable=False),
        ColumnSpec("u", "uint16", nullable=False),
    )


def test_infer_from_dict_of_columns_reads_python_values() -> None:
    inputs = infer_signature({"n": [1, None], "f": [1, 2.5], "s": ["a", "b"]}).inputs

    assert inputs == (
        ColumnSpec("n", "int64", nullable=True),
        ColumnSpec("f", "float64", nullable=True),
        ColumnSpec("s", "string", nullable=False),
    )


def test_infer_from_dict_of_numpy_columns_uses_their_dtype() -> None:
    inputs = infer_signature({"n": np.array([1, 2], dtype=np.int32)}).inputs

    assert inputs == (ColumnSpec("n", "int32"),)


def test_infer_from_records() -> None:
    records = [{"age": 41, "city": "Oslo"}, {"age": 35, "city": None}]

    assert infer_signature(records).inputs == (
        ColumnSpec("age", "int64"),
        ColumnSpec("city", "string", nullable=True),
    )


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        pytest.param(np.zeros((5, 3), dtype=np.float32), TensorSpec("float32", (-1, 3)), id="2d"),
        pytest.param(np.arange(4), TensorSpec("int64", (-1,)), id="1d"),
        pytest.param(np.array(["a", "b"]), TensorSpec("string", (-1,)), id="strings"),
        pytest.param(np.zeros((2, 3, 4)), TensorSpec("float64", (-1, 3, 4)), id="3d"),
    ],
)
def test_infer_from_numpy_gives_a_tensor_with_a_batch_dimension(
    array: np.ndarray[Any, Any], expected: TensorSpec
) -> None:
    assert infer_signature(array).inputs == expected


def test_infer_output_from_predictions() -> None:
    signature = infer_signature(np.zeros((2, 3)), np.array([0, 1]))

    assert signature.outputs == TensorSpec("int64", (-1,))


@pytest.mark.parametrize(
    ("example", "message"),
    [
        pytest.param({}, "empty", id="empty-dict"),
        pytest.param([], "empty", id="empty-list"),
        pytest.param(3, "Cannot infer a signature from a int", id="scalar"),
        pytest.param(np.float64(1.0), "from a float64", id="numpy-scalar"),
        pytest.param(np.array(2.0), "single value", id="0d-array"),
        pytest.param([{"a": 1}, {"b": 2}], "Record 1 has keys ['b']", id="ragged-records"),
        pytest.param([[1, 2], [3, 4]], "not a list of records", id="list-of-lists"),
        pytest.param({"a": [{"x": 1}]}, "nested values", id="nested"),
        pytest.param({"a": [1, "x"]}, "mixes value types (e.g. 1 and 'x')", id="mixed"),
        pytest.param({"a": [None, None]}, "only nulls", id="all-null"),
        pytest.param(pd.DataFrame({"a": []}), "0 rows", id="no-rows"),
        pytest.param(pd.DataFrame(index=[0, 1]), "0 columns", id="no-columns"),
        pytest.param(np.zeros((0, 3)), "at least one row", id="empty-array"),
        pytest.param(
            pd.DataFrame(np.zeros((2, 2))), "Column names must be strings", id="int-names"
        ),
        pytest.param(
            pd.DataFrame({"t": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")}),
            "timezone-naive",
            id="tz-aware",
        ),
        pytest.param({"a": [1, 2], "b": [1]}, "different lengths", id="uneven-columns"),
        pytest.param(pd.Series([1, 2]), "from a Series", id="series"),
    ],
)
def test_infer_refuses_examples_it_cannot_describe(example: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        infer_signature(example)

    assert message in str(caught.value)


# --- the dict form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(SIG, id="columns"),
        pytest.param(
            Signature(TensorSpec("float32", (-1, 4)), TensorSpec("int64", (-1,))), id="tensor"
        ),
    ],
)
def test_dict_form_round_trips(signature: Signature) -> None:
    assert Signature.from_dict(signature.to_dict()) == signature


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"inputs": []}, "signature has no field 'outputs'", id="missing-field"),
        pytest.param(
            {"inputs": [{"name": "a", "type": "int", "nullable": False}], "outputs": None},
            "inputs[0].type of column 'a' is 'int'",
            id="bad-type",
        ),
        pytest.param(
            {"inputs": [{"name": "a", "type": "int64", "nullable": "no"}], "outputs": None},
            "inputs[0].nullable must be true or false",
            id="bad-nullable",
        ),
        pytest.param(
            {"inputs": {"dtype": "float64", "shape": [0]}, "outputs": None},
            "inputs.shape is [0]",
            id="bad-shape",
        ),
        pytest.param(
            {
                "inputs": {"dtype": "float64", "shape": [-1]},
                "outputs": {"dtype": "x", "shape": [-1]},
            },
            "outputs.dtype is 'x'",
            id="bad-output",
        ),
        pytest.param("nope", "signature must be an object", id="not-a-dict"),
    ],
)
def test_from_dict_names_the_bad_field(data: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Signature.from_dict(data)

    assert message in str(caught.value)


def test_a_signature_refuses_inputs_that_are_not_specs() -> None:
    with pytest.raises(InvalidInput, match="must be ColumnSpec objects or a TensorSpec"):
        Signature(("age",))  # type: ignore[arg-type]


def test_a_signature_refuses_duplicate_columns() -> None:
    with pytest.raises(InvalidInput, match="column 'age' more than once"):
        Signature((AGE, AGE))


# --- enforcement: accepted inputs ---------------------------------------------------------


def _rows() -> pd.DataFrame:
    return pd.DataFrame({"age": [41, 35], "city": ["Oslo", "Lima"], "score": [0.5, 0.25]})


def test_a_matching_frame_is_returned_without_a_copy() -> None:
    frame = _rows()

    assert SIG.prepare(frame) is frame


def test_a_matching_frame_as_an_array_shares_memory_when_floats() -> None:
    frame = pd.DataFrame(np.random.default_rng(0).random((5, 3)), columns=list("abc"))
    signature = infer_signature(frame)

    array = signature.prepare(frame, want="array")

    assert isinstance(array, np.ndarray)
    assert np.shares_memory(array, frame.to_numpy())


def test_columns_are_reordered_to_the_signature() -> None:
    prepared = SIG.prepare(_rows()[["score", "city", "age"]])

    assert isinstance(prepared, pd.DataFrame)
    assert list(prepared.columns) == ["age", "city", "score"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"city": "Oslo", "score": 0.5, "age": 41}, id="one-record"),
        pytest.param([{"city": "Oslo", "score": 0.5, "age": 41}], id="list-of-one-record"),
        pytest.param({"age": [41], "city": ["Oslo"], "score": [0.5]}, id="dict-of-columns"),
        pytest.param(pl.DataFrame({"age": [41], "city": ["Oslo"], "score": [0.5]}), id="polars"),
    ],
)
def test_each_input_kind_gives_the_same_frame(data: object) -> None:
    prepared = SIG.prepare(data)

    assert isinstance(prepared, pd.DataFrame)
    assert prepared.to_dict("records") == [{"age": 41, "city": "Oslo", "score": 0.5}]
    assert prepared["age"].dtype == np.int64
    assert prepared["score"].dtype == np.float64


def test_a_numpy_array_maps_columns_by_position() -> None:
    signature = Signature((ColumnSpec("a", "float64", True), ColumnSpec("b", "float64", True)))

    prepared = signature.prepare(np.array([[1.0, 2.0], [3.0, 4.0]]))

    assert isinstance(prepared, pd.DataFrame)
    assert prepared["b"].tolist() == [2.0, 4.0]


def test_a_one_dimensional_array_is_one_row() -> None:
    signature = Signature((ColumnSpec("a", "int64"), ColumnSpec("b", "float64", True)))

    prepared = signature.prepare(np.array([1, 2]), want="array")

    assert isinstance(prepared, np.ndarray)
    assert prepared.shape == (1, 2)
    assert prepared.dtype == np.float64


@pytest.mark.parametrize(
    ("spec", "values", "dtype"),
    [
        pytest.param(
            ColumnSpec("x", "int64"), np.array([1, 2], dtype=np.int8), "int64", id="int8-int64"
        ),
        pytest.param(ColumnSpec("x", "float64", True), np.array([1, 2]), "float64", id="int-float"),
        pytest.param(
            ColumnSpec("x", "float64", True),
            np.array([1.5], dtype=np.float32),
            "float64",
            id="f32-f64",
        ),
        pytest.param(
            ColumnSpec("x", "float32", True), np.array([7], dtype=np.int64), "float32", id="int-f32"
        ),
        pytest.param(
            ColumnSpec("x", "int32"), np.array([1], dtype=np.uint16), "int32", id="uint16-int32"
        ),
    ],
)
def test_safe_widening_is_accepted_and_converted(
    spec: ColumnSpec, values: np.ndarray[Any, Any], dtype: str
) -> None:
    prepared = Signature((spec,)).prepare(pd.DataFrame({"x": values}))

    assert isinstance(prepared, pd.DataFrame)
    assert prepared["x"].dtype == np.dtype(dtype)


def test_a_nullable_int_column_may_arrive_as_float_with_nan() -> None:
    signature = Signature((ColumnSpec("n", "int64", nullable=True),))

    prepared = signature.prepare([{"n": 1}, {"n": None}])

    assert isinstance(prepared, pd.DataFrame)
    assert prepared["n"].isna().tolist() == [False, True]


def test_a_nullable_int_column_of_whole_floats_becomes_int() -> None:
    signature = Signature((ColumnSpec("n", "int64", nullable=True),))

    prepared = signature.prepare(pd.DataFrame({"n": [1.0, 2.0]}))

    assert isinstance(prepared, pd.DataFrame)
    assert prepared["n"].dtype == np.int64


def test_datetime_columns_accept_iso_text() -> None:
    signature = Signature((ColumnSpec("t", "datetime"),))

    prepared = signature.prepare({"t": "2024-03-01T12:00:00"})

    assert isinstance(prepared, pd.DataFrame)
    assert prepared["t"].iloc[0] == pd.Timestamp("2024-03-01 12:00")


def test_string_columns_accept_object_and_categorical_values() -> None:
    signature = Signature((CITY,))

    for values in (pd.Series(["a"], dtype=object), pd.Series(["a"], dtype="category")):
        assert isinstance(signature.prepare(pd.DataFrame({"city": values})), pd.DataFrame)


# --- enforcement: refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"city": "Oslo", "score": 0.5},
            "Input is missing column 'age' (int64) that the model's signature requires.",
            id="missing",
        ),
        pytest.param(
            {"age": 1, "city": "Oslo", "score": 0.5, "foo": 1},
            "Input has unexpected column 'foo'; the signature expects: age, city, score.",
            id="unexpected",
        ),
        pytest.param(
            {"age": "abc", "city": "Oslo", "score": 0.5},
            "Column 'age' must be int64, got string (e.g. 'abc').",
            id="string-for-int",
        ),
        pytest.param(
            [{"age": 1, "city": None, "score": 0.5}, {"age": 2, "city": None, "score": 0.5}],
            "Column 'city' has 2 null values; the signature does not allow nulls.",
            id="nulls",
        ),
        pytest.param(
            pd.DataFrame({"age": [1.0, np.nan], "city": ["a", "b"], "score": [0.1, 0.2]}),
            "Column 'age' has 1 null value; the signature does not allow nulls.",
            id="nan-in-int",
        ),
        pytest.param(
            {"age": 1.5, "city": "Oslo", "score": 0.5},
            "Column 'age' must be int64, got float64 (e.g. 1.5).",
            id="float-for-int",
        ),
        pytest.param(
            {"age": 1, "city": 7, "score": 0.5},
            "Column 'city' must be string, got int64 (e.g. 7).",
            id="int-for-string",
        ),
        pytest.param(
            {"age": 1, "city": "Oslo", "score": "high"},
            "Column 'score' must be float64, got string (e.g. 'high').",
            id="string-for-float",
        ),
        pytest.param(
            np.zeros((2, 5)),
            "Input array has shape (2, 5); the signature expects 3 columns",
            id="width",
        ),
        pytest.param(pd.Series([1]), "Cannot use a Series as model input", id="series"),
        pytest.param(
            {"age": [1, 2], "city": "x", "score": [0.1, 0.2]},
            "mixes lists of values",
            id="mixed-dict",
        ),
    ],
)
def test_prepare_names_the_offending_column(data: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SIG.prepare(data)

    assert message in str(caught.value)


def test_narrowing_float64_to_float32_is_refused() -> None:
    signature = Signature((ColumnSpec("x", "float32", True),))

    with pytest.raises(InvalidInput, match="Column 'x' must be float32, got float64"):
        signature.prepare(pd.DataFrame({"x": [1.0]}))


def test_a_timezone_aware_column_is_refused() -> None:
    signature = Signature((ColumnSpec("t", "datetime"),))
    frame = pd.DataFrame({"t": pd.to_datetime(["2020-01-01"]).tz_localize("UTC")})

    with pytest.raises(InvalidInput, match="must be datetime without a timezone"):
        signature.prepare(frame)


def test_an_explicit_non_nullable_float_refuses_nan_on_every_path() -> None:
    signature = Signature((ColumnSpec("x", "float64", nullable=False),))

    for data in ({"x": float("nan")}, pd.DataFrame({"x": [np.nan]}), np.array([[np.nan]])):
        with pytest.raises(InvalidInput, match="Column 'x' has 1 null value"):
            signature.prepare(data)


def test_the_fast_path_still_scans_non_nullable_string_columns() -> None:
    frame = pd.DataFrame({"city": pd.Series(["a", None], dtype="str")})
    signature = Signature((CITY,))
    signature.prepare(pd.DataFrame({"city": pd.Series(["a"], dtype="str")}))  # warm the cache

    with pytest.raises(InvalidInput, match="Column 'city' has 1 null value"):
        signature.prepare(frame)


def test_a_large_integer_in_a_record_is_refused_not_wrapped() -> None:
    signature = Signature((ColumnSpec("x", "int8"),))

    with pytest.raises(InvalidInput, match="Column 'x' must be int8"):
        signature.prepare({"x": 300})


def test_a_numpy_scalar_that_would_wrap_is_refused() -> None:
    signature = Signature((ColumnSpec("x", "int8"),))

    with pytest.raises(InvalidInput, match="Column 'x' must be int8, got int64"):
        signature.prepare({"x": np.int64(300)})


# --- tensors ------------------------------------------------------------------------------


TENSOR = Signature(TensorSpec("float64", (-1, 3)))


def test_a_tensor_input_is_widened_and_returned_as_an_array() -> None:
    prepared = TENSOR.prepare(np.ones((2, 3), dtype=np.float32))

    assert isinstance(prepared, np.ndarray)
    assert prepared.dtype == np.float64


def test_a_single_sample_gets_a_batch_dimension() -> None:
    assert TENSOR.prepare(np.ones(3)).shape == (1, 3)


def test_a_tensor_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        TENSOR.prepare(np.ones((2, 4)))

    assert str(caught.value) == "Input must have shape (-1, 3) (-1: any size), got (2, 4)."


def test_a_tensor_that_would_narrow_is_refused() -> None:
    signature = Signature(TensorSpec("float32", (-1, 3)))

    with pytest.raises(InvalidInput, match="must be float32, got float64; narrowing"):
        signature.prepare(np.ones((2, 3)))


# --- the pandas internals behind the fast path --------------------------------------------


def test_column_dtypes_agrees_with_the_public_api() -> None:
    frame = _frame()

    assert column_dtypes(frame) == tuple(frame.dtypes)
