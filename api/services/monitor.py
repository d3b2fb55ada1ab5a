"""The monitoring centre (监控中心): where every vehicle of a day is, live, from what the
couriers report stop by stop (there is no GPS yet: a vehicle is where it last reported).

One answer per poll, computed here (the page only draws it):

- per route sheet: progress (stops done of all), the last report (time, type, stop, place),
  the delay of that report against the planned arrival at that stop, and for every stop
  not yet done its planned arrival, its ETA (planned arrival plus the delay when positive;
  for a stop the vehicle has reached, the reported arrival) and whether it will be late;
- the late stops, the failed stops with their reason, the proof-of-delivery photos, the
  events recorded off the stop's point (``off_point``: the phone was more than
  :data:`api.services.sheets.OFF_POINT_M` from the planned point, beyond its accuracy), the
  road closures in force, and totals.

**Late.** A stop whose sheet content gives it a time window (``window: {start, end}`` or
``time_window: [start, end]``) is late when its ETA is after the window's end (rule
:data:`RULE_WINDOW`); the planner's sheets carry no window today, so in practice a stop is
late when its ETA is more than :data:`LATE_AFTER` after its planned arrival (rule
:data:`RULE_PLANNED`). Minutes late are counted from the window's end, or from the planned
arrival. Each stop says which rule applied.

**Scope.** An admin sees every sheet; a dispatcher the sheets of their county and the trunk
sheets (as on the plan board), but photos only of sheets they may open (their county's:
the photo endpoint's scope), and the closures of their county or of none.

Times are answered in Asia/Shanghai, ISO 8601 with the offset.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.models import Plan, RoadClosure, RouteSheet, StopEvent, StopStatus, User, aware
from api.services import closures as closure_rules
from api.services.convert import local, local_value
from api.services.plans import visible
from api.services.reference import network, places_by_id
from api.services.sheets import TERMINAL, WITHOUT_CONTENT, sheet_content, sheet_derived
from routing.errors import InputError

__all__ = ["LATE_AFTER", "RULE_PLANNED", "RULE_WINDOW", "SHOWN_PLANS", "monitor", "photo_url"]

#: A stop without a time window is late when expected more than this after its planned arrival.
LATE_AFTER = timedelta(minutes=30)
#: The lateness rules, as each stop names the one applied to it.
RULE_WINDOW = "window_end"
RULE_PLANNED = "planned_plus_30min"
#: Plan states whose sheets are on the road (or were, the day being over).
SHOWN_PLANS = ("published", "completed")
_PLAN_SCAN = 500
#: Plans are read without their summary (140 KB of JSON on the sample day): not shown here.
_NO_SUMMARY = defer(cast(Any, Plan.summary))


def photo_url(sheet_id: int, seq: int) -> str:
    """The existing endpoint serving a stop's latest photo."""
    return f"/api/v1/route-sheets/{sheet_id}/stops/{seq}/photo"


def _iso(moment: datetime | None) -> str | None:
    shown = local(moment)
    return shown.isoformat() if shown is not None else None


def _parse(value: Any) -> datetime | None:
    """An ISO time of a sheet's content (with its zone), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# ---- which plans ------------------------------------------------------------------------------
def _plans(session: Session, user: User, plan_date: date | None, plan_id: int | None) -> list[Plan]:
    """The plan asked for; or the day's published plans; or the newest published one."""
    if plan_id is not None:
        plan = session.exec(select(Plan).options(_NO_SUMMARY).where(Plan.id == plan_id)).first()
        if plan is None or not visible(user, plan):  # as api.services.plans.get_plan
            raise NotFound(f"no plan {plan_id}")
        if plan_date is not None and plan.plan_date != plan_date:
            raise InputError(
                "plan_date", f"plan {plan_id} is of {plan.plan_date}, not of {plan_date}"
            )
        return [plan]
    query = select(Plan).options(_NO_SUMMARY).where(col(Plan.status).in_(SHOWN_PLANS))
    if plan_date is not None:
        query = query.where(Plan.plan_date == plan_date)
    rows = session.exec(query.order_by(col(Plan.id).desc()).limit(_PLAN_SCAN)).all()
    mine = [p for p in rows if visible(user, p)]
    if plan_date is None:
        return mine[:1]
    return sorted(mine, key=lambda p: p.id or 0)


