"""Service points of unlocated villages and townships proposed from the field or the
console, and their review.

A courier standing at the place (of their own county) records a point, its accuracy, a
note and a photo (source ``field``); the county's dispatcher or an admin may also propose
by clicking the map (source ``console``). The county's dispatcher (or an admin) accepts
it, maybe at a moved point, which writes a :class:`~api.models.PlaceCorrection` (the next
plan routes with it, ``api.worker.jobs._network``), or rejects it with a note. Accepting
one supersedes the other proposals of the place still waiting (status ``superseded``, in
the same transaction), so that no later acceptance moves the place unnoticed. A user has
one proposal of a place waiting at a time (the database's partial unique index
``uq_proposal_waiting``). Proposals are never deleted: who proposed and who reviewed, and
when, are kept.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, NotFound
from api.models import PointProposal, User, now
from api.schemas.proposals import AcceptIn, ProposalIn, ProposalOut, RejectIn
from api.services import photos
from api.services.places import (
    add_correction,
    check_point,
    latest_corrections,
    place_out,
    usernames,
)
from api.services.reference import places_by_id
from api.services.users import courier_county
from routing.errors import InputError
from routing.network import Place

__all__ = [
    "PROPOSABLE_KINDS",
    "accept",
    "attach_photo",
    "list_proposals",
    "photo_of",
    "propose",
    "reject",
]

#: Kinds of place that get a service point from a proposal.
PROPOSABLE_KINDS = ("village", "township")
PHOTO_FOLDER = "proposals"


def _url(row: PointProposal) -> str | None:
    return f"/api/v1/place-proposals/{row.id}/photo" if row.photo_path else None


def _outs(session: Session, rows: list[PointProposal]) -> list[ProposalOut]:
    """The proposals as answered: each place as it is now, usernames (three queries)."""
    fixes = latest_corrections(session)
    names = usernames(
        session,
        [r.proposed_by for r in rows]
        + [r.reviewed_by for r in rows]
        + [f.corrected_by for f in fixes.values()],
    )
    out = []
    for r in rows:
        place = places_by_id()[r.place_id]
        fix = fixes.get(r.place_id)
        view = place_out(place, fix, username=names.get(fix.corrected_by or 0) if fix else None)
        out.append(
            ProposalOut(
                id=r.id or 0,
                place=view,
                county_code=r.county_code,
                lon=r.lon,
                lat=r.lat,
                accuracy_m=r.accuracy_m,
                note=r.note,
                source="console" if r.source == "console" else "field",
                client_id=r.client_id,
                status=r.status,  # type: ignore[arg-type]  # the database checks it
                proposed_by=r.proposed_by,
                proposed_by_username=names.get(r.proposed_by or 0),
                proposed_at=r.proposed_at,
                reviewed_by=r.reviewed_by,
                reviewed_by_username=names.get(r.reviewed_by or 0),
                reviewed_at=r.reviewed_at,
                review_note=r.review_note,
                correction_id=r.correction_id,
                photo_url=_url(r),
            )
        )
    return out


def one(session: Session, row: PointProposal) -> ProposalOut:
    return _outs(session, [row])[0]


# ---- proposing ---------------------------------------------------------------------------
def _may_propose(session: Session, user: User, place: Place) -> str:
    """The source of ``user``'s proposal for ``place`` (403 when they may not)."""
    if user.role == "admin":
        return "console"
    if user.role == "dispatcher":
        if user.county_code != place.county_code:
            raise Forbidden(
                f"{place.name_zh} ({place.id}) lies in county {place.county_code}; a "
                f"dispatcher of {user.county_code} proposes points of that county only"
            )
        return "console"
    if user.role == "courier":
        home = courier_county(session, user)
        if home != place.county_code:
            raise Forbidden(
                f"{place.name_zh} ({place.id}) lies in county {place.county_code}; a courier "
                f"of {home or 'the trunk'} proposes points of their own county only"
            )
        return "field"
    raise Forbidden(f"couriers, dispatchers and admins propose points; you are {user.role}")


def _retry(session: Session, user: User, client_id: str | None) -> PointProposal | None:
    if client_id is None:
        return None
    return session.exec(
        select(PointProposal).where(
            PointProposal.proposed_by == user.id, PointProposal.client_id == client_id
        )
    ).first()


def _same(first: PointProposal, body: ProposalIn) -> PointProposal:
    """The first proposal of a retried client id (409 when the retry names another place)."""
    if first.place_id != body.place_id:
        raise Conflict(
            f"client_id {body.client_id!r} was used for proposal {first.id} of place "
            f"{first.place_id}, not {body.place_id}"
        )
    return first


def _waiting(session: Session, user: User, place_id: str) -> PointProposal | None:
    """``user``'s proposal of the place waiting for review, if any."""
    return session.exec(
        select(PointProposal).where(
            PointProposal.proposed_by == user.id,
            PointProposal.place_id == place_id,
            PointProposal.status == "proposed",
        )
    ).first()


