"""Reading the prediction log: the segments of a time window, queried in place with DuckDB.

The segment index (:class:`~loopml.store.SegmentStore`) names the Parquet files whose
rows overlap the window; only those are read. A local blob store's files are read where
they lie; other stores' (S3, a loopml server) are fetched once into
``LOOPML_HOME/cache/segments/DIGEST`` and reused (a digest names one content forever).
DuckDB reads them as one table (``union_by_name``: a column missing from a file is
null there), with the window's bounds pushed down to the files' row-group statistics.

:func:`predictions` returns a DataFrame; :func:`prediction_relation` the same rows as a
DuckDB relation, for monitoring to aggregate without materialising them::

    rel = prediction_relation("churn-api", since=day_start, until=day_end)
    rel.aggregate('avg("input.age") AS mean_age, count(*) AS n').df()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.blobs import LocalBlobStore
from loopml.domain.logs import Segment, check_window
from loopml.errors import InvalidInput, StoreError
from loopml.serving._predlog import LABELS_KIND, PREDICTIONS_KIND, log_stream

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from loopml.tracking import Client

__all__ = ["LABEL_COLUMNS", "STANDARD_COLUMNS", "prediction_relation", "predictions"]

STANDARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "VARCHAR"),
    ("row", "INTEGER"),
    ("time", "TIMESTAMPTZ"),
    ("deployment", "VARCHAR"),
    ("model", "VARCHAR"),
    ("version", "BIGINT"),
    ("target", "VARCHAR"),
    ("latency_ms", "DOUBLE"),
    ("output", "VARCHAR"),
)
"""The columns every prediction log has, with their DuckDB types (``output`` takes the
type of the predictions; VARCHAR when there are none)."""

LABEL_COLUMNS: tuple[tuple[str, str], ...] = (("label", "VARCHAR"), ("label_time", "TIMESTAMPTZ"))
"""The columns ``with_labels=True`` adds (``label`` takes the type of the labels)."""

_ORDER = 'time, request_id, "row"'
_PID = "__loopml_pid"


def predictions(
    deployment: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    with_labels: bool = False,
    client: Client | None = None,
) -> pd.DataFrame:
    """The logged predictions of a deployment, one row per scored input record.

    Args:
        deployment: the deployment (or served model) whose log to read.
        since: the earliest prediction time included (a datetime with a time zone);
            open when not given.
        until: the latest prediction time included; open when not given.
        with_labels: add ``label`` and ``label_time``: the latest label logged for the
            row, a label without a row counting for every row of its request.
        client: the client whose stores hold the log; the fluent API's default client
            when not given.

    Returns:
        The rows ordered by time, request id and row, with the columns described in
        :func:`~loopml.serving._predlog.prediction_table`; no rows (but the standard
        columns) when the deployment has logged nothing.

    Raises:
        InvalidInput: a malformed name, a time without a time zone, or ``since`` after
            ``until``.
        StoreError, Unavailable: a segment cannot be fetched or read.

    Example:
        >>> frame = loopml.predictions("churn-api", since=datetime.now(UTC) - timedelta(days=1))
        >>> frame["input.age"].mean()
    """
    relation = prediction_relation(
        deployment, since=since, until=until, with_labels=with_labels, client=client
    )
    with _read_errors(deployment):
        return _frame(relation.order(_ORDER))


def _frame(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """The relation as a DataFrame, its times as UTC datetimes.

    DuckDB's own conversion of TIMESTAMPTZ to pandas calls a pandas API that pandas 3
    deprecates (a warning on every read), so times leave DuckDB as UTC wall-clock
    TIMESTAMPs and get their zone back here.
    """
    zoned = [
        name
        for name, kind in zip(relation.columns, relation.types, strict=True)
        if str(kind) == "TIMESTAMP WITH TIME ZONE"
    ]
    if zoned:
        naive = ", ".join(f"timezone('UTC', {_quoted(n)}) AS {_quoted(n)}" for n in zoned)
        relation = relation.project(f"* REPLACE ({naive})")
    frame: pd.DataFrame = relation.df()
    for name in zoned:
        frame[name] = frame[name].dt.tz_localize("UTC")
    return frame


def prediction_relation(
    deployment: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    with_labels: bool = False,
    client: Client | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The rows :func:`predictions` returns, as a lazy DuckDB relation (in no particular
    order): filter, aggregate or join it in DuckDB, then fetch only the result.

    Args:
        deployment, since, until, with_labels, client: as for :func:`predictions`.
        connection: the DuckDB connection to build it on (its time zone is set to UTC);
            a new in-memory one when not given.

    Returns:
        The relation; its input columns are ``"input.<field>"`` (quote them in SQL).

    Raises:
        InvalidInput: as for :func:`predictions`.
        StoreError, Unavailable: a segment cannot be fetched or its columns read.

    Example:
        >>> rel = prediction_relation("churn-api", since=start)
        >>> rel.aggregate('version, avg(latency_ms) AS ms', "version").df()
    """
    import duckdb

    stream = log_stream(PREDICTIONS_KIND, deployment)
    check_window(since, until)
    if not isinstance(with_labels, bool):
        raise InvalidInput(f"with_labels must be True or False, got {with_labels!r}.")
    if client is None:
        from loopml.tracking import default_client

        client = default_client()
    segments = client.stores.segments.list_segments(stream, since=since, until=until)
    con = connection if connection is not None else duckdb.connect()
    with _read_errors(deployment):
        con.execute("SET TimeZone = 'UTC'")
        params: dict[str, object] = {}
        query, columns = _prediction_query(con, _readable(client, segments), since, until, params)
        if with_labels:
            labels = client.stores.segments.list_segments(log_stream(LABELS_KIND, deployment))
            labels.sort(key=lambda segment: segment.id)  # later segments win ties
            query = _with_labels(query, columns, _readable(client, labels), params)
        return con.sql(query, params=params or None)