def _sheets(session: Session, user: User, plans: Sequence[Plan]) -> list[RouteSheet]:
    ids = [p.id for p in plans if p.id is not None]
    if not ids:
        return []
    query = (
        select(RouteSheet)
        .options(WITHOUT_CONTENT)  # read through sheet_content (parsed once per process)
        .where(col(RouteSheet.plan_id).in_(ids), RouteSheet.status != "superseded")
        .order_by(col(RouteSheet.plan_id), col(RouteSheet.id))
    )
    if user.role != "admin":  # their county's sheets and the trunk's
        trunk = col(RouteSheet.county_code).is_(None)
        mine = (
            trunk if user.county_code is None else col(RouteSheet.county_code) == user.county_code
        )
        query = query.where(or_(trunk, mine))
    shown = session.exec(query).all()
    # each plan's county routes first (by route id), then its trunk routes
    return sorted(shown, key=lambda r: (r.plan_id, r.county_code is None, r.route_id, r.id or 0))


def _photo_readable(user: User, sheet: RouteSheet) -> bool:
    """Whether ``user`` may open the sheet's photos (the route-sheet endpoints' scope)."""
    return user.role == "admin" or (
        user.role == "dispatcher" and sheet.county_code == user.county_code
    )


# ---- one stop ---------------------------------------------------------------------------------
def _window_end(stop: Mapping[str, Any]) -> datetime | None:
    """The end of the stop's time window, when the sheet content gives one."""
    window = stop.get("window")
    if isinstance(window, Mapping):
        return _parse(window.get("end"))
    for key in ("window", "time_window"):
        value = stop.get(key)
        if isinstance(value, list | tuple) and len(value) == 2:
            return _parse(value[1])
    return _parse(stop.get("window_end"))


def _place(stop: Mapping[str, Any]) -> dict[str, Any]:
    place = stop.get("place") if isinstance(stop.get("place"), Mapping) else {}
    assert isinstance(place, Mapping)
    return {
        "id": place.get("id"),
        "name_zh": place.get("name_zh"),
        "name_pinyin": place.get("name_pinyin"),
        "kind": place.get("kind"),
        "lon": place.get("lon"),
        "lat": place.get("lat"),
    }


@dataclass(frozen=True)
class _Stop:
    """What the monitor reads of a content stop, parsed once per cached sheet."""

    seq: int
    place: dict[str, Any]
    planned: Any  # the planned arrival as answered
    planned_departure: Any
    arrival: datetime | None
    arrival_iso: str | None
    rule: str
    reference: datetime | None  # lateness is counted from here
    deadline: datetime | None
    window_end_iso: str | None
    deadline_iso: str | None


@dataclass(frozen=True)
class _Digest:
    stops: tuple[_Stop, ...]
    by_seq: dict[int, _Stop]
    vehicle_name: Any
    start: Any
    end: Any


def _digest(content: Mapping[str, Any]) -> _Digest:
    """The monitor's view of a sheet's content (see :func:`sheet_derived`)."""
    stops = []
    for stop in content.get("stops") or ():
        if not isinstance(stop, dict) or "seq" not in stop:
            continue
        arrival = _parse(stop.get("arrival"))
        window_end = _window_end(stop) if arrival is not None else None
        if window_end is not None:
            rule, reference, deadline = RULE_WINDOW, window_end, window_end
        elif arrival is not None:
            rule, reference, deadline = RULE_PLANNED, arrival, arrival + LATE_AFTER
        else:
            rule, reference, deadline = RULE_PLANNED, None, None
        stops.append(
            _Stop(
                seq=int(stop["seq"]),
                place=_place(stop),
                planned=local_value(stop.get("arrival")),
                planned_departure=local_value(stop.get("departure")),
                arrival=arrival,
                arrival_iso=_iso(arrival),
                rule=rule,
                reference=reference,
                deadline=deadline,
                window_end_iso=_iso(window_end),
                deadline_iso=_iso(deadline),
            )
        )
    vehicle = content.get("vehicle") if isinstance(content.get("vehicle"), dict) else {}
    return _Digest(
        stops=tuple(stops),
        by_seq={s.seq: s for s in stops},
        vehicle_name=(vehicle or {}).get("name"),
        start=local_value((content.get("start") or {}).get("time")),
        end=local_value((content.get("end") or {}).get("time")),
    )


def _forecast(stop: _Stop, delay_s: int | None, arrived: datetime | None) -> dict[str, Any]:
    """ETA and lateness of a stop not yet done, given the vehicle's delay (s): the planned
    arrival plus the delay when positive; the reported arrival where the vehicle is there."""
    if stop.arrival is None or stop.deadline is None or stop.reference is None:
        return {
            "eta": None, "late": False, "rule": None, "window_end": None, "deadline": None,
            "late_min": None,
        }  # fmt: skip
    if arrived is None and (delay_s or 0) <= 0:
        eta, eta_iso = stop.arrival, stop.arrival_iso
    else:
        eta = arrived or stop.arrival + timedelta(seconds=max(0, delay_s or 0))
        eta_iso = _iso(eta)
    late = eta > stop.deadline
    return {
        "eta": eta_iso,
        "late": late,
        "rule": stop.rule,
        "window_end": stop.window_end_iso,
        "deadline": stop.deadline_iso,
        "late_min": round((eta - stop.reference).total_seconds() / 60) if late else 0,
    }


