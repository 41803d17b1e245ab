"""SQL tables of the metadata store (SQLAlchemy Core).

Params and tags are indexed on ``value_head``, the first 200 characters of the value,
not on the value itself: PostgreSQL refuses index entries over 2.7 kB, and a param may
hold 6,000 characters. Searches seek on the head and confirm on the whole value. The
search indexes cover the columns a filter reads, so filters never touch the tables.

Times are integer microseconds since the epoch (UTC): exact, compact, and compared the
same way on SQLite and PostgreSQL. A metric value that is NaN is stored as 0 with
``is_nan`` set, because SQLite turns NaN into NULL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "VALUE_HEAD_LENGTH",
    "applied_batches",
    "artifacts",
    "audit_events",
    "experiments",
    "latest_metrics",
    "metadata",
    "metrics",
    "params",
    "runs",
    "tags",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

VALUE_HEAD_LENGTH = 200
ID = String(32)
KEY = String(250)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("parent_id", ID, ForeignKey("runs.id")),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
    Column("python_version", String(32)),
    Column("environment_digest", String(64)),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("heartbeat_at", BigInteger),
    Index(None, "experiment_id", "start_time"),
    Index(None, "status", "heartbeat_at"),
    Index(None, "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=True),
    Column("value_head", String(VALUE_HEAD_LENGTH), nullable=True),
    # The Python type of the logged value: str, int, float, bool or none.
    Column("kind", String(8), nullable=False),
    Index(None, "key", "value_head", "kind", "run_id"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Column("value_head", String(VALUE_HEAD_LENGTH), nullable=False),
    Index(None, "key", "value_head", "run_id"),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Index(None, "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Index(None, "key", "value", "is_nan", "run_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

# Idempotency keys of the batches applied, so that a re-sent batch is applied once.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
)

# Who changed what, written in the same transaction as the change. Metric values are
# telemetry, not changes of state, and are not audited one by one.
audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(255), nullable=False),
    Column("details", Text, nullable=False),
    Index(None, "object_type", "object_id"),
)
