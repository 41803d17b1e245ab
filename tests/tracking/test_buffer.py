"""The metric buffer: a lost reply is re-sent safely; errors surface, never vanish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopml.domain import Metric, Run, RunStatus, RunUpdate
from loopml.errors import Unavailable
from loopml.store.sql import SqlExperimentStore, SqlRunStore, Transactions, create_store_engine
from loopml.tracking._buffer import MetricBuffer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class LosesFirstReply(SqlRunStore):
    """Applies every batch, but the first reply is 'lost' (as a dropped connection)."""

    lost = False

    def log_run_data(self, run_id: str, update: RunUpdate) -> None:
        super().log_run_data(run_id, update)
        if not self.lost:
            self.lost = True
            raise Unavailable("connection dropped after the server applied the batch")


def test_a_batch_whose_reply_was_lost_is_stored_once(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'b.db'}")
    tx = Transactions(engine)
    runs = LosesFirstReply(tx)
    experiment = SqlExperimentStore(tx).create_experiment("e")
    runs.create_run(Run("r", experiment.id, "r", RunStatus.RUNNING, T0))
    buffer = MetricBuffer(runs, flush_interval=60, heartbeat_interval=60, owned_runs=list)
    for step in range(10):
        buffer.add("r", Metric("m", float(step), step, T0))
    with pytest.raises(Unavailable):
        buffer.flush()
    buffer.add("r", Metric("m", 10.0, 10, T0))
    buffer.close()  # re-sends the first batch under its id, then the new value
    assert [m.step for m in runs.get_metric_history("r", "m")] == list(range(11))
    engine.dispose()
