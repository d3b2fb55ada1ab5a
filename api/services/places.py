"""Places and their coordinate corrections: who may place what, the point check, the
places list with each place's open orders of a day, and the recent corrections.

A correction is a :class:`~api.models.PlaceCorrection` row; the latest one of a place wins
(in answers here and in the network of the next plan, ``api.worker.jobs._network``).
Admins correct any place; a county's dispatcher the townships and villages of that county.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import case, false, func
from sqlmodel import Session, col, select

from api.errors import Forbidden
from api.models import Order, PlaceCorrection, User, now
from api.schemas.places import (
    CorrectionListItem,
    CorrectionOut,
    PlaceCorrectionIn,
    PlaceOut,
    PlaceRef,
    PointOut,
)
from api.services import audit
from api.services.basemap import counties
from api.services.convert import local
from api.services.reference import network, places_by_id
from api.services.users import carrier_party, courier_county
from routing.network import Place
from routing.network.snap import check_inside

__all__ = [
    "PlaceFilter",
    "check_point",
    "correct",
    "corrections",
    "latest_corrections",
    "list_places",
    "listing_county",
    "may_correct",
    "open_orders",
    "place_out",
]

#: Kinds a county's dispatcher may place; depots (warehouse, hubs) are the admins' own.
DISPATCHER_KINDS = ("township", "village")


def _county_label(code: str | None) -> str:
    name = next((c["name_zh"] for c in counties() if c["code"] == code), None)
    return f"{code} ({name})" if name else str(code)


# ---- reading ---------------------------------------------------------------------------
def latest_corrections(session: Session, place_id: str | None = None) -> dict[str, PlaceCorrection]:
    """The newest correction of every corrected place (or of one place)."""
    query = select(PlaceCorrection).order_by(col(PlaceCorrection.id))
    if place_id is not None:
        query = query.where(PlaceCorrection.place_id == place_id)
    return {c.place_id: c for c in session.exec(query)}


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Usernames of these user ids, in one query."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(wanted)))
    return {int(i): name for i, name in rows if i is not None}


def place_out(
    place: Place,
    correction: PlaceCorrection | None,
    *,
    username: str | None = None,
    open_orders: int | None = None,
) -> PlaceOut:
    """A place as answered: its corrected point if any, its parent township's name."""
    parent = places_by_id().get(place.township_code)
    base = PlaceOut(
        id=place.id,
        kind=place.kind,
        name_zh=place.name_zh,
        name_pinyin=place.name_pinyin,
        county_code=place.county_code,
        township_code=place.township_code,
        township_zh=parent.name_zh if parent is not None else None,
        township_pinyin=parent.name_pinyin if parent is not None else None,
        lon=place.lon,
        lat=place.lat,
        located=place.located,
        corrected=False,
        coord_source=place.coord_source,
        notes=place.notes,
        open_orders=open_orders,
    )
    if correction is None:
        return base
    return base.model_copy(
        update={
            "lon": correction.lon,
            "lat": correction.lat,
            "located": True,
            "corrected": True,
            "coord_source": f"correction: {correction.source}",
            "correction": CorrectionOut(
                source=correction.source,
                corrected_by=correction.corrected_by,
                corrected_by_username=username,
                corrected_at=local(correction.created_at),
            ),
        }
    )


def _scoped(query: Any, session: Session, user: User) -> Any:
    """Orders the user may see: all (admin), their county's (dispatcher), their party's
    (carrier)."""
    if user.role == "admin":
        return query
    if user.role == "dispatcher":
        return query.where(Order.county_code == (user.county_code or ""))
    party = carrier_party(session, user)
    return query.where(Order.party == party) if party else query.where(false())


