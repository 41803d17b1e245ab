"""Batch scoring end to end: real registered scikit-learn models over CSV and Parquet
files, folders and dataset versions, locally and on a real Dask cluster of processes."""

from __future__ import annotations

import gc
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pa_parquet
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import loopml
from loopml.config import Settings
from loopml.data import INPUT_DATASET_TAG, DataRepo
from loopml.domain import Run, RunStatus
from loopml.errors import AlreadyExists, InvalidInput, LoopmlError, NotFound
from loopml.registry import INPUT_MODEL_TAG, ModelRegistry
from loopml.serving import _batch_dask
from loopml.serving._batch import ERROR_TAG, EXPERIMENT, predict_files
from loopml.serving._batch_io import find_inputs, plan_reading, read_chunks, split_parts
from loopml.serving._batch_score import plan_files
from loopml.tracking import Client, set_default_client

FEATURES = ["age", "income"]


def customers(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Key columns (id, region) around the model's two inputs, in a mixed order."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(18, 80, rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "income": rng.normal(50, 10, rows),
        }
    )


def register_churn(client: Client, *, labels: tuple[Any, Any] = (0, 1)) -> LogisticRegression:
    """Fit and register model ``churn`` (next version) on ``customers()``; the estimator."""
    frame = customers(300, seed=1)
    target = np.where(frame["income"] > 50, labels[1], labels[0])
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES], target)
    ModelRegistry(client).log_model(model, "churn", input_example=frame[FEATURES].head())
    return model


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """A client over an empty SQLite home, also the fluent API's default."""
    made = Client(settings, capture_environment=False)
    set_default_client(made)
    yield made
    while loopml.active_run() is not None:
        loopml.end_run()
    made.close()
    set_default_client(None)


@pytest.fixture
def churn(client: Client) -> LogisticRegression:
    return register_churn(client)


