"""plan claims: one planning job in flight per date and county

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 04:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_claims",
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_date", "county_code"),
    )
    op.create_index("ix_plan_claims_plan_id", "plan_claims", ["plan_id"], unique=False)
    # the jobs in flight today claim their dates and counties (the oldest one wins)
    plans = sa.table(
        "plans",
        sa.column("id", sa.Integer()),
        sa.column("plan_date", sa.Date()),
        sa.column("counties", sa.JSON()),
        sa.column("status", sa.String()),
    )
    claims = sa.table(
        "plan_claims",
        sa.column("plan_date", sa.Date()),
        sa.column("county_code", sa.String()),
        sa.column("plan_id", sa.Integer()),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(plans.c.id, plans.c.plan_date, plans.c.counties)
        .where(plans.c.status.in_(("queued", "running")))
        .order_by(plans.c.id)
    ).all()
    taken: set[tuple[object, str]] = set()
    for plan_id, plan_date, counties in rows:
        for county in counties or ():
            if (plan_date, county) not in taken:
                taken.add((plan_date, county))
                conn.execute(
                    claims.insert().values(plan_date=plan_date, county_code=county, plan_id=plan_id)
                )


def downgrade() -> None:
    op.drop_index("ix_plan_claims_plan_id", table_name="plan_claims")
    op.drop_table("plan_claims")
