"""Stop-by-stop reporting on a route sheet: the per-stop state machine (no HTTP here).

A stop is ``pending`` until the courier reports ``arrived``; it is ``completed`` once every
action it needs is done (``delivered`` when it has drops, ``picked_up`` when it has
pickups; a stop with neither completes on arrival) and ``failed`` when the courier gives
up on it (with a reason). Completed and failed stops accept nothing more.

Every event carries the courier app's ``client_event_id``: sending the same event again
(a retry after a lost answer) returns the stored event and changes nothing. The unique
constraint ``(sheet_id, client_event_id)`` is the final guard against a concurrent
duplicate.

Only a sheet out on the road takes events: one of a plan never published, or withdrawn by
a replan (the sheet or its plan ``superseded``), answers :class:`Conflict`; an
``occurred_at`` more than :data:`CLOCK_SKEW` ahead of the server's clock is
:class:`InputError`.

The sheet follows its stops (``in_progress`` after the first event, ``completed`` when every
stop is completed or failed), the plan follows its sheets (``published`` -> ``completed``),
and the orders of a finished stop are marked ``delivered`` (its final drop) or ``failed``.

**Where the phone was.** An event may carry the phone's position (``lon``, ``lat``, WGS84)
and its accuracy radius (``accuracy_m``). The event keeps them with ``distance_m``, the
great-circle distance from the stop's planned point (the sheet content's ``place``), and
``off_point``: the event was recorded more than :data:`OFF_POINT_M` from that point, for the
dispatcher to look at. The accuracy is used generously: the phone may be anywhere within its
accuracy radius, so an event is flagged only when even the nearest place the phone may have
been is farther than :data:`OFF_POINT_M` (``distance_m - accuracy_m > OFF_POINT_M``); a
reading with no accuracy counts as exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import EVENT_TYPES, Order, Plan, RouteSheet, StopEvent, StopStatus, now
from routing.errors import InputError
from routing.network.geometry import haversine_m

__all__ = [
    "OFF_POINT_M",
    "TERMINAL",
    "apply_event",
    "distance_from_stop",
    "init_stops",
    "stop_states",
]

#: Stop states that accept no more events.
TERMINAL = ("completed", "failed")
#: Order states a failed stop may still turn into ``failed``.
_FAILABLE_ORDERS = ("open", "planned")
CLIENT_EVENT_ID_MAX = 64
#: How far in the future an ``occurred_at`` may be (phones' clocks drift).
CLOCK_SKEW = timedelta(minutes=10)
#: Plan states whose sheets are out on the road (a completed plan's stops are all
#: terminal, so its events are refused stop by stop).
_REPORTABLE_PLANS = ("published", "completed")
#: An event recorded farther than this from the stop's planned point (beyond the phone's
#: accuracy radius) is flagged ``off_point`` for the dispatcher.
OFF_POINT_M = 300.0


# ---- the sheet's stops --------------------------------------------------------------------
def _stops(sheet: RouteSheet) -> list[dict[str, Any]]:
    content = sheet.content or {}
    stops = content.get("stops") or []
    return [s for s in stops if isinstance(s, dict) and isinstance(s.get("seq"), int)]


def _orders(groups: Any) -> list[dict[str, Any]]:
    """The orders of a stop's ``drop`` or ``pickup`` party groups."""
    found: list[dict[str, Any]] = []
    for group in groups or ():
        if isinstance(group, dict):
            found.extend(o for o in group.get("orders") or () if isinstance(o, dict))
    return found


def _place_id(stop: dict[str, Any]) -> str:
    place = stop.get("place")
    return str(place.get("id", "")) if isinstance(place, dict) else ""


