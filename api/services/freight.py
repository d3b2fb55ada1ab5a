"""Freight matching on the platform (车货配载): capacity and cargo postings, bookings.

A booking reserves room on the legs of the truck's route the cargo rides, in one
transaction: the cargo is taken with a conditional UPDATE (only an open cargo can be
booked) and each leg's room with ``remaining = remaining - amount``; the CHECK constraints
``remaining >= 0`` make the database itself refuse an oversold leg, so concurrent bookings
can never oversell (PostgreSQL serialises the row updates; the loser's constraint fails).
Only the legs the cargo is on board for are reserved (:func:`on_board`). Over HTTP a
booking runs once per Idempotency-Key (:func:`book_once`): retries replay its answer.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import (
    CapacityLeg,
    CapacityPosting,
    CargoPosting,
    FreightBooking,
    Organisation,
    aware,
    now,
)
from api.services.idempotency import Answer, once, scope_of
from api.services.ledger import account_for_org, add_in_transaction
from api.services.reference import places_by_id
from routing.errors import InputError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def seconds(moment: datetime | None) -> int:
    """Seconds since the epoch (the matching engine's clock)."""
    if moment is None:
        return 0
    return int(moment.timestamp())


def create_capacity(
    session: Session,
    *,
    org_id: int,
    created_by: int | None,
    fields: dict[str, Any],
    commit: bool = True,
) -> CapacityPosting:
    """A truck's planned route with its room on every leg; ``commit=False`` leaves it in
    the open transaction (flushed), as :func:`api.services.idempotency.once` needs."""
    stops = fields["stops"]
    if len(stops) < 2:
        raise InputError("stops", "a route needs at least two stops")
    times = [s["time"] for s in stops]
    if any(b < a for a, b in itertools.pairwise(times)):
        raise InputError("stops", "stop times must not go backwards")
    posting = CapacityPosting(
        org_id=org_id, created_by=created_by, created_at=now(), status="open", **fields
    )
    posting.stops = [
        {**s, "time": s["time"].isoformat() if isinstance(s["time"], datetime) else s["time"]}
        for s in stops
    ]
    session.add(posting)
    session.flush()
    assert posting.id is not None
    for seq in range(len(stops) - 1):
        session.add(
            CapacityLeg(
                posting_id=posting.id,
                seq=seq,
                remaining_kg=int(posting.capacity_kg),
                remaining_l=round(posting.capacity_m3 * 1000),
            )
        )
    session.flush()
    if commit:
        session.commit()
        session.refresh(posting)
    return posting


def legs_by_posting(session: Session, posting_ids: Sequence[int]) -> dict[int, list[CapacityLeg]]:
    """The legs of many postings, in one query, in route order."""
    out: dict[int, list[CapacityLeg]] = {pid: [] for pid in posting_ids}
    rows = session.exec(
        select(CapacityLeg)
        .where(col(CapacityLeg.posting_id).in_(list(posting_ids)))
        .order_by(col(CapacityLeg.posting_id), col(CapacityLeg.seq))
    ).all()
    for leg in rows:
        out[leg.posting_id].append(leg)
    return out


def legs_of(session: Session, posting_id: int) -> list[CapacityLeg]:
    return legs_by_posting(session, [posting_id])[posting_id]


def truck_route(
    session: Session, posting: CapacityPosting, legs: Sequence[CapacityLeg] | None = None
) -> Any:
    """The matching engine's view of a capacity posting (room left per leg)."""
    from dispatch.freight import TruckRoute

    legs = legs if legs is not None else legs_of(session, posting.id or 0)
    stops = posting.stops or []
    return TruckRoute(
        id=posting.id or 0,
        stops_xy=np.array([[s["lon"], s["lat"]] for s in stops], dtype=float),
        stop_times=np.array(
            [seconds(datetime.fromisoformat(s["time"])) for s in stops], dtype=np.int64
        ),
        remaining_kg=np.array([leg.remaining_kg for leg in legs], dtype=float),
        remaining_l=np.array([leg.remaining_l for leg in legs], dtype=float),
        refrigerated=posting.refrigerated,
        livestock=posting.livestock,
        price_per_km_fen=posting.price_per_km_fen,
        price_per_tkm_fen=posting.price_per_tkm_fen,
    )


def cargo_of(cargo: CargoPosting) -> Any:
    from dispatch.freight import Cargo

    return Cargo(
        id=cargo.id or 0,
        origin_xy=(cargo.origin_lon, cargo.origin_lat),
        destination_xy=(cargo.destination_lon, cargo.destination_lat),
        weight_kg=float(cargo.weight_kg),
        volume_l=float(cargo.volume_m3) * 1000,
        needs_cold=cargo.temperature in ("chilled", "frozen"),
        live_animal=cargo.live_animal,
        pickup_start=seconds(aware(cargo.pickup_start)),
        pickup_end=seconds(aware(cargo.pickup_end)),
        deliver_by=seconds(aware(cargo.deliver_by)),
        offered_price_fen=cargo.offered_price_fen,
    )


@functools.cache
def travel() -> Any:
    """Travel times and distances for matching: the prefecture's road network (trucks)."""
    from dispatch.freight import NetworkTravel
    from routing.network import load_network

    return NetworkTravel(load_network(), "truck")


def on_board(match: Any, cargo: Any, truck: Any, travel: Any) -> Any:
    """The match with exactly the legs the cargo is on board for (and the positions of
    the same route that say so).

    Among insertions of equal detour the engine takes the earliest legs, so a cargo picked
    up at one of the route's stops comes out inserted at the end of the leg *before* that
    stop (it rides that leg for 0 m), and one delivered at a stop as inserted at the start
    of the leg *after* it. Booking those legs would take room the cargo never uses: a leg
    is dropped from either end while the pickup is where the leg ends (or the delivery is
    where it starts), by the same ``travel`` the detour was costed with."""
    first, last = int(match.first_leg), int(match.last_leg)
    if first == last:
        return match
    stops = np.asarray(truck.stops_xy, dtype=float)
    n = stops.shape[0]
    origin = np.broadcast_to(np.asarray(cargo.origin_xy, dtype=float), (n, 2))
    destination = np.broadcast_to(np.asarray(cargo.destination_xy, dtype=float), (n, 2))
    _, metres = travel.durations(np.vstack([origin, stops]), np.vstack([stops, destination]))
    to_stop, from_stop = np.rint(metres[:n]), np.rint(metres[n:])  # P -> stop k, stop k -> D
    while first < last and to_stop[first + 1] == 0:  # picked up where leg `first` ends
        first += 1
    while last > first and from_stop[last] == 0:  # delivered where leg `last` starts
        last -= 1
    if (first, last) == (match.first_leg, match.last_leg):
        return match
    return dataclasses.replace(
        match, first_leg=first, last_leg=last, pickup_pos=first + 1, delivery_pos=last + 1
    )


def matches(session: Session, cargo: CargoPosting, *, limit: int = 10) -> list[Any]:
    """Open capacity ranked for a cargo (best detour first, then price); each match names
    the legs a booking would reserve (:func:`on_board`)."""
    from dispatch.freight import match_cargo

    rows = session.exec(select(CapacityPosting).where(CapacityPosting.status == "open")).all()
    legs = legs_by_posting(session, [p.id or 0 for p in rows])
    trucks = {p.id or 0: truck_route(session, p, legs[p.id or 0]) for p in rows}
    if not trucks:
        return []
    wanted = cargo_of(cargo)
    ranked = match_cargo(wanted, list(trucks.values()), travel(), limit=limit)
    return [on_board(m, wanted, trucks[m.truck], travel()) for m in ranked]


def book(
    session: Session,
    *,
    cargo_id: int,
    capacity_id: int,
    idempotency_key: str | None,
    created_by: int | None,
    commit: bool = True,
) -> tuple[FreightBooking, bool]:
    """Book a cargo on a truck at the best insertion; all of it or nothing.

    ``idempotency_key`` (stored on the booking, unique): a call with the key of an earlier
    booking returns that one (``created`` False). ``commit=False`` leaves the booking in
    the session's open transaction (flushed) for the caller to commit, as
    :func:`book_once` does; on an error the caller rolls back."""
    stored = _booking_by_key(session, idempotency_key)
    if stored is not None:
        if (stored.cargo_id, stored.capacity_id) != (cargo_id, capacity_id):
            raise Conflict("this Idempotency-Key was used for another booking")
        return stored, False
    cargo, posting, match = _placement(session, cargo_id, capacity_id)
    # the accounts exist before the booking's transaction, which records the payment too
    payer = account_for_org(session, cargo.org_id).id or 0
    payee = account_for_org(session, posting.org_id).id or 0
    try:
        booking = _reserve(session, cargo, capacity_id, match, idempotency_key, created_by)
        if payer != payee and booking.price_fen > 0:
            add_in_transaction(
                session,
                debit_id=payer,
                credit_id=payee,
                amount_fen=int(booking.price_fen),
                kind="freight_booking",
                ref_type="freight_booking",
                ref_id=str(booking.id),
                memo=f"freight: cargo {cargo_id} on truck posting {capacity_id}",
                idempotency_key=f"freight:{booking.id}",
                created_by=created_by,
            )
        if commit:
            session.commit()
    except IntegrityError:
        session.rollback()
        stored = _booking_by_key(session, idempotency_key)
        if stored is not None and (stored.cargo_id, stored.capacity_id) == (
            cargo_id,
            capacity_id,
        ):
            return stored, False
        raise Conflict(
            "no room left on this truck for the cargo (another booking took it)"
        ) from None
    except Conflict:
        session.rollback()
        raise
    if commit:
        session.refresh(booking)
    return booking, True


def _placement(
    session: Session, cargo_id: int, capacity_id: int
) -> tuple[CargoPosting, CapacityPosting, Any]:
    """The open cargo, the open truck posting and where the cargo rides on its route
    (the legs it is on board, :func:`on_board`); refusals name what is wrong."""
    from dispatch.freight import best_insertion

    cargo = session.get(CargoPosting, cargo_id)
    posting = session.get(CapacityPosting, capacity_id)
    if cargo is None:
        raise InputError("cargo_id", f"no cargo {cargo_id}")
    if posting is None or posting.status != "open":
        raise InputError("capacity_id", f"no open capacity posting {capacity_id}")
    if cargo.status != "open":
        raise Conflict(f"cargo {cargo_id} is {cargo.status}")
    wanted, truck = cargo_of(cargo), truck_route(session, posting)
    match = best_insertion(wanted, truck, travel())
    if match is None:
        raise Conflict("the cargo does not fit this truck's route (room, times or equipment)")
    return cargo, posting, on_board(match, wanted, truck, travel())


def _reserve(
    session: Session,
    cargo: CargoPosting,
    capacity_id: int,
    match: Any,
    idempotency_key: str | None,
    created_by: int | None,
) -> FreightBooking:
    """Take the cargo (only an open one) and the room on the legs it rides (the CHECKs
    refuse an oversold leg), and add the booking, in the caller's transaction."""
    cargo_id = cargo.id or 0
    weight = int(np.ceil(cargo.weight_kg))
    litres = int(np.ceil(cargo.volume_m3 * 1000))
    taken = session.exec(
        update(CargoPosting)
        .where(col(CargoPosting.id) == cargo_id, col(CargoPosting.status) == "open")
        .values(status="booked")
    )
    if taken.rowcount != 1:
        raise Conflict(f"cargo {cargo_id} was booked meanwhile")
    legs = session.exec(
        update(CapacityLeg)
        .where(
            col(CapacityLeg.posting_id) == capacity_id,
            col(CapacityLeg.seq) >= match.first_leg,
            col(CapacityLeg.seq) <= match.last_leg,
        )
        .values(
            remaining_kg=CapacityLeg.remaining_kg - weight,
            remaining_l=CapacityLeg.remaining_l - litres,
        )
    )
    if legs.rowcount != match.last_leg - match.first_leg + 1:
        raise Conflict("the truck's route changed meanwhile")
    booking = FreightBooking(
        cargo_id=cargo_id,
        capacity_id=capacity_id,
        pickup_seq=match.pickup_pos,
        delivery_seq=match.delivery_pos,
        first_leg=match.first_leg,
        last_leg=match.last_leg,
        weight_kg=weight,
        volume_l=litres,
        price_fen=match.suggested_price_fen,
        status="confirmed",
        idempotency_key=idempotency_key,
        created_by=created_by,
        created_at=now(),
    )
    session.add(booking)
    session.flush()
    return booking


def _booking_by_key(session: Session, idempotency_key: str | None) -> FreightBooking | None:
    if idempotency_key is None:
        return None
    return session.exec(
        select(FreightBooking).where(FreightBooking.idempotency_key == idempotency_key)
    ).first()


def booking_out(b: FreightBooking) -> dict[str, Any]:
    """A booking as the API shows it."""
    out = b.model_dump(exclude={"created_at", "idempotency_key"})  # a key is the caller's own
    return {**out, "created_at": aware(b.created_at)}


def book_once(
    session: Session,
    *,
    cargo_id: int,
    capacity_id: int,
    key: str,
    user_id: int | None,
    request_hash: str,
) -> Answer:
    """``POST /cargo/{id}/book`` once per ``Idempotency-Key`` of the user: the first call
    books (201 and the booking); every retry with the same key and request, concurrent or
    later, replays that answer; the same key with another request is a 422 naming the
    header (:func:`api.services.idempotency.once`). A booking that fails stores nothing."""
    cargo = session.get(CargoPosting, cargo_id)
    posting = session.get(CapacityPosting, capacity_id)
    if cargo is not None and posting is not None:
        # created on first use, committed apart: before the key opens the booking's transaction
        account_for_org(session, cargo.org_id)
        account_for_org(session, posting.org_id)

    def work() -> tuple[int, dict[str, Any]]:
        booking, _ = book(
            session, cargo_id=cargo_id, capacity_id=capacity_id, idempotency_key=None,
            created_by=user_id, commit=False,
        )  # fmt: skip
        return 201, booking_out(booking)

    return once(session, scope=scope_of(user_id), key=key, request_hash=request_hash, work=work)


# ---- what the trading pages show (the JSON API answers the same) ----------------------
#: Vehicle types the pages offer (a posting may name any other, up to 40 characters).
VEHICLE_TYPES = (
    "van", "box_4_2m", "box_6_8m", "box_9_6m", "flatbed_13m", "reefer_4_2m", "reefer_6_8m",
    "livestock",
)  # fmt: skip
TEMPERATURES = ("ambient", "chilled", "frozen")


def org_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.exec(select(Organisation).where(col(Organisation.id).in_(wanted))).all()
    return {o.id: o.name for o in rows if o.id is not None}


def match_rows(session: Session, cargo: CargoPosting, *, limit: int = 10) -> list[dict[str, Any]]:
    """The ranked matches of a cargo as ``GET /cargo/{id}/matches`` answers them: the
    detour (km, minutes), the suggested price, where the cargo rides, the truck and its
    firm, and the room left on the legs it would ride."""
    found = matches(session, cargo, limit=limit)
    ids = [m.truck for m in found]
    postings = {
        p.id: p
        for p in session.exec(select(CapacityPosting).where(col(CapacityPosting.id).in_(ids))).all()
    }
    legs = legs_by_posting(session, ids)
    names = org_names(session, [p.org_id for p in postings.values()])
    rows = []
    for m in found:
        p = postings[m.truck]
        ridden = legs[m.truck][m.first_leg : m.last_leg + 1] or legs[m.truck]
        stops = p.stops or []
        rows.append(
            {
                "capacity_id": m.truck,
                "detour_km": round(m.detour_m / 1000, 1),
                "detour_min": round(m.detour_s / 60),
                "suggested_price_fen": m.suggested_price_fen,
                "pickup_position": m.pickup_pos,
                "delivery_position": m.delivery_pos,
                "legs": [m.first_leg, m.last_leg],
                "org_id": p.org_id,
                "org_name": names.get(p.org_id),
                "vehicle_type": p.vehicle_type,
                "refrigerated": p.refrigerated,
                "livestock": p.livestock,
                "price_per_km_fen": p.price_per_km_fen,
                "price_per_tkm_fen": p.price_per_tkm_fen,
                "room_kg": min(leg.remaining_kg for leg in ridden) if ridden else 0,
                "room_m3": min(leg.remaining_l for leg in ridden) / 1000 if ridden else 0.0,
                "departs_at": stops[0]["time"] if stops else None,
                "arrives_at": stops[-1]["time"] if stops else None,
            }
        )
    return rows


@functools.lru_cache(maxsize=512)
def _road_line(points: tuple[tuple[float, float], ...]) -> tuple[list[list[float]], int, int]:
    """The fastest truck roads through ``points`` in order: coordinates, metres, seconds."""
    from routing.network import resolve, shortest_route
    from routing.network.matrix import Waypoint

    net = travel().network
    wps: list[Waypoint] = resolve(net, [list(p) for p in points])
    coords: list[list[float]] = []
    metres = seconds_ = 0
    for a, b in itertools.pairwise(wps):
        if (a.lon, a.lat) == (b.lon, b.lat):
            continue
        route = shortest_route(net, a, b, "truck")
        coords.extend([float(x), float(y)] for x, y in route.geometry["coordinates"])
        metres += int(route.distance_m)
        seconds_ += int(route.duration_s)
    return coords, metres, seconds_


def match_route(session: Session, cargo: CargoPosting, capacity_id: int) -> dict[str, Any]:
    """The truck's planned route and the route with the cargo on board (the detour), on
    the road network, for the map: where the cargo is picked up and delivered is the
    booking's if it was booked on this truck, else the best insertion now."""
    from dispatch.freight import best_insertion

    posting = session.get(CapacityPosting, capacity_id)
    if posting is None:
        raise InputError("capacity_id", f"no capacity posting {capacity_id}")
    booking = session.exec(
        select(FreightBooking).where(
            FreightBooking.cargo_id == cargo.id,
            FreightBooking.capacity_id == capacity_id,
            FreightBooking.status == "confirmed",
        )
    ).first()
    if booking is not None:
        i, j = booking.pickup_seq, booking.delivery_seq
    else:
        wanted, truck = cargo_of(cargo), truck_route(session, posting)
        found = best_insertion(wanted, truck, travel())
        if found is None:
            raise Conflict("the cargo does not fit this truck's route (room, times or equipment)")
        placed = on_board(found, wanted, truck, travel())
        i, j = int(placed.pickup_pos), int(placed.delivery_pos)
    stops = [(float(s["lon"]), float(s["lat"])) for s in posting.stops or []]
    pickup = (float(cargo.origin_lon), float(cargo.origin_lat))
    delivery = (float(cargo.destination_lon), float(cargo.destination_lat))
    detoured = [*stops[:i], pickup, *stops[i:j], delivery, *stops[j:]]
    planned, planned_m, planned_s = _road_line(tuple(stops))
    loaded, loaded_m, loaded_s = _road_line(tuple(detoured))
    return {
        "capacity_id": capacity_id,
        "cargo_id": cargo.id,
        "booked": booking is not None,
        "pickup_position": i,
        "delivery_position": j,
        "stops": [{**s, "time": s["time"]} for s in posting.stops or []],
        "pickup": list(pickup),
        "delivery": list(delivery),
        "planned": {"type": "LineString", "coordinates": planned},
        "with_cargo": {"type": "LineString", "coordinates": loaded},
        "planned_km": round(planned_m / 1000, 1),
        "with_cargo_km": round(loaded_m / 1000, 1),
        "detour_km": round((loaded_m - planned_m) / 1000, 1),
        "detour_min": round((loaded_s - planned_s) / 60),
    }


# ---- the information board (物流信息发布) ------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BoardFilter:
    """What the board shows: open capacity or cargo, of a county (a stop, the origin or
    the destination in it), on a day (Asia/Shanghai: a stop that day, a pickup window
    over it), of a vehicle type (capacity), for a temperature class (cargo of it; trucks
    that can carry it: refrigerated for chilled and frozen)."""

    county: str | None = None
    day: date | None = None
    vehicle_type: str | None = None
    temperature: str | None = None


def where(place_id: str | None, lon: float, lat: float) -> dict[str, Any]:
    """A point as the board names it: the place (if any), its names and its county."""
    from routing.network.snap import load_boundary

    place = places_by_id().get(place_id) if place_id else None
    county = place.county_code if place is not None else None
    if county is None:
        county = load_boundary().county_of(float(lon), float(lat))
    return {
        "place": place_id,
        "name_zh": place.name_zh if place is not None else None,
        "name_pinyin": getattr(place, "name_pinyin", None) if place is not None else None,
        "county_code": county,
        "lon": lon,
        "lat": lat,
    }


def _local_day(moment: datetime | str | None) -> date | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    aware_moment = aware(moment)
    return aware_moment.astimezone(SHANGHAI).date() if aware_moment is not None else None


def _capacity_item(p: CapacityPosting, legs: list[CapacityLeg], org: str | None) -> dict[str, Any]:
    stops = [
        {**where(s.get("place"), s["lon"], s["lat"]), "time": s["time"]} for s in p.stops or []
    ]
    return {
        "kind": "capacity",
        "id": p.id,
        "org_name": org,
        "vehicle_type": p.vehicle_type,
        "refrigerated": p.refrigerated,
        "livestock": p.livestock,
        "capacity_kg": p.capacity_kg,
        "capacity_m3": p.capacity_m3,
        "room_kg": max((leg.remaining_kg for leg in legs), default=0),
        "room_m3": max((leg.remaining_l for leg in legs), default=0) / 1000,
        "price_per_km_fen": p.price_per_km_fen,
        "price_per_tkm_fen": p.price_per_tkm_fen,
        "stops": stops,
        "counties": sorted({s["county_code"] for s in stops if s["county_code"]}),
        "public": p.public,
    }


def _cargo_item(c: CargoPosting, org: str | None) -> dict[str, Any]:
    origin = where(c.origin, c.origin_lon, c.origin_lat)
    destination = where(c.destination, c.destination_lon, c.destination_lat)
    return {
        "kind": "cargo",
        "id": c.id,
        "org_name": org,
        "origin": origin,
        "destination": destination,
        "weight_kg": c.weight_kg,
        "volume_m3": c.volume_m3,
        "temperature": c.temperature,
        "live_animal": c.live_animal,
        "pickup_start": aware(c.pickup_start),
        "pickup_end": aware(c.pickup_end),
        "deliver_by": aware(c.deliver_by),
        "offered_price_fen": c.offered_price_fen,
        "counties": sorted({x for x in (origin["county_code"], destination["county_code"]) if x}),
        "public": c.public,
    }


def _capacity_fits(item: dict[str, Any], f: BoardFilter) -> bool:
    if f.vehicle_type and item["vehicle_type"] != f.vehicle_type:
        return False
    if f.temperature in ("chilled", "frozen") and not item["refrigerated"]:
        return False
    return f.day is None or any(_local_day(s["time"]) == f.day for s in item["stops"])


def _cargo_fits(item: dict[str, Any], f: BoardFilter) -> bool:
    if f.temperature and item["temperature"] != f.temperature:
        return False
    if f.day is None:
        return True
    first, last = _local_day(item["pickup_start"]), _local_day(item["pickup_end"])
    return first is not None and last is not None and first <= f.day <= last


def board(
    session: Session, kind: str, f: BoardFilter, *, public_only: bool
) -> list[dict[str, Any]]:
    """Open capacity (``kind`` "capacity") or cargo ("cargo") on the information board,
    newest first; ``public_only`` (a reader not signed in): only what the posting firm
    made public."""
    model: Any = CapacityPosting if kind == "capacity" else CargoPosting
    query = select(model).where(model.status == "open").order_by(col(model.id).desc())
    if public_only:
        query = query.where(model.public == True)  # noqa: E712 (SQL)
    rows = session.exec(query).all()
    names = org_names(session, [r.org_id for r in rows])
    items: list[dict[str, Any]] = []
    if kind == "capacity":
        legs = legs_by_posting(session, [r.id or 0 for r in rows])
        items = [_capacity_item(r, legs[r.id or 0], names.get(r.org_id)) for r in rows]
        items = [i for i in items if _capacity_fits(i, f)]
    else:
        items = [_cargo_item(r, names.get(r.org_id)) for r in rows]
        items = [i for i in items if _cargo_fits(i, f)]
    if f.county:
        items = [i for i in items if f.county in i["counties"]]
    return items
