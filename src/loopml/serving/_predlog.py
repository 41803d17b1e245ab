"""The prediction log: every prediction appended, off the request path, to Parquet
segments in the blob store (the writer, :class:`PredictionLog`).

``log`` puts the record in an in-memory buffer under a lock and returns: no I/O, no
serialisation. A background thread writes the buffer every ``prediction_flush_seconds``
(and at ``close``) as ONE Parquet file (zstd), stores it as a blob and records it as a
segment of stream ``predictions:NAME`` (see :mod:`loopml.domain.logs`). The layout of a
segment (one row per scored input record) is described in :func:`prediction_table`;
reading, and labels, live in :mod:`loopml.serving._predlog_query`.

**What a crash loses.** A process that dies without ``close`` (SIGKILL, power cut)
loses the rows still in memory: at most those logged during the last flush interval plus
those of the flush in progress. While the store is failing, the rows kept for the next
attempt are at risk too (up to ``prediction_buffer_rows``). A clean shutdown
(``close``) writes everything first.

**A slow or failing store never blocks a request.** A write that fails (store down,
disk full) keeps its rows for the next flush and logs a warning; a write that hangs
only delays the thread. Meanwhile ``log`` keeps returning at once, and once the rows
held (buffered, being written, or waiting for a retry) reach ``prediction_buffer_rows``
new records are dropped and counted (:meth:`PredictionLog.stats`). A segment whose blob
was stored but whose record failed is recorded again with the same draft, which the
store accepts once: a retry never duplicates rows.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from loopml.domain.logs import SegmentDraft, check_stream_name
from loopml.domain.names import check_deployment_name
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from loopml.blobs import BlobStore
    from loopml.config import Settings
    from loopml.serving._records import PredictionRecord
    from loopml.tracking import Client

__all__ = [
    "LABELS_KIND",
    "PREDICTIONS_KIND",
    "PredictionLog",
    "PredictionLogStats",
    "json_text",
    "log_stream",
    "open_prediction_log",
    "prediction_table",
    "value_column",
    "write_segment",
]

logger = logging.getLogger(__name__)

PREDICTIONS_KIND = "predictions"
LABELS_KIND = "labels"
_CLOSE_TIMEOUT_S = 60.0
_MAX_FLUSH_SECONDS = 3600.0  # as the setting allows


def log_stream(kind: str, name: object) -> str:
    """The stream ``KIND:NAME`` of a deployment's log (``predictions``, ``labels``).

    Raises:
        InvalidInput: ``name`` cannot name a deployment.
    """
    return check_stream_name(f"{kind}:{check_deployment_name(name)}")


@dataclass(frozen=True, slots=True)
class PredictionLogStats:
    """Counts of a :class:`PredictionLog` since it was opened, in rows (one per scored
    input record) unless said otherwise.

    Attributes:
        logged: rows accepted by ``log``.
        dropped: rows not kept: refused by a full buffer or a closed log, or still
            unwritten when ``close`` gave up.
        flushed: rows written and recorded in a segment.
        segments: segments recorded.
        failed_flushes: writes that failed (each kept its rows for the next one).
        held: rows accepted and not yet recorded in a segment.
    """

    logged: int
    dropped: int
    flushed: int
    segments: int
    failed_flushes: int
    held: int


class PredictionLog:
    """A :class:`~loopml.serving.PredictionSink` writing Parquet segments in the
    background; see the module docstring for what it guarantees.

    Args:
        name: the deployment (or served model) whose log this is, or the stream itself
            (``predictions:NAME``).
        client: the client whose stores receive the segments.
        settings: settings to open a client with (closed by :meth:`close`); give
            ``client`` or ``settings``, not both. The fluent API's default client
            when neither is given.
        flush_seconds: seconds between two writes; ``prediction_flush_seconds`` when
            not given.
        max_buffer_rows: the most rows held in memory; ``prediction_buffer_rows``
            when not given.

    Raises:
        InvalidInput: a malformed name, or a bound that is not positive.
        TypeError: both ``client`` and ``settings`` are given.

    Example:
        >>> log = PredictionLog("churn-api", settings=load_settings())
        >>> app = create_serving_app(source, settings=settings, sink=log)
    """

    def __init__(
        self,
        name: str,
        *,
        client: Client | None = None,
        settings: Settings | None = None,
        flush_seconds: float | None = None,
        max_buffer_rows: int | None = None,
    ) -> None:
        if client is not None and settings is not None:
            raise TypeError("PredictionLog takes a client or settings, not both.")
        self._stream = _prediction_stream(name)
        self._client, self._owns_client = _client_for(client, settings)
        configured = self._client.settings
        self._interval = _flush_seconds(
            configured.prediction_flush_seconds if flush_seconds is None else flush_seconds
        )
        self._bound = _buffer_rows(
            configured.prediction_buffer_rows if max_buffer_rows is None else max_buffer_rows
        )
        self._lock = threading.Lock()  # guards the buffer and the counts
        self._flush_lock = threading.Lock()  # one write at a time
        self._records: list[PredictionRecord] = []
        self._unrecorded: list[SegmentDraft] = []  # stored blobs whose record failed
        self._held = self._logged = self._dropped = 0
        self._flushed = self._segments = self._failed = 0
        self._is_failing = False
        self._closed = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loopml-prediction-log", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"PredictionLog({self._stream!r})"

    @property
    def stream(self) -> str:
        """The stream the segments go to (``predictions:NAME``)."""
        return self._stream

    def log(self, record: PredictionRecord) -> None:
        """Take one record: append it to the buffer, or drop and count it when the
        buffer is full or the log closed. Never blocks on storage, never raises for
        a full buffer."""
        rows = len(record.inputs)
        with self._lock:
            if self._closed or self._held + rows > self._bound:
                self._dropped += rows
                return
            self._records.append(record)
            self._held += rows
            self._logged += rows

    def flush(self) -> int:
        """Write what is buffered now (waiting for a write in progress first).

        Returns:
            The rows recorded in segments by this call; a failed write returns 0, keeps
            its rows for the next flush and logs a warning; it never raises.
        """
        with self._flush_lock:
            return self._flush()

    def stats(self) -> PredictionLogStats:
        """The counts so far (for ``/metrics``)."""
        with self._lock:
            return PredictionLogStats(
                logged=self._logged,
                dropped=self._dropped,
                flushed=self._flushed,
                segments=self._segments,
                failed_flushes=self._failed,
                held=self._held,
            )

    def close(self, timeout: float = _CLOSE_TIMEOUT_S) -> None:
        """Write what is buffered, stop the thread and close an owned client; later
        records are dropped and counted. Rows that cannot be written now are lost, with a
        warning saying how many.

        Args:
            timeout: seconds to wait for the last write.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning(
                "The prediction log %s is still writing after %.0f s; %d rows may be lost.",
                self._stream,
                timeout,
                self.stats().held,
            )
            return  # the thread still uses the client: leave it open
        with self._lock:
            lost, self._held = self._held, 0
            self._dropped += lost
        if lost:
            logger.warning("The prediction log %s lost %d unwritten rows.", self._stream, lost)
        if self._owns_client:
            self._client.close()

    # -- the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            is_last = self._closed
            try:
                self.flush()
            except Exception:  # a bug, not storage: keep the thread alive and say so
                logger.exception("The prediction log %s failed to flush.", self._stream)
            if is_last:
                return

    def _flush(self) -> int:
        written = self._record_unrecorded()
        if self._unrecorded:
            return written  # the store refuses records: new segments would wait too
        with self._lock:
            batch, self._records = self._records, []
        if not batch:
            return written
        table = self._table_of(batch)
        if table is None or table.num_rows == 0:
            return written
        try:
            draft = write_segment(self._client.stores.blobs, self._stream, table)
        except Exception as exc:  # store down, disk full: keep the rows for the next flush
            self._note_failure(exc, table.num_rows)
            with self._lock:
                self._records[:0] = batch
            return written
        self._unrecorded.append(draft)
        return written + self._record_unrecorded()

    def _record_unrecorded(self) -> int:
        written = 0
        while self._unrecorded:
            draft = self._unrecorded[0]
            try:
                self._client.stores.segments.add_segment(draft)
            except Exception as exc:
                self._note_failure(exc, draft.rows)
                return written
            self._unrecorded.pop(0)
            written += draft.rows
            with self._lock:
                self._held -= draft.rows
                self._flushed += draft.rows
                self._segments += 1
        if written and self._is_failing:
            self._is_failing = False
            logger.warning("The prediction log %s is writing again.", self._stream)
        return written

    def _note_failure(self, exc: Exception, rows: int) -> None:
        with self._lock:
            self._failed += 1
        if not self._is_failing:  # once per outage, not once per flush
            self._is_failing = True
            logger.warning(
                "The prediction log %s cannot write %d rows; they are kept for the next "
                "flush: %s: %s",
                self._stream,
                rows,
                type(exc).__name__,
                exc,
            )

    def _table_of(self, batch: list[PredictionRecord]) -> pa.Table | None:
        """The table of ``batch``, without the records that cannot become one (dropped
        and counted: they never could be written, and retrying them would block the
        log). None when none can, or the rest still cannot be combined."""
        try:
            return prediction_table(batch)
        except Exception:
            pass
        kept, rows = [], 0
        for record in batch:
            try:
                prediction_table([record])
            except Exception:
                logger.exception("Dropping a malformed prediction record of %s.", self._stream)
                rows += len(record.inputs)
            else:
                kept.append(record)
        try:
            table: pa.Table | None = prediction_table(kept)
        except Exception:
            logger.exception("Dropping %d prediction records of %s.", len(kept), self._stream)
            rows, table = rows + sum(len(record.inputs) for record in kept), None
        with self._lock:
            self._held -= rows
            self._dropped += rows
        return table


