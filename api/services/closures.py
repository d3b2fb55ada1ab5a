"""Road closures: which road segments a closure shuts, the closures in force on a day, and
the plans whose routes drive a closed segment (flagged for replanning).

Times are stored in UTC and compared as aware datetimes; a plan day is the Asia/Shanghai
calendar day. A closure's road is the fastest road between its two places on the bundled
network, as a tuple of edge ids.
"""

from __future__ import annotations

import functools
import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from api.errors import Forbidden, NotFound
from api.models import Plan, RoadClosure, RouteSheet, User, aware, now
from api.services import audit
from api.services.convert import utc
from dispatch.domain import TZ
from routing.errors import InputError


@functools.cache
def _network() -> Any:
    from routing.network import load_network

    return load_network()


def closed_edges(from_place: str, to_place: str) -> tuple[int, ...]:
    """The road segments of the fastest road between two places (the closed stretch)."""
    from routing.network import resolve, shortest_route

    network = _network()
    a, b = resolve(network, [from_place, to_place], ["from_place", "to_place"])
    if a.node == b.node:
        raise InputError("to_place", "both places are at the same point of the road network")
    return shortest_route(network, a, b, "van").edges


def county_of(user: User, from_place: str, to_place: str) -> str | None:
    """The county a closure belongs to; a dispatcher closes roads of their own county only."""
    network = _network()
    counties = {network.place(p).county_code for p in (from_place, to_place)}
    if user.role == "dispatcher" and user.county_code not in counties:
        raise Forbidden(f"a dispatcher of {user.county_code} closes roads of that county only")
    if user.county_code in counties:
        return user.county_code
    return sorted(counties)[0] if len(counties) == 1 else None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), tzinfo=TZ)
    return start, start + timedelta(days=1)


def closures_on(session: Session, day: date) -> list[RoadClosure]:
    """Closures in force at some time of the plan day."""
    start, end = day_bounds(day)
    rows = session.exec(select(RoadClosure)).all()
    return [
        c for c in rows if (aware(c.starts_at) or end) < end and (aware(c.ends_at) or start) > start
    ]


def road_geometry(closure: RoadClosure) -> dict[str, Any] | None:
    """The closed road's GeoJSON line (the fastest road between its two places), or None."""
    from routing.network import resolve, shortest_route

    try:
        network = _network()
        a, b = resolve(network, [closure.from_place, closure.to_place])
        return dict(shortest_route(network, a, b, "van").geometry)
    except InputError:
        return None


def edges_of(closure: RoadClosure) -> tuple[int, ...]:
    try:
        return closed_edges(closure.from_place, closure.to_place)
    except InputError:
        return ()


def route_edges(content: dict[str, Any]) -> set[int]:
    """Road segments a route sheet's vehicle drives."""
    from routing.network import resolve, shortest_route

    network = _network()
    places = [content["start"]["place"]["id"]]
    places += [s["place"]["id"] for s in content.get("stops", ())]
    places.append(content["end"]["place"]["id"])
    profile = content.get("vehicle", {}).get("profile", "van")
    out: set[int] = set()
    for a, b in itertools.pairwise(places):
        if a != b:
            wa, wb = resolve(network, [a, b])
            out.update(shortest_route(network, wa, wb, profile).edges)
    return out


def flag_plans(session: Session, closure: RoadClosure) -> list[int]:
    """Flag the succeeded or published plans of the closure's days whose routes use it."""
    closed = set(edges_of(closure))
    starts, ends = aware(closure.starts_at), aware(closure.ends_at)
    assert starts is not None and ends is not None
    flagged = []
    plans = session.exec(select(Plan).where(col(Plan.status).in_(("succeeded", "published")))).all()
    for plan in plans:
        day_start, day_end = day_bounds(plan.plan_date)
        if not (starts < day_end and ends > day_start):
            continue
        sheets = session.exec(select(RouteSheet).where(RouteSheet.plan_id == plan.id)).all()
        hits = [s.route_id for s in sheets if s.content and route_edges(s.content) & closed]
        if not hits:
            continue
        flags = [f for f in (plan.flags or []) if f.get("closure_id") != closure.id]
        flags.append(
            {
                "closure_id": closure.id,
                "from_place": closure.from_place,
                "to_place": closure.to_place,
                "reason": closure.reason,
                "routes": hits,
            }
        )
        plan.flags = flags
        session.add(plan)
        flagged.append(plan.id or 0)
    return flagged


def flagged_by(session: Session, closure_ids: list[int]) -> dict[int, list[int]]:
    """Closure id -> the ids of the plans it flagged (read back from the plans' flags)."""
    wanted = set(closure_ids)
    out: dict[int, list[int]] = {i: [] for i in wanted}
    if not wanted:
        return out
    for plan_id, flags in session.exec(select(Plan.id, Plan.flags)).all():
        for flag in flags or []:
            cid = flag.get("closure_id") if isinstance(flag, dict) else None
            if cid in wanted and plan_id is not None and plan_id not in out[cid]:
                out[cid].append(plan_id)
    return {k: sorted(v) for k, v in out.items()}


def create(
    session: Session,
    *,
    user: User,
    from_place: str,
    to_place: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
) -> tuple[RoadClosure, list[int]]:
    """Close the road, flag the plans it cuts, commit; returns the closure and flagged plans."""
    closed_edges(from_place, to_place)  # the places exist and a road joins them
    closure = RoadClosure(
        from_place=from_place,
        to_place=to_place,
        county_code=county_of(user, from_place, to_place),
        starts_at=utc(starts_at),
        ends_at=utc(ends_at),
        reason=reason,
        created_by=user.id,
        created_at=now(),
    )
    session.add(closure)
    session.flush()
    flagged = flag_plans(session, closure)
    audit.record(
        session,
        actor=user,
        action="closure.create",
        entity="closure",
        entity_id=closure.id,
        after={**_audited(closure), "flagged_plans": flagged},
    )
    session.commit()
    session.refresh(closure)
    return closure, flagged


def delete(session: Session, *, user: User, closure_id: int) -> None:
    """Reopen the road: the closure goes, and with it the flags it put on plans."""
    closure = session.get(RoadClosure, closure_id)
    if closure is None or (user.role == "dispatcher" and closure.county_code != user.county_code):
        raise NotFound(f"no closure {closure_id}")
    for plan_id in flagged_by(session, [closure_id])[closure_id]:
        plan = session.get(Plan, plan_id)
        if plan is not None:
            plan.flags = [
                f
                for f in plan.flags or []
                if not (isinstance(f, dict) and f.get("closure_id") == closure_id)
            ]
            session.add(plan)
    audit.record(
        session,
        actor=user,
        action="closure.delete",
        entity="closure",
        entity_id=closure_id,
        before=_audited(closure),
    )
    session.delete(closure)
    session.commit()


def _audited(closure: RoadClosure) -> dict[str, Any]:
    return audit.snapshot(
        closure, ("from_place", "to_place", "county_code", "starts_at", "ends_at", "reason")
    )
