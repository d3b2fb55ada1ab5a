"""Downloads of a plan for the console: the unassigned orders (CSV for Chinese Excel, XLSX)
and the route sheets (one XLSX workbook, one printable HTML page).

Admins and dispatchers; the plan must be one the caller sees (404 otherwise), and each
file holds what the plan board shows them (a dispatcher: their county's unassigned orders,
their county's and the trunk route sheets).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from api.deps import Id, SessionDep, require
from api.models import User
from api.services import exports, plans

router = APIRouter(tags=["exports"])

Caller = Annotated[User, require("admin", "dispatcher")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such plan (or not one the caller sees)"}
}


def _file(download: exports.Download) -> Response:
    return Response(
        download.body,
        media_type=download.media_type,
        headers={"Content-Disposition": download.disposition, "Cache-Control": "no-store"},
    )


@router.get(
    "/plans/{plan_id}/unassigned.csv",
    summary="the plan's unassigned orders as CSV (UTF-8 with BOM, for Excel)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def unassigned_csv(plan_id: Id, session: SessionDep, user: Caller) -> Response:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    return _file(exports.unassigned_csv(session, plan=plan, user=user))


@router.get(
    "/plans/{plan_id}/unassigned.xlsx",
    summary="the plan's unassigned orders as an XLSX workbook",
    response_class=Response,
    responses={200: {"content": {exports.XLSX_MEDIA: {}}}, **NOT_FOUND},
)
def unassigned_xlsx(plan_id: Id, session: SessionDep, user: Caller) -> Response:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    return _file(exports.unassigned_xlsx(session, plan=plan, user=user))


@router.get(
    "/plans/{plan_id}/sheets.xlsx",
    summary="the plan's route sheets as one XLSX workbook (an overview, a worksheet a route)",
    response_class=Response,
    responses={200: {"content": {exports.XLSX_MEDIA: {}}}, **NOT_FOUND},
)
def sheets_xlsx(plan_id: Id, session: SessionDep, user: Caller) -> Response:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    return _file(exports.sheets_xlsx(session, plan=plan, user=user))


@router.get(
    "/plans/{plan_id}/sheets.html",
    summary="the plan's route sheets as one printable page (A4, a vehicle a page)",
    response_class=HTMLResponse,
    responses=NOT_FOUND,
)
def sheets_html(plan_id: Id, session: SessionDep, user: Caller) -> HTMLResponse:
    plan = plans.get_plan(session, user=user, plan_id=plan_id)
    return HTMLResponse(exports.sheets_html(session, plan=plan, user=user))
