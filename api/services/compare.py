"""Comparing two plans of a day, typically a replan with the plan it replaces: what each
vehicle drives in one and the other, and which orders changed hands.

Built from the plans' stored route sheets and summaries (no solving, no road lookups), as
the plan board is. Per vehicle: its route in each plan (route id, stops, km, cost, driving
hours, road geometry), the places it now visits and no longer visits, and whether its
route changed (another sequence of places or other orders); then the totals of each plan
and the orders that moved to another vehicle, were newly assigned or became unassigned.

A dispatcher sees the vehicles of their county and the trunk vehicles (as on the board);
an admin every vehicle. Money integer fen; distances km; driving hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from api.models import Order, Plan, RouteSheet, User
from dispatch.report.sheets import driving_s

__all__ = ["compare_plans", "default_other"]


def default_other(plan: Plan) -> int | None:
    """The plan a replan replaces (``options.replan_of``), the default to compare with."""
    parent = (plan.options or {}).get("replan_of")
    return int(parent) if parent else None


def compare_plans(session: Session, *, old: Plan, new: Plan, user: User) -> dict[str, Any]:
    """``old`` against ``new`` as ``user`` may see them (see the module's rules)."""
    county = user.county_code if user.role == "dispatcher" else None
    old_rows, new_rows = _sheets(session, old, county), _sheets(session, new, county)
    old_by, new_by = _by_vehicle(old_rows), _by_vehicle(new_rows)
    old_un = _unassigned(session, old, county)
    new_un = _unassigned(session, new, county)
    vehicles = [
        _vehicle(vid, old_by.get(vid, []), new_by.get(vid, []))
        for vid in sorted(set(old_by) | set(new_by))
    ]
    # changed vehicles first, then county routes before trunk routes, then by vehicle
    vehicles.sort(key=lambda v: (not v["changed"], v["echelon"] != "county", v["vehicle_id"]))
    totals_old = _totals(old_rows, old_un)
    totals_new = _totals(new_rows, new_un)
    orders = _moves(_carriers(old_rows), _carriers(new_rows), old_un, new_un)
    return {
        "old": _plan_ref(old),
        "new": _plan_ref(new),
        "county_code": county,
        "totals": {
            "old": totals_old,
            "new": totals_new,
            "delta": {k: _delta(totals_new[k], totals_old[k]) for k in totals_old},
        },
        "vehicles": vehicles,
        "vehicles_changed": sum(1 for v in vehicles if v["changed"]),
        "orders": orders,
        "orders_changed": {
            kind: sum(1 for o in orders if o["change"] == kind)
            for kind in ("moved", "assigned", "unassigned")
        },
    }


def _plan_ref(plan: Plan) -> dict[str, Any]:
    options = plan.options or {}
    return {
        "id": plan.id,
        "plan_date": plan.plan_date.isoformat(),
        "status": plan.status,
        "counties": list(plan.counties or ()),
        "replan_of": options.get("replan_of"),
        "at": options.get("at"),
    }


def _sheets(session: Session, plan: Plan, county: str | None) -> list[RouteSheet]:
    rows = session.exec(
        select(RouteSheet).where(RouteSheet.plan_id == plan.id).order_by(col(RouteSheet.id))
    ).all()
    return [r for r in rows if county is None or r.county_code in (None, county)]


def _by_vehicle(rows: Iterable[RouteSheet]) -> dict[str, list[RouteSheet]]:
    out: dict[str, list[RouteSheet]] = {}
    for row in rows:
        out.setdefault(row.vehicle_id, []).append(row)
    return out


def _stops(row: RouteSheet) -> list[dict[str, Any]]:
    return list((row.content or {}).get("stops") or ())


def _orders_of(stop: dict[str, Any]) -> set[str]:
    return {
        str(o["order_id"])
        for kind in ("drop", "pickup")
        for group in stop.get(kind) or ()
        for o in group.get("orders") or ()
    }


def _driving_h(content: dict[str, Any]) -> float:
    try:
        return float(driving_s(content)) / 3600
    except (KeyError, TypeError, ValueError):  # a sheet without times
        return 0.0


def _route(rows: Sequence[RouteSheet]) -> dict[str, Any] | None:
    """One vehicle's route(s) in one plan, summed (a vehicle drives one route a plan)."""
    if not rows:
        return None
    places: list[dict[str, Any]] = []
    orders: set[str] = set()
    for row in rows:
        for stop in _stops(row):
            place = stop.get("place") or {}
            places.append({"place_id": place.get("id"), "name_zh": place.get("name_zh")})
            orders |= _orders_of(stop)
    contents = [r.content or {} for r in rows]
    return {
        "route_id": rows[0].route_id,
        "route_ids": [r.route_id for r in rows],
        "sheet_id": rows[0].id,
        "status": rows[0].status,
        "stops": len(places),
        "km": round(sum(float(c.get("distance_m") or 0) for c in contents) / 1000, 1),
        "cost_fen": sum(int(c.get("cost_fen") or 0) for c in contents),
        "driving_h": round(sum(_driving_h(c) for c in contents), 2),
        "orders": len(orders),
        "places": places,
        "geometry": [c.get("geometry") for c in contents if c.get("geometry")],
        "_orders": orders,
    }


def _vehicle(vehicle_id: str, old_rows: list[RouteSheet], new_rows: list[RouteSheet]) -> dict:
    old, new = _route(old_rows), _route(new_rows)
    any_row = (new_rows or old_rows)[0]
    vehicle = dict((any_row.content or {}).get("vehicle") or {})
    old_places = [p["place_id"] for p in old["places"]] if old else []
    new_places = [p["place_id"] for p in new["places"]] if new else []
    names = {p["place_id"]: p["name_zh"] for r in (old, new) if r for p in r["places"]}
    added = [p for p in dict.fromkeys(new_places) if p not in set(old_places)]
    dropped = [p for p in dict.fromkeys(old_places) if p not in set(new_places)]
    changed = (
        old is None or new is None or old_places != new_places or old["_orders"] != new["_orders"]
    )
    for r in (old, new):
        if r is not None:
            del r["_orders"]
    return {
        "vehicle_id": vehicle_id,
        "vehicle_name": vehicle.get("name"),
        "kind": vehicle.get("kind"),
        "echelon": any_row.echelon,
        "county_code": any_row.county_code,
        "changed": changed,
        "old": old,
        "new": new,
        "stops_added": [{"place_id": p, "name_zh": names.get(p)} for p in added],
        "stops_dropped": [{"place_id": p, "name_zh": names.get(p)} for p in dropped],
    }


def _carriers(rows: Iterable[RouteSheet]) -> dict[str, set[str]]:
    """Order id -> the vehicles that carry it (a trunk and a county vehicle, say)."""
    out: dict[str, set[str]] = {}
    for row in rows:
        for stop in _stops(row):
            for oid in _orders_of(stop):
                out.setdefault(oid, set()).add(row.vehicle_id)
    return out


def _unassigned(session: Session, plan: Plan, county: str | None) -> dict[str, dict[str, Any]]:
    """The plan's unassigned orders (id -> summary row); a dispatcher's of their county."""
    rows = {
        str(r["order_id"]): r
        for r in (plan.summary or {}).get("unassigned_orders") or ()
        if isinstance(r, dict) and "order_id" in r
    }
    if county is None or not rows:
        return rows
    mine = set(
        session.exec(
            select(Order.order_id).where(
                col(Order.order_id).in_(list(rows)), Order.county_code == county
            )
        ).all()
    )
    return {k: v for k, v in rows.items() if k in mine}


def _totals(rows: Sequence[RouteSheet], unassigned: dict[str, Any]) -> dict[str, Any]:
    contents = [r.content or {} for r in rows]
    served = set(_carriers(rows))
    return {
        "routes": len(rows),
        "vehicles": len({r.vehicle_id for r in rows}),
        "orders_served": len(served),
        "unassigned": len(unassigned),
        "km": round(sum(float(c.get("distance_m") or 0) for c in contents) / 1000, 1),
        "cost_fen": sum(int(c.get("cost_fen") or 0) for c in contents),
        "driving_h": round(sum(_driving_h(c) for c in contents), 2),
    }


def _delta(new: float, old: float) -> float:
    diff = new - old
    return round(diff, 2) if isinstance(diff, float) else diff


def _moves(
    old: dict[str, set[str]],
    new: dict[str, set[str]],
    old_unassigned: dict[str, dict],
    new_unassigned: dict[str, dict],
) -> list[dict[str, Any]]:
    """Orders whose lot changed: unassigned (in the new plan's unassigned orders, not the
    old one's: a replan keeps the trunk routes, so its parcels may still ride a trunk
    vehicle), assigned (the reverse, or carried in the new plan only), moved (carried by
    other vehicles)."""
    out = []
    for oid in sorted(set(old) | set(new) | set(old_unassigned) | set(new_unassigned)):
        before, after = old.get(oid, set()), new.get(oid, set())
        was_out, is_out = oid in old_unassigned or not before, oid in new_unassigned or not after
        if was_out == is_out and (is_out or before == after):
            continue
        change = "unassigned" if is_out else ("assigned" if was_out else "moved")
        row: dict[str, Any] = {
            "order_id": oid,
            "change": change,
            "old_vehicles": sorted(before),
            "new_vehicles": sorted(after),
        }
        if change == "unassigned" and oid in new_unassigned:
            row["reason"] = new_unassigned[oid].get("reason")
        out.append(row)
    return out