def _prediction_query(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    since: datetime | None,
    until: datetime | None,
    params: dict[str, object],
) -> tuple[str, list[str]]:
    """The SELECT of the prediction rows of ``files`` in the window, and its columns."""
    if not files:
        return _empty(STANDARD_COLUMNS), [name for name, _ in STANDARD_COLUMNS]
    params["files"] = files
    source = "read_parquet($files, union_by_name = true)"
    columns = _ordered(con.sql(f"SELECT * FROM {source} LIMIT 0", params=params).columns)
    bounds = []
    if since is not None:
        params["since"] = since
        bounds.append("time >= $since")
    if until is not None:
        params["until"] = until
        bounds.append("time <= $until")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    return f"SELECT {_list(columns)} FROM {source}{where}", columns


def _with_labels(
    query: str, columns: list[str], files: list[str], params: dict[str, object]
) -> str:
    """``query`` with the latest label of each row: of the labels for its row or for
    its whole request (null row), the newest; of equally new ones, the one written last."""
    if not files:
        return f"SELECT *, {_typed_nulls(LABEL_COLUMNS)} FROM ({query})"
    params["label_files"] = files
    kept = ", ".join(f"p.{_quoted(name)}" for name in columns)
    return f"""
        WITH p AS (SELECT *, row_number() OVER () AS {_PID} FROM ({query})),
        l AS (
            SELECT request_id, "row", label, time AS label_time,
                list_position($label_files, filename) AS file_order,
                file_row_number AS file_row
            FROM read_parquet(
                $label_files, union_by_name = true, filename = true, file_row_number = true
            )
        )
        SELECT {kept}, l.label, l.label_time
        FROM p LEFT JOIN l
            ON l.request_id = p.request_id AND (l."row" IS NULL OR l."row" = p."row")
        QUALIFY row_number() OVER (
            PARTITION BY p.{_PID}
            ORDER BY l.label_time DESC NULLS LAST, l.file_order DESC, l.file_row DESC
        ) = 1
    """


def _readable(client: Client, segments: Iterable[Segment]) -> list[str]:
    """A local path of each segment's file (each file once), fetching what is remote."""
    blobs = client.stores.blobs
    cache = client.settings.home / "cache" / "segments"
    paths: dict[str, None] = {}
    for segment in segments:
        digest = segment.digest
        if isinstance(blobs, LocalBlobStore):
            # LocalBlobStore's documented layout: ROOT/ab/cdef... for digest abcdef...
            local = blobs.root / digest[:2] / digest[2:]
            if local.is_file():
                paths[str(local)] = None
                continue
        cached = cache / digest
        if not _is_cached(cached, segment.size):
            blobs.get_file(digest, cached)  # atomic, and verified against the digest
        paths[str(cached)] = None
    return list(paths)


def _is_cached(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _ordered(columns: list[str]) -> list[str]:
    """Standard columns first, then inputs, the output, shadows and anything else."""
    standard = [name for name, _ in STANDARD_COLUMNS if name != "output"]

    def rank(name: str) -> tuple[int, int]:
        if name in standard:
            return 0, standard.index(name)
        if name.startswith("input.") or name == "input":
            return 1, 0
        if name == "output":
            return 2, 0
        return (3, 0) if name.startswith("shadow.") else (4, 0)

    return sorted(columns, key=rank)  # stable: the files' order within a group


def _empty(columns: tuple[tuple[str, str], ...]) -> str:
    return f"SELECT {_typed_nulls(columns)} WHERE false"


def _typed_nulls(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"CAST(NULL AS {kind}) AS {_quoted(name)}" for name, kind in columns)


def _list(columns: list[str]) -> str:
    return ", ".join(_quoted(name) for name in columns)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _read_errors(deployment: str) -> Iterator[None]:
    """Turn DuckDB's errors into :class:`StoreError` naming the log."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise StoreError(f"Cannot read the prediction log of {deployment!r}: {exc}") from exc
