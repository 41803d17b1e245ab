"""Deployments and the history of their traffic policies, in SQL.

A deployment row carries ``revision``, the number of its policy in force. A change
reads the row (locked on PostgreSQL), writes history row ``revision + 1`` and moves the
row only where ``revision`` is still what it read; SQLite's ``BEGIN IMMEDIATE``
serialises writers outright. So of two writers that read the same revision one commits
and the other gets ``Conflict``, and the history has no gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select, update

from loopml.domain.deployments import (
    ChangeKind,
    Deployment,
    DeploymentDraft,
    PolicyChange,
    TrafficPolicy,
    check_deployment_draft,
    check_expected_revision,
    check_note,
    check_policy,
)
from loopml.domain.names import check_deployment_name
from loopml.errors import AlreadyExists, Conflict, NotFound, StoreError
from loopml.store.sql._convert import from_micros
from loopml.store.sql._models import now_micros
from loopml.store.sql._schema import deployment_revisions, deployments
from loopml.store.sql._tx import Transactions

__all__ = ["SqlDeploymentStore"]


class SqlDeploymentStore:
    """The DeploymentStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx

    def create_deployment(self, draft: DeploymentDraft, *, reason: str = "") -> Deployment:
        """Store a new deployment at revision 1. Raises AlreadyExists, InvalidInput."""
        draft = check_deployment_draft(draft)
        check_note("reason", reason)
        name, now = draft.name, now_micros()
        row = {
            "name": name,
            "model": draft.model,
            "policy": _policy_json(draft.policy),
            "revision": 1,
            "description": draft.description,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self._tx.write() as conn:
                if _deployment_row(conn, name) is not None:
                    raise _taken(name)
                conn.execute(deployments.insert().values(row))
                self._record(conn, row, ChangeKind.CREATE, None, None, reason)
        except AlreadyExists as exc:  # another writer created it meanwhile
            raise _taken(name) from exc
        return _deployment(row)

    def get_deployment(self, name: str) -> Deployment:
        """One deployment. Raises NotFound."""
        check_deployment_name(name)
        with self._tx.read() as conn:
            return _deployment(_require(conn, name))

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        with self._tx.read() as conn:
            rows = conn.execute(select(deployments).order_by(deployments.c.name))
            return [_deployment(row._mapping) for row in rows]

    def update_policy(
        self,
        name: str,
        policy: TrafficPolicy,
        *,
        expected_revision: int | None = None,
        reason: str = "",
    ) -> Deployment:
        """Put ``policy`` in force as the next revision. See the port."""
        check_deployment_name(name)
        policy = check_policy(policy)
        check_expected_revision(expected_revision)
        check_note("reason", reason)
        try:
            with self._tx.write() as conn:
                current = _require(conn, name, lock=True)
                revision = current["revision"]
                if expected_revision is not None and expected_revision != revision:
                    raise Conflict(
                        f"Deployment {name!r} is at revision {revision}, not "
                        f"{expected_revision} as expected: its policy was changed meanwhile. "
                        "Read it again and retry."
                    )
                if _read_policy(current["policy"]) == policy:
                    return _deployment(current)
                return self._change(
                    conn, current, policy, ChangeKind.UPDATE, revision, None, reason
                )
        except AlreadyExists as exc:  # the next history row was written meanwhile
            raise _raced(name) from exc

    def rollback(self, name: str, *, reason: str = "") -> Deployment:
        """Put back the policy in force before the current one. See the port."""
        check_deployment_name(name)
        check_note("reason", reason)
        try:
            with self._tx.write() as conn:
                current = _require(conn, name, lock=True)
                head = _revision_row(conn, name, current["revision"])
                if head["previous"] is None:
                    raise Conflict(
                        f"Deployment {name!r} has nothing to roll back to: no earlier "
                        f"policy comes before revision {current['revision']}. Update the "
                        "policy instead."
                    )
                restored = _revision_row(conn, name, head["previous"])
                return self._change(
                    conn,
                    current,
                    _read_policy(restored["policy"]),
                    ChangeKind.ROLLBACK,
                    restored["previous"],
                    restored["revision"],
                    reason,
                )
        except AlreadyExists as exc:  # the next history row was written meanwhile
            raise _raced(name) from exc

    def policy_history(self, name: str) -> list[PolicyChange]:
        """Every revision of the deployment's policy, newest first. Raises NotFound."""
        check_deployment_name(name)
        query = (
            select(deployment_revisions)
            .where(deployment_revisions.c.deployment == name)
            .order_by(deployment_revisions.c.revision.desc())
        )
        with self._tx.read() as conn:
            _require(conn, name)
            return [_change(row._mapping) for row in conn.execute(query)]

    def delete_deployment(self, name: str) -> None:
        """Delete a deployment and its history. Raises NotFound."""
        check_deployment_name(name)
        with self._tx.write() as conn:
            current = _require(conn, name, lock=True)
            conn.execute(
                delete(deployment_revisions).where(deployment_revisions.c.deployment == name)
            )
            conn.execute(delete(deployments).where(deployments.c.name == name))
            details = {"revision": current["revision"], "model": current["model"]}
            self._tx.audit(conn, "deployment.delete", "deployment", name, details)

    # -- helpers -------------------------------------------------------------------

    def _change(
        self,
        conn: Connection,
        current: Mapping[str, Any],
        policy: TrafficPolicy,
        kind: ChangeKind,
        previous: int | None,
        restores: int | None,
        reason: str,
    ) -> Deployment:
        """Move the deployment from its current revision to the next one, with ``policy``."""
        name, revision = current["name"], current["revision"]
        values = {
            "policy": _policy_json(policy),
            "revision": revision + 1,
            "updated_at": now_micros(),
        }
        moved = conn.execute(
            update(deployments)
            .where(deployments.c.name == name, deployments.c.revision == revision)
            .values(values)
        )
        if moved.rowcount != 1:
            raise _raced(name)
        row = {**current, **values}
        self._record(conn, row, kind, previous, restores, reason)
        return _deployment(row)

    def _record(
        self,
        conn: Connection,
        row: Mapping[str, Any],
        kind: ChangeKind,
        previous: int | None,
        restores: int | None,
        reason: str,
    ) -> None:
        """Write the history row of the revision ``row`` is at, and its audit event."""
        conn.execute(
            deployment_revisions.insert().values(
                deployment=row["name"],
                revision=row["revision"],
                kind=kind.value,
                policy=row["policy"],
                previous=previous,
                restores=restores,
                actor=self._tx.actor,
                reason=reason,
                changed_at=row["updated_at"],
            )
        )
        details = {
            "model": row["model"],
            "revision": row["revision"],
            "policy": _read_policy(row["policy"]).describe(),
            "previous": previous,
            "restores": restores,
            "reason": reason,
        }
        self._tx.audit(conn, f"deployment.{kind.value}", "deployment", row["name"], details)


def _taken(name: str) -> AlreadyExists:
    return AlreadyExists(
        f"A deployment named {name!r} exists; update its policy instead, or choose another name."
    )


def _raced(name: str) -> Conflict:
    return Conflict(
        f"Deployment {name!r} was changed by someone else at the same time; read it again "
        "and retry."
    )


def _require(conn: Connection, name: str, *, lock: bool = False) -> Mapping[str, Any]:
    row = _deployment_row(conn, name, lock=lock)
    if row is None:
        raise NotFound(f"No deployment named {name!r}.")
    return row


def _deployment_row(conn: Connection, name: str, *, lock: bool = False) -> Mapping[str, Any] | None:
    statement = select(deployments).where(deployments.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    return None if row is None else dict(row._mapping)


def _revision_row(conn: Connection, name: str, revision: int) -> Mapping[Any, Any]:
    row = conn.execute(
        select(deployment_revisions).where(
            deployment_revisions.c.deployment == name,
            deployment_revisions.c.revision == revision,
        )
    ).first()
    if row is None:  # every change writes its history row: only a damaged store lacks one
        raise StoreError(f"Deployment {name!r} has no record of its revision {revision}.")
    return row._mapping


def _policy_json(policy: TrafficPolicy) -> str:
    return json.dumps(policy.to_json(), sort_keys=True)


def _read_policy(text: str) -> TrafficPolicy:
    return TrafficPolicy.from_json(json.loads(text))


def _deployment(row: Mapping[Any, Any]) -> Deployment:
    return Deployment(
        name=row["name"],
        model=row["model"],
        policy=_read_policy(row["policy"]),
        revision=row["revision"],
        description=row["description"],
        created_at=from_micros(row["created_at"]),
        updated_at=from_micros(row["updated_at"]),
    )


def _change(row: Mapping[Any, Any]) -> PolicyChange:
    return PolicyChange(
        deployment=row["deployment"],
        revision=row["revision"],
        kind=ChangeKind(row["kind"]),
        policy=_read_policy(row["policy"]),
        previous=row["previous"],
        restores=row["restores"],
        actor=row["actor"],
        reason=row["reason"],
        changed_at=from_micros(row["changed_at"]),
    )
