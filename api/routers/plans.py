"""Planning jobs and plans: create (202), follow, read the summary, publish route sheets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.deps import (
    Id,
    PageDep,
    SessionDep,
    SettingsDep,
    UserDep,
    invalid,
    page_body,
    paginate,
    require,
)
from api.models import Plan, RouteSheet, User, Vehicle, aware, now
from api.worker.jobs import enqueue_plan, reap_stale
from dispatch.io.day import served_counties

router = APIRouter(tags=["plans"])
PLANNERS = require("admin", "dispatcher")


class PlanIn(BaseModel):
    plan_date: date = Field(description="the day to plan (Asia/Shanghai)")
    counties: list[str] | None = Field(
        default=None,
        description="county codes; default: a dispatcher's county, or every served county",
    )
    time_limit: float | None = Field(
        default=None, gt=0, le=600, description="optimisation seconds (default: the service's)"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"plan_date": "2026-09-15", "counties": ["532326"]}]}
    )


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_date: date
    counties: list[str] | None
    status: str
    progress: float
    message: str
    attempts: int
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    published_at: datetime | None
    flags: list[dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None


class ReplanIn(BaseModel):
    at: datetime | None = Field(
        default=None,
        description="replan from this moment (ISO 8601 with zone); default: now",
    )
    time_limit: float | None = Field(default=None, gt=0, le=600)

    model_config = ConfigDict(json_schema_extra={"examples": [{"at": "2026-09-15T13:30:00+08:00"}]})


class PublishIn(BaseModel):
    assignments: dict[str, int] = Field(
        default_factory=dict,
        description="route id -> courier user id; routes not listed take the courier of "
        "their vehicle (vehicles.courier_id), if any",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"assignments": {"C-532326-01": 4, "T-01": 5}}]}
    )


def _out(plan: Plan, *, with_summary: bool = True) -> PlanOut:
    out = PlanOut.model_validate(plan)
    for name in ("created_at", "started_at", "finished_at", "published_at"):
        setattr(out, name, aware(getattr(plan, name)))
    if not with_summary:
        out.summary = None
    return out


def _counties_for(user: User, asked: list[str] | None) -> list[str]:
    served = served_counties()
    if user.role == "dispatcher":
        own = user.county_code or ""
        if asked and set(asked) != {own}:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"a dispatcher of {own} plans only that county's orders",
            )
        return [own]
    counties = sorted(set(asked or served))
    unknown = [c for c in counties if c not in served]
    if unknown:
        raise invalid(["body", "counties"], f"not served counties: {', '.join(unknown)}")
    return counties


def _visible(user: User, plan: Plan) -> bool:
    if user.role == "admin":
        return True
    return user.role == "dispatcher" and set(plan.counties or ()) <= {user.county_code}


def _get(session: SessionDep, user: User, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None or not _visible(user, plan):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no plan {plan_id}")
    return plan


@router.post(
    "/plans",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    dependencies=[PLANNERS],
    summary="start a planning job (answers at once; follow it with GET /plans/{id})",
)
def create_plan(
    body: PlanIn, session: SessionDep, settings: SettingsDep, user: UserDep, response: Response
) -> Any:
    counties = _counties_for(user, body.counties)
    busy = session.exec(
        select(Plan).where(
            Plan.plan_date == body.plan_date, col(Plan.status).in_(("queued", "running"))
        )
    ).all()
    if any(set(p.counties or ()) & set(counties) for p in busy):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="a plan for this date and county is already queued or running",
        )
    options: dict[str, Any] = {"seed": body.seed}
    if body.time_limit is not None:
        options["time_limit"] = body.time_limit
    plan = Plan(
        plan_date=body.plan_date,
        counties=counties,
        status="queued",
        message="queued",
        options=options,
        created_by=user.id,
        created_at=now(),
    )
    session.add(plan)
    session.commit()
    session.refresh(plan)
    assert plan.id is not None
    try:
        job = enqueue_plan(settings, plan.id)
    except Exception as e:  # the queue is unreachable: say so, keep nothing half-started
        plan.status, plan.error, plan.finished_at = "failed", f"could not queue: {e}", now()
        session.add(plan)
        session.commit()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the job queue is unreachable"
        ) from None
    if job:
        plan.job_id = job
        session.add(plan)
        session.commit()
        session.refresh(plan)
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return _out(plan)


@router.get("/plans", dependencies=[PLANNERS], summary="list plans")
def list_plans(
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    page: PageDep,
    plan_date: date | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> dict[str, Any]:
    reap_stale(settings)
    query = select(Plan)
    if plan_date is not None:
        query = query.where(Plan.plan_date == plan_date)
    if status_ is not None:
        query = query.where(Plan.status == status_)
    if user.role == "dispatcher":
        # JSON lists differ between databases: filter the (few) plans of the dates in Python
        rows = [p for p in session.exec(query).all() if _visible(user, p)]
        ids = [p.id for p in rows]
        query = select(Plan).where(col(Plan.id).in_(ids))
    items, total = paginate(session, query, Plan, page, ("id", "plan_date", "status", "created_at"))
    return page_body([_out(p, with_summary=False) for p in items], total, page)


@router.get(
    "/plans/{plan_id}",
    response_model=PlanOut,
    dependencies=[PLANNERS],
    summary="a plan: status, progress and, when done, its summary",
)
def get_plan(plan_id: Id, session: SessionDep, settings: SettingsDep, user: UserDep) -> Any:
    if reap_stale(settings):
        session.expire_all()
    return _out(_get(session, user, plan_id))


@router.get("/plans/{plan_id}/sheets", dependencies=[PLANNERS], summary="a plan's route sheets")
def plan_sheets(plan_id: Id, session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    _get(session, user, plan_id)
    rows = session.exec(
        select(RouteSheet).where(RouteSheet.plan_id == plan_id).order_by(col(RouteSheet.id))
    ).all()
    return [
        {
            "id": r.id,
            "route_id": r.route_id,
            "echelon": r.echelon,
            "county_code": r.county_code,
            "vehicle_id": r.vehicle_id,
            "courier_id": r.courier_id,
            "status": r.status,
        }
        for r in rows
        if user.role == "admin" or r.county_code in (None, user.county_code)
    ]


@router.post(
    "/plans/{plan_id}/publish",
    response_model=PlanOut,
    dependencies=[PLANNERS],
    summary="publish a finished plan: route sheets go to their couriers",
)
def publish(plan_id: Id, body: PublishIn, session: SessionDep, user: UserDep) -> Any:
    from api.services.sheets import init_stops

    plan = _get(session, user, plan_id)
    if plan.status != "succeeded":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"only a succeeded plan can be published; this one is {plan.status}",
        )
    sheets = session.exec(select(RouteSheet).where(RouteSheet.plan_id == plan_id)).all()
    known = {s.route_id for s in sheets}
    unknown = sorted(set(body.assignments) - known)
    if unknown:
        raise invalid(["body", "assignments"], f"not routes of this plan: {', '.join(unknown)}")
    couriers = {
        u.id
        for u in session.exec(
            select(User).where(
                col(User.id).in_(list(body.assignments.values())), User.role == "courier"
            )
        ).all()
    }
    bad = sorted(r for r, c in body.assignments.items() if c not in couriers)
    if bad:
        raise invalid(["body", "assignments"], f"not courier users for: {', '.join(bad)}")
    by_vehicle = {
        v.id: v.courier_id
        for v in session.exec(select(Vehicle).where(col(Vehicle.courier_id).is_not(None))).all()
    }
    for sheet in sheets:
        sheet.courier_id = body.assignments.get(sheet.route_id) or by_vehicle.get(sheet.vehicle_id)
        sheet.status = "assigned" if sheet.courier_id else "draft"
        session.add(sheet)
        init_stops(session, sheet)
    parent_id = (plan.options or {}).get("replan_of")
    if parent_id:  # the replan takes over: the old plan's open sheets are withdrawn
        parent = session.get(Plan, int(parent_id))
        if parent is not None and parent.status == "published":
            parent.status = "superseded"
            session.add(parent)
            for old in session.exec(
                select(RouteSheet).where(
                    RouteSheet.plan_id == parent.id, RouteSheet.status != "completed"
                )
            ).all():
                old.status = "superseded"
                session.add(old)
    plan.status = "published"
    plan.published_at = now()
    session.add(plan)
    session.commit()
    session.refresh(plan)
    return _out(plan)


@router.post(
    "/plans/{plan_id}/replan",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanOut,
    dependencies=[PLANNERS],
    summary="replan a published plan from now: done stops stay, vehicles start where they are",
)
def replan(
    plan_id: Id,
    body: ReplanIn,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    response: Response,
) -> Any:
    parent = _get(session, user, plan_id)
    if parent.status != "published":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"only a published plan can be replanned; this one is {parent.status}",
        )
    at = body.at or now()
    if at.tzinfo is None:
        raise invalid(["body", "at"], "needs a time zone")
    busy = session.exec(
        select(Plan).where(
            Plan.plan_date == parent.plan_date, col(Plan.status).in_(("queued", "running"))
        )
    ).all()
    if any(set(p.counties or ()) & set(parent.counties or ()) for p in busy):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="a plan for this date and county is already queued or running",
        )
    options: dict[str, Any] = {"replan_of": parent.id, "at": at.isoformat()}
    if body.time_limit is not None:
        options["time_limit"] = body.time_limit
    plan = Plan(
        plan_date=parent.plan_date,
        counties=list(parent.counties or ()),
        status="queued",
        message=f"queued: replan of plan {parent.id}",
        options=options,
        created_by=user.id,
        created_at=now(),
    )
    session.add(plan)
    session.commit()
    session.refresh(plan)
    assert plan.id is not None
    job = enqueue_plan(settings, plan.id)
    if job:
        plan.job_id = job
        session.add(plan)
        session.commit()
        session.refresh(plan)
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return _out(plan)