def init_stops(session: Session, sheet: RouteSheet) -> None:
    """Create the missing :class:`StopStatus` rows (one per stop of ``sheet.content``).

    Idempotent: existing rows are left as they are. The rows are flushed, not committed:
    the caller's transaction (e.g. publishing a plan) owns them.
    """
    if sheet.id is None:
        session.add(sheet)
        session.flush()
    assert sheet.id is not None
    have = set(session.exec(select(StopStatus.seq).where(StopStatus.sheet_id == sheet.id)).all())
    added = False
    for stop in _stops(sheet):
        seq = int(stop["seq"])
        if seq in have:
            continue
        have.add(seq)
        # a replanned sheet carries the stops already over, with their state
        carried = stop.get("status") if stop.get("done") else None
        state = carried if carried in ("completed", "failed") else "pending"
        needs_drop = bool(_orders(stop.get("drop")))
        needs_pickup = bool(_orders(stop.get("pickup")))
        session.add(
            StopStatus(
                sheet_id=sheet.id,
                seq=seq,
                place_id=_place_id(stop),
                status=state,
                needs_drop=needs_drop,
                needs_pickup=needs_pickup,
                delivered=state == "completed" and needs_drop,
                picked_up=state == "completed" and needs_pickup,
                updated_at=now(),
            )
        )
        added = True
    if added:
        session.flush()


def stop_states(session: Session, sheet_id: int) -> dict[int, StopStatus]:
    """The stored state of each stop of a sheet, by seq."""
    rows = session.exec(select(StopStatus).where(StopStatus.sheet_id == sheet_id)).all()
    return {row.seq: row for row in rows}


def distance_from_stop(
    stop: dict[str, Any], lon: float | None, lat: float | None, accuracy_m: float | None
) -> tuple[float | None, bool]:
    """``(distance_m, off_point)`` of a position from the stop's planned point: the
    great-circle distance (None without a position or a located stop) and whether it is
    more than :data:`OFF_POINT_M` away even at the near edge of the accuracy radius."""
    place = stop.get("place")
    if lon is None or lat is None or not isinstance(place, dict):
        return None, False
    plon, plat = place.get("lon"), place.get("lat")
    if not isinstance(plon, int | float) or not isinstance(plat, int | float):
        return None, False
    distance = round(float(haversine_m(plon, plat, lon, lat)), 1)
    return distance, distance - max(0.0, accuracy_m or 0.0) > OFF_POINT_M


def _locate(
    event: StopEvent,
    stop: dict[str, Any],
    lon: float | None,
    lat: float | None,
    accuracy_m: float | None,
) -> None:
    """Keep the phone's position on the event, with its distance from the stop."""
    event.lon, event.lat, event.accuracy_m = lon, lat, accuracy_m
    event.distance_m, event.off_point = distance_from_stop(stop, lon, lat, accuracy_m)


