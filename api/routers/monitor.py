"""/monitor: the monitoring centre (监控中心), polled by the console's monitor page. The rules
(progress, delay, ETA, lateness, scope) live in :mod:`api.services.monitor`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import SessionDep, UserDep, require
from api.models import now
from api.services import monitor as monitoring

router = APIRouter(tags=["monitor"])

MAX_ID = 2**31 - 1


@router.get(
    "/monitor",
    dependencies=[require("admin", "dispatcher")],
    summary="live progress of a day's route sheets: last reports, delays, ETAs, late and "
    "failed stops, proof-of-delivery photos, closures in force",
    responses={404: {"description": "no such plan (or not one you may see)"}},
)
def get_monitor(
    session: SessionDep,
    user: UserDep,
    plan_date: Annotated[
        date | None, Query(description="the day (YYYY-MM-DD): its published plans")
    ] = None,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="one plan")] = None,
) -> dict[str, Any]:
    """Without ``plan_date`` or ``plan_id``: the newest published plan you may see. A
    dispatcher sees their county's sheets and the trunk sheets. Per sheet: progress, the
    last report (a vehicle is where it last reported: no GPS), ``delay_s`` against the
    planned arrival there, and per stop not yet done its ETA and whether it is late (after
    its time window's end where the sheet gives one, else more than 30 minutes after the
    planned arrival; ``rule`` says which). Times in Asia/Shanghai."""
    return monitoring.monitor(session, user=user, plan_date=plan_date, plan_id=plan_id, now=now())