def open_orders(
    session: Session, user: User, day: date, county: str | None = None
) -> dict[str, int]:
    """Open orders of ``day`` per rural place (the destination of a down order, the origin
    of an up order), among the orders the user may see; one query."""
    place = case((col(Order.direction) == "up", col(Order.origin)), else_=col(Order.destination))
    query = select(place, func.count()).where(Order.plan_date == day, Order.status == "open")
    if county is not None:
        query = query.where(Order.county_code == county)
    query = _scoped(query, session, user).group_by(place)
    return {str(pid): int(n) for pid, n in session.exec(query)}


@dataclass(frozen=True)
class PlaceFilter:
    kind: str | None = None
    county: str | None = None
    q: str | None = None
    located: bool | None = None
    orders_on: date | None = None


def listing_county(session: Session, user: User, county: str | None) -> str | None:
    """The county whose places ``user`` lists: a courier their own only (the default; 403
    for another county and for a trunk courier, who has none); others as asked."""
    if user.role != "courier":
        return county
    own = courier_county(session, user)
    if own is None:
        raise Forbidden(
            "a courier lists the places of their own county; you drive the trunk (no county), "
            "so there are none to list"
        )
    if county is not None and county != own:
        raise Forbidden(
            f"a courier of {_county_label(own)} lists the places of that county only, not "
            f"of {_county_label(county)}"
        )
    return own


def list_places(
    session: Session, user: User, where: PlaceFilter, sort: tuple[str, bool]
) -> list[PlaceOut]:
    """The places matching ``where``, sorted by (field, descending) then id; with each
    one's open orders of ``where.orders_on`` when given."""
    fixes = latest_corrections(session)
    names = usernames(session, (c.corrected_by for c in fixes.values()))
    counts = (
        open_orders(session, user, where.orders_on, where.county)
        if where.orders_on is not None
        else None
    )
    needle = where.q.strip().casefold() if where.q else ""
    out: list[PlaceOut] = []
    for place in network().places:
        if where.kind is not None and place.kind != where.kind:
            continue
        if where.county is not None and place.county_code != where.county:
            continue
        if needle and not (
            needle in place.name_zh.casefold() or needle in place.name_pinyin.casefold()
        ):
            continue
        fix = fixes.get(place.id)
        view = place_out(
            place,
            fix,
            username=names.get(fix.corrected_by or 0) if fix is not None else None,
            open_orders=counts.get(place.id, 0) if counts is not None else None,
        )
        if where.located is not None and view.located != where.located:
            continue
        out.append(view)
    field, descending = sort
    out.sort(key=lambda p: p.id)
    out.sort(key=lambda p: _sort_value(p, field), reverse=descending)  # stable: ties by id
    return out


def _sort_value(place: PlaceOut, field: str) -> Any:
    value = getattr(place, field)
    return 0 if value is None else value


# ---- correcting ------------------------------------------------------------------------
def may_correct(user: User, place: Place) -> None:
    """Admins correct any place; a dispatcher the townships and villages of their county."""
    if user.role == "admin":
        return
    if user.role != "dispatcher":
        raise Forbidden(
            f"only an admin or a county's dispatcher corrects places; you are {user.role}"
        )
    if place.county_code != user.county_code:
        raise Forbidden(
            f"place {place.id} lies in county {_county_label(place.county_code)}; a dispatcher "
            f"of {_county_label(user.county_code)} corrects that county's places only"
        )
    if place.kind not in DISPATCHER_KINDS:
        raise Forbidden(f"the {place.kind} {place.id} is corrected by an admin only")


def check_point(lon: float, lat: float) -> None:
    """InputError (field ``lon``) unless the point lies inside the prefecture."""
    check_inside(np.array([lon]), np.array([lat]), ["lon"])


def add_correction(
    session: Session, place_id: str, lon: float, lat: float, source: str, user: User
) -> PlaceCorrection:
    """A new correction of ``place_id`` by ``user``, flushed in the caller's transaction
    (the newest correction of a place wins; the next plan routes it)."""
    previous = session.exec(
        select(PlaceCorrection)
        .where(PlaceCorrection.place_id == place_id)
        .order_by(col(PlaceCorrection.id).desc())
    ).first()
    fix = PlaceCorrection(
        place_id=place_id, lon=lon, lat=lat, source=source, corrected_by=user.id, created_at=now()
    )
    session.add(fix)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="place.correct",
        entity="place",
        entity_id=place_id,
        before={"lon": previous.lon, "lat": previous.lat, "source": previous.source}
        if previous is not None
        else None,
        after={"lon": lon, "lat": lat, "source": source, "correction_id": fix.id},
    )
    return fix


