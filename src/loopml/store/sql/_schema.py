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
    "alias_history",
    "applied_batches",
    "approval_requests",
    "artifacts",
    "audit_events",
    "check_reports",
    "dataset_versions",
    "datasets",
    "deployment_revisions",
    "deployments",
    "experiments",
    "latest_metrics",
    "log_segments",
    "metadata",
    "metrics",
    "model_aliases",
    "model_tags",
    "model_version_parents",
    "model_version_tags",
    "model_versions",
    "params",
    "registered_models",
    "runs",
    "schedule_firings",
    "schedules",
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


# -- the model registry ------------------------------------------------------------

MODEL = String(250)
ALIAS = String(63)

# ``last_version`` is bumped under the row's lock to number a new version, so two
# concurrent registrations never get the same number and deleted numbers are not reused.
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", MODEL, primary_key=True),
    Column("description", Text, nullable=False),
    Column("protected_aliases", Text, nullable=False),  # JSON list of alias names
    Column("last_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("name", MODEL, ForeignKey("registered_models.name"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", MODEL, ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("manifest_digest", String(64), nullable=False),
    Column("run_id", ID, ForeignKey("runs.id")),
    Column("artifact_path", String(1024)),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Index(None, "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", MODEL, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

model_version_parents = Table(
    "model_version_parents",
    metadata,
    Column("name", MODEL, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("parent_name", MODEL, primary_key=True),
    Column("parent_version", Integer, primary_key=True),
    Index(None, "parent_name", "parent_version"),
)

# ``seq`` counts the moves of an alias; a move writes history row ``seq`` and bumps the
# alias's ``seq`` from the value it read, so two racing moves cannot both commit.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", MODEL, ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", ALIAS, primary_key=True),
    Column("version", Integer),  # NULL: removed; the row keeps the move count
    Column("seq", Integer, nullable=False),
    Index(None, "name", "version"),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("name", MODEL, primary_key=True),
    Column("alias", ALIAS, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("actor", String(255), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("approval_id", ID),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", MODEL, ForeignKey("registered_models.name"), nullable=False),
    Column("alias", ALIAS, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("decided_by", String(255)),
    Column("decided_at", BigInteger),
    Column("decision_comment", Text, nullable=False),
    Index(None, "name", "status"),
)


# -- data versioning -----------------------------------------------------------------

DATASET = String(250)
DIGEST = String(64)

# ``last_version`` numbers versions under the row's lock, as for registered models.
datasets = Table(
    "datasets",
    metadata,
    Column("name", DATASET, primary_key=True),
    Column("last_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", DATASET, ForeignKey("datasets.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("author", String(255), nullable=False),
    Column("message", Text, nullable=False),
    Column("manifest_digest", DIGEST, nullable=False),
    Column("content_digest", DIGEST, nullable=False),
    Column("file_count", BigInteger, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Column("source_path", Text),
    Column("run_id", ID, ForeignKey("runs.id")),
    Column("schema", Text, nullable=False),  # JSON: tabular file -> its schema
    Column("profile_digest", DIGEST),  # blob of the tabular files' profiles
    Index(None, "run_id"),
)

check_reports = Table(
    "check_reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", DATASET, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("author", String(255), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("suite", String(250), nullable=False),
    Column("report", Text, nullable=False),
    Index(None, "name", "version"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("target", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("params", Text, nullable=False),  # JSON object
    Column("cron", String(200)),
    Column("timezone", String(64), nullable=False),
    Column("dataset", DATASET),
    Column("catchup", String(16), nullable=False),
    Column("executor", String(32), nullable=False),
    Column("workdir", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("author", String(255), nullable=False),
    Column("next_fire_at", BigInteger),  # cron: the next time due
    Column("seen_version", Integer),  # dataset: the newest version fired for
)

schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("schedule", String(250), ForeignKey("schedules.name"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("fired_at", BigInteger, nullable=False),
    Column("scheduled_for", BigInteger),
    Column("dataset_version", Integer),
    Column("run_id", ID),
    Column("finished_at", BigInteger),
    Column("error", Text),
    Column("host", String(255)),
    Column("pid", Integer),
    Index(None, "schedule", "fired_at"),
    Index(None, "state"),
)


# -- deployments and log segments ------------------------------------------------------

DEPLOYMENT = String(250)

# ``revision`` is the policy's current revision: a change writes history row
# ``revision + 1`` and moves the row only where ``revision`` is still what it read, so
# two writers of one deployment never both commit from the same revision.
deployments = Table(
    "deployments",
    metadata,
    Column("name", DEPLOYMENT, primary_key=True),
    Column("model", MODEL, nullable=False),
    Column("policy", Text, nullable=False),  # JSON: TrafficPolicy.to_json()
    Column("revision", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column(
        "deployment",
        DEPLOYMENT,
        ForeignKey("deployments.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("policy", Text, nullable=False),  # JSON: TrafficPolicy.to_json()
    Column("previous", Integer),  # the revision a rollback of this one returns to
    Column("restores", Integer),  # rollback: the revision whose policy it brought back
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", BigInteger, nullable=False),
)

# One row per Parquet file of a log stream; readers seek on (stream, first_time).
log_segments = Table(
    "log_segments",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("stream", String(283), nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("first_time", BigInteger, nullable=False),
    Column("last_time", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "stream", "first_time"),
)
