"""Leasing warehouse space and equipment (仓储与设备共享租赁): listings, a per-day calendar,
bookings. No HTTP here.

A :class:`~api.models.Listing` offers warehouse space (m2 of an ambient, chilled or frozen
room) or equipment (a count of pallets, forklifts, sorting lines, refrigerated boxes) from
``available_from`` to ``available_to`` (inclusive, at most 366 days). Creating it creates
one :class:`~api.models.ListingDay` per day: ``capacity`` copied, ``booked`` 0.

Booking ``quantity`` from ``start_day`` to ``end_day`` is one conditional statement in one
transaction::

    UPDATE listing_days SET booked = booked + :q
     WHERE listing_id = :id AND day BETWEEN :a AND :b

The CHECK constraint ``booked >= 0 AND booked <= capacity`` makes the database refuse the
whole statement when any day would be overbooked: all days are booked or none is. On
PostgreSQL the day rows are first locked in day order (``SELECT ... ORDER BY day FOR
UPDATE``), so concurrent bookings of overlapping ranges queue behind each other instead of
deadlocking, and each one's UPDATE sees the committed ``booked`` of the one before; SQLite
serialises writers anyway. No Python lock is involved: several API processes may book the
same days at once and never oversell.

Every booking carries the client's idempotency key (unique in the table): sending the same
booking again returns the stored one (``created`` False) and books nothing; the same key
with other parameters is a :class:`Conflict`.

Errors: :class:`routing.errors.InputError` (bad input, HTTP 422; ``NotFoundError`` for an
unknown listing or organisation), :class:`Unavailable` (days full: 409, days the listing
does not offer: 422) and :class:`Conflict` (409).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import LeaseBooking, Listing, ListingDay, Organisation, now
from api.services.ledger import account_for_org, add_in_transaction
from api.services.reference import places_by_id
from routing.errors import InputError, NotFoundError
from routing.network import Place

__all__ = [
    "EQUIPMENT_TYPES",
    "IDEMPOTENCY_KEY_MAX",
    "KINDS",
    "LISTING_STATES",
    "MAX_DAYS",
    "TEMPERATURES",
    "UNITS",
    "Conflict",
    "DayFree",
    "Unavailable",
    "availability",
    "book",
    "booking_by_key",
    "cancel",
    "create_listing",
    "place",
    "update_listing",
]

log = logging.getLogger("codist.leasing")

#: The unit each kind is leased by.
UNITS: Mapping[str, str] = {"warehouse": "m2", "equipment": "unit"}
KINDS = tuple(UNITS)
TEMPERATURES = ("ambient", "chilled", "frozen")
#: Common equipment types (others are accepted: lower-case words joined by "_").
EQUIPMENT_TYPES = ("pallet", "forklift", "sorting_line", "reefer_box")
LISTING_STATES = ("active", "withdrawn")
MAX_DAYS = 366
IDEMPOTENCY_KEY_MAX = 128
MAX_CAPACITY = 1_000_000  # m2 or units
MAX_PRICE_FEN = 10_000_000  # per unit-day
MAX_INT = 2**31 - 1  # the integer columns
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
NAME_MAX = 200
_CHECK = "listing_day_within_capacity"


@dataclass(frozen=True)
class DayFree:
    day: date
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return self.capacity - self.booked


class Unavailable(Exception):
    """The listing cannot take the booking on some days (nothing was booked).

    ``full`` True: ``days`` lack free capacity (HTTP 409); ``free`` says what is free on
    each. ``full`` False: the listing does not offer ``days`` (HTTP 422).
    """

    def __init__(
        self,
        message: str,
        *,
        days: list[date],
        full: bool,
        free: Mapping[date, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.days = days
        self.full = full
        self.free = dict(free or {})


# ---- reference data -------------------------------------------------------------------
def place(place_id: str) -> Place | None:
    """A place of the bundled road network (loaded once per process), or None."""
    return places_by_id().get(place_id)


# ---- checks ---------------------------------------------------------------------------
def _int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise InputError(field, f"must be from {low} to {high}, got {value}")
    return value


def _day(field: str, value: Any) -> date:
    if not isinstance(value, date):
        raise InputError(field, f"must be a date, got {value!r}")
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InputError(field, f"must be from {FIRST_DAY} to {LAST_DAY}, got {value}")
    return value


def _range(first: tuple[str, Any], last: tuple[str, Any]) -> tuple[date, date, int]:
    """Two checked dates, last >= first, at most MAX_DAYS days; (first, last, days)."""
    a = _day(*first)
    b = _day(*last)
    if b < a:
        raise InputError(last[0], f"must not be before {first[0]} ({a}), got {b}")
    days = (b - a).days + 1
    if days > MAX_DAYS:
        raise InputError(last[0], f"at most {MAX_DAYS} days from {first[0]}; this is {days}")
    return a, b, days


def _text(field: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "must not be empty")
    value = value.strip()
    if len(value) > max_len:
        raise InputError(field, f"at most {max_len} characters")
    if "\x00" in value:
        raise InputError(field, "must not contain NUL characters")
    return value


def _key(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX:
        raise InputError("idempotency_key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
    return value


def _days(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


# ---- listings -------------------------------------------------------------------------
def create_listing(
    session: Session,
    *,
    org_id: int,
    kind: str,
    place_id: str,
    name: str,
    temperature: str | None,
    equipment_type: str | None,
    capacity: int,
    price_per_unit_day_fen: int,
    available_from: date,
    available_to: date,
    unit: str | None = None,
    idempotency_key: str | None = None,
    commit: bool = True,
) -> Listing:
    """Create a listing and its days (capacity copied, nothing booked), in one transaction.

    ``unit`` may be left out: it follows from ``kind`` (m2 for a warehouse, "unit" for
    equipment); when given it must be that one. Raises :class:`InputError`.
    """
    if kind not in UNITS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if unit is not None and unit != UNITS[kind]:
        raise InputError("unit", f"a {kind} listing is leased by {UNITS[kind]!r}, not {unit!r}")
    if temperature is not None and temperature not in TEMPERATURES:
        raise InputError(
            "temperature", f"must be one of {', '.join(TEMPERATURES)}, got {temperature!r}"
        )
    if kind == "warehouse":
        if temperature is None:
            raise InputError("temperature", "warehouse space needs its temperature class")
        if equipment_type is not None:
            raise InputError("equipment_type", "only equipment has an equipment type")
    else:
        equipment_type = _text("equipment_type", equipment_type, 64)
    name = _text("name", name, NAME_MAX)
    capacity = _int("capacity", capacity, 1, MAX_CAPACITY)
    price = _int("price_per_unit_day_fen", price_per_unit_day_fen, 0, MAX_PRICE_FEN)
    first, last, _n = _range(("available_from", available_from), ("available_to", available_to))
    if not isinstance(place_id, str) or place(place_id) is None:
        raise NotFoundError("place_id", f"no place {place_id!r} in the road network")
    if session.get(Organisation, org_id) is None:
        raise NotFoundError("org_id", f"no organisation {org_id}")
    try:
        listing = Listing(
            idempotency_key=idempotency_key,
            org_id=org_id,
            kind=kind,
            place_id=place_id,
            name=name,
            temperature=temperature,
            equipment_type=equipment_type,
            unit=UNITS[kind],
            capacity=capacity,
            price_per_unit_day_fen=price,
            available_from=first,
            available_to=last,
            status="active",
            created_at=now(),
        )
        session.add(listing)
        session.flush()
        assert listing.id is not None
        session.add_all(
            ListingDay(listing_id=listing.id, day=d, capacity=capacity, booked=0)
            for d in _days(first, last)
        )
        session.flush()
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    if commit:
        session.refresh(listing)
    return listing


def update_listing(
    session: Session,
    listing: Listing,
    *,
    name: str | None = None,
    price_per_unit_day_fen: int | None = None,
    status: str | None = None,
) -> Listing:
    """Rename, reprice (future bookings only) or withdraw/reactivate a listing. Confirmed
    bookings of a withdrawn listing stand; it takes no new ones."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _text("name", name, NAME_MAX)
    if price_per_unit_day_fen is not None:
        changes["price_per_unit_day_fen"] = _int(
            "price_per_unit_day_fen", price_per_unit_day_fen, 0, MAX_PRICE_FEN
        )
    if status is not None:
        if status not in LISTING_STATES:
            raise InputError("status", f"must be one of {', '.join(LISTING_STATES)}")
        changes["status"] = status
    for field, value in changes.items():
        setattr(listing, field, value)
    session.add(listing)
    session.commit()
    session.refresh(listing)
    return listing


