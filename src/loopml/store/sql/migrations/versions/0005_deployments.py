"""Deployments, the history of their traffic policies, and the index of log segments.

Revision ID: 0005_deployments
Revises: 0004_schedules
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_deployments"
down_revision = "0004_schedules"
branch_labels = None
depends_on = None

NAME = sa.String(250)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", NAME, nullable=False),
        sa.Column("model", NAME, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_deployments"),
    )
    op.create_table(
        "deployment_revisions",
        sa.Column("deployment", NAME, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("previous", sa.Integer, nullable=True),
        sa.Column("restores", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("deployment", "revision", name="pk_deployment_revisions"),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name="fk_deployment_revisions_deployment_deployments",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "log_segments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("stream", sa.String(283), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("first_time", sa.BigInteger, nullable=False),
        sa.Column("last_time", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_segments"),
    )
    op.create_index("ix_log_segments_stream_first_time", "log_segments", ["stream", "first_time"])


def downgrade() -> None:
    for table in ("log_segments", "deployment_revisions", "deployments"):
        op.drop_table(table)
