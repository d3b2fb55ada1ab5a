"""/plans/{id}/compare: a plan against another of the same day (by default the plan it
replans): totals side by side, each vehicle's old and new route, the orders that changed
hands. Rules live in :mod:`api.services.compare`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Id, SessionDep, UserDep, require
from api.services import compare, plans
from api.services.convert import local_json
from routing.errors import InputError

router = APIRouter(tags=["compare"])
PLANNERS = require("admin", "dispatcher")


@router.get(
    "/plans/{plan_id}/compare",
    dependencies=[PLANNERS],
    summary="compare a plan with another (default: the plan it replans): totals, each "
    "vehicle's old and new route, stops added and dropped, orders moved",
)
def compare_plan(
    plan_id: Id,
    session: SessionDep,
    user: UserDep,
    with_: Annotated[
        int | None,
        Query(
            alias="with",
            ge=1,
            le=2**31 - 1,
            description="the other plan (default: the plan replanned)",
        ),
    ] = None,
) -> dict[str, Any]:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    other_id = with_ if with_ is not None else compare.default_other(plan)
    if other_id is None:
        raise InputError("with", f"plan {plan_id} replans no plan: name the plan to compare with")
    other = plans.get_plan(session, user=user, plan_id=other_id)
    return local_json(compare.compare_plans(session, old=other, new=plan, user=user))
