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

**The content, read once per process.** A sheet's content (its stops with every order and
tracking number: about 150 KB of JSON on a county route of the sample day, up to 400 KB)
is written once, by the planning job, and never changed; parsing it again on every request
cost more than the rest of the request. So the hot paths load sheets without it
(:data:`WITHOUT_CONTENT`) and read it through :func:`sheet_content` (the content with each
order reduced to ``order_id`` and ``final_destination``, all that the rules here and the
monitor read) or :func:`sheet_json` (the content as ready JSON fragments, for answering the
whole sheet), both kept in a per-process cache keyed by the database, the sheet's id and
its creation time, bounded by :data:`CACHE_MAX_BYTES`. A change of a sheet's content made
through the ORM in this process (tests do that) drops its entry; one made outside the
application is not seen by processes that cached the sheet: do not edit contents.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import pydantic_core
from sqlalchemy import event as sa_event
from sqlalchemy import func, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import EVENT_TYPES, Order, Plan, RouteSheet, StopEvent, StopStatus, now
from routing.errors import InputError
from routing.network.geometry import haversine_m

__all__ = [
    "CACHE_MAX_BYTES",
    "OFF_POINT_M",
    "TERMINAL",
    "WITHOUT_CONTENT",
    "SheetJson",
    "apply_event",
    "distance_from_stop",
    "init_stops",
    "sheet_content",
    "sheet_derived",
    "sheet_json",
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


# ---- the sheet's content, read once per process ---------------------------------------------
#: A loader option: the sheet's row without its content (read with :func:`sheet_content`).
WITHOUT_CONTENT = defer(cast(Any, RouteSheet.content))
#: The cache holds at most this much JSON (the sample day's 52 sheets: 7.7 MB).
CACHE_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SheetJson:
    """A sheet's content as JSON fragments, to answer it without parsing or encoding it
    again: ``members`` are the content's members in order, ``(key, b'"key":value')``
    (``stops`` without its value); ``stops`` the content's stops that are objects, each
    ``(its seq, its members likewise)``. Values are encoded as the API encodes answers
    (pydantic)."""

    members: tuple[tuple[str, bytes | None], ...]
    stops: tuple[tuple[Any, tuple[tuple[str, bytes], ...]], ...]


@dataclass(frozen=True)
class _Entry:
    light: dict[str, Any]
    json: SheetJson
    size: int
    derived: dict[str, Any] = field(default_factory=dict)  # see sheet_derived


_CACHE: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_cache_size = 0
_URLS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
T = TypeVar("T")


def _member(key: str, value: Any) -> bytes:
    return pydantic_core.to_json(key) + b":" + pydantic_core.to_json(value)


def _light_orders(groups: Any) -> Any:
    """A stop's ``drop`` or ``pickup`` groups with each order cut to what the rules read."""
    if not isinstance(groups, list):
        return groups
    return [
        {
            "orders": [
                {k: o[k] for k in ("order_id", "final_destination") if k in o}
                for o in g.get("orders") or ()
                if isinstance(o, dict)
            ]
        }
        for g in groups
        if isinstance(g, dict)
    ]


def _build(content: dict[str, Any]) -> _Entry:
    raw_stops = content.get("stops")
    stops = [s for s in raw_stops or () if isinstance(s, dict)]
    members = tuple((k, None if k == "stops" else _member(k, v)) for k, v in content.items())
    json_stops = tuple(
        (s.get("seq"), tuple((k, _member(k, v)) for k, v in s.items())) for s in stops
    )
    light = dict(content)
    if isinstance(raw_stops, list):
        light["stops"] = [
            {k: _light_orders(v) if k in ("drop", "pickup") else v for k, v in s.items()}
            if isinstance(s, dict)
            else s
            for s in raw_stops
        ]
    size = sum(len(m or b"") for _, m in members) + sum(
        len(m) for _, ms in json_stops for _, m in ms
    )
    return _Entry(light, SheetJson(members, json_stops), size)


def _url(engine: Engine) -> str:
    """The engine's URL as text (rendering it is not free: kept per engine)."""
    found = _URLS.get(engine)
    if found is None:
        found = _URLS[engine] = str(engine.url)
    return found


def _entry(session: Session, sheet: RouteSheet) -> _Entry:
    global _cache_size
    key = (_url(session.get_bind().engine), sheet.id, sheet.created_at)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    if "content" in sa_inspect(sheet).unloaded:
        content = session.exec(select(RouteSheet.content).where(RouteSheet.id == sheet.id)).one()
    else:
        content = sheet.content
    entry = _build(dict(content or {}))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = entry
            _cache_size += entry.size
            while _cache_size > CACHE_MAX_BYTES and len(_CACHE) > 1:
                _, old = _CACHE.popitem(last=False)
                _cache_size -= old.size
    return entry


def _evict(engine: Engine, sheet: RouteSheet) -> None:
    global _cache_size
    url = _url(engine)
    with _CACHE_LOCK:
        for key in [k for k in _CACHE if k[0] == url and k[1] == sheet.id]:
            _cache_size -= _CACHE.pop(key).size


@sa_event.listens_for(RouteSheet, "after_update")
def _content_changed(_mapper: Any, connection: Any, target: RouteSheet) -> None:
    if sa_inspect(target).attrs.content.history.has_changes():
        _evict(connection.engine, target)


@sa_event.listens_for(RouteSheet, "after_delete")
def _sheet_deleted(_mapper: Any, connection: Any, target: RouteSheet) -> None:
    _evict(connection.engine, target)


def sheet_content(session: Session, sheet: RouteSheet) -> dict[str, Any]:
    """The sheet's content for reading its stops: as loaded when the row was loaded with
    it, else from the cache (each order cut to ``order_id`` and ``final_destination``).
    Shared: never change it."""
    if "content" not in sa_inspect(sheet).unloaded:
        return sheet.content or {}
    return _entry(session, sheet).light


def sheet_derived(
    session: Session, sheet: RouteSheet, name: str, build: Callable[[dict[str, Any]], T]
) -> T:
    """``build(content)`` (of :func:`sheet_content`), computed once per cached sheet and
    kept with it under ``name``: what a reader derives from the content alone (parsed
    times, say). Shared: never change it."""
    if "content" not in sa_inspect(sheet).unloaded:
        return build(sheet.content or {})
    entry = _entry(session, sheet)
    if name not in entry.derived:
        entry.derived[name] = build(entry.light)
    value: T = entry.derived[name]
    return value


def sheet_json(session: Session, sheet: RouteSheet) -> SheetJson:
    """The sheet's whole content as JSON fragments (cached, see :class:`SheetJson`)."""
    return _entry(session, sheet).json


# ---- the sheet's stops --------------------------------------------------------------------
def _stops(content: dict[str, Any]) -> list[dict[str, Any]]:
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
    for stop in _stops(sheet_content(session, sheet)):
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
    stops: list[dict[str, Any]],
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
    seqs = sorted(int(s["seq"]) for s in stops)
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
    found = session.exec(select(Plan.status).where(Plan.id == sheet.plan_id)).first()
    state = found if found is not None else "missing"
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
            # the columns only: an order row holds its tracking numbers (hundreds of them)
            rows = session.exec(
                select(col(Order.id), col(Order.order_id), col(Order.destination))
                .where(col(Order.order_id).in_(ids))
                .where(col(Order.status) != "cancelled")
            ).all()
            # the final drop: the order's destination, or the township where a parcel
            # for an unlocated village is held for collection
            final = [i for i, oid, dest in rows if dest == stop.place_id or oid in held]
            if final:
                session.exec(
                    update(Order).where(col(Order.id).in_(final)).values(status="delivered")
                )
    else:
        failed_ids += [str(o["order_id"]) for o in drops if o.get("order_id") is not None]
    if not stop.picked_up:
        failed_ids += [str(o["order_id"]) for o in pickups if o.get("order_id") is not None]
    if stop.status == "failed" and failed_ids:
        session.exec(
            update(Order)
            .where(col(Order.order_id).in_(failed_ids), col(Order.status).in_(_FAILABLE_ORDERS))
            .values(status="failed")
        )


def _follow_up(session: Session, sheet: RouteSheet) -> None:
    """The sheet follows its stops, the plan its sheets."""
    open_stops = session.exec(
        select(func.count())
        .select_from(StopStatus)
        .where(StopStatus.sheet_id == sheet.id, col(StopStatus.status).not_in(TERMINAL))
    ).one()
    if open_stops == 0:
        sheet.status = "completed"
    elif sheet.status in ("draft", "assigned"):
        sheet.status = "in_progress"
    session.add(sheet)
    if sheet.status != "completed":
        return
    session.flush()
    plan = session.exec(
        select(Plan)
        .options(defer(cast(Any, Plan.summary)))  # 140 KB of JSON on the sample day: not needed
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


def _lock_stop(session: Session, sheet: RouteSheet, seq: int) -> StopStatus:
    """The stop's status row, locked (made first for a sheet whose stops were never
    initialised, or a stop added since)."""
    locked = (
        select(StopStatus)
        .where(StopStatus.sheet_id == sheet.id, StopStatus.seq == seq)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    stop = session.exec(locked).first()
    if stop is None:
        init_stops(session, sheet)
        stop = session.exec(locked).one()
    return stop


def _commit_unexpired(session: Session) -> None:
    """Commit, keeping the objects' values: what was written is what the answer shows,
    with no reading it all back after the commit."""
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


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
    stops = _stops(sheet_content(session, sheet))
    reason = _check_input(
        sheet,
        stops,
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
            .options(WITHOUT_CONTENT)
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
        stop = _lock_stop(session, sheet, seq)
        _transition(stop, type)
        session.add(stop)
        recorded = now()
        content_stop = next(s for s in stops if int(s["seq"]) == seq)
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
        _follow_up(session, sheet)
        _commit_unexpired(session)
    except IntegrityError:
        session.rollback()
        stored = _stored(session, sheet_id, client_event_id)
        if stored is None:
            raise
        return _same_or_conflict(stored, seq, type)
    except BaseException:
        session.rollback()
        raise
    return event, True
