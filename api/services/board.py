"""The plan board: everything a dispatcher reads about one plan, in one answer.

Built from the plan's stored summary and route sheets (no solving, no road lookups), so
the whole prefecture's day (about 60 routes, 3,600 orders) is one query for the sheets and
arithmetic over them. Per route: vehicle, courier, status, distance (km), driving hours
against the vehicle's daily limit, peak load against capacity, cost and the parties'
Shapley shares, a timeline (arrival, departure, wait per stop) and the road geometry;
then the unassigned orders with their reason, and the shared vs separate cost.

Times are ISO 8601 in Asia/Shanghai as the sheets hold them; money integer fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from api.errors import Forbidden
from api.models import Order, Plan, RouteSheet, StopEvent, User
from api.services.convert import local
from api.services.plans import check_owner
from api.services.reference import places_by_id
from dispatch.report.sheets import driving_s

__all__ = ["DRIVING_LIMIT_H", "plan_board"]

#: The daily driving limit the plan enforces (JT/T 1178), shown against each route.
DRIVING_LIMIT_H = 8.0
_SUMMARY_KEYS = (
    "date", "orders", "assigned", "unassigned", "routes", "vehicles_used", "distance_km",
    "duration_h", "cost_fen", "separate_cost_fen", "savings_pct", "unassigned_reasons",
    "comparison", "parties", "replan_of", "at", "villages_served", "village_coverage",
)  # fmt: skip


def plan_board(session: Session, *, plan: Plan, user: User) -> dict[str, Any]:
    """The board of ``plan`` as ``user`` may see it: a dispatcher sees the routes of their
    county and the trunk routes that serve it, an admin every route."""
    rows = session.exec(
        select(RouteSheet).where(RouteSheet.plan_id == plan.id).order_by(col(RouteSheet.id))
    ).all()
    county = user.county_code if user.role == "dispatcher" else None
    shown = [r for r in rows if county is None or r.county_code in (None, county)]
    summary = dict(plan.summary or {})
    unassigned = _unassigned(session, summary.get("unassigned_orders") or (), county)
    actual = _actuals(session, [r.id for r in shown if r.id is not None])
    routes = [_route(k, r, actual) for k, r in enumerate(shown)]
    may = _may(user, plan)
    for route in routes:  # a dispatcher hands over their county's sheets, not the trunk's
        route["assignable"] = may["assign"] and (
            user.role == "admin" or route["county_code"] == user.county_code
        )
    return {
        "plan_id": plan.id,
        "plan_date": plan.plan_date.isoformat(),
        "status": plan.status,
        "counties": list(plan.counties or ()),
        "summary": {k: summary[k] for k in _SUMMARY_KEYS if k in summary},
        "routes": routes,
        "unassigned": unassigned,
        "totals": _totals(routes, unassigned),
        "may": may,
        "driving_limit_h": DRIVING_LIMIT_H,
    }


Actual = dict[tuple[int, int], dict[str, Any]]


def _actuals(session: Session, sheet_ids: list[int]) -> Actual:
    """What couriers reported, per (sheet, stop): when they arrived, when they finished the
    stop (delivered, picked up or failed) and whether it failed, with the reason."""
    out: Actual = {}
    if not sheet_ids:
        return out
    events = session.exec(
        select(StopEvent)
        .where(col(StopEvent.sheet_id).in_(sheet_ids))
        .order_by(col(StopEvent.occurred_at), col(StopEvent.id))
    ).all()
    for e in events:
        seen = out.setdefault(
            (e.sheet_id, e.seq),
            {"actual_arrival": None, "actual_departure": None, "failed": False, "reason": None},
        )
        if e.type == "arrived":
            seen["actual_arrival"] = seen["actual_arrival"] or local(e.occurred_at)
        else:
            seen["actual_departure"] = local(e.occurred_at)
            seen["failed"] = e.type == "failed"
            seen["reason"] = e.reason
    return out


def _route(colour: int, row: RouteSheet, actual: Actual) -> dict[str, Any]:
    content = row.content or {}
    vehicle = dict(content.get("vehicle") or {})
    stops = list(content.get("stops") or ())
    capacity = float(vehicle.get("capacity_kg") or 0)
    peak = max((float((s.get("load_after") or {}).get("kg") or 0) for s in stops), default=0.0)
    return {
        "sheet_id": row.id,
        "route_id": row.route_id,
        "colour": colour,  # the route's index in a palette, stable within the board
        "echelon": row.echelon,
        "county_code": row.county_code,
        "vehicle": {
            k: vehicle.get(k)
            for k in ("id", "name", "kind", "owner", "owner_name_zh", "capacity_kg", "capacity_m3")
        },
        "courier_id": row.courier_id,
        "status": row.status,
        "stops": len(stops),
        "distance_km": round(float(content.get("distance_m") or 0) / 1000, 1),
        "driving_h": round(_driving_s(content) / 3600, 2),
        "load_pct": round(100 * peak / capacity, 1) if capacity else None,
        "cost_fen": content.get("cost_fen"),
        "parties": [
            {"party": s.get("party"), "name_zh": s.get("name_zh"), "fen": s.get("shapley_fen")}
            for s in content.get("cost_shares") or ()
        ],
        "start": content.get("start"),
        "end": content.get("end"),
        "timeline": [
            {
                "seq": s.get("seq"),
                "place_id": (s.get("place") or {}).get("id"),
                "name_zh": (s.get("place") or {}).get("name_zh"),
                "lon": (s.get("place") or {}).get("lon"),
                "lat": (s.get("place") or {}).get("lat"),
                "arrival": s.get("arrival"),
                "departure": s.get("departure"),
                "wait_s": s.get("wait_s", 0),
                "done": bool(s.get("done")) or bool(reported.get("actual_departure")),
                "actual_arrival": reported.get("actual_arrival"),
                "actual_departure": reported.get("actual_departure"),
                "failed": bool(reported.get("failed")),
                "reason": reported.get("reason"),
            }
            for s in stops
            for reported in [actual.get((row.id or 0, int(s.get("seq") or 0)), {})]
        ],
        "geometry": content.get("geometry"),
    }


def _totals(routes: list[dict[str, Any]], unassigned: list[Any]) -> dict[str, Any]:
    """The figures of the routes shown (a dispatcher's county and its trunk routes)."""
    return {
        "routes": len(routes),
        "stops": sum(r["stops"] for r in routes),
        "distance_km": round(sum(r["distance_km"] for r in routes), 1),
        "driving_h": round(sum(r["driving_h"] for r in routes), 2),
        "cost_fen": sum(int(r["cost_fen"] or 0) for r in routes),
        "unassigned": len(unassigned),
    }


def _may(user: User, plan: Plan) -> dict[str, bool]:
    """What the user may do to the plan from the board (the API enforces the same)."""
    try:
        check_owner(user, plan)
        owner = True
    except Forbidden:
        owner = False
    return {
        "publish": owner and plan.status == "succeeded",
        "replan": owner and plan.status == "published",
        "assign": plan.status == "published",
    }


def _unassigned(
    session: Session, rows: Iterable[dict[str, Any]], county: str | None
) -> list[dict[str, Any]]:
    """The unassigned orders with the place each one is for (a village or township: the
    destination of a parcel, the origin of produce); a dispatcher's only of their county."""
    rows = list(rows)
    ids = [r["order_id"] for r in rows]
    query = select(  # type: ignore[call-overload]  # (sqlmodel types up to 4 columns)
        col(Order.order_id), col(Order.county_code), col(Order.direction), col(Order.origin),
        col(Order.destination), col(Order.party), col(Order.weight_kg),
    ).where(col(Order.order_id).in_(ids))  # fmt: skip
    orders = {o.order_id: o for o in session.exec(query)} if ids else {}
    places = places_by_id()
    out = []
    for row in rows:
        order = orders.get(row["order_id"])
        if county is not None and (order is None or order.county_code != county):
            continue
        item = dict(row)
        if order is not None:
            where = order.destination if order.direction == "down" else order.origin
            place = places.get(where)
            item.setdefault("party", order.party)
            item.setdefault("direction", order.direction)
            item["county_code"] = order.county_code
            item["place_id"] = where
            item["place_zh"] = place.name_zh if place else where
            item["place_pinyin"] = place.name_pinyin if place else where
            item["weight_kg"] = order.weight_kg
        out.append(item)
    return out


def _driving_s(content: dict[str, Any]) -> float:
    try:
        return float(driving_s(content))
    except (KeyError, TypeError, ValueError):  # a sheet without times
        return 0.0
