"""Alembic environment: loopml passes its own connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from loopml.store.sql._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("loopml migrations run through `loopml db upgrade`, not bare alembic.")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