def write(frame: pd.DataFrame, path: Path, *, row_group_size: int | None = None) -> Path:
    """``frame`` as CSV or Parquet, by the path's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pa_parquet.write_table(table, path, row_group_size=row_group_size)
    return path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def files_outside_home(folder: Path) -> list[Path]:
    """What a job may have written: everything but the tracking home (model cache, db)."""
    return sorted(p for p in folder.rglob("*") if ".loopml" not in p.parts)


def batch_runs(client: Client) -> list[Run]:
    try:
        return client.search_runs_page(EXPERIMENT).runs
    except NotFound:  # no job ever started a run
        return []


def assert_scores(output: pd.DataFrame, frame: pd.DataFrame, model: LogisticRegression) -> None:
    assert list(output.columns) == ["id", "region", "prediction", "model_version"]
    np.testing.assert_array_equal(output["id"], frame["id"])
    np.testing.assert_array_equal(output["region"].astype(str), frame["region"])
    np.testing.assert_array_equal(output["prediction"], model.predict(frame[FEATURES]))
    assert set(output["model_version"].astype(str)) == {"churn/1"}


# -- what is written -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("in.parquet", "out.parquet"),
        ("in.csv", "out.csv"),
        ("in.csv", "out.parquet"),
        ("in.parquet", "out.csv"),
        ("in.pq", "out.pq"),
    ],
    ids=["parquet-parquet", "csv-csv", "csv-parquet", "parquet-csv", "pq-pq"],
)
def test_a_file_is_scored_like_model_predict_on_the_same_rows(
    client: Client, churn: LogisticRegression, tmp_path: Path, source: str, target: str
) -> None:
    frame = customers()
    result = predict_files("churn@latest", write(frame, tmp_path / source), tmp_path / target)
    assert_scores(read(tmp_path / target), frame, churn)
    assert (result.rows, result.files, result.model, result.version) == (200, 1, "churn", 1)
    assert result.output == tmp_path / target and result.rows_per_second > 0
    assert [p.name for p in files_outside_home(tmp_path)] == sorted({source, target})


def test_a_folder_is_scored_into_a_folder_of_parquet_files_at_the_same_paths(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    first, second = customers(50, seed=2), customers(70, seed=3)
    write(first, tmp_path / "in" / "b.parquet")
    write(second, tmp_path / "in" / "2026" / "a.csv")
    (tmp_path / "in" / "notes.txt").write_text("not a table")
    write(customers(5), tmp_path / "in" / ".hidden.csv")
    result = predict_files("churn/1", tmp_path / "in", tmp_path / "out")
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert written == ["2026", "2026/a.parquet", "b.parquet"]
    assert_scores(read(tmp_path / "out" / "b.parquet"), first, churn)
    assert_scores(read(tmp_path / "out" / "2026" / "a.parquet"), second, churn)
    assert (result.rows, result.files) == (120, 2)


def test_files_of_a_folder_are_found_in_a_stable_order(tmp_path: Path) -> None:
    for name in ("b.csv", "a/z.parquet", "a/c.pq", "B.csv"):
        write(customers(3), tmp_path / name)
    assert [f.relative for f in find_inputs(tmp_path)] == [
        "B.csv",
        "a/c.pq",
        "a/z.parquet",
        "b.csv",
    ]


def test_a_dataset_version_is_scored_and_recorded_as_the_run_input(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers()
    DataRepo(client).add(write(frame, tmp_path / "customers.parquet"), name="customers")
    result = predict_files("churn/1", "customers@v1", tmp_path / "scores.parquet")
    assert_scores(read(tmp_path / "scores.parquet"), frame, churn)
    run = client.get_run(result.run_id)
    assert run.tags[f"{INPUT_DATASET_TAG}customers"] == "1"
    assert run.params["source"] == "customers@v1"


def test_the_run_records_params_metrics_and_the_model_version_used(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    register_churn(client)
    ModelRegistry(client).set_alias("churn", "champion", 2)
    source = write(customers(), tmp_path / "in.parquet")
    result = predict_files("churn@champion", source, tmp_path / "out.parquet", chunk_rows=64)
    run = client.get_run(result.run_id)
    assert client.get_experiment(run.experiment_id).name == EXPERIMENT
    assert run.status is RunStatus.FINISHED and run.name == "predict churn/2"
    assert run.params == {
        "model_uri": "churn@champion",
        "model_version": "churn/2",
        "source": str(source),
        "output": str(tmp_path / "out.parquet"),
        "chunk_rows": 64,
        "executor": "local",
        "proba": False,
    }
    assert (run.metrics["rows"], run.metrics["files"]) == (200, 1)
    assert run.metrics["seconds"] == pytest.approx(result.seconds)
    assert run.metrics["rows_per_second"] == pytest.approx(200 / result.seconds)
    assert run.tags[f"{INPUT_MODEL_TAG}churn"] == "2"
    assert set(read(tmp_path / "out.parquet")["model_version"].astype(str)) == {"churn/2"}


def test_keys_default_to_every_column_the_model_does_not_take(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers().assign(segment="b2c")
    predict_files("churn/1", write(frame, tmp_path / "in.parquet"), tmp_path / "out.parquet")
    assert list(read(tmp_path / "out.parquet").columns) == [
        "id",
        "region",
        "segment",
        "prediction",
        "model_version",
    ]


def test_explicit_keys_are_written_in_the_order_given_even_model_inputs(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers()
    source = write(frame, tmp_path / "in.csv")
    predict_files("churn/1", source, tmp_path / "out.parquet", keys=["age", "id"])
    output = read(tmp_path / "out.parquet")
    assert list(output.columns) == ["age", "id", "prediction", "model_version"]
    np.testing.assert_array_equal(output["age"], frame["age"])
    np.testing.assert_array_equal(output["prediction"], churn.predict(frame[FEATURES]))


def test_proba_adds_a_column_per_class_named_by_the_class(client: Client, tmp_path: Path) -> None:
    model = register_churn(client, labels=("stays", "leaves"))
    frame = customers()
    source = write(frame, tmp_path / "in.parquet")
    predict_files("churn/1", source, tmp_path / "out.parquet", keys=["id"], proba=True)
    output = read(tmp_path / "out.parquet")
    assert list(output.columns) == [
        "id",
        "prediction",
        "proba_leaves",
        "proba_stays",
        "model_version",
    ]
    expected = model.predict_proba(frame[FEATURES])
    np.testing.assert_allclose(output[["proba_leaves", "proba_stays"]].to_numpy(), expected)
    assert list(output["prediction"].astype(str)) == list(model.predict(frame[FEATURES]))


def test_a_model_with_several_outputs_gets_numbered_prediction_columns(
    client: Client, tmp_path: Path
) -> None:
    frame = customers()
    targets = np.column_stack([frame["income"] * 2, frame["age"] - 1.0])
    model = LinearRegression().fit(frame[FEATURES], targets)
    ModelRegistry(client).log_model(model, "twin", input_example=frame[FEATURES].head())
    predict_files("twin/1", write(frame, tmp_path / "in.csv"), tmp_path / "out.csv")
    output = read(tmp_path / "out.csv")
    assert list(output.columns) == ["id", "region", "prediction_0", "prediction_1", "model_version"]
    np.testing.assert_allclose(output[["prediction_0", "prediction_1"]].to_numpy(), targets)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_small_chunks_give_the_same_output_as_one_chunk(
    client: Client, churn: LogisticRegression, tmp_path: Path, suffix: str
) -> None:
    source = write(customers(3000), tmp_path / f"in{suffix}", row_group_size=500)
    seen: list[int] = []
    predict_files("churn/1", source, tmp_path / "one.parquet", chunk_rows=10_000)
    predict_files(
        "churn/1",
        source,
        tmp_path / "many.parquet",
        chunk_rows=100,
        on_progress=lambda done, total: seen.append(done),
    )
    assert read(tmp_path / "many.parquet").equals(read(tmp_path / "one.parquet"))
    steps = np.diff([0, *seen])
    assert seen[-1] == 3000 and len(seen) >= 10 and steps.max() <= 500


def test_progress_knows_the_total_of_parquet_input_but_not_of_csv(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    calls: list[tuple[int, int | None]] = []
    write(customers(100), tmp_path / "in" / "a.parquet", row_group_size=40)
    predict_files(
        "churn/1",
        tmp_path / "in",
        tmp_path / "out",
        chunk_rows=40,
        on_progress=lambda *c: calls.append(c),
    )
    assert calls == [(40, 100), (80, 100), (100, 100)]
    calls.clear()
    write(customers(10), tmp_path / "in" / "b.csv")
    predict_files(
        "churn/1", tmp_path / "in", tmp_path / "out2", on_progress=lambda *c: calls.append(c)
    )
    assert calls[-1] == (110, None)


def test_a_file_bigger_than_a_chunk_is_streamed_with_bounded_memory(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    rows = 400_000
    frame = customers(rows).assign(
        **{f"extra_{i}": np.arange(rows, dtype=np.float64) for i in range(8)}
    )
    source = write(frame, tmp_path / "big.parquet", row_group_size=10_000)
    del frame
    decoded = pa_parquet.read_table(source).nbytes  # ~40 MB once decoded
    gc.collect()  # Arrow memory of earlier objects must not be freed during the job
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    held: list[int] = []
    predict_files(
        "churn/1",
        source,
        tmp_path / "out.parquet",
        chunk_rows=10_000,
        on_progress=lambda done, total: held.append(pool.bytes_allocated() - before),
    )
    assert len(held) == rows // 10_000
    # A few chunks (read ahead, scored, written behind) of ~1 MB each, however long the file.
    assert 0 < max(held) < decoded / 5, (max(held), decoded)


def test_blas_threads_are_limited_while_scoring_and_restored_after(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    import threadpoolctl

    def blas_threads() -> list[int]:
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    seen: list[list[int]] = []
    source = write(customers(1000), tmp_path / "in.parquet", row_group_size=200)
    predict_files(
        "churn/1",
        source,
        tmp_path / "out.parquet",
        chunk_rows=200,
        on_progress=lambda done, total: seen.append(blas_threads()),
    )
    limit = max(1, (os.cpu_count() or 1) - 2)
    assert len(seen) == 5 and all(n <= limit for threads in seen for n in threads), seen
    assert blas_threads() == before


def test_an_existing_output_is_replaced_with_overwrite(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers()
    source = write(frame, tmp_path / "in.parquet")
    (tmp_path / "out.parquet").write_text("old")
    predict_files("churn/1", source, tmp_path / "out.parquet", overwrite=True)
    assert_scores(read(tmp_path / "out.parquet"), frame, churn)
    (tmp_path / "folder").mkdir()
    write(frame, tmp_path / "folder" / "x.csv")
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "stale.parquet").write_text("old")
    predict_files("churn/1", tmp_path / "folder", tmp_path / "scores", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "scores").iterdir()) == ["x.parquet"]
    assert [p.relative_to(tmp_path).as_posix() for p in files_outside_home(tmp_path)] == [
        "folder",
        "folder/x.csv",
        "in.parquet",
        "out.parquet",
        "scores",
        "scores/x.parquet",
    ]


def test_the_output_folder_is_created_when_missing(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    source = write(customers(), tmp_path / "in.parquet")
    predict_files("churn/1", source, tmp_path / "a" / "b" / "out.parquet")
    assert (tmp_path / "a" / "b" / "out.parquet").is_file()


# -- CSV: types, quoting and missing values -------------------------------------------


def with_column_changing_after(rows: int, change_at: int, *, seed: int = 7) -> pd.DataFrame:
    """``customers(rows)`` whose ``age`` and key ``visits`` hold whole numbers, written
    without a decimal point, up to ``change_at`` (past the first MiB the job infers types
    from), and fractions from there on."""
    frame = customers(rows, seed=seed)
    rng = np.random.default_rng(seed)
    visits = rng.integers(0, 40, rows).astype(object)
    visits[change_at:] = rng.integers(0, 40, rows - change_at) + 0.25
    age = frame["age"].astype(object)
    age[change_at:] = age[change_at:] + 0.5
    return frame.assign(age=age, visits=visits)


def test_csv_chunks_share_the_signature_types_whatever_their_first_rows_hold(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers(3000).assign(income=lambda f: f["income"].round())
    frame.loc[2500:, "income"] += 0.125  # whole numbers first, then fractions
    source = tmp_path / "in.csv"
    frame.astype({"income": object}).assign(
        income=lambda f: [f"{v:g}" for v in f["income"]]
    ).to_csv(source, index=False)
    [file] = find_inputs(source)
    model = ModelRegistry(client).load_model("churn/1", record_input=False)
    [job] = plan_files(model, [file], keys=None, proba=False, chunk_rows=200, label="churn/1")
    parts = split_parts(0, file, job.plan, 200)
    chunks = [chunk for part in parts for chunk in read_chunks(file, job.plan, 200, part)]
    assert len(chunks) > 10
    assert {chunk.schema.field("income").type for chunk in chunks} == {pa.float64()}
    assert {chunk.schema.field("age").type for chunk in chunks} == {pa.int64()}
    predict_files("churn/1", source, tmp_path / "out.parquet", chunk_rows=200)
    by_hand = pd.read_csv(source)
    np.testing.assert_array_equal(
        read(tmp_path / "out.parquet")["prediction"], churn.predict(by_hand[FEATURES])
    )


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_key_of_integers_with_fractions_further_on_is_read_again_as_float(
    client: Client, churn: LogisticRegression, tmp_path: Path, executor: str
) -> None:
    frame = with_column_changing_after(60_000, 50_000).assign(age=customers(60_000)["age"])
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    seen: list[int] = []
    result = predict_files(
        "churn/1",
        source,
        tmp_path / "out.parquet",
        keys=["id", "visits"],
        chunk_rows=5_000,
        executor=executor,
        on_progress=lambda done, total: seen.append(done),
    )
    output = pa_parquet.read_table(tmp_path / "out.parquet")
    assert output.schema.field("visits").type == pa.float64()
    by_hand = pd.read_csv(source)
    assert by_hand["visits"].dtype == np.float64
    np.testing.assert_array_equal(output.column("visits").to_numpy(), by_hand["visits"])
    np.testing.assert_array_equal(output.column("id").to_numpy(), by_hand["id"])
    np.testing.assert_array_equal(
        output.column("prediction").to_numpy(), churn.predict(by_hand[FEATURES])
    )
    assert result.rows == seen[-1] == 60_000 and max(seen) == 60_000
    assert client.get_run(result.run_id).metrics["rows"] == 60_000
    assert not [p for p in files_outside_home(tmp_path) if p.name.startswith(".")]


def test_a_model_without_signature_gets_the_rows_pandas_reads_from_the_whole_file(
    client: Client, tmp_path: Path
) -> None:
    fit = customers(300, seed=1)
    model = LinearRegression().fit(fit[FEATURES], fit["income"] * 3 + fit["age"])
    ModelRegistry(client).log_model(model, "plain")  # no input example: no signature
    frame = with_column_changing_after(40_000, 35_000)
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    predict_files("plain/1", source, tmp_path / "out.csv", keys=["id"], chunk_rows=4_000)
    by_hand = pd.read_csv(source)
    assert by_hand["age"].dtype == np.float64  # 18, 19, ... then 18.5, ...
    output = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(output["id"], by_hand["id"])
    np.testing.assert_array_equal(output["prediction"], model.predict(by_hand[FEATURES]))


def test_quoted_csv_fields_keep_their_commas_and_quotes_across_chunks(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers(2000)
    names = np.array(["north, upper", 'say "hi"', "plain", "été, ça", '"', ""], dtype=object)
    frame["region"] = names[np.arange(2000) % len(names)]
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    assert b'"say ""hi"""' in source.read_bytes()
    predict_files("churn/1", source, tmp_path / "out.parquet", chunk_rows=150)
    output = pd.read_parquet(tmp_path / "out.parquet")
    assert list(output["region"]) == list(frame["region"])
    np.testing.assert_array_equal(output["prediction"], churn.predict(frame[FEATURES]))


