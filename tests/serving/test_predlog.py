"""The prediction log: records written off the request path to Parquet segments, read
back with DuckDB, with labels attached later; over a local SQLite home, moto's S3 server
and a real loopml server."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from loopml.config import Settings, load_settings
from loopml.errors import InvalidInput, NotFound, StoreError
from loopml.serving._predlog import PredictionLog, PredictionLogStats, open_prediction_log
from loopml.serving._predlog_labels import log_labels, record_feedback
from loopml.serving._predlog_query import prediction_relation, predictions
from loopml.serving._records import PredictionRecord, PredictionSink
from loopml.store import Stores
from loopml.tracking import Client

# moto's S3 server, a session fixture of the blob store tests, serves these tests too.
from tests.blobs.conftest import MOTO_BUCKET, aws_credentials, moto_server  # noqa: F401
from tests.server.conftest import server_process

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NAME = "churn-api"
STANDARD = ["request_id", "row", "time", "deployment", "model", "version", "target", "latency_ms"]


def record(
    request_id: str,
    at: datetime,
    inputs: list[Any],
    outputs: list[Any],
    *,
    version: int = 3,
    target: str = "champion",
    latency_ms: float = 2.5,
    shadows: dict[str, dict[str, Any]] | None = None,
    deployment: str | None = NAME,
) -> PredictionRecord:
    return PredictionRecord(
        request_id=request_id,
        time=at,
        deployment=deployment,
        model="churn",
        version=version,
        target=target,
        inputs=inputs,
        outputs=outputs,
        latency_ms=latency_ms,
        shadows=shadows or {},
    )


class WiredClient(Client):
    """A client whose blob and segment stores are wrapped (to slow or break them)."""

    def __init__(
        self,
        settings: Settings,
        blobs: Callable[[Any], Any] = lambda store: store,
        segments: Callable[[Any], Any] = lambda store: store,
    ) -> None:
        super().__init__(settings, capture_environment=False)
        self._wrap = (blobs, segments)
        self._wired: Stores | None = None

    @property
    def stores(self) -> Stores:
        stores = Client.stores.fget(self)  # type: ignore[attr-defined]
        if self._wired is None or self._stores is None:
            blobs, segments = self._wrap
            self._wired = dataclasses.replace(
                stores, blobs=blobs(stores.blobs), segments=segments(stores.segments)
            )
        return self._wired


class Delegate:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class StuckBlobs(Delegate):
    """``put_file`` waits until released: a disk that stopped answering."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.release = threading.Event()

    def put_file(self, path: Path) -> Any:
        self.entered.set()
        assert self.release.wait(30), "the test never released the stuck store"
        return self.inner.put_file(path)


class FlakyBlobs(Delegate):
    """``put_file`` fails while ``failing`` is set; counts its calls."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.failing = True
        self.puts = 0

    def put_file(self, path: Path) -> Any:
        self.puts += 1
        if self.failing:
            raise StoreError("Cannot write a blob: No space left on device.")
        return self.inner.put_file(path)


class FlakySegments(Delegate):
    """``add_segment`` fails while ``failing`` is set."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.failing = True

    def add_segment(self, draft: Any) -> Any:
        if self.failing:
            raise StoreError("The database is locked.")
        return self.inner.add_segment(draft)


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    made = Client(settings, capture_environment=False)
    yield made
    made.close()


@pytest.fixture
def plog(client: Client) -> Iterator[PredictionLog]:
    """A log that writes only when told (the timer is an hour)."""
    made = PredictionLog(NAME, client=client, flush_seconds=3600)
    yield made
    made.close()