# ---- one sheet --------------------------------------------------------------------------------
# Events, stop states and users are read as rows of the columns used here, not as ORM
# objects (the admin's view of the sample day: 322 stops and up to ~800 events a poll).
def _last_report(events: Sequence[Any]) -> Any:
    def key(e: Any) -> tuple[datetime, int]:
        moment = aware(e.occurred_at) or aware(e.recorded_at)
        assert moment is not None
        return moment, e.id or 0

    return max(events, key=key) if events else None


def _sheet(
    sheet: RouteSheet,
    digest: _Digest,
    states: Mapping[int, str],
    events: Sequence[Any],
    users: Mapping[int, Any],
) -> dict[str, Any]:
    """One vehicle's progress, last report, delay and per-stop forecast."""
    last = _last_report(events)
    report, delay_s = None, None
    if last is not None:
        moment = aware(last.occurred_at) or aware(last.recorded_at)
        at = digest.by_seq.get(last.seq)
        planned = at.arrival if at is not None else None
        if moment is not None and planned is not None:
            delay_s = round((moment - planned).total_seconds())
        place = at.place if at is not None else _place({})
        report = {
            "time": _iso(moment),
            "type": last.type,
            "seq": last.seq,
            "place": {k: place[k] for k in ("id", "name_zh", "name_pinyin")},
            "lon": place["lon"],
            "lat": place["lat"],
        }
    arrivals = {
        e.seq: aware(e.occurred_at) or aware(e.recorded_at) for e in events if e.type == "arrived"
    }
    rows = []
    for stop in digest.stops:
        seq = stop.seq
        state = states.get(seq, "pending")
        row = {
            "seq": seq,
            "place": dict(stop.place),
            "status": state,
            "planned": stop.planned,
            "planned_departure": stop.planned_departure,
            "done": state in TERMINAL,
        }
        if state not in TERMINAL:
            row.update(_forecast(stop, delay_s, arrivals.get(seq) if state == "arrived" else None))
            # still pending behind the stop last reported: the vehicle went past it
            row["passed"] = last is not None and state == "pending" and seq < last.seq
        rows.append(row)
    courier = users.get(sheet.courier_id) if sheet.courier_id is not None else None
    return {
        "sheet_id": sheet.id,
        "plan_id": sheet.plan_id,
        "route_id": sheet.route_id,
        "echelon": sheet.echelon,
        "county_code": sheet.county_code,
        "vehicle": {"id": sheet.vehicle_id, "name": digest.vehicle_name},
        "courier": {"id": courier.id, "username": courier.username} if courier else None,
        "status": sheet.status,
        "stops_total": len(rows),
        "stops_done": sum(1 for r in rows if r["done"]),
        "stops_completed": sum(1 for r in rows if r["status"] == "completed"),
        "stops_failed": sum(1 for r in rows if r["status"] == "failed"),
        "start": digest.start,
        "end": digest.end,
        "last_report": report,
        "delay_s": delay_s,
        "late_stops": sum(1 for r in rows if r.get("late")),
        "stops": rows,
    }