def test_missing_numbers_in_key_columns_stay_missing(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers(3000).assign(ref=np.arange(3000, dtype=np.float64))
    frame.loc[[0, 5, 2999], "ref"] = np.nan  # an int column with holes, as pandas writes it
    source = tmp_path / "in.csv"
    frame.assign(ref=frame["ref"].astype("Int64")).to_csv(source, index=False)
    predict_files("churn/1", source, tmp_path / "out.parquet", chunk_rows=250)
    output = pa_parquet.read_table(tmp_path / "out.parquet")
    assert output.schema.field("ref").type == pa.int64()
    assert output.column("ref").null_count == 3
    np.testing.assert_array_equal(output.column("ref").to_pandas(), pd.read_csv(source)["ref"])
    np.testing.assert_array_equal(
        output.column("prediction").to_numpy(), churn.predict(frame[FEATURES])
    )


def test_a_missing_model_input_fails_the_job_as_it_fails_model_predict(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers(3000).astype({"income": object})
    frame.loc[2000, "income"] = None  # past the first rows the job's checks try
    source = write(frame, tmp_path / "in.csv")
    with pytest.raises(
        InvalidInput, match=r"failed on the input: ValueError: Input X contains NaN"
    ):
        predict_files("churn/1", source, tmp_path / "out.parquet", chunk_rows=500)
    with pytest.raises(ValueError, match=r"Input X contains NaN"):
        ModelRegistry(client).load_model("churn/1").predict(pd.read_csv(source)[FEATURES])
    assert not (tmp_path / "out.parquet").exists()
    [run] = batch_runs(client)
    assert run.status is RunStatus.FAILED


def test_parquet_row_groups_are_gathered_into_chunks_of_at_most_chunk_rows(
    tmp_path: Path,
) -> None:
    frame = customers(1000)
    [file] = find_inputs(write(frame, tmp_path / "in.parquet", row_group_size=30))
    plan = plan_reading(file, {}, 100)
    sizes = [chunk.num_rows for chunk in read_chunks(file, plan, 100)]
    assert sizes == [90] * 10 + [100]  # 33 groups of 30 and one of 10
    big = find_inputs(write(frame, tmp_path / "big.parquet", row_group_size=250))[0]
    plan = plan_reading(big, {}, 100)
    sizes = [chunk.num_rows for chunk in read_chunks(big, plan, 100)]
    assert sizes == [100, 100, 50] * 4
    whole = pa.concat_tables(read_chunks(big, plan, 100)).to_pandas()
    pd.testing.assert_frame_equal(whole, frame)


# -- refusals: a clear error, nothing written, no run --------------------------------

Setup = Callable[[Path], tuple[str, Path, Path, dict[str, Any]]]


def _good(tmp_path: Path, **options: Any) -> tuple[str, Path, Path, dict[str, Any]]:
    return "churn/1", write(customers(), tmp_path / "in.parquet"), tmp_path / "out.parquet", options


def _frame_with(path: Path, **columns: Any) -> Path:
    return write(customers().assign(**columns), path)


REFUSALS: dict[str, tuple[type[LoopmlError], str, Setup]] = {
    "unknown model": (NotFound, "'nobody'", lambda p: ("nobody/1", *_good(p)[1:])),
    "unknown version": (NotFound, "no version 7", lambda p: ("churn/7", *_good(p)[1:])),
    "unknown alias": (NotFound, "no alias 'gold'", lambda p: ("churn@gold", *_good(p)[1:])),
    "bad model uri": (InvalidInput, "Invalid model URI", lambda p: ("churn:1", *_good(p)[1:])),
    "missing input": (
        NotFound,
        "No file or folder at",
        lambda p: ("churn/1", p / "absent.parquet", p / "out.parquet", {}),
    ),
    "unknown dataset": (
        NotFound,
        "nothing",
        lambda p: ("churn/1", "nothing@v1", p / "out.parquet", {}),  # type: ignore[return-value]
    ),
    "unsupported input extension": (
        InvalidInput,
        "unsupported extension '.json'",
        lambda p: ("churn/1", _touch(p / "in.json"), p / "out.parquet", {}),
    ),
    "unsupported output extension": (
        InvalidInput,
        "unsupported extension '.json'",
        lambda p: ("churn/1", _good(p)[1], p / "out.json", {}),
    ),
    "csv output of a folder": (
        InvalidInput,
        "folder of Parquet files",
        lambda p: ("churn/1", write(customers(), p / "in" / "a.csv").parent, p / "out.csv", {}),
    ),
    "folder without tables": (
        InvalidInput,
        "holds no .csv, .parquet, .pq file",
        lambda p: ("churn/1", _touch(p / "in" / "a.txt").parent, p / "out", {}),
    ),
    "missing feature column": (
        InvalidInput,
        "lacks column 'income' (float64)",
        lambda p: (
            "churn/1",
            write(customers().drop(columns="income"), p / "in.csv"),
            p / "o.csv",
            {},
        ),
    ),
    "wrong dtype in parquet": (
        InvalidInput,
        "Column 'income' must be float64, got string",
        lambda p: ("churn/1", _frame_with(p / "in.parquet", income="high"), p / "o.parquet", {}),
    ),
    "wrong dtype in csv": (
        InvalidInput,
        "Column 'age' of",
        lambda p: ("churn/1", _frame_with(p / "in.csv", age="old"), p / "o.parquet", {}),
    ),
    "missing key column": (
        InvalidInput,
        "Key column 'customer' is not in input file",
        lambda p: _good(p, keys=["id", "customer"]),
    ),
    "key named like an output": (
        InvalidInput,
        "Key column 'prediction' has the name of an output column",
        lambda p: ("churn/1", _frame_with(p / "in.parquet", prediction=1), p / "o.parquet", {}),
    ),
    "empty csv file": (
        InvalidInput,
        "is empty",
        lambda p: ("churn/1", _touch(p / "in.csv"), p / "out.parquet", {}),
    ),
    "csv with a header only": (
        InvalidInput,
        "has no rows",
        lambda p: ("churn/1", write(customers(0), p / "in.csv"), p / "out.parquet", {}),
    ),
    "parquet without rows": (
        InvalidInput,
        "has no rows",
        lambda p: ("churn/1", write(customers(0), p / "in.parquet"), p / "out.parquet", {}),
    ),
    "proba of a model without it": (
        InvalidInput,
        "has no predict_proba",
        lambda p: ("twin/1", _good(p)[1], p / "out.parquet", {"proba": True}),
    ),
    "output inside the input folder": (
        InvalidInput,
        "inside the input folder",
        lambda p: ("churn/1", write(customers(), p / "in" / "a.csv").parent, p / "in" / "out", {}),
    ),
    "two inputs, one output path": (
        InvalidInput,
        "would both be scored into 'a.parquet'",
        lambda p: ("churn/1", _pair(p / "in"), p / "out", {}),
    ),
    "zero chunk rows": (InvalidInput, "chunk_rows must be", lambda p: _good(p, chunk_rows=0)),
    "unknown executor": (
        InvalidInput,
        "Unknown executor 'spark'",
        lambda p: _good(p, executor="spark"),
    ),
    "keys as one string": (InvalidInput, "keys must be a list", lambda p: _good(p, keys="id")),
}


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def _pair(folder: Path) -> Path:
    write(customers(), folder / "a.csv")
    write(customers(), folder / "a.parquet")
    return folder


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_bad_input_is_refused_before_anything_is_recorded_or_written(
    client: Client, churn: LogisticRegression, tmp_path: Path, case: str
) -> None:
    frame = customers()
    ModelRegistry(client).log_model(
        LinearRegression().fit(frame[FEATURES], frame["income"]),
        "twin",
        input_example=frame[FEATURES].head(),
    )
    error, message, setup = REFUSALS[case]
    model_uri, source, output, options = setup(tmp_path)
    before = files_outside_home(tmp_path)
    with pytest.raises(error, match=re.escape(message)):
        predict_files(model_uri, source, output, **options)
    assert files_outside_home(tmp_path) == before
    assert batch_runs(client) == []


def test_an_existing_output_is_refused_and_kept(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    source = write(customers(), tmp_path / "in.parquet")
    (tmp_path / "out.parquet").write_text("keep me")
    with pytest.raises(AlreadyExists, match="exists already; pass overwrite=True"):
        predict_files("churn/1", source, tmp_path / "out.parquet")
    assert (tmp_path / "out.parquet").read_text() == "keep me"
    assert batch_runs(client) == []


def test_a_failure_while_scoring_fails_the_run_and_keeps_the_old_output(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    frame = customers(80_000)
    frame["age"] = frame["age"].astype(str)
    frame.loc[70_000, "age"] = "unknown"  # past the first MiB the job's checks read
    source = write(frame, tmp_path / "in.csv")
    (tmp_path / "out.parquet").write_text("old")
    with pytest.raises(InvalidInput, match=r"Column 'age' of .* must be int64: .*'unknown'"):
        predict_files("churn/1", source, tmp_path / "out.parquet", chunk_rows=5_000, overwrite=True)
    assert (tmp_path / "out.parquet").read_text() == "old"
    assert [p.name for p in files_outside_home(tmp_path)] == ["in.csv", "out.parquet"]
    [run] = batch_runs(client)
    assert run.status is RunStatus.FAILED
    assert run.tags[ERROR_TAG].startswith("InvalidInput: Column 'age' of ")
    assert "rows" not in run.metrics


# -- parts and the Dask executor ------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_parts_of_a_file_hold_its_rows_once_in_order(tmp_path: Path, suffix: str) -> None:
    frame = customers(1000)
    [file] = find_inputs(write(frame, tmp_path / f"in{suffix}", row_group_size=90))
    plan = plan_reading(file, {}, 100)
    parts = split_parts(0, file, plan, 100)
    assert len(parts) > 5
    tables = [pa.concat_tables(read_chunks(file, plan, 100, part)) for part in parts]
    whole = pa.concat_tables(tables).to_pandas()
    pd.testing.assert_frame_equal(whole, frame, check_dtype=False)


def test_a_worker_loads_a_version_once_for_all_its_parts(
    client: Client, churn: LogisticRegression, tmp_path: Path, settings: Settings
) -> None:
    [file] = find_inputs(write(customers(300), tmp_path / "in.parquet", row_group_size=100))
    model = ModelRegistry(client).load_model("churn/1", record_input=False)
    [job] = plan_files(model, [file], keys=None, proba=False, chunk_rows=100, label="churn/1")
    version = ModelRegistry(client).resolve("churn/1")
    _batch_dask._MODELS.clear()
    scored = []
    for part in split_parts(0, file, job.plan, 100):
        target = tmp_path / f"part-{part.index}.arrow"
        task = _batch_dask.PartTask(
            settings,
            "churn",
            1,
            version.manifest_digest,
            file,
            job.plan,
            job.spec,
            part,
            100,
            str(target),
        )
        assert _batch_dask.score_part(task) == 100
        scored.append(pa.ipc.open_file(target).read_all())
        assert len(_batch_dask._MODELS) == 1
    [(key, loaded)] = _batch_dask._MODELS.items()
    assert key == (settings.store_uri, "churn", 1, version.manifest_digest)
    assert loaded.version == 1
    assert pa.concat_tables(scored).num_rows == 300


def test_dask_gives_the_same_output_as_local_and_records_it(
    client: Client, churn: LogisticRegression, tmp_path: Path
) -> None:
    write(customers(2000, seed=4), tmp_path / "in" / "a.parquet", row_group_size=150)
    write(customers(1500, seed=5), tmp_path / "in" / "b" / "c.csv")
    write(customers(30, seed=6), tmp_path / "in" / "d.csv")
    local = predict_files("churn/1", tmp_path / "in", tmp_path / "local", chunk_rows=300)
    seen: list[int] = []
    dask = predict_files(
        "churn/1",
        tmp_path / "in",
        tmp_path / "dask",
        chunk_rows=300,
        proba=False,
        executor="dask",
        on_progress=lambda done, total: seen.append(done),
    )
    for name in ("a.parquet", "b/c.parquet", "d.parquet"):
        assert read(tmp_path / "dask" / name).equals(read(tmp_path / "local" / name)), name
    assert (dask.rows, dask.files) == (local.rows, local.files) == (3530, 3)
    assert seen[-1] == 3530 and len(seen) > 10
    run = client.get_run(dask.run_id)
    assert (run.params["executor"], run.params["dask_address"]) == ("dask", "local cluster")
    assert run.status is RunStatus.FINISHED and math.isclose(run.metrics["rows"], 3530)
    assert not [p for p in files_outside_home(tmp_path) if p.name.startswith(".")]