def correct(session: Session, user: User, place: Place, body: PlaceCorrectionIn) -> PlaceOut:
    """Keep a correction of ``place`` by ``user`` (checked: who, where) and answer the
    corrected place."""
    may_correct(user, place)
    check_point(body.lon, body.lat)
    fix = add_correction(session, place.id, body.lon, body.lat, body.source, user)
    session.commit()
    session.refresh(fix)
    return place_out(place, fix, username=user.username)


# ---- the recent corrections ------------------------------------------------------------
def correction_county(user: User, county: str | None) -> str | None:
    """The county whose corrections a user lists: a dispatcher theirs only (403 for
    another), an admin the one asked or all (None)."""
    if user.role == "admin":
        return county
    if user.role != "dispatcher":
        raise Forbidden(f"only an admin or a dispatcher lists corrections; you are {user.role}")
    own = user.county_code or ""
    if county is not None and county != own:
        raise Forbidden(
            f"a dispatcher of {_county_label(own)} lists the corrections of that county "
            f"only, not of {_county_label(county)}"
        )
    return own


def corrections(
    session: Session, user: User, county: str | None, offset: int, limit: int
) -> tuple[list[CorrectionListItem], int]:
    """The corrections of a county (or all), newest first, with the point before each."""
    county = correction_county(user, county)
    query = select(PlaceCorrection)
    if county is not None:
        ids = [p.id for p in network().places if p.county_code == county]
        query = query.where(col(PlaceCorrection.place_id).in_(ids))
    total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
    rows = list(
        session.exec(
            query.order_by(col(PlaceCorrection.id).desc()).offset(offset).limit(limit)
        ).all()
    )
    earlier = _earlier(session, rows)
    names = usernames(session, (r.corrected_by for r in rows))
    return [_item(r, earlier, names) for r in rows], total


def _earlier(session: Session, rows: list[PlaceCorrection]) -> dict[str, list[PlaceCorrection]]:
    """Every correction of the places of ``rows``, oldest first (one query)."""
    ids = sorted({r.place_id for r in rows})
    out: dict[str, list[PlaceCorrection]] = {i: [] for i in ids}
    if ids:
        query = select(PlaceCorrection).where(col(PlaceCorrection.place_id).in_(ids))
        for c in session.exec(query.order_by(col(PlaceCorrection.id))):
            out[c.place_id].append(c)
    return out


def _item(
    row: PlaceCorrection, earlier: Mapping[str, list[PlaceCorrection]], names: Mapping[int, str]
) -> CorrectionListItem:
    place = places_by_id().get(row.place_id)
    before = [c for c in earlier.get(row.place_id, []) if (c.id or 0) < (row.id or 0)]
    previous: PointOut | None = None
    if before:
        previous = PointOut(lon=before[-1].lon, lat=before[-1].lat)
    elif place is not None and place.lon is not None and place.lat is not None:
        previous = PointOut(lon=place.lon, lat=place.lat)
    ref = PlaceRef(
        id=row.place_id,
        kind=place.kind if place else "",
        name_zh=place.name_zh if place else row.place_id,
        name_pinyin=place.name_pinyin if place else "",
        county_code=place.county_code if place else "",
        township_code=place.township_code if place else "",
    )
    return CorrectionListItem(
        id=row.id or 0,
        place=ref,
        lon=row.lon,
        lat=row.lat,
        previous=previous,
        source=row.source,
        corrected_by=row.corrected_by,
        corrected_by_username=names.get(row.corrected_by or 0),
        corrected_at=local(row.created_at),
    )