def open_prediction_log(name: str, settings: Settings) -> PredictionLog:
    """A :class:`PredictionLog` over its own client, for ``serve(sink_factory=...)``:
    ``functools.partial(open_prediction_log, "churn-api")`` pickles to the workers.

    Raises:
        InvalidInput: a malformed name.
    """
    return PredictionLog(name, settings=settings)


# -- the segment layout -----------------------------------------------------------------


def prediction_table(records: Sequence[PredictionRecord]) -> pa.Table:
    """The Arrow table of a batch of records: one row per scored input record.

    Columns: ``request_id``, ``row`` (the record's index in the request: its position
    in the record's inputs, or the index :attr:`PredictionRecord.rows` gives), ``time``
    (UTC, microseconds), ``deployment``, ``model``, ``version``, ``target``,
    ``latency_ms``; then each input field as ``input.<field>`` (typed by Arrow over the
    batch, null where a record lacks it, JSON text when its values are lists, objects or
    of mixed kinds; an input that is not an object goes to ``input`` as JSON text); the
    prediction as ``output`` (same typing); and per shadow target
    ``shadow.<target>.version``, ``shadow.<target>.output`` and, when one failed,
    ``shadow.<target>.error``.
    """
    import numpy as np
    import pyarrow as pa

    counts = np.fromiter((len(r.inputs) for r in records), dtype=np.int64, count=len(records))
    which = pa.array(np.repeat(np.arange(len(records)), counts))
    starts = np.repeat(np.cumsum(counts) - counts, counts)

    def per_request(values: list[Any], kind: pa.DataType) -> pa.Array:
        return pa.array(values, type=kind).take(which)

    columns: dict[str, pa.Array] = {
        "request_id": per_request([r.request_id for r in records], pa.string()),
        "row": _row_column(records, counts, starts),
        "time": per_request([r.time for r in records], pa.timestamp("us", tz="UTC")),
        "deployment": per_request([r.deployment for r in records], pa.string()),
        "model": per_request([r.model for r in records], pa.string()),
        "version": per_request([r.version for r in records], pa.int64()),
        "target": per_request([r.target for r in records], pa.string()),
        "latency_ms": per_request([r.latency_ms for r in records], pa.float64()),
    }
    columns.update(_input_columns([item for r in records for item in r.inputs]))
    outputs = [out for r in records for out in _fitted(r.outputs, len(r.inputs))]
    columns["output"] = value_column(outputs)
    for target in dict.fromkeys(t for r in records for t in r.shadows):
        answers = [r.shadows.get(target, {}) for r in records]
        prefix = f"shadow.{target}."
        columns[prefix + "version"] = per_request([a.get("version") for a in answers], pa.int64())
        shadow_outputs = [
            out
            for r, a in zip(records, answers, strict=True)
            for out in _fitted(a.get("outputs") or [], len(r.inputs))
        ]
        columns[prefix + "output"] = value_column(shadow_outputs)
        errors = [a.get("error") for a in answers]
        if any(error is not None for error in errors):
            columns[prefix + "error"] = per_request([_text(e) for e in errors], pa.string())
    return pa.table(columns)


