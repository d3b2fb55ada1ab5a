"""Road closures: a dispatcher closes the road between two places for a time range
(a landslide in the rainy season). New plans route around it; plans that use it are
flagged."""

from __future__ import annotations

import functools
import itertools
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select

from api.deps import Id, PageDep, SessionDep, UserDep, page_body, paginate, require
from api.models import Plan, RoadClosure, RouteSheet, User, aware, now
from dispatch.domain import TZ
from routing.errors import InputError

router = APIRouter(tags=["road closures"])
EDITORS = require("admin", "dispatcher")


@functools.cache
def _network() -> Any:
    from routing.network import load_network

    return load_network()


class ClosureIn(BaseModel):
    from_place: str = Field(description="place id at one end of the closed road")
    to_place: str = Field(description="place id at the other end")
    starts_at: datetime = Field(description="ISO 8601 with zone")
    ends_at: datetime
    reason: str = Field(default="", max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_place": "HUB-532326",
                    "to_place": "532326104",
                    "starts_at": "2026-07-20T06:00:00+08:00",
                    "ends_at": "2026-07-23T18:00:00+08:00",
                    "reason": "塌方 landslide on the county road",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _times(self) -> ClosureIn:
        for name in ("starts_at", "ends_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. +08:00")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ClosureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_place: str
    to_place: str
    county_code: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    reason: str
    created_at: datetime | None
    edges: list[int] = Field(default_factory=list, description="road segments closed")
    flagged_plans: list[int] = Field(default_factory=list)


def closed_edges(from_place: str, to_place: str) -> tuple[int, ...]:
    """The road segments of the fastest road between two places (the closed stretch)."""
    from routing.network import resolve, shortest_route

    network = _network()
    a, b = resolve(network, [from_place, to_place], ["from_place", "to_place"])
    if a.node == b.node:
        raise InputError("to_place", "both places are at the same point of the road network")
    return shortest_route(network, a, b, "van").edges


def _county_of(user: User, from_place: str, to_place: str) -> str | None:
    network = _network()
    counties = {network.place(p).county_code for p in (from_place, to_place)}
    if user.role == "dispatcher" and user.county_code not in counties:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"a dispatcher of {user.county_code} closes roads of that county only",
        )
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


def _out(c: RoadClosure, flagged: list[int] | None = None) -> ClosureOut:
    out = ClosureOut.model_validate(c)
    out.starts_at, out.ends_at, out.created_at = (
        aware(c.starts_at),
        aware(c.ends_at),
        aware(c.created_at),
    )
    out.edges = list(edges_of(c))
    out.flagged_plans = flagged or []
    return out


@router.post(
    "/closures",
    response_model=ClosureOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[EDITORS],
    summary="close the road between two places for a time range",
)
def create_closure(body: ClosureIn, session: SessionDep, user: UserDep) -> Any:
    closed_edges(body.from_place, body.to_place)  # the places and a road between them
    county = _county_of(user, body.from_place, body.to_place)
    closure = RoadClosure(
        from_place=body.from_place,
        to_place=body.to_place,
        county_code=county,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        created_by=user.id,
        created_at=now(),
    )
    session.add(closure)
    session.flush()
    flagged = flag_plans(session, closure)
    session.commit()
    session.refresh(closure)
    return _out(closure, flagged)


@router.get("/closures", dependencies=[EDITORS], summary="list road closures")
def list_closures(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    active_on: Annotated[date | None, Query(description="in force on this day")] = None,
) -> dict[str, Any]:
    query = select(RoadClosure)
    if user.role == "dispatcher":
        query = query.where(RoadClosure.county_code == user.county_code)
    if active_on is not None:
        ids = [c.id for c in closures_on(session, active_on)]
        query = query.where(col(RoadClosure.id).in_(ids))
    items, total = paginate(
        session, query, RoadClosure, page, ("id", "starts_at", "ends_at", "created_at")
    )
    return page_body([_out(c) for c in items], total, page)


@router.delete(
    "/closures/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[EDITORS],
    summary="reopen the road (delete the closure)",
)
def delete_closure(closure_id: Id, session: SessionDep, user: UserDep) -> None:
    closure = session.get(RoadClosure, closure_id)
    if closure is None or (user.role == "dispatcher" and closure.county_code != user.county_code):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no closure {closure_id}")
    session.delete(closure)
    session.commit()
