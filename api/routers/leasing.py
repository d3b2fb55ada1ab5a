"""Leasing warehouse space and equipment (仓储与设备共享租赁): listings, their availability
calendar, bookings.

Who may do what:

* list assets (``POST /listings``): admins (for any organisation), a county dispatcher for
  the hub organisation they belong to, carrier and cooperative users for their own
  organisation;
* read listings: every signed-in admin, dispatcher and carrier user sees the active
  listings and their own organisation's (withdrawn ones too); admins see all;
* change a listing (``PATCH``): its organisation's users and admins;
* book: admins (for any organisation) and dispatcher and carrier users (for their own);
  a booking is seen by the organisation that made it, the organisation owning the listing
  and admins; it is cancelled by the organisation that made it or an admin.

Couriers get 403 everywhere. A listing or booking outside the caller's scope answers 404
like a missing one. The domain rules live in :mod:`api.services.leasing`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response, status
from sqlalchemy import false, or_
from sqlmodel import Session, col, select

from api.deps import (
    Id,
    OptionalKey,
    PageDep,
    SafeRoute,
    SessionDep,
    UserDep,
    answer_once,
    invalid,
    page_body,
    paginate,
    require,
)
from api.errors import NotFound
from api.models import LeaseBooking, Listing, ListingDay, Organisation, User
from api.schemas.leasing import (
    BOOKING_EXAMPLES,
    MAX_ID,
    AvailabilityOut,
    BookingIn,
    BookingOut,
    Day,
    DayOut,
    Kind,
    ListingIn,
    ListingOut,
    ListingPatch,
    Temperature,
)
from api.services import leasing
from api.services.convert import local
from api.services.ledger import reverse_lease_booking
from api.services.reference import network
from routing.errors import InputError

router = APIRouter(
    tags=["leasing"],
    route_class=SafeRoute,
    dependencies=[require("admin", "dispatcher", "carrier")],
)

LISTING_SORTS = (
    "id", "price_per_unit_day_fen", "capacity", "available_from", "available_to", "created_at",
)  # fmt: skip
BOOKING_SORTS = ("id", "start_day", "end_day", "quantity", "price_fen", "created_at")
LISTER_ORG_KINDS = {"dispatcher": ("county_hub",), "carrier": ("carrier", "cooperative")}


# ---- helpers --------------------------------------------------------------------------


def _org_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Organisation).where(col(Organisation.id).in_(sorted(ids)))).all()
    return {o.id: o.name for o in rows if o.id is not None}


def _listing_out(listing: Listing, orgs: dict[int, str]) -> ListingOut:
    assert listing.id is not None
    where = leasing.place(listing.place_id)
    return ListingOut(
        id=listing.id,
        org_id=listing.org_id,
        org_name=orgs.get(listing.org_id),
        kind=listing.kind,
        place_id=listing.place_id,
        place_name=where.name_zh if where else None,
        county_code=where.county_code if where else None,
        name=listing.name,
        temperature=listing.temperature,
        equipment_type=listing.equipment_type,
        unit=listing.unit,
        capacity=listing.capacity,
        price_per_unit_day_fen=listing.price_per_unit_day_fen,
        available_from=listing.available_from,
        available_to=listing.available_to,
        status=listing.status,
        created_at=local(listing.created_at),
    )


def _one_listing_out(session: Session, listing: Listing) -> ListingOut:
    return _listing_out(listing, _org_names(session, {listing.org_id}))


def _booking_out(booking: LeaseBooking, unit: str) -> BookingOut:
    assert booking.id is not None
    return BookingOut(
        id=booking.id,
        listing_id=booking.listing_id,
        org_id=booking.org_id,
        start_day=booking.start_day,
        end_day=booking.end_day,
        days=(booking.end_day - booking.start_day).days + 1,
        quantity=booking.quantity,
        unit=unit,
        price_fen=booking.price_fen,
        status=booking.status,
        created_by=booking.created_by,
        created_at=local(booking.created_at),
    )


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def _sees_listing(user: User, listing: Listing) -> bool:
    return (
        user.role == "admin"
        or listing.status == "active"
        or (user.org_id is not None and listing.org_id == user.org_id)
    )


def _listing(session: Session, user: User, listing_id: int) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None or not _sees_listing(user, listing):
        raise NotFound(f"listing {listing_id} not found")
    return listing


def _own_org(user: User) -> int:
    if user.org_id is None:
        raise _forbidden("your account belongs to no organisation")
    return user.org_id


def _acting_org(user: User, asked: int | None, what: str) -> int:
    """The organisation a request acts for: any (``asked``) for an admin, else the user's."""
    if user.role == "admin":
        org_id = asked if asked is not None else user.org_id
        if org_id is None:
            raise invalid(["body", "org_id"], f"name the organisation that {what}")
        return org_id
    own = _own_org(user)
    if asked is not None and asked != own:
        raise _forbidden(f"you act for your own organisation ({own}) only")
    return own


