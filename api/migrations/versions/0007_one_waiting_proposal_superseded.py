"""point proposals: one waiting proposal per user and place; 'superseded' ones

A user keeps at most one proposal of a place waiting for review (a partial unique index
on place_id, proposed_by where status = 'proposed'); accepting a proposal supersedes the
other waiting ones of its place (status 'superseded').

Rows kept before this revision are brought into line first: of a user's several waiting
proposals of one place the newest stays waiting and the older ones are superseded by it;
waiting proposals of a place with an accepted proposal are superseded by that one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:20:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_STATES = "status IN ('proposed', 'accepted', 'rejected')"
NEW_STATES = "status IN ('proposed', 'accepted', 'rejected', 'superseded')"
WAITING = sa.text("status = 'proposed'")

proposals = sa.table(
    "point_proposals",
    sa.column("id", sa.Integer()),
    sa.column("place_id", sa.String()),
    sa.column("proposed_by", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("reviewed_at", sa.DateTime(timezone=True)),
    sa.column("review_note", sa.String()),
)


def _supersede(conn: sa.Connection, ids: list[int], by: int, note: str) -> None:
    if ids:
        conn.execute(
            proposals.update()
            .where(proposals.c.id.in_(ids), proposals.c.status == "proposed")
            .values(
                status="superseded", reviewed_at=datetime.now(UTC), review_note=note.format(id=by)
            )
        )


def _tidy(conn: sa.Connection) -> None:
    """Supersede the waiting rows the new rules do not allow (see the module's text)."""
    accepted = dict(
        conn.execute(
            sa.select(proposals.c.place_id, sa.func.max(proposals.c.id))
            .where(proposals.c.status == "accepted")
            .group_by(proposals.c.place_id)
        ).all()
    )
    waiting: dict[tuple[str, int | None], list[int]] = {}
    for pid, place_id, who in conn.execute(
        sa.select(proposals.c.id, proposals.c.place_id, proposals.c.proposed_by)
        .where(proposals.c.status == "proposed")
        .order_by(proposals.c.id)
    ).all():
        waiting.setdefault((place_id, who), []).append(pid)
    for (place_id, who), ids in waiting.items():
        if place_id in accepted:
            _supersede(conn, ids, accepted[place_id], "superseded: proposal #{id} was accepted")
        elif who is not None and len(ids) > 1:
            *older, newest = ids
            _supersede(conn, older, newest, "superseded by the same user's proposal #{id}")


def upgrade() -> None:
    with op.batch_alter_table("point_proposals") as batch:
        batch.drop_constraint("proposal_status_known", type_="check")
        batch.create_check_constraint("proposal_status_known", sa.text(NEW_STATES))
    _tidy(op.get_bind())
    op.create_index(
        "uq_proposal_waiting",
        "point_proposals",
        ["place_id", "proposed_by"],
        unique=True,
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("uq_proposal_waiting", table_name="point_proposals")
    # 'superseded' is unknown before this revision: such a proposal reads as rejected
    op.execute(
        proposals.update().where(proposals.c.status == "superseded").values(status="rejected")
    )
    with op.batch_alter_table("point_proposals") as batch:
        batch.drop_constraint("proposal_status_known", type_="check")
        batch.create_check_constraint("proposal_status_known", sa.text(OLD_STATES))
