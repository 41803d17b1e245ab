"""Aliases, their history and approvals of protected moves, in SQL.

An alias row carries ``seq``, the number of moves so far. A move reads it, writes history
row ``seq + 1`` and bumps the row only where ``seq`` is still what it read: of two racing
moves one commits and the other finds no row to update (PostgreSQL re-checks the WHERE
after the first commits) or a taken history key, and gets ``Conflict``. SQLite's
``BEGIN IMMEDIATE`` serialises writers outright. Either way the history has no gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, select, update

from loopml.domain import AliasMove, ApprovalRequest, ApprovalStatus, VersionStatus
from loopml.domain.names import check_alias, check_model_name, check_version_number
from loopml.domain.sentinel import NOT_GIVEN, NotGiven
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from loopml.store.sql._convert import from_micros
from loopml.store.sql._models import lock_model, now_micros, require_model, require_version
from loopml.store.sql._schema import alias_history, approval_requests, model_aliases
from loopml.store.sql._tx import Transactions

__all__ = ["SqlAliasStore"]

_MAX_COMMENT = 8000


class SqlAliasStore:
    """The AliasStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx

    def move_alias(
        self,
        name: str,
        alias: str,
        to_version: int | None,
        *,
        expected_from: int | NotGiven | None = NOT_GIVEN,
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at ``to_version`` (``None`` removes it). See the port."""
        check_alias(alias)
        _check_text("reason", reason)
        try:
            with self._tx.write() as conn:
                model = lock_model(conn, name)
                if alias in json.loads(model["protected_aliases"]):
                    raise PermissionDenied(
                        f"Alias {alias!r} of model {name!r} is protected: request an approval "
                        f"(`loopml models approval request {name} {alias} VERSION`) and have "
                        "an approver approve it."
                    )
                return self._move(conn, name, alias, to_version, expected_from, reason, None)
        except AlreadyExists as exc:
            raise _raced(name, alias) from exc

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of one alias (or all of the model's aliases), oldest first."""
        with self._tx.read() as conn:
            require_model(conn, name)
            query = select(alias_history).where(alias_history.c.name == name)
            if alias is not None:
                query = query.where(alias_history.c.alias == check_alias(alias))
            rows = conn.execute(query.order_by(alias_history.c.at, alias_history.c.seq))
            return [_move_record(row._mapping) for row in rows]

    def request_approval(
        self, request_id: str, name: str, alias: str, version: int, comment: str = ""
    ) -> ApprovalRequest:
        """Ask for ``alias`` to move to ``version``. See the port."""
        check_alias(alias)
        _check_text("comment", comment)
        if not request_id or len(request_id) > 32:
            raise InvalidInput(f"Approval request id {request_id!r} must be 1-32 characters.")
        with self._tx.write() as conn:
            lock_model(conn, name)
            _require_ready(conn, name, version, "request approval for")
            pending = conn.execute(
                select(approval_requests.c.id).where(
                    approval_requests.c.name == name,
                    approval_requests.c.alias == alias,
                    approval_requests.c.version == version,
                    approval_requests.c.status == ApprovalStatus.PENDING.value,
                )
            ).first()
            if pending is not None:
                raise Conflict(
                    f"Approval request {pending.id!r} to move {alias!r} of {name!r} to "
                    f"version {version} is pending already."
                )
            row = {
                "id": request_id,
                "name": name,
                "alias": alias,
                "version": version,
                "status": ApprovalStatus.PENDING.value,
                "requested_by": self._tx.actor,
                "requested_at": now_micros(),
                "comment": comment,
                "decided_by": None,
                "decided_at": None,
                "decision_comment": "",
            }
            conn.execute(approval_requests.insert().values(row))
            details = {"name": name, "alias": alias, "version": version, "comment": comment}
            self._tx.audit(conn, "approval.request", "approval", request_id, details)
        return _approval(row)

    def decide_approval(
        self, request_id: str, *, approve: bool, comment: str = ""
    ) -> ApprovalRequest:
        """Approve (moving the alias in the same transaction) or reject a request."""
        _check_text("comment", comment)
        try:
            with self._tx.write() as conn:
                request = self._pending(conn, request_id)
                name, alias, version = request["name"], request["alias"], request["version"]
                lock_model(conn, name)
                if approve:
                    _require_ready(conn, name, version, "approve a move to")
                    reason = comment or request["comment"]
                    self._move(conn, name, alias, version, NOT_GIVEN, reason, request_id)
                status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
                decided = {
                    "status": status.value,
                    "decided_by": self._tx.actor,
                    "decided_at": now_micros(),
                    "decision_comment": comment,
                }
                conn.execute(
                    update(approval_requests)
                    .where(approval_requests.c.id == request_id)
                    .values(decided)
                )
                action = "approval.approve" if approve else "approval.reject"
                details = {"name": name, "alias": alias, "version": version, "comment": comment}
                self._tx.audit(conn, action, "approval", request_id, details)
        except AlreadyExists as exc:
            raise _raced(request["name"], request["alias"]) from exc
        return _approval({**request, **decided})

    def list_approvals(
        self, name: str | None = None, status: ApprovalStatus | None = None
    ) -> list[ApprovalRequest]:
        """Approval requests, newest first, of one model and/or in one state."""
        query = select(approval_requests)
        if name is not None:
            query = query.where(approval_requests.c.name == check_model_name(name))
        if status is not None:
            query = query.where(approval_requests.c.status == ApprovalStatus(status).value)
        query = query.order_by(approval_requests.c.requested_at.desc(), approval_requests.c.id)
        with self._tx.read() as conn:
            return [_approval(row._mapping) for row in conn.execute(query)]

    # -- helpers -------------------------------------------------------------------

    def _move(
        self,
        conn: Connection,
        name: str,
        alias: str,
        to_version: int | None,
        expected_from: int | NotGiven | None,
        reason: str,
        approval_id: str | None,
    ) -> AliasMove:
        if to_version is not None:
            _require_ready(conn, name, to_version, f"point alias {alias!r} at")
        key = and_(model_aliases.c.name == name, model_aliases.c.alias == alias)
        current = conn.execute(select(model_aliases).where(key)).first()
        from_version = None if current is None else current.version
        if expected_from is not NOT_GIVEN and expected_from != from_version:
            raise Conflict(
                f"Alias {alias!r} of {name!r} points at {_describe(from_version)}, not "
                f"{_describe(expected_from)} as expected: it was moved meanwhile. Read it "
                "again and retry."
            )
        if to_version is None and from_version is None:
            raise NotFound(f"Model {name!r} has no alias {alias!r} to remove.")
        seq = 1 if current is None else current.seq + 1
        if current is None:
            conn.execute(
                model_aliases.insert().values(name=name, alias=alias, version=to_version, seq=seq)
            )
        else:
            moved = conn.execute(
                update(model_aliases)
                .where(key, model_aliases.c.seq == current.seq)
                .values(version=to_version, seq=seq)
            )
            if moved.rowcount != 1:
                raise _raced(name, alias)
        row = {
            "name": name,
            "alias": alias,
            "seq": seq,
            "from_version": from_version,
            "to_version": to_version,
            "actor": self._tx.actor,
            "at": now_micros(),
            "reason": reason,
            "approval_id": approval_id,
        }
        conn.execute(alias_history.insert().values(row))
        details = {k: row[k] for k in ("alias", "from_version", "to_version", "reason", "seq")}
        self._tx.audit(conn, "alias.move", "model", name, {**details, "approval_id": approval_id})
        return _move_record(row)

    def _pending(self, conn: Connection, request_id: str) -> Mapping[Any, Any]:
        row = conn.execute(
            select(approval_requests).where(approval_requests.c.id == request_id)
        ).first()
        if row is None:
            raise NotFound(f"No approval request with id {request_id!r}.")
        request = row._mapping
        if request["status"] != ApprovalStatus.PENDING.value:
            raise Conflict(
                f"Approval request {request_id!r} was {request['status']} already by "
                f"{request['decided_by']}."
            )
        return dict(request)


def _require_ready(conn: Connection, name: str, version: int, verb: str) -> None:
    check_version_number(version)
    row = require_version(conn, name, version)
    if row["status"] == VersionStatus.ARCHIVED.value:
        raise Conflict(f"Cannot {verb} {name}/{version}: the version is archived.")


def _raced(name: str, alias: str) -> Conflict:
    return Conflict(
        f"Alias {alias!r} of {name!r} was moved by someone else at the same time; read it "
        "again and retry."
    )


def _describe(version: int | NotGiven | None) -> str:
    return "no version" if version is None else f"version {version}"


def _check_text(field: str, text: str) -> None:
    if not isinstance(text, str) or len(text) > _MAX_COMMENT:
        raise InvalidInput(f"The {field} must be text of at most {_MAX_COMMENT} characters.")


def _move_record(row: Mapping[Any, Any]) -> AliasMove:
    return AliasMove(
        name=row["name"],
        alias=row["alias"],
        seq=row["seq"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        actor=row["actor"],
        at=from_micros(row["at"]),
        reason=row["reason"],
        approval_id=row["approval_id"],
    )


def _approval(row: Mapping[Any, Any]) -> ApprovalRequest:
    decided_at = row["decided_at"]
    return ApprovalRequest(
        id=row["id"],
        name=row["name"],
        alias=row["alias"],
        version=row["version"],
        status=ApprovalStatus(row["status"]),
        requested_by=row["requested_by"],
        requested_at=from_micros(row["requested_at"]),
        comment=row["comment"],
        decided_by=row["decided_by"],
        decided_at=None if decided_at is None else from_micros(decided_at),
        decision_comment=row["decision_comment"],
    )