def _lister_org(session: Session, user: User, asked: int | None) -> int:
    org_id = _acting_org(user, asked, "owns the listing")
    if user.role == "admin":
        return org_id
    org = session.get(Organisation, org_id)
    kinds = LISTER_ORG_KINDS.get(user.role, ())
    if org is None or org.kind not in kinds:
        raise _forbidden(
            f"a {user.role} lists the assets of a {' or '.join(kinds)} organisation; "
            f"yours is {org.kind if org else 'missing'}"
        )
    return org_id


def _may_change(user: User, listing: Listing) -> None:
    if user.role != "admin" and listing.org_id != user.org_id:
        raise _forbidden("only the listing's organisation (or an admin) may change it")


def _booking(session: Session, user: User, booking_id: int) -> tuple[LeaseBooking, Listing]:
    booking = session.get(LeaseBooking, booking_id)
    listing = session.get(Listing, booking.listing_id) if booking is not None else None
    if booking is None or listing is None:
        raise NotFound(f"booking {booking_id} not found")
    if user.role != "admin" and user.org_id not in (booking.org_id, listing.org_id):
        raise NotFound(f"booking {booking_id} not found")
    return booking, listing


def _invalid_input(e: InputError, where: str = "body") -> HTTPException:
    return invalid([where, e.field], e.reason)


# ---- listings -------------------------------------------------------------------------


@router.post(
    "/listings",
    response_model=ListingOut,
    status_code=status.HTTP_201_CREATED,
    summary="offer warehouse space or equipment for lease",
    responses={
        403: {"description": "a courier, or not your organisation's assets"},
        422: {"description": "a bad field (kind/unit/temperature, dates, unknown place)"},
    },
)
def create_listing(
    body: ListingIn,
    session: SessionDep,
    user: UserDep,
    request: Request,
    response: Response,
    key: OptionalKey = None,
) -> Any:
    """Warehouse space (``kind: warehouse``, by the m2, with its temperature class) or
    equipment (``kind: equipment``, by the item, with its ``equipment_type``), offered
    every day from ``available_from`` to ``available_to`` (at most 366 days). Each day
    of the calendar starts with the whole capacity free. With an ``Idempotency-Key``, a
    retry (even a concurrent one) answers what the first attempt answered."""
    org_id = _lister_org(session, user, body.org_id)

    def work() -> tuple[int, Any]:
        try:
            listing = leasing.create_listing(
                session,
                org_id=org_id,
                kind=body.kind,
                place_id=body.place_id,
                name=body.name,
                temperature=body.temperature,
                equipment_type=body.equipment_type,
                capacity=body.capacity,
                price_per_unit_day_fen=body.price_per_unit_day_fen,
                available_from=body.available_from,
                available_to=body.available_to,
                unit=body.unit,
                commit=False,
            )
        except InputError as e:
            raise _invalid_input(e) from None
        return 201, _one_listing_out(session, listing).model_dump(mode="json")

    out = answer_once(
        session,
        user=user,
        request=request,
        response=response,
        key=key,
        body=body.model_dump(mode="json"),
        work=work,
    )
    response.headers["Location"] = f"/api/v1/listings/{out['id']}"
    return out