def _row_column(
    records: Sequence[PredictionRecord], counts: np.ndarray[Any, Any], starts: np.ndarray[Any, Any]
) -> pa.Array:
    """Each row's index in its request: positions, unless a record carries its own.

    Raises:
        ValueError: a record's ``rows`` do not number its inputs one each.
    """
    import numpy as np
    import pyarrow as pa

    rows = np.arange(int(counts.sum())) - starts
    carried = [(i, r.rows) for i, r in enumerate(records) if r.rows is not None]
    if not carried:
        return pa.array(rows, type=pa.int32())
    firsts = np.cumsum(counts) - counts
    for i, numbers in carried:
        if len(numbers) != len(records[i].inputs):
            raise ValueError(
                f"A prediction record of request {records[i].request_id!r} has "
                f"{len(numbers)} rows for {len(records[i].inputs)} inputs."
            )
        rows[firsts[i] : firsts[i] + len(numbers)] = numbers
    return pa.array(rows, type=pa.int32())


def value_column(values: list[Any]) -> pa.Array:
    """One column of JSON values: typed by Arrow when they are scalars of one kind
    (numbers, booleans, text; ints and floats mixed are floats), else JSON text."""
    import pyarrow as pa

    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _json_column(values)
    return _json_column(values) if pa.types.is_nested(array.type) else array