def _day_rows(session: Session, listing_id: int, a: date, b: date) -> list[DayFree]:
    rows = session.exec(
        select(col(ListingDay.day), col(ListingDay.capacity), col(ListingDay.booked))
        .where(ListingDay.listing_id == listing_id, col(ListingDay.day).between(a, b))
        .order_by(col(ListingDay.day))
    ).all()
    return [DayFree(day, capacity, booked) for day, capacity, booked in rows]


def availability(session: Session, listing_id: int, start: date, end: date) -> list[dict[str, Any]]:
    """The calendar from ``start`` to ``end``: ``[{day, capacity, booked, free}]``, one per
    day the listing offers (days outside its availability are left out)."""
    a, b, _n = _range(("start", start), ("end", end))
    return [
        {"day": d.day, "capacity": d.capacity, "booked": d.booked, "free": d.free}
        for d in _day_rows(session, listing_id, a, b)
    ]


# ---- bookings -------------------------------------------------------------------------
def booking_by_key(session: Session, idempotency_key: str) -> LeaseBooking | None:
    return session.exec(
        select(LeaseBooking)
        .where(LeaseBooking.idempotency_key == idempotency_key)
        .execution_options(populate_existing=True)
    ).first()


def _same_or_conflict(
    stored: LeaseBooking, listing_id: int, org_id: int, a: date, b: date, quantity: int
) -> tuple[LeaseBooking, bool]:
    asked = (listing_id, org_id, a, b, quantity)
    if (stored.listing_id, stored.org_id, stored.start_day, stored.end_day, stored.quantity) != (
        asked
    ):
        raise Conflict(
            "this Idempotency-Key was already used for a different booking; "
            "send a new key for a new booking"
        )
    return stored, False


