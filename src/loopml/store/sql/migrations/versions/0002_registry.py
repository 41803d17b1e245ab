"""Model registry: registered models, versions, tags, parents, aliases, alias history,
approval requests.

Revision ID: 0002_registry
Revises: 0001_tracking
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_tracking"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
MODEL = sa.String(250)
ALIAS = sa.String(63)


def _model_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name"], ["registered_models.name"], name=f"fk_{table}_name_registered_models"
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("protected_aliases", sa.Text, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_tags",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name="pk_model_tags"),
        _model_fk("model_tags"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("flavor", sa.String(32), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("manifest_digest", sa.String(64), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("artifact_path", sa.String(1024), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
        _model_fk("model_versions"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_model_versions_run_id_runs"),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
    )
    op.create_table(
        "model_version_parents",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("parent_name", MODEL, nullable=False),
        sa.Column("parent_version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "name", "version", "parent_name", "parent_version", name="pk_model_version_parents"
        ),
    )
    op.create_index(
        "ix_model_version_parents_parent_name_parent_version",
        "model_version_parents",
        ["parent_name", "parent_version"],
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("alias", ALIAS, nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_model_aliases"),
        _model_fk("model_aliases"),
    )
    op.create_index("ix_model_aliases_name_version", "model_aliases", ["name", "version"])
    op.create_table(
        "alias_history",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("alias", ALIAS, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approval_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("name", "alias", "seq", name="pk_alias_history"),
    )
    op.create_table(
        "approval_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", MODEL, nullable=False),
        sa.Column("alias", ALIAS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.Column("decision_comment", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
        _model_fk("approval_requests"),
    )
    op.create_index("ix_approval_requests_name_status", "approval_requests", ["name", "status"])


def downgrade() -> None:
    for table in (
        "approval_requests",
        "alias_history",
        "model_aliases",
        "model_version_parents",
        "model_version_tags",
        "model_versions",
        "model_tags",
        "registered_models",
    ):
        op.drop_table(table)