@router.get(
    "/listings",
    summary="find listings (kind, place, county, temperature, equipment type, free on a day)",
)
def list_listings(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    kind: Annotated[Kind | None, Query(description="warehouse or equipment")] = None,
    place: Annotated[
        str | None, Query(max_length=64, description="place id", examples=["HUB-532326"])
    ] = None,
    county: Annotated[
        str | None,
        Query(pattern=r"^\d{6}$", description="county code of the place", examples=["532326"]),
    ] = None,
    temperature: Annotated[Temperature | None, Query()] = None,
    equipment_type: Annotated[
        str | None, Query(max_length=64, description="e.g. forklift", examples=["forklift"])
    ] = None,
    available_on: Annotated[
        Day | None, Query(description="only listings with free capacity on this day")
    ] = None,
    min_free: Annotated[
        int,
        Query(
            ge=1,
            le=leasing.MAX_CAPACITY,
            description="with available_on: at least this much free that day",
        ),
    ] = 1,
    org_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="owner")] = None,
    status_: Annotated[
        Literal["active", "withdrawn"] | None, Query(alias="status", description="listing status")
    ] = None,
) -> dict[str, Any]:
    query = select(Listing)
    if user.role != "admin":
        mine = col(Listing.org_id) == user.org_id if user.org_id is not None else false()
        query = query.where(or_(col(Listing.status) == "active", mine))
    if kind is not None:
        query = query.where(Listing.kind == kind)
    if place is not None:
        query = query.where(Listing.place_id == place)
    if county is not None:
        ids = sorted(p.id for p in network().places if p.county_code == county)
        query = query.where(col(Listing.place_id).in_(ids))
    if temperature is not None:
        query = query.where(Listing.temperature == temperature)
    if equipment_type is not None:
        query = query.where(Listing.equipment_type == equipment_type)
    if org_id is not None:
        query = query.where(Listing.org_id == org_id)
    if status_ is not None:
        query = query.where(Listing.status == status_)
    if available_on is not None:
        free_that_day = (
            select(ListingDay.id)
            .where(
                col(ListingDay.listing_id) == col(Listing.id),
                ListingDay.day == available_on,
                col(ListingDay.capacity) - col(ListingDay.booked) >= min_free,
            )
            .exists()
        )
        query = query.where(Listing.status == "active", free_that_day)
    items, total = paginate(session, query, Listing, page, LISTING_SORTS)
    orgs = _org_names(session, {listing.org_id for listing in items})
    return page_body([_listing_out(listing, orgs) for listing in items], total, page)


@router.get(
    "/listings/{listing_id}",
    response_model=ListingOut,
    summary="one listing",
    responses={404: {"description": "no such listing (or withdrawn and not yours)"}},
)
def get_listing(listing_id: Id, session: SessionDep, user: UserDep) -> Any:
    return _one_listing_out(session, _listing(session, user, listing_id))


@router.get(
    "/listings/{listing_id}/availability",
    response_model=AvailabilityOut,
    summary="the availability calendar: capacity, booked and free per day",
    responses={404: {"description": "no such listing"}, 422: {"description": "bad dates"}},
)
def listing_availability(
    listing_id: Id,
    session: SessionDep,
    user: UserDep,
    start: Annotated[
        Day | None, Query(description="first day (default: the listing's first day)")
    ] = None,
    end: Annotated[
        Day | None,
        Query(description="last day, inclusive (default: the listing's last day; 366 at most)"),
    ] = None,
) -> Any:
    listing = _listing(session, user, listing_id)
    first = start or listing.available_from
    last = end or listing.available_to
    try:
        days = leasing.availability(session, listing_id, first, last)
    except InputError as e:
        raise invalid(["query", e.field], e.reason) from None
    return AvailabilityOut(
        listing_id=listing_id,
        unit=listing.unit,
        start=first,
        end=last,
        days=[DayOut(**d) for d in days],
    )


@router.patch(
    "/listings/{listing_id}",
    response_model=ListingOut,
    summary="rename, reprice or withdraw a listing (its organisation or an admin)",
    responses={
        403: {"description": "not your organisation's listing"},
        404: {"description": "no such listing"},
    },
)
def patch_listing(listing_id: Id, body: ListingPatch, session: SessionDep, user: UserDep) -> Any:
    listing = _listing(session, user, listing_id)
    _may_change(user, listing)
    try:
        listing = leasing.update_listing(
            session,
            listing,
            name=body.name,
            price_per_unit_day_fen=body.price_per_unit_day_fen,
            status=body.status,
        )
    except InputError as e:
        raise _invalid_input(e) from None
    return _one_listing_out(session, listing)


# ---- bookings -------------------------------------------------------------------------