def _one_waiting(place: Place, waiting: PointProposal) -> Conflict:
    return Conflict(
        f"your proposal {waiting.id} of {place.name_zh} ({place.id}) is waiting for review "
        "already; a user has one proposal of a place waiting at a time"
    )


def _proposable(session: Session, place_id: str) -> Place:
    place = places_by_id().get(place_id)
    if place is None:
        raise InputError("place_id", f"no place {place_id!r}")
    if place.kind not in PROPOSABLE_KINDS:
        raise InputError(
            "place_id", f"{place.id} is a {place.kind}; only villages and townships are proposed"
        )
    return place


def _unlocated(session: Session, place: Place) -> None:
    """409 when the place has a point already (bundled or corrected)."""
    fix = latest_corrections(session, place.id).get(place.id)
    if place.located or fix is not None:
        lon, lat = (fix.lon, fix.lat) if fix is not None else (place.lon, place.lat)
        raise Conflict(
            f"{place.name_zh} ({place.id}) is located already (at {lon}, {lat}); a dispatcher "
            "corrects a located place on the Places page"
        )


def propose(session: Session, user: User, body: ProposalIn) -> tuple[ProposalOut, bool]:
    """Keep ``user``'s proposal (checked: the place, who, the point, and no other proposal
    of theirs waiting for the place: 409 naming it); answer it and whether it is new (a
    retry with the same client id answers the first one, False)."""
    first = _retry(session, user, body.client_id)
    if first is not None:
        return one(session, _same(first, body)), False
    place = _proposable(session, body.place_id)
    source = _may_propose(session, user, place)
    _unlocated(session, place)
    check_point(body.lon, body.lat)
    waiting = _waiting(session, user, place.id)
    if waiting is not None:
        raise _one_waiting(place, waiting)
    row = PointProposal(
        place_id=place.id,
        county_code=place.county_code,
        lon=body.lon,
        lat=body.lat,
        accuracy_m=body.accuracy_m,
        note=body.note,
        source=source,
        client_id=body.client_id,
        status="proposed",
        proposed_by=user.id,
        proposed_at=now(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # a race: the same client id, or another waiting proposal
        session.rollback()
        first = _retry(session, user, body.client_id)
        if first is not None:
            return one(session, _same(first, body)), False
        waiting = _waiting(session, user, place.id)
        if waiting is None:
            raise
        raise _one_waiting(place, waiting) from None
    session.refresh(row)
    return one(session, row), True


# ---- reading -----------------------------------------------------------------------------
def list_proposals(
    session: Session, user: User, county: str | None, status: str | None
) -> list[ProposalOut]:
    """Newest first: an admin's all (or ``county``'s), a dispatcher's county's (another
    county: 403), a courier's own."""
    query = select(PointProposal)
    if user.role == "dispatcher":
        if county is not None and county != user.county_code:
            raise Forbidden(
                f"a dispatcher of {user.county_code} lists the proposals of that county only"
            )
        county = user.county_code or ""
    elif user.role == "courier":
        query = query.where(PointProposal.proposed_by == user.id)
    elif user.role != "admin":
        raise Forbidden(f"couriers, dispatchers and admins list proposals; you are {user.role}")
    if county is not None:
        query = query.where(PointProposal.county_code == county)
    if status is not None:
        query = query.where(PointProposal.status == status)
    rows = list(session.exec(query.order_by(col(PointProposal.id).desc())).all())
    return _outs(session, rows)


def _visible(session: Session, user: User, proposal_id: int) -> PointProposal:
    """The proposal if the user may see it (its proposer, its county's dispatcher, an
    admin); 404 otherwise, as for a missing one."""
    row = session.get(PointProposal, proposal_id)
    if row is not None and (
        user.role == "admin"
        or row.proposed_by == user.id
        or (user.role == "dispatcher" and user.county_code == row.county_code)
    ):
        return row
    raise NotFound(f"no proposal {proposal_id}")


def photo_of(session: Session, user: User, proposal_id: int, photo_dir: Path) -> Path:
    """The stored photo of a visible proposal (404 when there is none)."""
    row = _visible(session, user, proposal_id)
    path = photos.stored_photo(photo_dir, row.photo_path)
    if path is None:
        raise NotFound(f"proposal {proposal_id} has no photo")
    return path


def attach_photo(
    session: Session,
    user: User,
    proposal_id: int,
    upload: tuple[str | None, BinaryIO],
    photo_dir: Path,
    max_bytes: int,
) -> ProposalOut:
    """Keep the proposer's photo (``upload``: content type, stream; checked as a stop
    photo), replacing an earlier one; allowed after the review too (it arrived late)."""
    row = _visible(session, user, proposal_id)
    if row.proposed_by != user.id:
        raise Forbidden(f"only the proposer adds the photo of proposal {proposal_id}")
    data, ext = photos.read_photo(upload[0], upload[1], max_bytes)
    relative = photos.store_photo(photo_dir, PHOTO_FOLDER, str(row.id), data, ext)
    before = row.photo_path
    try:
        row.photo_path = relative
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        with contextlib.suppress(OSError):
            (photo_dir / relative).unlink()
        raise
    old = photos.stored_photo(photo_dir, before)
    if old is not None:
        with contextlib.suppress(OSError):
            old.unlink()
    session.refresh(row)
    return one(session, row)


# ---- reviewing ---------------------------------------------------------------------------
def _reviewable(session: Session, user: User, proposal_id: int) -> PointProposal:
    row = _visible(session, user, proposal_id)
    if user.role == "admin" or (user.role == "dispatcher" and user.county_code == row.county_code):
        return row
    raise Forbidden(f"the dispatcher of county {row.county_code} or an admin reviews proposals")


def _decide(session: Session, row: PointProposal, values: dict[str, object]) -> None:
    """Set ``values`` on the proposal if it is still 'proposed' (409 otherwise); the
    caller's transaction is rolled back on the 409."""
    done = session.execute(
        update(PointProposal)
        .where(col(PointProposal.id) == row.id, col(PointProposal.status) == "proposed")
        .values(**values)
    )
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()
        current = session.get(PointProposal, row.id)
        state = current.status if current is not None else "gone"
        raise Conflict(f"proposal {row.id} is {state} already; only a proposed one is reviewed")


def _point(row: PointProposal, body: AcceptIn) -> tuple[float, float, bool]:
    """The accepted point: the proposal's, or the reviewer's moved one (both coordinates)."""
    if body.lon is None and body.lat is None:
        return row.lon, row.lat, False
    if body.lon is None or body.lat is None:
        missing = "lon" if body.lon is None else "lat"
        raise InputError(missing, "a moved point needs both lon and lat")
    return body.lon, body.lat, (body.lon, body.lat) != (row.lon, row.lat)


def _lock_waiting(session: Session, place_id: str) -> None:
    """Lock the place's waiting proposals, in id order (PostgreSQL; SQLite has one writer
    at a time): two acceptances of one place's proposals take turns instead of
    deadlocking, and the second finds its proposal superseded (409)."""
    session.exec(
        select(PointProposal.id)
        .where(PointProposal.place_id == place_id, PointProposal.status == "proposed")
        .order_by(col(PointProposal.id))
        .with_for_update()
    ).all()


def _supersede_others(session: Session, user: User, row: PointProposal, at: datetime) -> None:
    """The place's other waiting proposals: superseded by the accepted ``row``."""
    session.execute(
        update(PointProposal)
        .where(
            col(PointProposal.place_id) == row.place_id,
            col(PointProposal.id) != row.id,
            col(PointProposal.status) == "proposed",
        )
        .values(
            status="superseded",
            reviewed_by=user.id,
            reviewed_at=at,
            review_note=f"提案 #{row.id} 已被采纳 (proposal #{row.id} of this place was accepted)",
        )
    )


def accept(session: Session, user: User, proposal_id: int, body: AcceptIn) -> ProposalOut:
    """Accept the proposal (at its point, or moved): one transaction writes the place
    correction, marks the proposal accepted, only if it is still 'proposed' (409), and
    supersedes the place's other waiting proposals."""
    row = _reviewable(session, user, proposal_id)
    if row.status != "proposed":
        raise Conflict(
            f"proposal {row.id} is {row.status} already; only a proposed one is reviewed"
        )
    lon, lat, moved = _point(row, body)
    check_point(lon, lat)
    _lock_waiting(session, row.place_id)
    kind = "现场采集" if row.source == "field" else "调度标点"
    source = f"{kind} proposal #{row.id}" + (" (moved by the reviewer)" if moved else "")
    fix = add_correction(session, row.place_id, lon, lat, source, user)
    at = now()
    _decide(
        session,
        row,
        {
            "status": "accepted",
            "reviewed_by": user.id,
            "reviewed_at": at,
            "review_note": body.note,
            "correction_id": fix.id,
        },
    )
    _supersede_others(session, user, row, at)
    session.commit()
    session.refresh(row)
    return one(session, row)


def reject(session: Session, user: User, proposal_id: int, body: RejectIn) -> ProposalOut:
    """Reject the proposal with a note (kept), only if it is still 'proposed' (409)."""
    row = _reviewable(session, user, proposal_id)
    _decide(
        session,
        row,
        {
            "status": "rejected",
            "reviewed_by": user.id,
            "reviewed_at": now(),
            "review_note": body.note,
        },
    )
    session.commit()
    session.refresh(row)
    return one(session, row)
