"""Planning jobs and plans: create (202), follow, read the summary, publish route sheets."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlmodel import col, select

from api.deps import (
    Id,
    PageDep,
    SessionDep,
    SettingsDep,
    UserDep,
    page_body,
    paginate,
    require,
)
from api.models import Plan, RouteSheet, now
from api.schemas.common import shanghai
from api.schemas.plans import PlanIn, PlanOut, PublishIn, ReplanIn
from api.services import board, plans
from api.services.convert import local_json
from api.services.queue import reap_stale

router = APIRouter(tags=["plans"])
PLANNERS = require("admin", "dispatcher")


def _out(plan: Plan, *, with_summary: bool = True) -> PlanOut:
    out = PlanOut.model_validate(plan)  # its times answer in Asia/Shanghai (Moment)
    # a replan's summary carries the moment it started from ("at"), stored as given
    out.summary = local_json(plan.summary) if with_summary and plan.summary is not None else None
    return out


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
    options: dict[str, Any] = {"seed": body.seed}
    if body.time_limit is not None:
        options["time_limit"] = body.time_limit
    plan = plans.start_plan(
        session,
        settings,
        plan_date=body.plan_date,
        counties=plans.counties_for(user, body.counties),
        options=options,
        created_by=user.id,
    )
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
        rows = [p for p in session.exec(query).all() if plans.visible(user, p)]
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
    return _out(plans.get_plan(session, user=user, plan_id=plan_id))


@router.get(
    "/plans/{plan_id}/board",
    dependencies=[PLANNERS],
    summary="the plan board: routes with timeline, load, driving hours and cost shares; "
    "the unassigned orders with reasons; shared vs separate cost",
)
def get_board(plan_id: Id, session: SessionDep, user: UserDep) -> dict[str, Any]:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    return local_json(board.plan_board(session, plan=plan, user=user))


@router.get("/plans/{plan_id}/sheets", dependencies=[PLANNERS], summary="a plan's route sheets")
def plan_sheets(plan_id: Id, session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    plans.get_plan(session, user=user, plan_id=plan_id)
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
    plan = plans.get_plan(session, user=user, plan_id=plan_id, change=True)
    return _out(plans.publish(session, plan=plan, assignments=body.assignments, actor=user))


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
    plan = plans.replan(
        session,
        settings,
        parent=plans.get_plan(session, user=user, plan_id=plan_id, change=True),
        at=shanghai(body.at or now()),
        time_limit=body.time_limit,
        created_by=user.id,
        actor=user,
    )
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return _out(plan)
