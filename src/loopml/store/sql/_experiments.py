"""Experiments in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from loopml.domain import Experiment
from loopml.domain.validation import check_name
from loopml.errors import AlreadyExists, NotFound
from loopml.store.sql._convert import from_micros, to_micros
from loopml.store.sql._schema import experiments
from loopml.store.sql._tx import Transactions

__all__ = ["SqlExperimentStore"]


class SqlExperimentStore:
    """The ExperimentStore port over SQLite or PostgreSQL."""

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx

    def create_experiment(self, name: str, description: str = "") -> Experiment:
        """Create an experiment. Raises AlreadyExists when the name is taken."""
        check_name("experiment", name)
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "created_at": to_micros(datetime.now(UTC)),
        }
        with self._tx.write() as conn:
            if conn.execute(select(experiments.c.id).where(experiments.c.name == name)).first():
                raise AlreadyExists(f"Experiment {name!r} exists already.")
            conn.execute(experiments.insert().values(row))
            self._tx.audit(conn, "experiment.create", "experiment", row["id"], {"name": name})
        return _experiment(row)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id. Raises NotFound."""
        with self._tx.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
        if row is None:
            raise NotFound(f"No experiment with id {experiment_id!r}.")
        return _experiment(row._mapping)

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        with self._tx.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
        return None if row is None else _experiment(row._mapping)

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        with self._tx.read() as conn:
            rows = conn.execute(select(experiments).order_by(experiments.c.created_at)).all()
        return [_experiment(row._mapping) for row in rows]


def _experiment(row: Any) -> Experiment:
    return Experiment(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        created_at=from_micros(row["created_at"]),
    )
