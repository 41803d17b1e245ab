"""Step outputs in the blob store: formats, round trips, outputs stored by earlier versions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.blobs import LocalBlobStore, put_bytes, read_bytes
from loopml.pipelines._values import load_value, save_value


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _numbers() -> pd.DataFrame:
    index = pd.Index([10, 11, 12], name="row")
    return pd.DataFrame(
        {"x": [0.5, 1.5, np.nan], "n": [1, 2, 3], "flag": [True, False, True]}, index=index
    )


@pytest.mark.parametrize(
    ("value", "magic"),
    [
        (_numbers(), b"ARROW1"),
        (pd.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]}), b"PAR1"),
        (pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}), b"PAR1"),
        (pa.table({"t": pa.array([1, 2], pa.timestamp("ms")), "f": [1.0, 2.0]}), b"ARROW1"),
        (pa.table({"s": [{"a": 1}, {"a": 2}]}), b"PAR1"),
    ],
    ids=["numbers", "strings", "categories", "arrow-times", "arrow-nested"],
)
def test_tables_of_numbers_are_arrow_ipc_others_parquet_and_both_read_back_equal(
    blobs: LocalBlobStore, value: pd.DataFrame | pa.Table, magic: bytes
) -> None:
    digest, kind, size = save_value(value, blobs, where="Step 'make'")
    stored = read_bytes(blobs, digest)
    assert stored.startswith(magic) and size == len(stored)
    loaded = load_value(digest, kind, blobs)
    assert loaded.equals(value)


def test_a_table_stored_as_parquet_by_an_earlier_version_still_loads(
    blobs: LocalBlobStore,
) -> None:
    frame = _numbers()
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=True), sink, compression="lz4")
    ref = put_bytes(blobs, bytes(sink.getvalue()))
    pd.testing.assert_frame_equal(load_value(ref.digest, "pandas", blobs), frame)


def test_a_loaded_frame_can_be_changed_in_place(blobs: LocalBlobStore) -> None:
    digest, kind, _ = save_value(_numbers(), blobs, where="Step 'make'")
    loaded = load_value(digest, kind, blobs)
    loaded.iloc[0, 0] = 7.0
    loaded["y"] = loaded["x"] * 2
    assert loaded.iloc[0, 0] == 7.0 and load_value(digest, kind, blobs).iloc[0, 0] == 0.5


def test_equal_values_get_the_same_digest(blobs: LocalBlobStore) -> None:
    first = save_value(_numbers(), blobs, where="Step 'make'")
    again = save_value(_numbers(), blobs, where="Step 'make'")
    assert first == again and first[0] == put_bytes(blobs, read_bytes(blobs, first[0])).digest


@pytest.mark.parametrize(
    "value",
    [None, 3, {"model": [1, 2]}, np.arange(12.0).reshape(3, 4)],
    ids=["none", "int", "dict", "array"],
)
def test_other_values_read_back_equal(blobs: LocalBlobStore, value: object) -> None:
    digest, kind, _ = save_value(value, blobs, where="Step 'make'")
    loaded = load_value(digest, kind, blobs)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(loaded, value)
    else:
        assert loaded == value
