"""idempotency keys on postings and listings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:35:05.679781
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("capacity_postings", "cargo_postings", "listings")


def upgrade() -> None:
    # a unique index (not a table constraint): it can be dropped again on SQLite too
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
            )
            batch_op.create_index(f"ix_{table}_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_idempotency_key")
            batch_op.drop_column("idempotency_key")
