"""10. Batch scoring: ``predict_files`` over 1,000,000 rows x 20 numeric features, against
calling the model directly and against doing it by hand with pandas.

The data: an ``id`` column and 20 float64 features drawn from ``numpy.random.default_rng``
with a fixed seed, written once as Parquet (row groups of 100,000 rows, snappy) and as
CSV (pyarrow's writer). The model: scikit-learn ``LogisticRegression`` fitted on the first
50,000 rows, registered in a fresh loopml home (``ModelRegistry.log_model`` with an input
example, so with a signature) and pickled beside it for the non-loopml cases.

Every case runs in one process (``measure``), one after the other, repetition after
repetition, so that they share the machine's state; medians:

- **(a) model.predict in memory**: the bare estimator's ``predict`` on the 1M-row
  feature DataFrame already in memory (read before timing). The ceiling: no I/O at all.
- **(b) by hand**: ``pandas.read_parquet`` + ``model.predict`` + a DataFrame of ``id`` and
  ``prediction`` written with ``to_parquet``: what a user would write without loopml.
- **(c) loopml local**: ``predict_files(MODEL@latest, input.parquet, output.parquet)``,
  the whole call: model load (hash checks included), the input checks, the tracked run,
  streaming in chunks of 100,000 rows, the output renamed into place.
- **(d) loopml on Dask** (report only): the same with ``executor="dask"``: a local
  cluster of one worker process per CPU started and stopped by the call, whose start is
  timed on its own too.
- **CSV**: (b) with ``pandas.read_csv``, against (c) reading the CSV (both write Parquet).
- **I/O alone** (report only): pyarrow reading the 21 columns and writing ``id``, a
  constant prediction and the version, no model: how much of (c) is reading and writing.

Every output of (b), (c) and (d) is compared, row by row, with (a)'s predictions; a
case whose output differs does not meet its goal. Goal: (c) at least 80% of (a)'s rows/s.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from _report import Row, format_value
from _workers import LOOPML, WORKSPACE, BenchError, JsonDict, median, run_worker, serve_worker

MODULE = "bench_batch.py"
BENCHMARK = (
    "10. batch scoring, 1M rows x 20 features, LogisticRegression (other column: see measure)"
)
DATA = WORKSPACE / "batch"
ROWS = 1_000_000
FEATURES = 20
ROW_GROUP = 100_000
FIT_ROWS = 50_000
SEED = 20_251_122
NAME = "bench-batch"
REPEATS = 5
CSV_REPEATS = 3
DASK_REPEATS = 3
GOAL_SHARE = 0.8
TIMEOUT = 1800


# -- worker side ------------------------------------------------------------------------


def _columns() -> list[str]:
    return [f"f{i:02d}" for i in range(FEATURES)]


def _client(home: str) -> Any:
    from loopml.config import load_settings
    from loopml.tracking import Client

    return Client(load_settings({"home": home}, environ={}), capture_environment=False)


def prepare(args: JsonDict) -> JsonDict:
    """Write the data as Parquet and CSV, fit the model, register and pickle it."""
    import pickle

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pa_parquet
    from sklearn.linear_model import LogisticRegression

    from loopml.registry import ModelRegistry

    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(ROWS, FEATURES))
    weights = rng.normal(size=FEATURES)
    names = _columns()
    table = pa.table({"id": np.arange(ROWS), **dict(zip(names, features.T, strict=True))})
    pa_parquet.write_table(table, args["parquet"], row_group_size=ROW_GROUP)
    pa_csv.write_csv(table, args["csv"])
    frame = table.slice(0, FIT_ROWS).to_pandas()[names]
    target = (features[:FIT_ROWS] @ weights + rng.normal(size=FIT_ROWS) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(frame, target)
    Path(args["model"]).write_bytes(pickle.dumps(model))
    client = _client(args["home"])
    version = ModelRegistry(client).log_model(model, NAME, input_example=frame.head())
    client.close()
    sizes = {key: Path(args[key]).stat().st_size for key in ("parquet", "csv")}
    return {"version": version.version, "bytes": sizes}


def _timed(action: Any) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _same(path: Path, expected: Any) -> bool:
    import numpy as np
    import pyarrow.parquet as pa_parquet

    table = pa_parquet.read_table(path, columns=["id", "prediction"])
    ids = table.column("id").to_numpy()
    return bool(
        np.array_equal(ids, np.arange(ROWS))
        and np.array_equal(table.column("prediction").to_numpy(), expected)
    )


def measure(args: JsonDict) -> JsonDict:
    """Every case, interleaved; seconds per repetition, and whether outputs agree."""
    import pickle

    import pandas as pd

    from loopml.serving._batch import predict_files

    names = _columns()
    model = pickle.loads(Path(args["model"]).read_bytes())
    in_memory = pd.read_parquet(args["parquet"], columns=names)
    expected = model.predict(in_memory)
    client = _client(args["home"])
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)

    def by_hand(read: Any, source: str) -> None:
        frame = read(source)
        scores = pd.DataFrame({"id": frame["id"], "prediction": model.predict(frame[names])})
        scores.to_parquet(out / "by-hand.parquet", index=False)

    def loopml(source: str, target: str, **options: Any) -> None:
        predict_files(
            f"{NAME}@latest", source, out / target, overwrite=True, client=client, **options
        )

    cases = {
        "direct": lambda: model.predict(in_memory),
        "by_hand": lambda: by_hand(pd.read_parquet, args["parquet"]),
        "loopml": lambda: loopml(args["parquet"], "loopml.parquet"),
        "io_only": lambda: _io_only(args["parquet"], out / "io.parquet"),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for action in cases.values():  # one untimed round: page cache, imports, model cache
        action()
    for _ in range(REPEATS):
        for name, action in cases.items():
            samples[name].append(_timed(action))
    agree = {"by_hand": _same(out / "by-hand.parquet", expected)}
    agree["loopml"] = _same(out / "loopml.parquet", expected)

    csv_cases = {
        "by_hand_csv": lambda: by_hand(pd.read_csv, args["csv"]),
        "loopml_csv": lambda: loopml(args["csv"], "loopml-csv.parquet"),
    }
    samples.update({name: [] for name in csv_cases})
    for _ in range(CSV_REPEATS):
        for name, action in csv_cases.items():
            samples[name].append(_timed(action))
    agree["by_hand_csv"] = _same(out / "by-hand.parquet", expected)
    agree["loopml_csv"] = _same(out / "loopml-csv.parquet", expected)

    samples["dask"] = [
        _timed(lambda: loopml(args["parquet"], "dask.parquet", executor="dask"))
        for _ in range(DASK_REPEATS)
    ]
    agree["dask"] = _same(out / "dask.parquet", expected)
    samples["cluster_start"] = [_cluster_start() for _ in range(DASK_REPEATS)]
    client.close()
    return {"samples": samples, "agree": agree}


def _io_only(source: str, target: Path) -> None:
    """Read the 21 columns and write the output's three, with no model in between."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pa_parquet

    reader = pa_parquet.ParquetFile(source, memory_map=True, pre_buffer=False)
    labels = pa.array([f"{NAME}/1"])
    writer = None
    for batch in reader.iter_batches(ROW_GROUP):
        rows = batch.num_rows
        version = pa.DictionaryArray.from_arrays(np.zeros(rows, np.int32), labels)
        prediction = pa.array(np.zeros(rows, np.int64))
        out = pa.RecordBatch.from_arrays(
            [batch.column("id"), prediction, version], ["id", "prediction", "model_version"]
        )
        writer = writer or pa_parquet.ParquetWriter(target, out.schema)
        writer.write_batch(out)
    if writer is not None:
        writer.close()


