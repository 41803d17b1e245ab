"""Dataset versions and data-check reports in SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select, update

from loopml.domain import CheckReportRecord, DatasetVersion, DatasetVersionDraft
from loopml.domain.names import check_dataset_name, check_version_number
from loopml.errors import InvalidInput, NotFound
from loopml.store._rows import dataset_version_record, from_micros, no_dataset_message
from loopml.store.sql._models import now_micros
from loopml.store.sql._schema import check_reports, dataset_versions, datasets, runs
from loopml.store.sql._tx import Transactions, insert_for

__all__ = ["SqlDatasetStore"]

_DIGEST_LENGTH = 64


class SqlDatasetStore:
    """The DatasetStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx
        self._insert = insert_for(tx.engine)

    def create_version(self, draft: DatasetVersionDraft) -> tuple[DatasetVersion, bool]:
        """Record the next version unless the newest has the same content. See the port."""
        _check_draft(draft)
        with self._tx.write() as conn:
            row = {"name": draft.name, "last_version": 0, "created_at": now_micros()}
            created = conn.execute(self._insert(datasets).values(row).on_conflict_do_nothing())
            if created.rowcount:
                self._tx.audit(conn, "dataset.create", "dataset", draft.name)
            number = _lock_last_version(conn, draft.name)
            if number:
                newest = _version_row(conn, draft.name, number)
                if newest is not None and newest["content_digest"] == draft.content_digest:
                    return dataset_version_record(newest), False
            if draft.run_id is not None:
                known = conn.execute(select(runs.c.id).where(runs.c.id == draft.run_id)).first()
                if known is None:
                    raise NotFound(f"No run with id {draft.run_id!r} to link the version to.")
            number += 1
            conn.execute(
                update(datasets).where(datasets.c.name == draft.name).values(last_version=number)
            )
            values = _draft_row(draft, number, self._tx.actor)
            conn.execute(dataset_versions.insert().values(values))
            self._tx.audit(
                conn,
                "dataset_version.create",
                "dataset_version",
                f"{draft.name}@v{number}",
                {"manifest_digest": draft.manifest_digest, "files": draft.file_count},
            )
        return dataset_version_record(values), True

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """One version. Raises NotFound naming the dataset or the version."""
        check_version_number(version)
        with self._tx.read() as conn:
            row = _version_row(conn, name, version)
            if row is None:
                _require_dataset(conn, name)
                raise NotFound(f"Dataset {name!r} has no version {version}.")
            return dataset_version_record(row)

    def latest_version(self, name: str) -> DatasetVersion:
        """The newest version. Raises NotFound (no such dataset)."""
        with self._tx.read() as conn:
            latest = (
                select(dataset_versions)
                .where(dataset_versions.c.name == name)
                .order_by(dataset_versions.c.version.desc())
                .limit(1)
            )
            row = conn.execute(latest).first()
            if row is None:
                raise NotFound(no_dataset_message(name))
            return dataset_version_record(row._mapping)

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version, newest first. Raises NotFound (no such dataset)."""
        with self._tx.read() as conn:
            _require_dataset(conn, name)
            rows = conn.execute(
                select(dataset_versions)
                .where(dataset_versions.c.name == name)
                .order_by(dataset_versions.c.version.desc())
            )
            return [dataset_version_record(row._mapping) for row in rows]

    def list_datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset, by name."""
        newest = (
            select(dataset_versions.c.name, func.max(dataset_versions.c.version).label("v"))
            .group_by(dataset_versions.c.name)
            .subquery()
        )
        query = (
            select(dataset_versions)
            .join(
                newest,
                (dataset_versions.c.name == newest.c.name)
                & (dataset_versions.c.version == newest.c.v),
            )
            .order_by(dataset_versions.c.name)
        )
        with self._tx.read() as conn:
            return [dataset_version_record(row._mapping) for row in conn.execute(query)]

    def save_check_report(self, record: CheckReportRecord) -> CheckReportRecord:
        """Store a data-check report of a version. Raises NotFound, AlreadyExists."""
        if not record.id or len(record.id) > 32:
            raise InvalidInput(f"Check report id {record.id!r} must be 1-32 characters.")
        with self._tx.write() as conn:
            if _version_row(conn, record.name, record.version) is None:
                _require_dataset(conn, record.name)
                raise NotFound(f"Dataset {record.name!r} has no version {record.version}.")
            row = {
                "id": record.id,
                "name": record.name,
                "version": record.version,
                "created_at": now_micros(),
                "author": self._tx.actor,
                "passed": record.passed,
                "suite": record.suite[:250],
                "report": record.report,
            }
            conn.execute(check_reports.insert().values(row))
            self._tx.audit(
                conn,
                "check_report.create",
                "dataset_version",
                f"{record.name}@v{record.version}",
                {"report_id": record.id, "passed": record.passed, "suite": record.suite},
            )
        return _report(row)

    def list_check_reports(self, name: str, version: int | None = None) -> list[CheckReportRecord]:
        """Check reports of a dataset (or of one version), newest first."""
        query = select(check_reports).where(check_reports.c.name == name)
        if version is not None:
            query = query.where(check_reports.c.version == check_version_number(version))
        query = query.order_by(check_reports.c.created_at.desc(), check_reports.c.id)
        with self._tx.read() as conn:
            return [_report(row._mapping) for row in conn.execute(query)]


def _check_draft(draft: DatasetVersionDraft) -> None:
    check_dataset_name(draft.name)
    for field in ("manifest_digest", "content_digest"):
        value = getattr(draft, field)
        if not isinstance(value, str) or len(value) != _DIGEST_LENGTH:
            raise InvalidInput(
                f"{field} must be a {_DIGEST_LENGTH}-character digest, got {value!r}."
            )
    if draft.file_count < 0 or draft.total_bytes < 0:
        raise InvalidInput("file_count and total_bytes must not be negative.")


def _lock_last_version(conn: Connection, name: str) -> int:
    statement = select(datasets.c.last_version).where(datasets.c.name == name)
    if conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return int(conn.execute(statement).scalar_one())


def _version_row(conn: Connection, name: str, version: int) -> Mapping[Any, Any] | None:
    row = conn.execute(
        select(dataset_versions).where(
            dataset_versions.c.name == name, dataset_versions.c.version == version
        )
    ).first()
    return None if row is None else row._mapping


def _require_dataset(conn: Connection, name: str) -> None:
    if conn.execute(select(datasets.c.name).where(datasets.c.name == name)).first() is None:
        raise NotFound(no_dataset_message(name))


def _draft_row(draft: DatasetVersionDraft, number: int, author: str) -> dict[str, Any]:
    return {
        "name": draft.name,
        "version": number,
        "created_at": now_micros(),
        "author": author,
        "message": draft.message,
        "manifest_digest": draft.manifest_digest,
        "content_digest": draft.content_digest,
        "file_count": draft.file_count,
        "total_bytes": draft.total_bytes,
        "source_path": draft.source_path,
        "run_id": draft.run_id,
        "schema": draft.schema,
        "profile_digest": draft.profile_digest,
    }


def _report(row: Mapping[Any, Any]) -> CheckReportRecord:
    return CheckReportRecord(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        created_at=from_micros(row["created_at"]),
        author=row["author"],
        passed=bool(row["passed"]),
        report=row["report"],
        suite=row["suite"],
    )
