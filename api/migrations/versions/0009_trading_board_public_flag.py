"""trading: postings the information board may show to readers not signed in

``capacity_postings`` and ``cargo_postings`` gain ``public`` (false by default): the
posting firm's consent to show the posting on the prefecture's information board
(物流信息发布) without signing in. Signed-in traders see every open posting as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("capacity_postings", "cargo_postings")


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy: the bookings' foreign keys refer to these tables)
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        )


def downgrade() -> None:
    for table in TABLES:  # SQLite >= 3.35 drops a column in place, as PostgreSQL does
        op.drop_column(table, "public")
