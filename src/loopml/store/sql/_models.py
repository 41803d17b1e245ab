"""Registered models and their versions in SQL."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from loopml.domain import (
    ApprovalStatus,
    ModelUpdate,
    ModelVersion,
    RegisteredModel,
    VersionDraft,
    VersionStatus,
    VersionUpdate,
)
from loopml.domain.names import check_alias, check_model_name, check_version_number
from loopml.domain.validation import check_key, check_tag_value
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.store._rows import model_record, no_model_message, version_record
from loopml.store.sql._convert import to_micros
from loopml.store.sql._schema import (
    approval_requests,
    model_aliases,
    model_tags,
    model_version_parents,
    model_version_tags,
    model_versions,
    registered_models,
    runs,
)
from loopml.store.sql._tx import Transactions, insert_for

__all__ = ["SqlModelStore", "lock_model", "now_micros", "require_model", "require_version"]

_FLAVOR_LENGTH = 32


class SqlModelStore:
    """The ModelStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx
        self._insert = insert_for(tx.engine)

    # -- registered models -------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", protected_aliases: tuple[str, ...] = ()
    ) -> RegisteredModel:
        """Register a model name. Raises AlreadyExists, InvalidInput."""
        check_model_name(name)
        protected = _check_aliases(protected_aliases)
        with self._tx.write() as conn:
            self._insert_model(conn, name, description, protected, if_missing=False)
        return self.get_model(name)

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version. Raises NotFound."""
        with self._tx.read() as conn:
            row = conn.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise NotFound(_no_model(name))
            return _load_models(conn, [row._mapping])[0]

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        with self._tx.read() as conn:
            rows = conn.execute(select(registered_models).order_by(registered_models.c.name))
            return _load_models(conn, [row._mapping for row in rows])

    def update_model(self, name: str, update: ModelUpdate) -> RegisteredModel:
        """Change a model's description, tags or protected aliases. Raises NotFound."""
        tags = _check_tags(update.tags)
        values: dict[str, Any] = {"updated_at": now_micros()}
        if update.description is not None:
            values["description"] = update.description
        if update.protected_aliases is not None:
            values["protected_aliases"] = json.dumps(_check_aliases(update.protected_aliases))
        with self._tx.write() as conn:
            before = lock_model(conn, name)
            conn.execute(
                registered_models.update().where(registered_models.c.name == name).values(values)
            )
            _write_tags(conn, model_tags, {"name": name}, tags, self._insert)
            changed = {k: v for k, v in values.items() if k != "updated_at"}
            details = {"before": {k: before[k] for k in changed}, "after": changed, "tags": tags}
            self._tx.audit(conn, "model.update", "model", name, details)
        return self.get_model(name)

    # -- versions ------------------------------------------------------------------

    def create_version(self, draft: VersionDraft) -> ModelVersion:
        """Register the next version of ``draft.name``, creating the model if it is new.

        Raises:
            NotFound: the run or a parent version does not exist.
            InvalidInput: a malformed name, flavor, tag or parent.
        """
        check_model_name(draft.name)
        tags = _check_tags(dict(draft.tags))
        if not draft.flavor or len(draft.flavor) > _FLAVOR_LENGTH:
            raise InvalidInput(f"Flavor {draft.flavor!r} must be 1-{_FLAVOR_LENGTH} characters.")
        for parent_name, parent_version in draft.parents:
            check_model_name(parent_name)
            check_version_number(parent_version)
        with self._tx.write() as conn:
            self._insert_model(conn, draft.name, "", (), if_missing=True)
            if draft.run_id is not None:
                known = conn.execute(select(runs.c.id).where(runs.c.id == draft.run_id)).first()
                if known is None:
                    raise NotFound(f"No run with id {draft.run_id!r} to link the version to.")
            for parent in draft.parents:
                require_version(conn, *parent)
            number = self._next_number(conn, draft.name)
            conn.execute(model_versions.insert().values(_version_row(draft, number, self._tx)))
            _write_tags(
                conn,
                model_version_tags,
                {"name": draft.name, "version": number},
                tags,
                self._insert,
            )
            if draft.parents:
                conn.execute(
                    model_version_parents.insert(),
                    [
                        {
                            "name": draft.name,
                            "version": number,
                            "parent_name": n,
                            "parent_version": v,
                        }
                        for n, v in sorted(set(draft.parents))
                    ],
                )
            self._tx.audit(
                conn,
                "model_version.create",
                "model_version",
                f"{draft.name}/{number}",
                {"run_id": draft.run_id, "manifest_digest": draft.manifest_digest},
            )
        return self.get_version(draft.name, number)

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version with its tags, aliases and parents. Raises NotFound."""
        with self._tx.read() as conn:
            row = require_version(conn, name, version)
            return _load_versions(conn, name, [row])[0]

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first. Raises NotFound (model)."""
        with self._tx.read() as conn:
            if conn.execute(_model_exists(name)).first() is None:
                raise NotFound(_no_model(name))
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version.desc())
            )
            return _load_versions(conn, name, [row._mapping for row in rows])

    def update_version(self, name: str, version: int, update: VersionUpdate) -> ModelVersion:
        """Change a version's description, tags or status.

        Raises:
            NotFound: no such version.
            Conflict: archiving a version that an alias points at.
        """
        tags = _check_tags(update.tags)
        values: dict[str, Any] = {}
        if update.description is not None:
            values["description"] = update.description
        if update.status is not None:
            values["status"] = VersionStatus(update.status).value
        with self._tx.write() as conn:
            lock_model(conn, name)
            before = require_version(conn, name, version)
            if update.status is VersionStatus.ARCHIVED:
                _refuse_if_referenced(conn, name, version, "archive")
            if values:
                conn.execute(
                    model_versions.update().where(_version_is(name, version)).values(values)
                )
            _write_tags(
                conn, model_version_tags, {"name": name, "version": version}, tags, self._insert
            )
            details = {"before": {k: before[k] for k in values}, "after": values, "tags": tags}
            self._tx.audit(
                conn, "model_version.update", "model_version", f"{name}/{version}", details
            )
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int) -> None:
        """Delete a version's record; its blobs stay, other records may share them.

        Raises:
            NotFound: no such version.
            Conflict: an alias points at it, or a pending approval names it.
        """
        with self._tx.write() as conn:
            lock_model(conn, name)
            row = require_version(conn, name, version)
            _refuse_if_referenced(conn, name, version, "delete")
            conn.execute(delete(model_version_tags).where(_tag_of(name, version)))
            conn.execute(
                delete(model_version_parents).where(
                    model_version_parents.c.name == name,
                    model_version_parents.c.version == version,
                )
            )
            conn.execute(delete(model_versions).where(_version_is(name, version)))
            self._tx.audit(
                conn,
                "model_version.delete",
                "model_version",
                f"{name}/{version}",
                {"manifest_digest": row["manifest_digest"], "run_id": row["run_id"]},
            )

    # -- helpers -----------------------------------------------------------------------

    def _insert_model(
        self,
        conn: Connection,
        name: str,
        description: str,
        protected: tuple[str, ...],
        *,
        if_missing: bool,
    ) -> None:
        now = now_micros()
        row = {
            "name": name,
            "description": description,
            "protected_aliases": json.dumps(protected),
            "last_version": 0,
            "created_at": now,
            "updated_at": now,
        }
        if if_missing:
            # Two first registrations may race: both insert-or-skip, then both lock the row.
            statement = self._insert(registered_models).values(row).on_conflict_do_nothing()
            if conn.execute(statement).rowcount:
                self._tx.audit(conn, "model.create", "model", name, {"description": description})
            return
        if conn.execute(_model_exists(name)).first() is not None:
            raise AlreadyExists(f"Registered model {name!r} exists already.")
        conn.execute(insert(registered_models).values(row))
        details = {"description": description, "protected_aliases": list(protected)}
        self._tx.audit(conn, "model.create", "model", name, details)

    def _next_number(self, conn: Connection, name: str) -> int:
        # The UPDATE takes the row lock (PostgreSQL) inside the write transaction (SQLite
        # holds the database lock already), so concurrent registrations are numbered apart.
        conn.execute(
            update(registered_models)
            .where(registered_models.c.name == name)
            .values(last_version=registered_models.c.last_version + 1, updated_at=now_micros())
        )
        number = conn.execute(
            select(registered_models.c.last_version).where(registered_models.c.name == name)
        ).scalar_one()
        return int(number)