def frame_of(rows: dict[str, list[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(v, dtype=dtypes.get(name)) for name, v in rows.items()})


def utc(*moments: datetime) -> list[pd.Timestamp]:
    return [pd.Timestamp(moment).tz_convert("UTC") for moment in moments]


# -- what is logged comes back -----------------------------------------------------------


def test_logged_records_come_back_exactly_in_time_order(client: Client) -> None:
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    later, earlier = T0 + timedelta(seconds=2), T0
    plog.log(record("b", later, [{"age": 41, "city": "Oslo"}], [0.25], latency_ms=4.0))
    plog.log(
        record(
            "a",
            earlier,
            [{"age": 30, "city": "Rome"}, {"age": 52, "city": None}, {"age": 19, "city": "Bonn"}],
            [0.5, 0.75, 1.0],
            version=4,
            target="7",
        )
    )
    plog.close()

    frame = predictions(NAME, client=client)

    expected = frame_of(
        {
            "request_id": ["a", "a", "a", "b"],
            "row": [0, 1, 2, 0],
            "time": utc(earlier, earlier, earlier, later),
            "deployment": [NAME] * 4,
            "model": ["churn"] * 4,
            "version": [4, 4, 4, 3],
            "target": ["7", "7", "7", "champion"],
            "latency_ms": [2.5, 2.5, 2.5, 4.0],
            "input.age": [30, 52, 19, 41],
            "input.city": ["Rome", None, "Bonn", "Oslo"],
            "output": [0.5, 0.75, 1.0, 0.25],
        },
        {
            "request_id": "str",
            "row": "int32",
            "time": "datetime64[us, UTC]",
            "deployment": "str",
            "model": "str",
            "target": "str",
            "version": "int64",
            "input.age": "int64",
            "input.city": "str",
        },
    )
    pd.testing.assert_frame_equal(frame, expected)


def test_a_request_split_over_routes_numbers_its_rows_as_sent(client: Client) -> None:
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    inputs = [{"age": 30}, {"age": 52}, {"age": 19}, {"age": 41}]
    champion = record("r", T0, [inputs[0], inputs[2], inputs[3]], [0, 2, 3], version=1)
    challenger = record("r", T0, [inputs[1]], [1], version=2, target="challenger")
    plog.log(dataclasses.replace(champion, rows=[0, 2, 3]))
    plog.log(dataclasses.replace(challenger, rows=[1]))
    plog.close()

    frame = predictions(NAME, client=client)

    assert frame["row"].tolist() == [0, 1, 2, 3]
    assert frame["input.age"].tolist() == [30, 52, 19, 41]
    assert frame["output"].tolist() == [0, 1, 2, 3]
    assert frame["version"].tolist() == [1, 2, 1, 1]


def test_a_record_with_rows_that_do_not_match_its_inputs_is_dropped(
    plog: PredictionLog, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    plog.log(dataclasses.replace(record("bad", T0, [{"x": 1}, {"x": 2}], [1, 2]), rows=[4]))
    plog.log(dataclasses.replace(record("good", T0, [{"x": 3}], [3]), rows=[7]))

    with caplog.at_level(logging.ERROR, logger="loopml.serving._predlog"):
        assert plog.flush() == 1

    assert "Dropping a malformed prediction record" in caplog.text
    assert "has 1 rows for 2 inputs" in caplog.text
    kept = predictions(NAME, client=client)
    assert kept[["request_id", "row"]].values.tolist() == [["good", 7]]


def test_input_fields_are_typed_per_batch_and_the_rest_is_json_text(
    plog: PredictionLog, client: Client
) -> None:
    inputs = [
        {"n": 1, "x": 1, "flag": True, "mixed": 1, "tags": ["a", "b"], "only_first": "z"},
        {"n": 2, "x": 2.5, "flag": False, "mixed": "one", "tags": None, "nested": {"k": 1}},
    ]
    plog.log(record("r", T0, inputs, [{"yes": 0.9}, None]))
    plog.close()

    frame = predictions(NAME, client=client)

    assert list(frame.columns) == [
        *STANDARD,
        "input.n",
        "input.x",
        "input.flag",
        "input.mixed",
        "input.tags",
        "input.only_first",
        "input.nested",
        "output",
    ]
    assert str(frame["input.n"].dtype) == "int64"
    assert frame["input.x"].tolist() == [1.0, 2.5]
    assert str(frame["input.x"].dtype) == "float64"
    assert frame["input.flag"].tolist() == [True, False]
    assert frame["input.mixed"].tolist() == ["1", '"one"']  # 1 and "one": JSON text
    assert frame["input.tags"].tolist()[0] == '["a","b"]'
    assert pd.isna(frame["input.tags"].tolist()[1])
    assert frame["input.only_first"].tolist()[0] == "z"
    assert pd.isna(frame["input.only_first"].tolist()[1])
    assert pd.isna(frame["input.nested"].tolist()[0])
    assert frame["input.nested"].tolist()[1] == '{"k":1}'
    assert frame["output"].tolist()[0] == '{"yes":0.9}'


def test_an_input_that_is_not_an_object_is_kept_as_json_text(
    plog: PredictionLog, client: Client
) -> None:
    plog.log(record("r", T0, [[1, 2], {"a": 1}], [0, 1]))
    plog.close()

    frame = predictions(NAME, client=client)

    assert frame["input"].tolist()[0] == "[1,2]"
    assert pd.isna(frame["input"].tolist()[1])
    assert frame["input.a"].tolist()[1] == 1


def test_shadows_get_a_version_and_output_column_each_and_an_error_column_when_failing(
    plog: PredictionLog, client: Client
) -> None:
    plog.log(
        record(
            "a",
            T0,
            [{"x": 1}, {"x": 2}],
            ["no", "yes"],
            shadows={
                "challenger": {"version": 5, "outputs": ["yes", "yes"]},
                "old": {"version": 1, "error": "RuntimeError: boom"},
            },
        )
    )
    plog.log(record("b", T0 + timedelta(seconds=1), [{"x": 3}], ["no"]))
    plog.close()

    frame = predictions(NAME, client=client)

    assert list(frame.columns)[-6:] == [
        "output",
        "shadow.challenger.version",
        "shadow.challenger.output",
        "shadow.old.version",
        "shadow.old.output",
        "shadow.old.error",
    ]
    assert frame["shadow.old.output"].isna().all()
    assert frame["shadow.challenger.output"].tolist()[:2] == ["yes", "yes"]
    assert pd.isna(frame["shadow.challenger.output"].tolist()[2])
    assert frame["shadow.challenger.version"].tolist()[:2] == [5, 5]
    assert frame["shadow.old.error"].tolist()[:2] == ["RuntimeError: boom"] * 2
    assert frame["shadow.old.version"].tolist()[:2] == [1, 1]


def test_a_log_of_a_served_model_has_no_deployment_and_takes_a_stream_name(
    client: Client,
) -> None:
    plog = PredictionLog("predictions:churn", client=client, flush_seconds=3600)
    plog.log(record("a", T0, [{"x": 1}], [1], deployment=None))
    plog.close()

    frame = predictions("churn", client=client)

    assert plog.stream == "predictions:churn"
    assert frame["deployment"].isna().tolist() == [True]


# -- segments and windows ------------------------------------------------------------------


def _three_flushes(plog: PredictionLog) -> None:
    for hour in range(3):
        at = T0 + timedelta(hours=hour)
        plog.log(record(f"h{hour}a", at, [{"x": hour}], [hour]))
        plog.log(record(f"h{hour}b", at + timedelta(minutes=30), [{"x": hour}], [hour]))
        assert plog.flush() == 2


def test_each_flush_writes_one_segment_spanning_its_rows(
    plog: PredictionLog, client: Client
) -> None:
    _three_flushes(plog)

    segments = client.stores.segments.list_segments(f"predictions:{NAME}")

    assert [(s.rows, s.first_time, s.last_time) for s in segments] == [
        (2, T0 + timedelta(hours=h), T0 + timedelta(hours=h, minutes=30)) for h in range(3)
    ]
    assert plog.stats() == PredictionLogStats(
        logged=6, dropped=0, flushed=6, segments=3, failed_flushes=0, held=0
    )


def test_a_window_reads_only_the_segments_it_overlaps(plog: PredictionLog, client: Client) -> None:
    _three_flushes(plog)
    first, _, last = client.stores.segments.list_segments(f"predictions:{NAME}")
    # Without the files of the first and last segments, only a pruned read can succeed.
    for segment in (first, last):
        Path(client.settings.home, "blobs", segment.digest[:2], segment.digest[2:]).unlink()
    since, until = T0 + timedelta(hours=1, minutes=10), T0 + timedelta(hours=1, minutes=40)

    frame = predictions(NAME, since=since, until=until, client=client)

    assert frame["request_id"].tolist() == ["h1b"]
    with pytest.raises(NotFound, match=r"Blob \w+ not found"):
        predictions(NAME, client=client)


def test_window_ends_are_included_and_may_be_in_any_time_zone(
    plog: PredictionLog, client: Client
) -> None:
    _three_flushes(plog)
    tokyo = timezone(timedelta(hours=9))

    frame = predictions(
        NAME,
        since=(T0 + timedelta(minutes=30)).astimezone(tokyo),
        until=T0 + timedelta(hours=1),
        client=client,
    )

    assert frame["request_id"].tolist() == ["h0b", "h1a"]
    assert predictions(NAME, since=T0 + timedelta(hours=3), client=client).empty


def test_an_unknown_deployment_gives_an_empty_frame_with_the_standard_columns(
    client: Client,
) -> None:
    frame = predictions("nobody", client=client, with_labels=True)

    assert frame.empty
    assert list(frame.columns) == [*STANDARD, "output", "label", "label_time"]
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"


def test_the_relation_aggregates_in_duckdb(plog: PredictionLog, client: Client) -> None:
    _three_flushes(plog)

    relation = prediction_relation(NAME, since=T0 + timedelta(hours=1), client=client)
    totals = relation.aggregate('count(*) AS n, sum("input.x") AS total').fetchall()

    assert totals == [(4, 6)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": T0, "until": T0 - timedelta(seconds=1)}, "The time window is empty"),
        ({"since": datetime(2026, 3, 1)}, "since must be a datetime with a time zone"),
        ({"until": "yesterday"}, "until must be a datetime with a time zone"),
        ({"with_labels": "yes"}, "with_labels must be True or False"),
    ],
    ids=["since-after-until", "naive", "not-a-time", "with-labels-not-bool"],
)
def test_bad_query_arguments_are_invalid_input(
    client: Client, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        predictions(NAME, client=client, **kwargs)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-lead", 3])
def test_a_bad_deployment_name_is_invalid_input(client: Client, name: Any) -> None:
    with pytest.raises(InvalidInput, match=r"Deployment .* is invalid"):
        predictions(name, client=client)


# -- the request path never waits --------------------------------------------------------


def test_log_never_blocks_while_a_flush_is_stuck(settings: Settings) -> None:
    client = WiredClient(settings, blobs=StuckBlobs)
    stuck = client.stores.blobs
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    plog.log(record("first", T0, [{"x": 0}], [0]))
    flushing = threading.Thread(target=plog.flush)
    flushing.start()
    assert stuck.entered.wait(10)

    took: list[float] = []

    def log_many() -> None:
        started = time.perf_counter()
        for i in range(10_000):
            plog.log(record(f"r{i}", T0, [{"x": i}], [i]))
        took.append(time.perf_counter() - started)

    logger = threading.Thread(target=log_many)
    logger.start()
    logger.join(10)
    try:
        assert not logger.is_alive(), "log() waited for the stuck flush"
        assert took[0] < 1.0  # the flush is held indefinitely; logging is ~microseconds each
    finally:
        stuck.release.set()
        flushing.join(10)
    plog.close()
    client.close()
    assert plog.stats().flushed == 10_001


def test_a_full_buffer_drops_and_counts_while_a_flush_holds_rows(settings: Settings) -> None:
    client = WiredClient(settings, blobs=StuckBlobs)
    stuck = client.stores.blobs
    plog = PredictionLog(NAME, client=client, flush_seconds=3600, max_buffer_rows=5)
    plog.log(record("a", T0, [{"x": 1}, {"x": 2}, {"x": 3}], [1, 2, 3]))
    flushing = threading.Thread(target=plog.flush)
    flushing.start()
    assert stuck.entered.wait(10)

    plog.log(record("b", T0, [{"x": 4}, {"x": 5}], [4, 5]))  # 5 held: fits
    plog.log(record("c", T0, [{"x": 6}], [6]))  # the sixth row: dropped

    assert plog.stats() == PredictionLogStats(
        logged=5, dropped=1, flushed=0, segments=0, failed_flushes=0, held=5
    )
    stuck.release.set()
    flushing.join(10)
    plog.close()
    assert plog.stats() == PredictionLogStats(
        logged=5, dropped=1, flushed=5, segments=2, failed_flushes=0, held=0
    )
    assert predictions(NAME, client=client)["request_id"].tolist() == ["a", "a", "a", "b", "b"]
    client.close()


def test_a_failing_blob_store_keeps_the_rows_and_a_later_flush_writes_them(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = WiredClient(settings, blobs=FlakyBlobs)
    flaky = client.stores.blobs
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    plog.log(record("a", T0, [{"x": 1}], [1]))

    with caplog.at_level(logging.WARNING, logger="loopml.serving._predlog"):
        assert plog.flush() == 0
    assert "cannot write 1 rows; they are kept for the next flush" in caplog.text
    assert "No space left on device" in caplog.text
    plog.log(record("b", T0 + timedelta(seconds=1), [{"x": 2}], [2]))
    assert plog.flush() == 0
    assert client.stores.segments.list_segments(f"predictions:{NAME}") == []
    assert plog.stats().failed_flushes == 2
    assert plog.stats().held == 2

    flaky.failing = False
    assert plog.flush() == 2

    assert predictions(NAME, client=client)["request_id"].tolist() == ["a", "b"]
    assert plog.stats() == PredictionLogStats(
        logged=2, dropped=0, flushed=2, segments=1, failed_flushes=2, held=0
    )
    plog.close()
    client.close()


def test_a_failed_segment_record_is_retried_with_the_same_blob(settings: Settings) -> None:
    client = WiredClient(settings, blobs=FlakyBlobs, segments=FlakySegments)
    counted, flaky = client.stores.blobs, client.stores.segments
    counted.failing = False
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    plog.log(record("a", T0, [{"x": 1}], [1]))
    assert plog.flush() == 0
    plog.log(record("b", T0, [{"x": 2}], [2]))
    assert plog.flush() == 0  # the first blob is not recorded yet: nothing new is written
    assert counted.puts == 1

    flaky.failing = False
    assert plog.flush() == 2

    assert counted.puts == 2  # the retried segment was not written again
    segments = client.stores.segments.list_segments(f"predictions:{NAME}")
    assert [s.rows for s in segments] == [1, 1]
    assert predictions(NAME, client=client)["request_id"].tolist() == ["a", "b"]
    plog.close()
    client.close()


def test_close_writes_the_buffer_and_later_records_are_dropped(
    plog: PredictionLog, client: Client
) -> None:
    plog.log(record("a", T0, [{"x": 1}], [1]))
    plog.close()
    plog.log(record("late", T0, [{"x": 1}, {"x": 2}], [1, 2]))
    plog.close()  # a second close does nothing

    assert plog.stats() == PredictionLogStats(
        logged=1, dropped=2, flushed=1, segments=1, failed_flushes=0, held=0
    )
    assert predictions(NAME, client=client)["request_id"].tolist() == ["a"]


def test_close_counts_and_reports_rows_it_cannot_write(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = WiredClient(settings, blobs=FlakyBlobs)
    plog = PredictionLog(NAME, client=client, flush_seconds=3600)
    plog.log(record("a", T0, [{"x": 1}, {"x": 2}], [1, 2]))

    with caplog.at_level(logging.WARNING, logger="loopml.serving._predlog"):
        plog.close()

    assert "lost 2 unwritten rows" in caplog.text
    assert plog.stats().dropped == 2
    assert plog.stats().held == 0
    client.close()


def test_a_malformed_record_is_dropped_and_the_rest_of_its_batch_written(
    plog: PredictionLog, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    plog.log(record("good", T0, [{"x": 1}], [1]))
    plog.log(record("bad", T0, [{"x": 1}, {"x": 2}], [1, 2], version="three"))  # type: ignore[arg-type]
    plog.log(record("fine", T0, [{"x": 3}], [3]))

    with caplog.at_level(logging.ERROR, logger="loopml.serving._predlog"):
        assert plog.flush() == 2

    assert "Dropping a malformed prediction record" in caplog.text
    assert predictions(NAME, client=client)["request_id"].tolist() == ["fine", "good"]
    assert plog.stats() == PredictionLogStats(
        logged=4, dropped=2, flushed=2, segments=1, failed_flushes=0, held=0
    )


def test_the_thread_flushes_on_its_own(client: Client) -> None:
    plog = PredictionLog(NAME, client=client, flush_seconds=0.05)
    plog.log(record("a", T0, [{"x": 1}], [1]))
    deadline = time.monotonic() + 10
    while plog.stats().flushed < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the background thread's timer, not for a timestamp
    assert plog.stats().flushed == 1
    plog.close()


def test_the_log_is_a_prediction_sink_built_from_settings(settings: Settings) -> None:
    plog = open_prediction_log(NAME, settings)
    assert isinstance(plog, PredictionSink)
    plog.log(record("a", T0, [{"x": 1}], [1]))
    plog.close()

    with Client(settings, capture_environment=False) as client:
        assert predictions(NAME, client=client)["request_id"].tolist() == ["a"]


def test_the_settings_give_the_flush_interval_and_buffer_bound(home: Path) -> None:
    settings = load_settings(
        {"home": home},
        environ={"LOOPML_PREDICTION_FLUSH_SECONDS": "0.5", "LOOPML_PREDICTION_BUFFER_ROWS": "2"},
    )
    plog = PredictionLog(NAME, settings=settings)
    plog.log(record("a", T0, [{"x": 1}, {"x": 2}, {"x": 3}], [1, 2, 3]))
    plog.close()

    assert (settings.prediction_flush_seconds, settings.prediction_buffer_rows) == (0.5, 2)
    assert plog.stats().dropped == 3
    with pytest.raises(InvalidInput, match="prediction_buffer_rows: must be at least 1"):
        load_settings({"home": home, "prediction_buffer_rows": 0}, environ={})


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("bad name", {}, "Deployment name 'bad name' is invalid"),
        ("labels:churn-api", {}, "Prediction log stream 'labels:churn-api' is invalid"),
        (NAME, {"flush_seconds": 0}, "flush_seconds must be a number of seconds above 0"),
        (NAME, {"flush_seconds": 7200}, "and at most 3600, got 7200"),
        (NAME, {"max_buffer_rows": 0}, "max_buffer_rows must be a whole number from 1, got 0"),
        (NAME, {"max_buffer_rows": 2.5}, "max_buffer_rows must be a whole number from 1"),
    ],
    ids=["name", "other-kind", "zero-interval", "long-interval", "zero-bound", "float-bound"],
)
def test_bad_log_arguments_are_invalid_input(
    client: Client, name: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        PredictionLog(name, client=client, **kwargs)


def test_a_client_and_settings_together_are_refused(client: Client) -> None:
    with pytest.raises(TypeError, match="a client or settings, not both"):
        PredictionLog(NAME, client=client, settings=client.settings)


# -- labels ------------------------------------------------------------------------------


def _two_requests(plog: PredictionLog) -> None:
    plog.log(record("a", T0, [{"x": 1}, {"x": 2}], [0, 1]))
    plog.log(record("b", T0 + timedelta(seconds=1), [{"x": 3}], [1]))
    plog.close()


def labelled(client: Client) -> list[tuple[str, int, Any, Any]]:
    frame = predictions(NAME, with_labels=True, client=client)
    return [
        (
            r.request_id,
            r.row,
            None if pd.isna(r.label) else r.label,
            None if pd.isna(r.label_time) else r.label_time,
        )
        for r in frame.itertuples()
    ]


def test_a_label_without_a_row_applies_to_every_row_of_its_request(
    plog: PredictionLog, client: Client
) -> None:
    _two_requests(plog)

    assert log_labels(NAME, {"a": 1}, client=client, at=T0 + timedelta(hours=1)) == 1

    assert labelled(client) == [
        ("a", 0, 1, pd.Timestamp(T0 + timedelta(hours=1))),
        ("a", 1, 1, pd.Timestamp(T0 + timedelta(hours=1))),
        ("b", 0, None, None),
    ]


def test_the_latest_label_wins_row_specific_or_not(plog: PredictionLog, client: Client) -> None:
    _two_requests(plog)
    hour = timedelta(hours=1)
    log_labels(NAME, {"a": 1, "b": 0}, client=client, at=T0 + hour)
    log_labels(NAME, [{"request_id": "a", "row": 1, "label": 0}], client=client, at=T0 + 2 * hour)
    log_labels(NAME, [{"request_id": "b", "label": 1}], client=client, at=T0 + 3 * hour)
    # Older than what is known for "b": it does not win.
    log_labels(NAME, [{"request_id": "b", "row": 0, "label": 5}], client=client, at=T0)

    assert labelled(client) == [
        ("a", 0, 1, pd.Timestamp(T0 + hour)),
        ("a", 1, 0, pd.Timestamp(T0 + 2 * hour)),
        ("b", 0, 1, pd.Timestamp(T0 + 3 * hour)),
    ]


def test_of_equally_new_labels_the_one_written_last_wins(
    plog: PredictionLog, client: Client
) -> None:
    _two_requests(plog)
    at = T0 + timedelta(hours=1)
    first = [
        {"request_id": "b", "label": 1},
        {"request_id": "b", "label": 2},  # later in the same call: wins
        {"request_id": "a", "label": 3},  # further down its file than the next call's 4
    ]
    log_labels(NAME, first, client=client, at=at)
    log_labels(NAME, [{"request_id": "a", "label": 4}], client=client, at=at)

    assert [label for _, _, label, _ in labelled(client)] == [4, 4, 2]


def test_labels_come_as_a_mapping_a_list_or_a_dataframe(
    plog: PredictionLog, client: Client
) -> None:
    _two_requests(plog)
    frame = pd.DataFrame({"request_id": ["a", "a"], "row": [0, np.nan], "label": [0.5, 0.25]})

    assert log_labels(NAME, frame, client=client, at=T0 + timedelta(hours=1)) == 2
    assert log_labels(NAME, [], client=client) == 0

    assert [label for _, _, label, _ in labelled(client)] == [0.25, 0.25, None]
    (segment,) = client.stores.segments.list_segments(f"labels:{NAME}")
    assert segment.rows == 2


def test_labels_of_mixed_kinds_are_kept_as_json_text(plog: PredictionLog, client: Client) -> None:
    _two_requests(plog)
    log_labels(NAME, {"a": "churned", "b": 1}, client=client)

    assert [label for _, _, label, _ in labelled(client)] == ['"churned"', '"churned"', "1"]


def test_feedback_bodies_log_labels(plog: PredictionLog, client: Client) -> None:
    _two_requests(plog)

    assert record_feedback(NAME, b'{"request_id": "b", "label": true}', client) == 1
    assert (
        record_feedback(NAME, {"labels": [{"request_id": "a", "row": 0, "label": False}]}, client)
        == 1
    )

    assert [label for _, _, label, _ in labelled(client)] == [False, None, True]


_BAD_LABELS: dict[str, tuple[Any, str]] = {
    "not-a-collection": (42, "Labels must be a mapping of request id to label"),
    "text": ("a:1", "Labels must be a mapping"),
    "item-not-object": ([{"request_id": "a", "label": 1}, 5], r"labels\[1\] must be an object"),
    "no-label": ([{"request_id": "a"}], r"labels\[0\] has no 'label'"),
    "unknown-field": (
        [{"request_id": "a", "label": 1, "lable": 2}],
        r"labels\[0\] has unknown field\(s\) \['lable'\]",
    ),
    "empty-id": (
        [{"request_id": "a", "label": 1}, {"request_id": " ", "label": 1}],
        r"labels\[1\]: request_id must be non-empty text, got ' '",
    ),
    "id-not-text": ({7: 1}, r"labels\[7\]: request_id must be non-empty text, got 7"),
    "null-label": ({"a": None}, r"labels\['a'\]: label must be a number, a boolean or text"),
    "nan-label": ({"a": float("nan")}, "label must be a number, a boolean or text .* got nan"),
    "list-label": ({"a": [1]}, r"label must be .* got \[1\]"),
    "negative-row": (
        [{"request_id": "a", "label": 1, "row": -1}],
        r"row must be a whole number from 0",
    ),
    "bool-row": ([{"request_id": "a", "label": 1, "row": True}], "row must be a whole number"),
    "frame-columns": (
        pd.DataFrame({"id": ["a"], "label": [1]}),
        r"missing \['request_id'\].*unknown \['id'\]",
    ),
    "frame-nan-label": (
        pd.DataFrame({"request_id": ["a", "b"], "label": [1.0, np.nan]}),
        "labels row 1: label must be",
    ),
}


@pytest.mark.parametrize(("labels", "message"), list(_BAD_LABELS.values()), ids=list(_BAD_LABELS))
def test_bad_labels_are_refused_naming_the_first_bad_one_and_nothing_is_written(
    client: Client, labels: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        log_labels(NAME, labels, client=client)

    assert client.stores.segments.list_streams("labels:") == []


@pytest.mark.parametrize(
    ("deployment", "at", "message"),
    [
        ("bad name", None, "Deployment name 'bad name' is invalid"),
        (NAME, datetime(2026, 3, 1), "at must be a datetime with a time zone"),
    ],
    ids=["name", "naive-time"],
)
def test_bad_label_arguments_are_refused(
    client: Client, deployment: str, at: datetime | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        log_labels(deployment, {"a": 1}, client=client, at=at)
    assert client.stores.segments.list_streams("labels:") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The feedback body is not valid JSON"),
        (b"[1, 2]", "The feedback body must be"),
        ({"labels": {"a": 1}}, "'labels' must be a list of label objects"),
        ({"labels": [], "extra": 1}, r"unknown field\(s\) \['extra'\] beside 'labels'"),
        ({"request_id": "a"}, r"labels\[0\] has no 'label'"),
    ],
    ids=["not-json", "not-object", "labels-not-list", "extra-field", "single-no-label"],
)
def test_bad_feedback_bodies_are_refused(client: Client, body: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        record_feedback(NAME, body, client)
    assert client.stores.segments.list_streams("labels:") == []


# -- other stores --------------------------------------------------------------------------


@pytest.mark.s3
def test_an_s3_blob_store_round_trip_fetches_each_segment_once(
    moto_server: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    prefix = f"predlog-{tmp_path.name}"
    settings = load_settings(
        {
            "home": tmp_path / ".loopml",
            "blob_uri": f"s3://{MOTO_BUCKET}/{prefix}",
            "s3_endpoint_url": moto_server,
        },
        environ={},
    )
    with Client(settings, capture_environment=False) as client:
        plog = PredictionLog(NAME, client=client, flush_seconds=3600)
        plog.log(record("a", T0, [{"x": 1.5, "city": "Oslo"}], ["yes"]))
        plog.close()
        log_labels(NAME, {"a": "yes"}, client=client, at=T0)

        first = predictions(NAME, with_labels=True, client=client)
        cached = sorted(p.name for p in (settings.home / "cache" / "segments").iterdir())
        s3 = boto3.client("s3", endpoint_url=moto_server)
        for key in s3.list_objects_v2(Bucket=MOTO_BUCKET, Prefix=prefix)["Contents"]:
            s3.delete_object(Bucket=MOTO_BUCKET, Key=key["Key"])
        s3.close()
        again = predictions(NAME, with_labels=True, client=client)  # from the cache alone
        segments = client.stores.segments.list_segments(f"predictions:{NAME}")

    assert first[["request_id", "input.x", "input.city", "output", "label"]].values.tolist() == [
        ["a", 1.5, "Oslo", "yes", "yes"]
    ]
    assert len(cached) == 2 and segments[0].digest in cached
    pd.testing.assert_frame_equal(first, again)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_process(tmp_path_factory.mktemp("predlog-server") / ".loopml") as url:
        yield url


def test_the_log_works_through_a_loopml_server(live_server: str, tmp_path: Path) -> None:
    settings = load_settings(
        {"tracking_uri": live_server, "home": tmp_path / ".loopml", "http_timeout": 10},
        environ={},
    )
    with Client(settings, capture_environment=False) as client:
        plog = PredictionLog(NAME, client=client, flush_seconds=3600)
        plog.log(record("a", T0, [{"x": 1}, {"x": 2}], [0, 1]))
        plog.close()
        assert log_labels(NAME, [{"request_id": "a", "row": 1, "label": 1}], client=client) == 1

        frame = predictions(NAME, with_labels=True, client=client)

    assert frame[["request_id", "row", "input.x", "output"]].values.tolist() == [
        ["a", 0, 1, 0],
        ["a", 1, 2, 1],
    ]
    assert pd.isna(frame["label"][0]) and frame["label"][1] == 1
