"""/closures: dispatchers close a road between two places for a time range; the plans whose
routes use it are flagged. Rules live in :mod:`api.services.closures`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from api.deps import Id, PageDep, SessionDep, UserDep, page_body, paginate, require
from api.models import RoadClosure
from api.schemas.closures import ClosureIn, ClosureOut
from api.services import closures
from api.services.convert import local

router = APIRouter(tags=["road closures"])
EDITORS = require("admin", "dispatcher")


def _out(c: RoadClosure, flagged: list[int]) -> ClosureOut:
    out = ClosureOut.model_validate(c)
    out.starts_at, out.ends_at, out.created_at = (
        local(c.starts_at),
        local(c.ends_at),
        local(c.created_at),
    )
    out.edges = list(closures.edges_of(c))
    out.flagged_plans = flagged
    return out


@router.post(
    "/closures",
    response_model=ClosureOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[EDITORS],
    summary="close the road between two places for a time range",
)
def create_closure(body: ClosureIn, session: SessionDep, user: UserDep) -> Any:
    closure, flagged = closures.create(
        session,
        user=user,
        from_place=body.from_place,
        to_place=body.to_place,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
    )
    return _out(closure, flagged)


@router.get("/closures", dependencies=[EDITORS], summary="list road closures")
def list_closures(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    active_on: Annotated[date | None, Query(description="in force on this day")] = None,
    geometry: Annotated[
        bool, Query(description="with each closed road's GeoJSON line (for a map)")
    ] = False,
) -> dict[str, Any]:
    query = select(RoadClosure)
    if user.role == "dispatcher":
        query = query.where(RoadClosure.county_code == user.county_code)
    if active_on is not None:
        ids = [c.id for c in closures.closures_on(session, active_on)]
        query = query.where(col(RoadClosure.id).in_(ids))
    items, total = paginate(
        session, query, RoadClosure, page, ("id", "starts_at", "ends_at", "created_at")
    )
    flagged = closures.flagged_by(session, [c.id for c in items if c.id is not None])
    out: list[Any] = [_out(c, flagged.get(c.id or 0, [])) for c in items]
    if geometry:
        out = [
            o.model_dump(mode="json") | {"geometry": closures.road_geometry(c)}
            for o, c in zip(out, items, strict=True)
        ]
    return page_body(out, total, page)


@router.delete(
    "/closures/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[EDITORS],
    summary="reopen the road (delete the closure)",
)
def delete_closure(closure_id: Id, session: SessionDep, user: UserDep) -> None:
    closures.delete(session, user=user, closure_id=closure_id)