def json_text(value: Any) -> str:
    """``value`` as JSON text; what JSON cannot hold (a set, a date) as its ``str``."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # orjson refuses ints beyond 64 bits and non-text keys
        import json

        return json.dumps(value, default=str)


def write_segment(blobs: BlobStore, stream: str, table: pa.Table) -> SegmentDraft:
    """Write ``table`` (with a ``time`` column) to a temporary Parquet file (zstd), store
    it as a blob, and return the segment draft to record.

    Raises:
        StoreError, Unavailable: the blob store cannot be written.
        OSError: the temporary file cannot be written.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="loopml-segment-") as folder:
        path = Path(folder) / "segment.parquet"
        pq.write_table(table, path, compression="zstd")
        ref = blobs.put_file(path)
    span = pc.min_max(table["time"])
    return SegmentDraft(
        stream=stream,
        digest=ref.digest,
        rows=table.num_rows,
        size=ref.size,
        first_time=span["min"].as_py(),
        last_time=span["max"].as_py(),
    )


def _input_columns(inputs: list[Any]) -> dict[str, pa.Array]:
    import pyarrow as pa

    objects = [item if isinstance(item, dict) else {} for item in inputs]
    columns: dict[str, pa.Array] = {}
    try:
        # One pass in C over all the records; falls back to Python per field when the
        # batch mixes kinds in a field (1 and "a"), which Arrow refuses to infer.
        struct: pa.Array | None = pa.array(objects)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        struct = None
    if struct is not None and pa.types.is_struct(struct.type):
        for index in range(struct.type.num_fields):
            field = struct.type.field(index).name
            child = struct.field(index)
            if pa.types.is_nested(child.type):
                child = _json_column([item.get(field) for item in objects])
            columns[f"input.{field}"] = child
    else:
        for field in dict.fromkeys(key for item in objects for key in item):
            columns[f"input.{field}"] = value_column([item.get(field) for item in objects])
    if any(not isinstance(item, dict) for item in inputs):
        columns["input"] = _json_column([None if isinstance(i, dict) else i for i in inputs])
    return columns


def _json_column(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    return pa.array([None if v is None else json_text(v) for v in values], type=pa.string())


def _fitted(values: Sequence[Any], rows: int) -> Sequence[Any]:
    """``values`` cut or padded with nulls to ``rows`` (outputs should match inputs)."""
    if len(values) == rows:
        return values
    return [*values[:rows], *([None] * (rows - len(values)))]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _prediction_stream(name: object) -> str:
    if isinstance(name, str) and ":" in name:
        kind, _, rest = name.partition(":")
        if kind != PREDICTIONS_KIND:
            raise InvalidInput(
                f"Prediction log stream {name!r} is invalid: use a deployment name "
                f"(e.g. 'churn-api') or 'predictions:NAME'."
            )
        name = rest
    return log_stream(PREDICTIONS_KIND, name)


def _client_for(client: Client | None, settings: Settings | None) -> tuple[Client, bool]:
    if client is not None:
        return client, False
    if settings is not None:
        from loopml.tracking import Client

        return Client(settings, capture_environment=False), True
    from loopml.tracking import default_client

    return default_client(), False


def _flush_seconds(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= _MAX_FLUSH_SECONDS
    ):
        raise InvalidInput(
            f"flush_seconds must be a number of seconds above 0 and at most "
            f"{_MAX_FLUSH_SECONDS:g}, got {value!r}."
        )
    return float(value)


def _buffer_rows(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"max_buffer_rows must be a whole number from 1, got {value!r}.")
    return value
