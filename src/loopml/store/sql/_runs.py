"""Runs in SQL: creation, the batch write primitive, life cycle and reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, insert, or_, select, update

from loopml.domain import Artifact, Metric, ParamValue, Run, RunPage, RunQuery, RunStatus, RunUpdate
from loopml.domain.validation import check_name, check_update
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store.sql._convert import (
    decode_param,
    encode_param,
    from_micros,
    metric_row,
    metric_value,
    run_from_row,
    to_micros,
    value_head,
)
from loopml.store.sql._schema import (
    applied_batches,
    artifacts,
    experiments,
    latest_metrics,
    metrics,
    params,
    runs,
    tags,
)
from loopml.store.sql._search import compile_search, encode_offset
from loopml.store.sql._tx import Transactions, insert_for

__all__ = ["SqlRunStore"]

_IN_CHUNK = 900  # stays under SQLite's default limit of host parameters per statement


class SqlRunStore:
    """The RunStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx
        self._upsert = insert_for(tx.engine)

    def create_run(self, run: Run) -> Run:
        """Store a new run. Raises AlreadyExists, NotFound (experiment or parent)."""
        check_name("run", run.name)
        with self._tx.write() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == run.id)).first():
                raise AlreadyExists(f"A run with id {run.id!r} exists already.")
            known = select(experiments.c.id).where(experiments.c.id == run.experiment_id)
            if conn.execute(known).first() is None:
                raise NotFound(f"No experiment with id {run.experiment_id!r}.")
            if run.parent_id is not None:
                parent = select(runs.c.id).where(runs.c.id == run.parent_id)
                if conn.execute(parent).first() is None:
                    raise NotFound(f"No parent run with id {run.parent_id!r}.")
            conn.execute(runs.insert().values(_run_row(run)))
            self._tx.audit(
                conn,
                "run.create",
                "run",
                run.id,
                {"experiment_id": run.experiment_id, "name": run.name},
            )
            if run.params or run.tags:
                self._write_update(conn, run.id, RunUpdate(params=run.params, tags=run.tags))
        return self.get_run(run.id)  # as stored, whatever the caller's record held

    def get_run(self, run_id: str) -> Run:
        """The run with its params, latest metrics and tags. Raises NotFound."""
        with self._tx.read() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise NotFound(f"No run with id {run_id!r}.")
            return load_runs(conn, [row])[0]

    def log_run_data(self, run_id: str, update: RunUpdate) -> None:
        """Apply one batch atomically; see the RunStore port."""
        check_update(update)
        if update.is_empty:
            self._require_running(run_id)
            return
        with self._tx.write() as conn:
            if update.batch_id is not None and _was_applied(conn, update.batch_id):
                return  # a re-sent batch whose first delivery was applied
            _check_running(conn, run_id)
            if update.batch_id is not None:
                row = {"id": update.batch_id, "run_id": run_id, "at": to_micros(datetime.now(UTC))}
                conn.execute(applied_batches.insert().values(row))
            self._write_update(conn, run_id, update)

    def end_run(self, run_id: str, status: RunStatus, end_time: datetime) -> Run:
        """End a running run. Raises NotFound, Conflict, InvalidInput."""
        status = RunStatus(status)
        if not status.is_terminal:
            raise InvalidInput("A run is ended with status finished, failed or killed.")
        with self._tx.write() as conn:
            _check_running(conn, run_id)
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(status=status.value, end_time=to_micros(end_time))
            )
            self._tx.audit(conn, "run.end", "run", run_id, {"status": status.value})
        return self.get_run(run_id)

    def heartbeat(self, run_ids: list[str], at: datetime) -> None:
        """Record that the processes owning these running runs are alive."""
        if not run_ids:
            return
        with self._tx.write() as conn:
            for chunk in _chunks(run_ids):
                conn.execute(
                    update(runs)
                    .where(runs.c.id.in_(chunk), runs.c.status == RunStatus.RUNNING.value)
                    .values(heartbeat_at=to_micros(at))
                )

    def list_running_on(self, host: str) -> list[tuple[str, int]]:
        """``(run_id, pid)`` of the running runs started on ``host``."""
        query = select(runs.c.id, runs.c.pid).where(
            runs.c.status == RunStatus.RUNNING.value, runs.c.host == host, runs.c.pid.is_not(None)
        )
        with self._tx.read() as conn:
            return [(row.id, row.pid) for row in conn.execute(query)]

    def fail_stale_runs(self, heartbeat_before: datetime, run_ids: list[str]) -> list[str]:
        """Mark as failed the running runs that stopped beating or whose process died."""
        stale = runs.c.heartbeat_at < to_micros(heartbeat_before)
        condition = or_(stale, runs.c.id.in_(run_ids)) if run_ids else stale
        with self._tx.write() as conn:
            query = select(runs.c.id, runs.c.heartbeat_at, runs.c.start_time).where(
                runs.c.status == RunStatus.RUNNING.value, condition
            )
            found = conn.execute(query).all()
            for row in found:
                last_sign = row.heartbeat_at or row.start_time
                conn.execute(
                    update(runs)
                    .where(runs.c.id == row.id, runs.c.status == RunStatus.RUNNING.value)
                    .values(status=RunStatus.FAILED.value, end_time=last_sign)
                )
                reason = "process died" if row.id in run_ids else "heartbeat stopped"
                self._tx.audit(conn, "run.fail", "run", row.id, {"reason": reason})
        return [row.id for row in found]

    def search_runs(self, query: RunQuery) -> RunPage:
        """Runs matching the query, ordered and paginated (compiled to SQL)."""
        statement, offset = compile_search(query)
        with self._tx.read() as conn:
            rows = conn.execute(statement).all()
            has_more = len(rows) > query.limit
            page = load_runs(conn, rows[: query.limit])
        token = encode_offset(offset + query.limit) if has_more else None
        return RunPage(runs=page, next_page_token=token)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of a metric, by step then time. Raises NotFound (run)."""
        query = (
            select(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
            .where(metrics.c.run_id == run_id, metrics.c.key == key)
            .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
        )
        with self._tx.read() as conn:
            _require_run(conn, run_id)
            rows = conn.execute(query).all()
        return [
            Metric(key, metric_value(r.value, r.is_nan), r.step, from_micros(r.timestamp))
            for r in rows
        ]

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts whose path starts with ``prefix``, sorted by path."""
        query = select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
        if prefix:
            # startswith() escapes LIKE wildcards in the prefix itself.
            query = query.where(artifacts.c.path.startswith(prefix, autoescape=True))
        with self._tx.read() as conn:
            _require_run(conn, run_id)
            rows = conn.execute(query).all()
        return [Artifact(row.path, row.digest, row.size) for row in rows]

    def _require_running(self, run_id: str) -> None:
        with self._tx.read() as conn:
            _check_running(conn, run_id)

    def _write_update(self, conn: Connection, run_id: str, batch: RunUpdate) -> None:
        changes: dict[str, Any] = {}
        if batch.params:
            changes["params"] = _write_params(conn, run_id, batch.params)
        if batch.tags:
            changes["tags"] = dict(batch.tags)
        if batch.artifacts:
            changes["artifacts"] = [a.path for a in batch.artifacts]
        if any(changes.values()):
            self._tx.audit(conn, "run.log", "run", run_id, changes)
        if batch.tags:
            tag_rows = [
                {"run_id": run_id, "key": k, "value": v, "value_head": value_head(v)}
                for k, v in batch.tags.items()
            ]
            self._replace(conn, tags, tag_rows)
        if batch.metrics:
            self._write_metrics(conn, run_id, batch.metrics)
        if batch.artifacts:
            rows = [
                {"run_id": run_id, "path": a.path, "digest": a.digest, "size": a.size}
                for a in batch.artifacts
            ]
            self._replace(conn, artifacts, rows)

    def _replace(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows; a row whose primary key exists replaces the stored values."""
        stmt = self._upsert(table)
        keys = list(table.primary_key.columns)
        values = {c.name: stmt.excluded[c.name] for c in table.columns if c not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=values), rows)

    def _write_metrics(self, conn: Connection, run_id: str, batch: Sequence[Metric]) -> None:
        rows = [metric_row(run_id, m) for m in batch]
        conn.execute(insert(metrics), rows)
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            seen = latest.get(row["key"])
            if seen is None or (row["step"], row["timestamp"]) >= (seen["step"], seen["timestamp"]):
                latest[row["key"]] = row
        stmt = self._upsert(latest_metrics)
        newer = or_(
            stmt.excluded.step > latest_metrics.c.step,
            and_(
                stmt.excluded.step == latest_metrics.c.step,
                stmt.excluded.timestamp >= latest_metrics.c.timestamp,
            ),
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[latest_metrics.c.run_id, latest_metrics.c.key],
                set_={col: stmt.excluded[col] for col in ("step", "timestamp", "value", "is_nan")},
                where=newer,
            ),
            list(latest.values()),
        )


def _write_params(
    conn: Connection, run_id: str, batch: dict[str, ParamValue]
) -> dict[str, ParamValue]:
    """Insert the new params; returns those that were new (the rest were equal)."""
    encoded = {key: encode_param(value) for key, value in batch.items()}
    existing = {
        row.key: (row.value, row.kind)
        for chunk in _chunks(list(encoded))
        for row in conn.execute(
            select(params.c.key, params.c.value, params.c.kind).where(
                params.c.run_id == run_id, params.c.key.in_(chunk)
            )
        )
    }
    for key, stored in existing.items():
        if stored != encoded[key]:
            old = decode_param(*stored)
            raise Conflict(
                f"Param {key!r} of run {run_id!r} is {old!r}; it cannot change to "
                f"{batch[key]!r}. Params are fixed once logged: log a new run instead."
            )
    rows = [
        {"run_id": run_id, "key": key, "value": text, "value_head": value_head(text), "kind": kind}
        for key, (text, kind) in encoded.items()
        if key not in existing
    ]
    if rows:
        conn.execute(insert(params), rows)
    return {key: batch[key] for key in encoded if key not in existing}


def _was_applied(conn: Connection, batch_id: str) -> bool:
    found = conn.execute(select(applied_batches.c.id).where(applied_batches.c.id == batch_id))
    return found.first() is not None


def _require_run(conn: Connection, run_id: str) -> str:
    row = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"No run with id {run_id!r}.")
    return str(row.status)


def _check_running(conn: Connection, run_id: str) -> None:
    status = _require_run(conn, run_id)
    if status != RunStatus.RUNNING.value:
        raise Conflict(f"Run {run_id!r} is {status}; start a new run, or log to a running one.")


def load_runs(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """Domain runs for ``runs`` rows, with their params, latest metrics and tags."""
    ids = [row.id for row in rows]
    run_params: dict[str, dict[str, ParamValue]] = {i: {} for i in ids}
    run_metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    run_tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    for chunk in _chunks(ids):
        for p in conn.execute(select(params).where(params.c.run_id.in_(chunk))):
            run_params[p.run_id][p.key] = decode_param(p.value, p.kind)
        for m in conn.execute(
            select(
                latest_metrics.c.run_id,
                latest_metrics.c.key,
                latest_metrics.c.value,
                latest_metrics.c.is_nan,
            ).where(latest_metrics.c.run_id.in_(chunk))
        ):
            run_metrics[m.run_id][m.key] = metric_value(m.value, m.is_nan)
        for t in conn.execute(select(tags).where(tags.c.run_id.in_(chunk))):
            run_tags[t.run_id][t.key] = t.value
    return [
        run_from_row(row, run_params[row.id], run_metrics[row.id], run_tags[row.id]) for row in rows
    ]


def _run_row(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "experiment_id": run.experiment_id,
        "name": run.name,
        "status": run.status.value,
        "start_time": to_micros(run.start_time),
        "end_time": None if run.end_time is None else to_micros(run.end_time),
        "parent_id": run.parent_id,
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "python_version": run.python_version,
        "environment_digest": run.environment_digest,
        "host": run.host,
        "pid": run.pid,
        "heartbeat_at": to_micros(run.heartbeat_at or run.start_time),
    }


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