def _check_position(lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        raise InputError("lat" if lat is None else "lon", "give both lon and lat, or neither")


# ---- events ---------------------------------------------------------------------------------
def _stored(session: Session, sheet_id: int, client_event_id: str) -> StopEvent | None:
    return session.exec(
        select(StopEvent).where(
            StopEvent.sheet_id == sheet_id, StopEvent.client_event_id == client_event_id
        )
    ).first()


def _same_or_conflict(stored: StopEvent, seq: int, type: str) -> tuple[StopEvent, bool]:
    if stored.seq != seq or stored.type != type:
        raise Conflict(
            f"client_event_id {stored.client_event_id!r} was already used for a "
            f"{stored.type!r} event at stop {stored.seq}; send a new id for a new event"
        )
    return stored, False


def _check_input(
    sheet: RouteSheet,
    *,
    seq: int,
    type: str,
    client_event_id: str,
    reason: str | None,
    occurred_at: datetime | None,
) -> str | None:
    if type not in EVENT_TYPES:
        raise InputError("type", f"must be one of {', '.join(EVENT_TYPES)}, got {type!r}")
    if not client_event_id or len(client_event_id) > CLIENT_EVENT_ID_MAX:
        raise InputError("client_event_id", f"must be 1 to {CLIENT_EVENT_ID_MAX} characters")
    seqs = sorted(int(s["seq"]) for s in _stops(sheet))
    if seq not in seqs:
        known = f"{seqs[0]}..{seqs[-1]}" if seqs else "none"
        raise InputError("seq", f"route sheet {sheet.id} has no stop {seq} (its stops: {known})")
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise InputError("occurred_at", "needs its time zone, e.g. 2025-03-18T10:42:00+08:00")
    if occurred_at is not None and occurred_at > now() + CLOCK_SKEW:
        minutes = int(CLOCK_SKEW.total_seconds() // 60)
        raise InputError(
            "occurred_at",
            f"is in the future ({occurred_at.isoformat()}); at most {minutes} minutes ahead "
            "of the server's clock is accepted",
        )
    reason = reason.strip() if reason is not None else None
    if type == "failed" and not reason:
        raise InputError("reason", "a failed stop needs a reason (e.g. 收件人不在 nobody home)")
    return reason or None


def _check_reportable(session: Session, sheet: RouteSheet) -> None:
    """Refuse events on a sheet that is not out on the road: a sheet withdrawn by a replan
    (``superseded``, or its plan superseded) or one of a plan never published."""
    where = f"route sheet {sheet.id}"
    if sheet.status == "superseded":
        raise Conflict(
            f"{where} was superseded by a replan and accepts no more events; "
            "report on the new plan's sheet"
        )
    plan = session.get(Plan, sheet.plan_id, populate_existing=True)
    state = plan.status if plan is not None else "missing"
    if state == "superseded":
        raise Conflict(
            f"{where} belongs to plan {sheet.plan_id}, superseded by a replan; it accepts "
            "no more events, report on the new plan's sheet"
        )
    if state not in _REPORTABLE_PLANS:
        raise Conflict(
            f"{where} belongs to plan {sheet.plan_id}, which is {state} and not published; "
            "events are accepted once the plan is published"
        )


def _transition(stop: StopStatus, type: str) -> None:
    """Apply one event to the stop's state, or raise :class:`Conflict`."""
    where = f"stop {stop.seq}"
    if stop.status in TERMINAL:
        raise Conflict(f"{where} is {stop.status} already and accepts no more events")
    if type == "arrived":
        if stop.status != "pending":
            raise Conflict(f"{where}: arrived already")
        stop.status = "arrived"
    elif type in ("delivered", "picked_up"):
        if stop.status != "arrived":
            raise Conflict(f"{where}: report 'arrived' before '{type}'")
        if type == "delivered":
            if not stop.needs_drop:
                raise Conflict(f"{where} has nothing to deliver")
            if stop.delivered:
                raise Conflict(f"{where}: delivered already")
            stop.delivered = True
        else:
            if not stop.needs_pickup:
                raise Conflict(f"{where} has nothing to pick up")
            if stop.picked_up:
                raise Conflict(f"{where}: picked up already")
            stop.picked_up = True
    else:  # failed, from pending or arrived (checked above)
        stop.status = "failed"
    if stop.status == "arrived" and _done(stop):
        stop.status = "completed"
    stop.updated_at = now()


def _done(stop: StopStatus) -> bool:
    return (stop.delivered or not stop.needs_drop) and (stop.picked_up or not stop.needs_pickup)


def _mark_orders(session: Session, stop: StopStatus, content_stop: dict[str, Any]) -> None:
    """A finished stop's orders: final drops delivered, the undone ones failed."""
    drops = _orders(content_stop.get("drop"))
    pickups = _orders(content_stop.get("pickup"))
    failed_ids: list[str] = []
    if stop.delivered:
        held = {str(o["order_id"]) for o in drops if o.get("final_destination")}
        ids = [str(o["order_id"]) for o in drops if o.get("order_id") is not None]
        if ids:
            for order in session.exec(select(Order).where(col(Order.order_id).in_(ids))).all():
                # the final drop: the order's destination, or the township where a parcel
                # for an unlocated village is held for collection
                final = order.destination == stop.place_id or order.order_id in held
                if final and order.status != "cancelled":
                    order.status = "delivered"
                    session.add(order)
    else:
        failed_ids += [str(o["order_id"]) for o in drops if o.get("order_id") is not None]
    if not stop.picked_up:
        failed_ids += [str(o["order_id"]) for o in pickups if o.get("order_id") is not None]
    if stop.status == "failed" and failed_ids:
        rows = session.exec(
            select(Order).where(
                col(Order.order_id).in_(failed_ids), col(Order.status).in_(_FAILABLE_ORDERS)
            )
        ).all()
        for order in rows:
            order.status = "failed"
            session.add(order)


def _follow_up(session: Session, sheet: RouteSheet, states: Iterable[StopStatus]) -> None:
    """The sheet follows its stops, the plan its sheets."""
    if all(s.status in TERMINAL for s in states):
        sheet.status = "completed"
    elif sheet.status in ("draft", "assigned"):
        sheet.status = "in_progress"
    session.add(sheet)
    if sheet.status != "completed":
        return
    session.flush()
    plan = session.exec(
        select(Plan)
        .where(Plan.id == sheet.plan_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if plan is None or plan.status != "published":
        return
    open_sheets = session.exec(
        select(func.count())
        .select_from(RouteSheet)
        .where(RouteSheet.plan_id == plan.id, RouteSheet.status != "completed")
    ).one()
    if open_sheets == 0:
        plan.status = "completed"
        session.add(plan)


def apply_event(
    session: Session,
    sheet: RouteSheet,
    *,
    seq: int,
    type: str,
    client_event_id: str,
    user_id: int | None,
    reason: str | None = None,
    signer_name: str | None = None,
    pickup_code: str | None = None,
    occurred_at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    accuracy_m: float | None = None,
) -> tuple[StopEvent, bool]:
    """Record one courier event at stop ``seq``; return ``(event, created)``.

    A retry (same ``client_event_id``, same seq and type) returns the stored event with
    ``created=False`` and changes nothing. Raises :class:`InputError` for bad input (an
    unknown seq, a failure without a reason, an ``occurred_at`` more
    than :data:`CLOCK_SKEW` in the future, and :class:`Conflict` for an impossible
    transition, a reused ``client_event_id``, or a sheet not out on the road (its plan
    superseded by a replan, or never published). Commits once, at the end. The phone's
    position (both coordinates or neither) is kept with ``distance_m`` and ``off_point``.
    """
    _check_position(lon, lat)
    reason = _check_input(
        sheet,
        seq=seq,
        type=type,
        client_event_id=client_event_id,
        reason=reason,
        occurred_at=occurred_at,
    )
    assert sheet.id is not None
    sheet_id = sheet.id
    stored = _stored(session, sheet_id, client_event_id)
    if stored is not None:
        return _same_or_conflict(stored, seq, type)

    try:
        # lock the sheet, then the stop (PostgreSQL; SQLite serialises writers anyway)
        session.exec(
            select(RouteSheet)
            .where(RouteSheet.id == sheet_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        # a concurrent retry may have committed while we waited for the lock
        stored = _stored(session, sheet_id, client_event_id)
        if stored is not None:
            session.rollback()
            return _same_or_conflict(stored, seq, type)
        _check_reportable(session, sheet)
        init_stops(session, sheet)
        stop = session.exec(
            select(StopStatus)
            .where(StopStatus.sheet_id == sheet_id, StopStatus.seq == seq)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        _transition(stop, type)
        session.add(stop)
        recorded = now()
        content_stop = next(s for s in _stops(sheet) if int(s["seq"]) == seq)
        event = StopEvent(
            sheet_id=sheet_id,
            seq=seq,
            type=type,
            client_event_id=client_event_id,
            reason=reason,
            signer_name=signer_name,
            pickup_code=pickup_code,
            # UTC: SQLite drops the zone, and aware() reads a stored time as UTC
            occurred_at=occurred_at.astimezone(UTC) if occurred_at else recorded,
            recorded_at=recorded,
            user_id=user_id,
        )
        _locate(event, content_stop, lon, lat, accuracy_m)
        session.add(event)
        session.flush()  # a concurrent duplicate fails here, before any other work
        if stop.status in TERMINAL:
            _mark_orders(session, stop, content_stop)
        _follow_up(session, sheet, stop_states(session, sheet_id).values())
        session.commit()
    except IntegrityError:
        session.rollback()
        stored = _stored(session, sheet_id, client_event_id)
        if stored is None:
            raise
        return _same_or_conflict(stored, seq, type)
    except BaseException:
        session.rollback()
        raise
    session.refresh(event)
    return event, True