@router.post(
    "/listings/{listing_id}/bookings",
    response_model=BookingOut,
    status_code=status.HTTP_201_CREATED,
    summary="book space or equipment for a range of days (all days or none)",
    responses={
        200: {"model": BookingOut, "description": "a retry: the booking made before"},
        404: {"description": "no such listing"},
        409: {
            "description": "a day lacks room (the detail names the days; nothing was "
            "booked), the listing is withdrawn, or the Idempotency-Key was used for "
            "another booking"
        },
        422: {"description": "bad dates or quantity, days the listing does not offer"},
    },
)
def create_booking(
    listing_id: Id,
    body: Annotated[BookingIn, Body(openapi_examples=BOOKING_EXAMPLES)],
    session: SessionDep,
    user: UserDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=leasing.IDEMPOTENCY_KEY_MAX,
            description="a fresh key (e.g. a UUID) per booking; resend it on a retry",
            examples=["5f0c7a52-2b8e-4d8e-9a55-3f1f6c0e2d11"],
        ),
    ],
) -> Any:
    """Books ``quantity`` (m2 or items) on every day from ``start_day`` to ``end_day``;
    the price is quantity x days x the price per unit-day. The database refuses any day
    going over capacity, so concurrent bookings never oversell.

    Send a fresh ``Idempotency-Key`` per booking and the same one when retrying after a
    lost answer: the retry answers 200 with the booking made before and books nothing."""
    org_id = _acting_org(user, body.org_id, "books")
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"listing {listing_id} not found")
    if not _sees_listing(user, listing):
        stored = leasing.booking_by_key(session, idempotency_key)
        if stored is None or stored.org_id != org_id or stored.listing_id != listing_id:
            raise NotFound(f"listing {listing_id} not found")
    try:
        booking, created = leasing.book(
            session,
            listing_id=listing_id,
            org_id=org_id,
            start_day=body.start_day,
            end_day=body.end_day,
            quantity=body.quantity,
            idempotency_key=idempotency_key,
            by_user=user.id,
        )
    except leasing.Unavailable as e:
        if e.full:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(e)) from None
        field = "start_day" if e.days and e.days[0] == body.start_day else "end_day"
        raise invalid(["body", field], str(e)) from None
    except InputError as e:
        where = "header" if e.field == "idempotency_key" else "body"
        raise _invalid_input(e, where) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/bookings/{booking.id}"
    return _booking_out(booking, listing.unit)


@router.get("/bookings", summary="bookings made by your organisation or of its listings")
def list_bookings(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    side: Annotated[
        Literal["lessee", "lessor"] | None,
        Query(
            description="lessee: bookings your organisation made; lessor: bookings of its "
            "listings; default both (admins: all bookings)"
        ),
    ] = None,
    listing_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status_: Annotated[Literal["confirmed", "cancelled"] | None, Query(alias="status")] = None,
) -> dict[str, Any]:
    query = select(LeaseBooking)
    own_listings = select(Listing.id).where(Listing.org_id == user.org_id)
    made = col(LeaseBooking.org_id) == user.org_id
    received = col(LeaseBooking.listing_id).in_(own_listings)
    if user.role != "admin":
        if user.org_id is None:
            query = query.where(false())
        elif side is None:
            query = query.where(or_(made, received))
    if side == "lessee":
        query = query.where(made)
    elif side == "lessor":
        query = query.where(received)
    if listing_id is not None:
        query = query.where(LeaseBooking.listing_id == listing_id)
    if status_ is not None:
        query = query.where(LeaseBooking.status == status_)
    items, total = paginate(session, query, LeaseBooking, page, BOOKING_SORTS)
    ids = sorted({b.listing_id for b in items})
    units = {
        row.id: row.unit
        for row in (
            session.exec(select(Listing).where(col(Listing.id).in_(ids))).all() if ids else ()
        )
    }
    return page_body([_booking_out(b, units.get(b.listing_id, "")) for b in items], total, page)


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    summary="one booking",
    responses={404: {"description": "no such booking (or neither yours nor of your listing)"}},
)
def get_booking(booking_id: Id, session: SessionDep, user: UserDep) -> Any:
    booking, listing = _booking(session, user, booking_id)
    return _booking_out(booking, listing.unit)


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    summary="cancel a booking: its days are free again",
    responses={
        403: {"description": "not a booking your organisation made"},
        404: {"description": "no such booking"},
        409: {"description": "cancelled already"},
    },
)
def cancel_booking(booking_id: Id, session: SessionDep, user: UserDep) -> Any:
    booking, listing = _booking(session, user, booking_id)
    if user.role != "admin" and booking.org_id != user.org_id:
        raise _forbidden("only the organisation that booked (or an admin) may cancel")
    booking = leasing.cancel(session, booking, user.id)
    reverse_lease_booking(session, booking, user.id)
    session.refresh(booking)
    return _booking_out(booking, listing.unit)
