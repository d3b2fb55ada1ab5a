"""Freight marketplace: firms post spare truck capacity, shippers post cargo, the platform
matches them by the detour the cargo adds to the truck's planned route, and a booking
reserves the room atomically."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from sqlalchemy import or_
from sqlmodel import col, select

from api.deps import (
    SESSION_COOKIE,
    Id,
    OptionalKey,
    PageDep,
    SessionDep,
    SettingsDep,
    UserDep,
    answer_once,
    invalid,
    page_body,
    paginate,
    require,
    user_of_token,
)
from api.models import CapacityLeg, CapacityPosting, CargoPosting, FreightBooking, User, now
from api.schemas.common import shanghai
from api.schemas.freight import BookIn, CapacityIn, CapacityPatch, CargoIn
from api.services.convert import local, local_json
from api.services.freight import (
    BoardFilter,
    board,
    book_once,
    booking_out,
    create_capacity,
    legs_by_posting,
    legs_of,
    match_route,
    match_rows,
)
from api.services.idempotency import request_hash, scope_of
from routing.errors import InputError

router = APIRouter(tags=["freight marketplace"])
TRADERS = require("admin", "dispatcher", "carrier")
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="a client-chosen key: a retry with the same key books once",
    ),
]


def _org(user: User) -> int:
    if user.org_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="you belong to no organisation")
    return user.org_id


def _capacity_out(
    session: SessionDep, p: CapacityPosting, legs: list[CapacityLeg] | None = None
) -> dict[str, Any]:
    legs = legs if legs is not None else legs_of(session, p.id or 0)
    return {
        # the idempotency key is the poster's own; stop times were stored as sent (in UTC, say)
        **p.model_dump(exclude={"created_at", "idempotency_key", "stops"}),
        "stops": local_json(p.stops),
        "created_at": local(p.created_at),
        "legs": [
            {
                "seq": leg.seq,
                "remaining_kg": leg.remaining_kg,
                "remaining_m3": leg.remaining_l / 1000,
            }
            for leg in legs
        ],
    }


def _cargo_out(c: CargoPosting) -> dict[str, Any]:
    out = c.model_dump(exclude={"idempotency_key"})  # a key is the poster's secret
    for name in ("pickup_start", "pickup_end", "deliver_by", "created_at"):
        out[name] = local(getattr(c, name))
    return out


def _own(user: User, org_id: int) -> bool:
    return user.role == "admin" or user.org_id == org_id


@router.post(
    "/capacity", status_code=status.HTTP_201_CREATED, dependencies=[TRADERS],
    summary="post a truck's spare capacity along its planned route",
)  # fmt: skip
def post_capacity(
    body: CapacityIn,
    session: SessionDep,
    user: UserDep,
    request: Request,
    response: Response,
    key: OptionalKey = None,
) -> dict[str, Any]:
    """With an ``Idempotency-Key``, a retry (even a concurrent one) answers what the first
    attempt answered; the same key with another request is a 422. Keys are per user."""
    org = _org(user)
    fields = body.model_dump(exclude={"stops"})
    fields["stops"] = [{**s.model_dump(), "time": shanghai(s.time)} for s in body.stops]

    def work() -> tuple[int, dict[str, Any]]:
        posting = create_capacity(
            session, org_id=org, created_by=user.id, fields=fields, commit=False
        )
        return 201, _capacity_out(session, posting)

    return _answer(session, user, request, response, key, body.model_dump(mode="json"), work)


def _answer(
    session: SessionDep,
    user: User,
    request: Request,
    response: Response,
    key: str | None,
    body: Any,
    work: Any,
) -> dict[str, Any]:
    out = answer_once(
        session, user=user, request=request, response=response, key=key, body=body, work=work
    )
    return dict(local_json(out))  # stored answers: times as stored


@router.get("/capacity", dependencies=[TRADERS], summary="open capacity postings")
def list_capacity(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    mine: Annotated[bool, Query(description="only your organisation's postings")] = False,
) -> dict[str, Any]:
    query = select(CapacityPosting)
    if status_:
        query = query.where(CapacityPosting.status == status_)
    if mine:
        query = query.where(CapacityPosting.org_id == user.org_id)
    items, total = paginate(session, query, CapacityPosting, page, ("id", "created_at"))
    legs = legs_by_posting(session, [p.id or 0 for p in items])
    return page_body([_capacity_out(session, p, legs[p.id or 0]) for p in items], total, page)


@router.get("/capacity/{posting_id}", dependencies=[TRADERS], summary="a capacity posting")
def get_capacity(posting_id: Id, session: SessionDep) -> dict[str, Any]:
    p = session.get(CapacityPosting, posting_id)
    if p is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no capacity posting {posting_id}")
    return _capacity_out(session, p)


@router.post(
    "/capacity/{posting_id}/close", dependencies=[TRADERS],
    summary="close a capacity posting (its firm only)",
)  # fmt: skip
def close_capacity(posting_id: Id, session: SessionDep, user: UserDep) -> dict[str, Any]:
    p = session.get(CapacityPosting, posting_id)
    if p is None or not _own(user, p.org_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no capacity posting {posting_id}")
    p.status = "closed"
    session.add(p)
    session.commit()
    session.refresh(p)
    return _capacity_out(session, p)


@router.post(
    "/cargo", status_code=status.HTTP_201_CREATED, dependencies=[TRADERS],
    summary="post a cargo looking for a truck",
)  # fmt: skip
def post_cargo(
    body: CargoIn,
    session: SessionDep,
    user: UserDep,
    request: Request,
    response: Response,
    key: OptionalKey = None,
) -> dict[str, Any]:
    """With an ``Idempotency-Key``, a retry (even a concurrent one) answers what the first
    attempt answered; the same key with another request is a 422. Keys are per user."""
    org = _org(user)
    fields = body.model_dump()
    for name in ("pickup_start", "pickup_end", "deliver_by"):  # stored in UTC (SQLite
        fields[name] = fields[name].astimezone(UTC)  # keeps no zone)

    def work() -> tuple[int, dict[str, Any]]:
        cargo = CargoPosting(
            org_id=org, created_by=user.id, created_at=now(), status="open", **fields
        )
        session.add(cargo)
        session.flush()
        return 201, _cargo_out(cargo)

    return _answer(session, user, request, response, key, body.model_dump(mode="json"), work)


@router.get("/cargo", dependencies=[TRADERS], summary="cargo postings")
def list_cargo(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    mine: Annotated[bool, Query(description="only your organisation's cargo")] = False,
) -> dict[str, Any]:
    query = select(CargoPosting)
    if status_:
        query = query.where(CargoPosting.status == status_)
    if mine:
        query = query.where(CargoPosting.org_id == user.org_id)
    items, total = paginate(session, query, CargoPosting, page, ("id", "created_at", "weight_kg"))
    return page_body([_cargo_out(c) for c in items], total, page)


@router.get(
    "/cargo/{cargo_id}/matches", dependencies=[TRADERS],
    summary="trucks ranked for a cargo: smallest detour first, then price",
)  # fmt: skip
def cargo_matches(
    cargo_id: Id, session: SessionDep, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[dict[str, Any]]:
    """Each match: the detour (km, minutes) and suggested price, where the cargo rides
    (``legs``: the first and last leg of the truck's route it is on board for), the truck
    (vehicle type, fittings, prices, its firm) and the room left on those legs."""
    cargo = session.get(CargoPosting, cargo_id)
    if cargo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no cargo {cargo_id}")
    return [local_json(row) for row in match_rows(session, cargo, limit=limit)]


@router.get("/cargo/{cargo_id}", dependencies=[TRADERS], summary="a cargo posting")
def get_cargo(cargo_id: Id, session: SessionDep) -> dict[str, Any]:
    cargo = session.get(CargoPosting, cargo_id)
    if cargo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no cargo {cargo_id}")
    return _cargo_out(cargo)


@router.get(
    "/cargo/{cargo_id}/matches/{capacity_id}/route", dependencies=[TRADERS],
    summary="a match on the map: the truck's planned route and the route with the cargo",
)  # fmt: skip
def cargo_match_route(cargo_id: Id, capacity_id: Id, session: SessionDep) -> dict[str, Any]:
    """GeoJSON LineStrings (lon, lat) on the road network: ``planned`` through the
    truck's stops, ``with_cargo`` through them with the pickup and the delivery inserted
    where the booking put them (or the best insertion now); a cargo that no longer fits
    the truck is a 409."""
    cargo = session.get(CargoPosting, cargo_id)
    if cargo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no cargo {cargo_id}")
    try:
        out = match_route(session, cargo, capacity_id)
    except InputError as e:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=e.reason) from None
    return dict(local_json(out))


@router.post(
    "/cargo/{cargo_id}/book", dependencies=[TRADERS], status_code=status.HTTP_201_CREATED,
    summary="book the cargo on a truck: reserves the room on every leg it rides, atomically",
)  # fmt: skip
def book_cargo(
    cargo_id: Id,
    body: BookIn,
    session: SessionDep,
    user: UserDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    """A retry with the same ``Idempotency-Key`` (and the same request) answers what the
    first attempt answered, status and body, even when the retries arrive at once; the
    key with another request is a 422. Each user's keys are their own."""
    cargo = session.get(CargoPosting, cargo_id)
    if cargo is None or not _own(user, cargo.org_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no cargo {cargo_id}")
    fingerprint = request_hash(
        method=request.method, path=request.url.path,
        body=body.model_dump(mode="json"), caller=scope_of(user.id),
    )  # fmt: skip
    answer = book_once(
        session, cargo_id=cargo_id, capacity_id=body.capacity_id, key=key,
        user_id=user.id, request_hash=fingerprint,
    )  # fmt: skip
    response.status_code = answer.status_code
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    body_out: dict[str, Any] = local_json(answer.body)  # stored answers: times in UTC
    return body_out


@router.get("/freight-bookings", dependencies=[TRADERS], summary="freight bookings")
def list_bookings(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    side: Annotated[
        Literal["shipper", "carrier"] | None,
        Query(description="shipper: of your cargo; carrier: on your trucks; default both"),
    ] = None,
    capacity_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cargo_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    """Admins see every booking (``side`` then filters by nothing); others the bookings
    of their organisation's cargo and on its trucks."""
    query = select(FreightBooking)
    shipped = col(FreightBooking.cargo_id).in_(
        select(CargoPosting.id).where(CargoPosting.org_id == user.org_id)
    )
    carried = col(FreightBooking.capacity_id).in_(
        select(CapacityPosting.id).where(CapacityPosting.org_id == user.org_id)
    )
    if side == "shipper" or (side is None and user.role != "admin"):
        query = query.where(shipped if side == "shipper" else or_(shipped, carried))
    elif side == "carrier":
        query = query.where(carried)
    if capacity_id is not None:
        query = query.where(FreightBooking.capacity_id == capacity_id)
    if cargo_id is not None:
        query = query.where(FreightBooking.cargo_id == cargo_id)
    items, total = paginate(session, query, FreightBooking, page, ("id", "created_at"))
    return page_body([local_json(booking_out(b)) for b in items], total, page)


@router.patch(
    "/capacity/{posting_id}", dependencies=[TRADERS],
    summary="change a capacity posting's prices or vehicle type (its firm only)",
)  # fmt: skip
def patch_capacity(
    posting_id: Id, body: CapacityPatch, session: SessionDep, user: UserDep
) -> dict[str, Any]:
    p = session.get(CapacityPosting, posting_id)
    if p is None or not _own(user, p.org_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no capacity posting {posting_id}")
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(p, name, value)
    session.add(p)
    session.commit()
    session.refresh(p)
    return _capacity_out(session, p)


@router.post(
    "/cargo/{cargo_id}/cancel", dependencies=[TRADERS],
    summary="withdraw an open cargo posting (its firm only)",
)  # fmt: skip
def cancel_cargo(cargo_id: Id, session: SessionDep, user: UserDep) -> dict[str, Any]:
    cargo = session.get(CargoPosting, cargo_id)
    if cargo is None or not _own(user, cargo.org_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no cargo {cargo_id}")
    if cargo.status != "open":
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"cargo {cargo_id} is {cargo.status}")
    cargo.status = "cancelled"
    session.add(cargo)
    session.commit()
    session.refresh(cargo)
    return _cargo_out(cargo)


def _reader(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """Who reads the board: a signed-in account (bearer token or the pages' cookie), or
    nobody (never a 401: the board is open, showing less)."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return user_of_token(session, settings, token, request.url.path)
    except HTTPException:
        return None


@router.get(
    "/market/{kind}",
    summary="the information board (物流信息发布): open capacity or cargo, filterable",
)
def market(
    kind: Literal["capacity", "cargo"],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    county: Annotated[
        str | None,
        Query(pattern=r"^\d{6}$", description="a stop, the origin or the destination in it"),
    ] = None,
    day: Annotated[
        date | None, Query(description="a stop that day; a pickup window over it")
    ] = None,
    vehicle_type: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    temperature: Annotated[Literal["ambient", "chilled", "frozen"] | None, Query()] = None,
) -> dict[str, Any]:
    """Readable without signing in: a reader not signed in (or a courier) sees only the
    postings their firm made public (``public: true``); traders see every open one.
    Newest first."""
    reader = _reader(request, session, settings)
    public_only = reader is None or reader.role not in ("admin", "dispatcher", "carrier")
    if day is not None and not 2000 <= day.year <= 2100:
        raise invalid(["query", "day"], "must be between 2000 and 2100")
    items = board(
        session,
        kind,
        BoardFilter(county=county, day=day, vehicle_type=vehicle_type, temperature=temperature),
        public_only=public_only,
    )
    window = items[page.offset : page.offset + page.limit]
    body = page_body([local_json(i) for i in window], len(items), page)
    body["public_only"] = public_only
    return body