# -- shared with the alias store ---------------------------------------------------


def lock_model(conn: Connection, name: str) -> Mapping[Any, Any]:
    """The model's row, locked for the rest of the write transaction. Raises NotFound."""
    return require_model(conn, name, lock=True)


def require_model(conn: Connection, name: str, *, lock: bool = False) -> Mapping[Any, Any]:
    """The model's row (locked when ``lock`` on PostgreSQL). Raises NotFound."""
    statement = select(registered_models).where(registered_models.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    if row is None:
        raise NotFound(_no_model(name))
    return row._mapping


def require_version(conn: Connection, name: str, version: int) -> Mapping[Any, Any]:
    """The version's row. Raises NotFound naming the model or the version."""
    check_version_number(version)
    row = conn.execute(select(model_versions).where(_version_is(name, version))).first()
    if row is not None:
        return row._mapping
    if conn.execute(_model_exists(name)).first() is None:
        raise NotFound(_no_model(name))
    raise NotFound(f"Model {name!r} has no version {version}.")


# -- private ---------------------------------------------------------------------


def now_micros() -> int:
    """The current time as stored: integer microseconds since the epoch."""
    return to_micros(datetime.now(UTC))


def _no_model(name: str) -> str:
    return no_model_message(name)


def _model_exists(name: str) -> Any:
    return select(registered_models.c.name).where(registered_models.c.name == name)


def _version_is(name: str, version: int) -> Any:
    return and_(model_versions.c.name == name, model_versions.c.version == version)


def _tag_of(name: str, version: int) -> Any:
    return and_(model_version_tags.c.name == name, model_version_tags.c.version == version)


def _check_aliases(aliases: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({check_alias(alias) for alias in aliases}))


def _check_tags(tags: Mapping[str, str | None]) -> dict[str, str | None]:
    return {
        check_key("tag", key): None if value is None else check_tag_value(key, value)
        for key, value in tags.items()
    }


def _write_tags(
    conn: Connection,
    table: Any,
    owner: dict[str, Any],
    tags: Mapping[str, str | None],
    insert_for_dialect: Any,
) -> None:
    owner_match = [table.c[column] == value for column, value in owner.items()]
    removed = [key for key, value in tags.items() if value is None]
    if removed:
        conn.execute(delete(table).where(*owner_match, table.c.key.in_(removed)))
    kept = [
        {**owner, "key": key, "value": value} for key, value in tags.items() if value is not None
    ]
    if kept:
        statement = insert_for_dialect(table)
        statement = statement.on_conflict_do_update(
            index_elements=[*owner, "key"], set_={"value": statement.excluded.value}
        )
        conn.execute(statement, kept)


def _refuse_if_referenced(conn: Connection, name: str, version: int, verb: str) -> None:
    aliases = (
        conn.execute(
            select(model_aliases.c.alias).where(
                model_aliases.c.name == name, model_aliases.c.version == version
            )
        )
        .scalars()
        .all()
    )
    if aliases:
        names = ", ".join(repr(a) for a in sorted(aliases))
        raise Conflict(
            f"Cannot {verb} {name}/{version}: alias {names} points at it; move the alias "
            "to another version first."
        )
    pending = conn.execute(
        select(approval_requests.c.id).where(
            approval_requests.c.name == name,
            approval_requests.c.version == version,
            approval_requests.c.status == ApprovalStatus.PENDING.value,
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"Cannot {verb} {name}/{version}: approval request {pending.id!r} for it is "
            "pending; approve or reject it first."
        )


def _version_row(draft: VersionDraft, number: int, tx: Transactions) -> dict[str, Any]:
    return {
        "name": draft.name,
        "version": number,
        "created_at": now_micros(),
        "created_by": tx.actor,
        "flavor": draft.flavor,
        "manifest": draft.manifest,
        "manifest_digest": draft.manifest_digest,
        "run_id": draft.run_id,
        "artifact_path": draft.artifact_path,
        "status": VersionStatus.READY.value,
        "description": draft.description,
    }


def _load_models(conn: Connection, rows: list[Mapping[Any, Any]]) -> list[RegisteredModel]:
    names = [row["name"] for row in rows]
    if not names:
        return []
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for tag in conn.execute(select(model_tags).where(model_tags.c.name.in_(names))):
        tags[tag.name][tag.key] = tag.value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    alias_rows = select(model_aliases).where(
        model_aliases.c.name.in_(names), model_aliases.c.version.is_not(None)
    )
    for alias in conn.execute(alias_rows):
        aliases[alias.name][alias.alias] = alias.version
    latest_rows = (
        select(model_versions.c.name, func.max(model_versions.c.version))
        .where(
            model_versions.c.name.in_(names),
            model_versions.c.status == VersionStatus.READY.value,
        )
        .group_by(model_versions.c.name)
    )
    latest = {name: number for name, number in conn.execute(latest_rows).all()}
    return [
        model_record(
            row, tags[row["name"]].items(), aliases[row["name"]].items(), latest.get(row["name"])
        )
        for row in rows
    ]


def _load_versions(
    conn: Connection, name: str, rows: list[Mapping[Any, Any]]
) -> list[ModelVersion]:
    numbers = [row["version"] for row in rows]
    if not numbers:
        return []
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    tag_rows = select(model_version_tags).where(
        model_version_tags.c.name == name, model_version_tags.c.version.in_(numbers)
    )
    for tag in conn.execute(tag_rows):
        tags[tag.version][tag.key] = tag.value
    aliases: dict[int, list[str]] = defaultdict(list)
    alias_rows = select(model_aliases).where(
        model_aliases.c.name == name, model_aliases.c.version.in_(numbers)
    )
    for alias in conn.execute(alias_rows):
        aliases[alias.version].append(alias.alias)
    parents: dict[int, list[tuple[str, int]]] = defaultdict(list)
    parent_rows = select(model_version_parents).where(
        model_version_parents.c.name == name, model_version_parents.c.version.in_(numbers)
    )
    for parent in conn.execute(parent_rows):
        parents[parent.version].append((parent.parent_name, parent.parent_version))
    return [
        version_record(
            row, tags[row["version"]].items(), aliases[row["version"]], parents[row["version"]]
        )
        for row in rows
    ]
