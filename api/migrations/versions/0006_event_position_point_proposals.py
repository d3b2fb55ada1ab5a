"""stop events carry the phone's position; village service point proposals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stop_events") as batch:
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("accuracy_m", sa.Float(), nullable=True))
        batch.add_column(sa.Column("distance_m", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("off_point", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "point_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("photo_path", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("correction_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'accepted', 'rejected')", name="proposal_status_known"
        ),
        sa.CheckConstraint("source IN ('field', 'console')", name="proposal_source_known"),
        sa.ForeignKeyConstraint(["proposed_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["correction_id"], ["place_corrections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposed_by", "client_id", name="uq_proposal_client_id"),
    )
    op.create_index("ix_point_proposals_place_id", "point_proposals", ["place_id"])
    op.create_index("ix_point_proposals_county_code", "point_proposals", ["county_code"])
    op.create_index("ix_point_proposals_status", "point_proposals", ["status"])


def downgrade() -> None:
    op.drop_index("ix_point_proposals_status", table_name="point_proposals")
    op.drop_index("ix_point_proposals_county_code", table_name="point_proposals")
    op.drop_index("ix_point_proposals_place_id", table_name="point_proposals")
    op.drop_table("point_proposals")
    with op.batch_alter_table("stop_events") as batch:
        for name in ("off_point", "distance_m", "accuracy_m", "lat", "lon"):
            batch.drop_column(name)
