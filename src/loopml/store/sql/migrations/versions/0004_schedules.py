"""Pipeline schedules and their firings.

Revision ID: 0004_schedules
Revises: 0003_data
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_schedules"
down_revision = "0003_data"
branch_labels = None
depends_on = None

ID = sa.String(32)
NAME = sa.String(250)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", NAME, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("cron", sa.String(200), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("dataset", NAME, nullable=True),
        sa.Column("catchup", sa.String(16), nullable=False),
        sa.Column("executor", sa.String(32), nullable=False),
        sa.Column("workdir", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("next_fire_at", sa.BigInteger, nullable=True),
        sa.Column("seen_version", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )
    op.create_table(
        "schedule_firings",
        sa.Column("id", ID, nullable=False),
        sa.Column("schedule", NAME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("fired_at", sa.BigInteger, nullable=False),
        sa.Column("scheduled_for", sa.BigInteger, nullable=True),
        sa.Column("dataset_version", sa.Integer, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_firings"),
        sa.ForeignKeyConstraint(
            ["schedule"], ["schedules.name"], name="fk_schedule_firings_schedule_schedules"
        ),
    )
    op.create_index(
        "ix_schedule_firings_schedule_fired_at", "schedule_firings", ["schedule", "fired_at"]
    )
    op.create_index("ix_schedule_firings_state", "schedule_firings", ["state"])


def downgrade() -> None:
    for table in ("schedule_firings", "schedules"):
        op.drop_table(table)