def _cluster_start() -> float:
    """Seconds to start and stop the local cluster a Dask job starts for itself."""
    import os

    import distributed

    began = time.perf_counter()
    with (
        distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
    ):
        pass
    return time.perf_counter() - began


# -- orchestrator side ------------------------------------------------------------------


def _rate(samples: list[float]) -> float:
    return ROWS / median(samples)


def _rows(result: JsonDict, sizes: JsonDict) -> list[Row]:
    samples, agree = result["samples"], result["agree"]
    rate = {name: _rate(values) for name, values in samples.items() if name != "cluster_start"}
    share_a = rate["loopml"] / rate["direct"]
    share_b = rate["loopml"] / rate["by_hand"]
    runs = "/".join(f"{s:.3f}" for s in samples["loopml"])
    same = all(agree.values())
    verdict = "every output equals model.predict" if same else f"OUTPUTS DIFFER: {agree}"
    parquet_mb, csv_mb = sizes["parquet"] / 1e6, sizes["csv"] / 1e6
    return [
        Row(
            BENCHMARK,
            "(c) loopml predict_files, Parquet, local (other: (a) model.predict in memory)",
            "rows/s",
            rate["loopml"],
            rate["direct"],
            higher_is_better=True,
            goal=f">={GOAL_SHARE:.0%} of (a) (the literal reading)",
            met=share_a >= GOAL_SHARE and same,
            note=f"{share_a:.0%} of (a); loopml runs {runs} s; {parquet_mb:.0f} MB Parquet; "
            f"{verdict}",
        ),
        Row(
            BENCHMARK,
            "(c) loopml predict_files, Parquet, local (other: (b) read_parquet + predict + "
            "to_parquet)",
            "rows/s",
            rate["loopml"],
            rate["by_hand"],
            higher_is_better=True,
            goal=f">={GOAL_SHARE:.0%} of (b), the same job by hand",
            met=share_b >= GOAL_SHARE and same,
            note=f"{share_b:.0%} of (b); (b) runs "
            + "/".join(f"{s:.3f}" for s in samples["by_hand"])
            + " s",
        ),
        Row(
            BENCHMARK,
            "I/O alone: pyarrow read of the 21 columns + write of the output, no model "
            "(other: (a))",
            "rows/s",
            rate["io_only"],
            rate["direct"],
            higher_is_better=True,
            note=f"(c) reaches {rate['loopml'] / rate['io_only']:.0%} of this floor; "
            f"(a) alone is {rate['direct'] / rate['io_only']:.1f}x faster than reading and "
            "writing the rows",
        ),
        Row(
            BENCHMARK,
            "loopml predict_files, CSV in, Parquet out (other: read_csv + predict + to_parquet)",
            "rows/s",
            rate["loopml_csv"],
            rate["by_hand_csv"],
            higher_is_better=True,
            goal=f">={GOAL_SHARE:.0%} of the same job by hand",
            met=rate["loopml_csv"] / rate["by_hand_csv"] >= GOAL_SHARE and same,
            note=f"{csv_mb:.0f} MB CSV; {CSV_REPEATS} repetitions; {rate['loopml_csv'] / rate['direct']:.0%} of (a)",
        ),
        Row(
            BENCHMARK,
            "(d) loopml predict_files on Dask, a local cluster started by the job "
            "(other: (c) local)",
            "rows/s",
            rate["dask"],
            rate["loopml"],
            higher_is_better=True,
            note=f"report only; starting and stopping the cluster alone takes "
            f"{median(samples['cluster_start']):.2f} s (median of {DASK_REPEATS})",
        ),
    ]


def run() -> list[Row]:
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {
        "parquet": str(DATA / "input.parquet"),
        "csv": str(DATA / "input.csv"),
        "model": str(DATA / "model.pkl"),
        "home": str(DATA / "home"),
        "out": str(DATA / "out"),
    }
    try:
        prepared = run_worker(LOOPML, MODULE, "prepare", paths, timeout=TIMEOUT)
        print(f"  data: {prepared['bytes']}", flush=True)
        result = run_worker(LOOPML, MODULE, "measure", paths, timeout=TIMEOUT)
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    if not result["agree"]:
        raise BenchError("the measure worker compared no output")
    rows = _rows(result, prepared["bytes"])
    for row in rows:
        print(
            f"  {row.measure}: loopml {format_value(row.loopml)}, other "
            f"{format_value(row.mlflow)} {row.unit}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    serve_worker(globals())