# ---- the lists ----------------------------------------------------------------------------------
def _late(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        for stop in row["stops"]:
            if stop.get("late"):
                out.append(
                    {
                        "sheet_id": row["sheet_id"],
                        "route_id": row["route_id"],
                        "seq": stop["seq"],
                        "place": stop["place"],
                        "planned": stop["planned"],
                        "eta": stop["eta"],
                        "window_end": stop["window_end"],
                        "deadline": stop["deadline"],
                        "rule": stop["rule"],
                        "late_min": stop["late_min"],
                        "passed": stop["passed"],
                    }
                )
    return sorted(out, key=lambda x: (-x["late_min"], x["route_id"], x["seq"]))


def _off_point(
    sheets: Mapping[int, RouteSheet],
    contents: Mapping[int, Mapping[str, Any]],
    events: Iterable[Any],
    users: Mapping[int, Any],
) -> list[dict[str, Any]]:
    """The events recorded off the stop's planned point, newest first."""
    out = []
    for e in events:
        if not e.off_point:
            continue
        sheet = sheets[e.sheet_id]
        stops = contents[e.sheet_id].get("stops") or ()
        stop = next((s for s in stops if isinstance(s, dict) and s.get("seq") == e.seq), {})
        place = _place(stop)
        who = users.get(e.user_id) if e.user_id is not None else None
        out.append(
            {
                "sheet_id": e.sheet_id,
                "route_id": sheet.route_id,
                "seq": e.seq,
                "type": e.type,
                "place": place,
                "lon": e.lon,
                "lat": e.lat,
                "distance_m": e.distance_m,
                "accuracy_m": e.accuracy_m,
                "time": _iso(aware(e.occurred_at) or aware(e.recorded_at)),
                "courier": {"id": who.id, "username": who.username} if who else None,
            }
        )
    return sorted(out, key=lambda x: x["time"] or "", reverse=True)


def _failed_and_photos(
    user: User,
    sheets: Mapping[int, RouteSheet],
    contents: Mapping[int, Mapping[str, Any]],
    events: Iterable[Any],
    users: Mapping[int, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The failed stops (reason, time, courier) and the latest photo of each stop."""
    failed, photos = [], {}
    for e in events:
        sheet = sheets[e.sheet_id]
        photo = bool(e.photo_path) and _photo_readable(user, sheet)
        if e.type != "failed" and not photo:
            continue  # neither listed
        stops = contents[e.sheet_id].get("stops") or ()
        stop = next((s for s in stops if isinstance(s, dict) and s.get("seq") == e.seq), {})
        place = {k: v for k, v in _place(stop).items() if k in ("id", "name_zh", "name_pinyin")}
        who = users.get(e.user_id) if e.user_id is not None else None
        base = {
            "sheet_id": e.sheet_id,
            "route_id": sheet.route_id,
            "seq": e.seq,
            "place": place,
            "time": _iso(aware(e.occurred_at) or aware(e.recorded_at)),
        }
        if e.type == "failed":
            courier = {"id": who.id, "username": who.username} if who else None
            failed.append({**base, "reason": e.reason, "courier": courier})
        if photo:
            photos[(e.sheet_id, e.seq)] = {
                **base,
                "event_id": e.id,
                "type": e.type,
                "url": photo_url(e.sheet_id, e.seq),
            }
    by_time = sorted(photos.values(), key=lambda p: (p["time"] or "", p["event_id"] or 0))
    return sorted(failed, key=lambda f: f["time"] or "", reverse=True), by_time[::-1]


@functools.lru_cache(maxsize=256)
def _closure_line(from_place: str, to_place: str) -> tuple[tuple[float, float], ...]:
    """The closed road's course (the fastest road between the two places), for the map."""
    from routing.network import resolve, shortest_route

    try:
        a, b = resolve(network(), [from_place, to_place])
        coords = shortest_route(network(), a, b, "van").geometry["coordinates"]
    except (InputError, KeyError, ValueError):
        return ()
    return tuple((float(c[0]), float(c[1])) for c in coords)


def _closures(
    session: Session, user: User, days: Iterable[date], now: datetime
) -> list[dict[str, Any]]:
    """Closures in force now or on one of ``days``; a dispatcher's of their county (or none)."""
    found: dict[int, RoadClosure] = {}
    for day in days:
        found.update({c.id or 0: c for c in closure_rules.closures_on(session, day)})
    for c in session.exec(select(RoadClosure)).all():
        starts, ends = aware(c.starts_at), aware(c.ends_at)
        if starts is not None and ends is not None and starts <= now < ends:
            found[c.id or 0] = c
    places = places_by_id()
    out = []
    for c in sorted(found.values(), key=lambda c: c.id or 0):
        if user.role != "admin" and c.county_code not in (None, user.county_code):
            continue
        starts_at, ends_at = aware(c.starts_at), aware(c.ends_at)
        out.append(
            {
                "id": c.id,
                "county_code": c.county_code,
                "reason": c.reason,
                "starts_at": _iso(starts_at),
                "ends_at": _iso(ends_at),
                "in_force_now": bool(starts_at and ends_at and starts_at <= now < ends_at),
                "from_place": _place_ref(c.from_place, places.get(c.from_place)),
                "to_place": _place_ref(c.to_place, places.get(c.to_place)),
                "line": [list(p) for p in _closure_line(c.from_place, c.to_place)],
            }
        )
    return out


def _place_ref(place_id: str, place: Any) -> dict[str, Any]:
    if place is None:
        return {"id": place_id, "name_zh": place_id, "name_pinyin": place_id}
    return {
        "id": place_id,
        "name_zh": place.name_zh,
        "name_pinyin": place.name_pinyin,
        "lon": place.lon,
        "lat": place.lat,
    }


# ---- the answer ---------------------------------------------------------------------------------
def _by_sheet(session: Session, sheet_ids: list[int]) -> tuple[list[Any], list[Any]]:
    """The sheets' stop states (sheet_id, seq, status) and events, as rows."""
    if not sheet_ids:
        return [], []
    states = session.exec(
        select(col(StopStatus.sheet_id), col(StopStatus.seq), col(StopStatus.status)).where(
            col(StopStatus.sheet_id).in_(sheet_ids)
        )
    ).all()
    events = session.exec(
        select(*_EVENT_COLUMNS)
        .where(col(StopEvent.sheet_id).in_(sheet_ids))
        .order_by(col(StopEvent.occurred_at), col(StopEvent.id))
    ).all()
    return list(states), list(events)


#: The columns of an event the monitor reads.
_EVENT_COLUMNS = tuple(
    col(getattr(StopEvent, name))
    for name in (
        "id", "sheet_id", "seq", "type", "occurred_at", "recorded_at", "user_id", "reason",
        "photo_path", "off_point", "lon", "lat", "distance_m", "accuracy_m",
    )
)  # fmt: skip


def _users(session: Session, ids: Iterable[int | None]) -> dict[int, Any]:
    """id -> (id, username) of these users."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.exec(
        select(col(User.id), col(User.username)).where(col(User.id).in_(wanted))
    ).all()
    return {int(u[0]): u for u in rows if u[0] is not None}  # rows: u.id, u.username


def monitor(
    session: Session,
    *,
    user: User,
    plan_date: date | None,
    plan_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The monitoring centre's answer for ``user`` at ``now`` (tz-aware): the plan
    ``plan_id``, or the published plans of ``plan_date``, or by default the newest published
    plan ``user`` may see (see the module's rules)."""
    if now.tzinfo is None:
        raise InputError("now", "needs a time zone")
    plans = _plans(session, user, plan_date, plan_id)
    sheets = _sheets(session, user, plans)
    ids = [s.id for s in sheets if s.id is not None]
    states, events = _by_sheet(session, ids)
    state_of: dict[int, dict[int, str]] = {}
    for sheet_id, seq, status in states:
        state_of.setdefault(sheet_id, {})[seq] = status
    events_of: dict[int, list[Any]] = {}
    for e in events:
        events_of.setdefault(e.sheet_id, []).append(e)
    users = _users(session, [s.courier_id for s in sheets] + [e.user_id for e in events])
    contents = {s.id or 0: sheet_content(session, s) for s in sheets}
    rows = [
        _sheet(
            s,
            sheet_derived(session, s, "monitor", _digest),
            state_of.get(s.id or 0, {}),
            events_of.get(s.id or 0, []),
            users,
        )
        for s in sheets
    ]
    by_id = {s.id or 0: s for s in sheets}
    failed, photos = _failed_and_photos(user, by_id, contents, events, users)
    days = sorted({p.plan_date for p in plans})
    day = days[0] if days else plan_date
    shown = _closures(session, user, days, now)
    late = _late(rows)
    return {
        "as_of": _iso(now),
        "plan_date": day.isoformat() if day else None,
        "plans": [
            {
                "id": p.id,
                "plan_date": p.plan_date.isoformat(),
                "status": p.status,
                "counties": list(p.counties or ()),
            }
            for p in plans
        ],
        "late_rule": {
            "window": RULE_WINDOW,
            "planned": RULE_PLANNED,
            "late_after_min": int(LATE_AFTER.total_seconds() // 60),
        },
        "sheets": rows,
        "late": late,
        "failed": failed,
        "photos": photos,
        "off_point": _off_point(by_id, contents, events, users),
        "closures": shown,
        "totals": _totals(rows, late, failed, shown),
    }


def _totals(
    rows: Sequence[dict[str, Any]],
    late: Sequence[Any],
    failed: Sequence[Any],
    shown: Sequence[dict[str, Any]],
) -> dict[str, int]:
    return {
        "sheets": len(rows),
        "under_way": sum(1 for r in rows if r["status"] == "in_progress"),
        "completed": sum(1 for r in rows if r["status"] == "completed"),
        "not_started": sum(1 for r in rows if r["status"] in ("draft", "assigned")),
        "stops_done": sum(r["stops_done"] for r in rows),
        "stops_total": sum(r["stops_total"] for r in rows),
        "late": len(late),
        "failed": len(failed),
        "closures": len(shown),
        "closures_now": sum(1 for c in shown if c["in_force_now"]),
    }
