"""Data versioning: datasets, dataset versions, data-check reports.

Revision ID: 0003_data
Revises: 0002_registry
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_data"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

ID = sa.String(32)
DATASET = sa.String(250)
DIGEST = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", DATASET, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_datasets"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("name", DATASET, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("manifest_digest", DIGEST, nullable=False),
        sa.Column("content_digest", DIGEST, nullable=False),
        sa.Column("file_count", sa.BigInteger, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("source_path", sa.Text, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("profile_digest", DIGEST, nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="pk_dataset_versions"),
        sa.ForeignKeyConstraint(
            ["name"], ["datasets.name"], name="fk_dataset_versions_name_datasets"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_dataset_versions_run_id_runs"),
    )
    op.create_index("ix_dataset_versions_run_id", "dataset_versions", ["run_id"])
    op.create_table(
        "check_reports",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", DATASET, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("suite", sa.String(250), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_reports"),
    )
    op.create_index("ix_check_reports_name_version", "check_reports", ["name", "version"])


def downgrade() -> None:
    for table in ("check_reports", "dataset_versions", "datasets"):
        op.drop_table(table)