def _full(
    session: Session, listing_id: int, a: date, b: date, quantity: int, unit: str
) -> Unavailable:
    short = [d for d in _day_rows(session, listing_id, a, b) if d.free < quantity]
    if not short:  # freed again in the meantime
        return Unavailable(
            "the days were taken by a concurrent booking; look at the availability and try again",
            days=[],
            full=True,
        )
    listed = ", ".join(f"{d.day} ({d.free} {unit} free)" for d in short)
    return Unavailable(
        f"not enough free for {quantity} {unit} on {listed}; nothing was booked",
        days=[d.day for d in short],
        full=True,
        free={d.day: d.free for d in short},
    )


def _lock_days(session: Session, listing_id: int, a: date, b: date) -> None:
    """Lock the day rows in day order (PostgreSQL; SQLite has no row locks): concurrent
    bookings of overlapping ranges then wait for each other and never deadlock."""
    session.exec(
        select(ListingDay.id)
        .where(ListingDay.listing_id == listing_id, col(ListingDay.day).between(a, b))
        .order_by(col(ListingDay.day))
        .with_for_update()
    ).all()


def _add(session: Session, listing_id: int, a: date, b: date, quantity: int) -> int:
    """booked += quantity on the days a..b; the number of days changed."""
    result = session.exec(
        update(ListingDay)
        .where(col(ListingDay.listing_id) == listing_id, col(ListingDay.day).between(a, b))
        .values(booked=col(ListingDay.booked) + quantity)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def book(
    session: Session,
    *,
    listing_id: int,
    org_id: int,
    start_day: date,
    end_day: date,
    quantity: int,
    idempotency_key: str,
    by_user: int | None,
) -> tuple[LeaseBooking, bool]:
    """Book ``quantity`` of a listing on every day from ``start_day`` to ``end_day``
    (inclusive) for organisation ``org_id``; return ``(booking, created)``.

    All days or none: raises :class:`Unavailable` (``full``) naming the days that lack room,
    or (not ``full``) the days the listing does not offer. The price is quantity x days x
    the listing's price per unit-day, in fen. A retry with the same ``idempotency_key`` and
    the same parameters returns the stored booking with ``created`` False; other
    parameters raise :class:`Conflict`, as does a withdrawn listing.
    """
    key = _key(idempotency_key)
    a, b, n = _range(("start_day", start_day), ("end_day", end_day))
    quantity = _int("quantity", quantity, 1, MAX_CAPACITY)
    stored = booking_by_key(session, key)
    if stored is not None:
        return _same_or_conflict(stored, listing_id, org_id, a, b, quantity)
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFoundError("listing_id", f"no listing {listing_id}")
    if session.get(Organisation, org_id) is None:
        raise NotFoundError("org_id", f"no organisation {org_id}")
    unit = listing.unit
    # the accounts exist before the booking's transaction, which records the payment too
    payer = account_for_org(session, org_id).id or 0
    payee = account_for_org(session, listing.org_id).id or 0
    try:
        listing = _locked_for_booking(session, listing_id, a, b, quantity)
        price = quantity * n * listing.price_per_unit_day_fen
        if price > MAX_INT:
            raise InputError("quantity", f"the price ({price} fen) is too large for one booking")
        _take_days(session, listing_id, a, b, quantity, n)
        booking = LeaseBooking(
            listing_id=listing_id,
            org_id=org_id,
            start_day=a,
            end_day=b,
            quantity=quantity,
            price_fen=price,
            status="confirmed",
            idempotency_key=key,
            created_by=by_user,
            created_at=now(),
        )
        session.add(booking)
        session.flush()  # a concurrent same-key booking fails here
        if payer != payee and booking.price_fen > 0:  # the payment, in the same transaction
            add_in_transaction(
                session,
                debit_id=payer,
                credit_id=payee,
                amount_fen=int(booking.price_fen),
                kind="lease",
                ref_type="lease_booking",
                ref_id=str(booking.id),
                memo=f"lease: listing {listing_id} x{quantity}, {start_day}..{end_day}",
                idempotency_key=f"lease:{booking.id}",
                created_by=by_user,
            )
        session.commit()
    except IntegrityError as e:
        session.rollback()
        stored = booking_by_key(session, key)
        if stored is not None:
            return _same_or_conflict(stored, listing_id, org_id, a, b, quantity)
        if _CHECK not in str(e.orig):
            raise
        raise _full(session, listing_id, a, b, quantity, unit) from None
    except BaseException:
        session.rollback()
        raise
    session.refresh(booking)
    log.info(
        "lease booking %s: listing %s, %s..%s, %s %s", booking.id, listing_id, a, b, quantity, unit
    )
    return booking, True


def _locked_for_booking(
    session: Session, listing_id: int, a: date, b: date, quantity: int
) -> Listing:
    """The listing, share-locked so that a withdrawal waits for the bookings in flight
    (and a booking after it sees it, at the price of the moment); refused when it takes
    no bookings, does not offer every day from ``a`` to ``b``, or has less in all."""
    listing = session.exec(
        select(Listing)
        .where(Listing.id == listing_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    if listing.status != "active":
        raise Conflict(f"listing {listing_id} is {listing.status} and takes no bookings")
    outside = [d for d in _days(a, b) if not listing.available_from <= d <= listing.available_to]
    if outside:
        raise Unavailable(
            f"listing {listing_id} is offered from {listing.available_from} to "
            f"{listing.available_to}; not on {_span(outside)}",
            days=outside,
            full=False,
        )
    if quantity > listing.capacity:
        raise InputError(
            "quantity",
            f"the listing has {listing.capacity} {listing.unit} in all, {quantity} asked",
        )
    return listing


def _take_days(session: Session, listing_id: int, a: date, b: date, quantity: int, n: int) -> None:
    """Add ``quantity`` to the booked count of each of the ``n`` days (the CHECK refuses a
    day over capacity when the transaction flushes)."""
    _lock_days(session, listing_id, a, b)
    changed = _add(session, listing_id, a, b, quantity)
    if changed != n:  # a day row missing: never for a listing created here
        have = {d.day for d in _day_rows(session, listing_id, a, b)}
        missing = [d for d in _days(a, b) if d not in have]
        raise Unavailable(
            f"listing {listing_id} has no calendar for {_span(missing)}", days=missing, full=False
        )


def _span(days: list[date]) -> str:
    if len(days) <= 3:
        return ", ".join(str(d) for d in days)
    return f"{days[0]} .. {days[-1]} ({len(days)} days)"


def cancel(session: Session, booking: LeaseBooking, by_user: int | None) -> LeaseBooking:
    """Cancel a confirmed booking: its quantity returns to each of its days, in one
    transaction. Cancelling again raises :class:`Conflict` (the status flips with a
    conditional UPDATE, so two concurrent cancellations free the days once)."""
    assert booking.id is not None
    booking_id = booking.id
    try:
        flipped = session.exec(
            update(LeaseBooking)
            .where(col(LeaseBooking.id) == booking_id, col(LeaseBooking.status) == "confirmed")
            .values(status="cancelled")
            .execution_options(synchronize_session=False)
        )
        if flipped.rowcount != 1:
            raise Conflict(f"booking {booking_id} is not confirmed (cancelled already?)")
        a, b = booking.start_day, booking.end_day
        _lock_days(session, booking.listing_id, a, b)
        _add(session, booking.listing_id, a, b, -booking.quantity)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(booking)
    log.info("lease booking %s cancelled by user %s", booking_id, by_user)
    return booking
