"""Courier route sheets (路单): reading them, printing them, and reporting stop by stop.

Who sees a sheet: its courier, the dispatchers of its county, admins. A sheet outside
the caller's scope answers 404 exactly like a missing one; carriers get 403.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import pydantic_core
from fastapi import (
    APIRouter,
    Body,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from sqlalchemy import false
from sqlmodel import Session, col, select

from api.deps import PageDep, SessionDep, SettingsDep, UserDep, page_body, paginate, require
from api.errors import NotFound
from api.models import Plan, RouteSheet, StopEvent, StopStatus, User
from api.schemas.sheets import (
    EVENT_EXAMPLES,
    MAX_SEQ,
    PRINTABLE,
    CourierIn,
    EventAnswer,
    EventIn,
    EventOut,
    PhotoOut,
    SheetSummary,
    StopState,
)
from api.services import plans, users
from api.services.convert import local, local_value
from api.services.photos import PHOTO_MEDIA, read_photo, store_photo
from api.services.sheets import (
    CLIENT_EVENT_ID_MAX,
    WITHOUT_CONTENT,
    SheetJson,
    apply_event,
    sheet_content,
    sheet_json,
    stop_states,
)
from routing.errors import InputError

router = APIRouter(tags=["route sheets"], dependencies=[require("admin", "dispatcher", "courier")])

MAX_ID = 2**31 - 1
SheetId = Annotated[int, Path(ge=1, le=MAX_ID, description="the route sheet's id")]
Seq = Annotated[int, Path(ge=1, le=MAX_SEQ, description="the stop's sequence number")]
SheetState = Literal["draft", "assigned", "in_progress", "completed"]


NOT_FOUND = {"description": "no such route sheet (or not one of yours)"}


# ---- scope ----------------------------------------------------------------------------------
def _scoped(query: Any, user: User) -> Any:
    if user.role == "admin":
        return query
    if user.role == "dispatcher":
        if not user.county_code:
            return query.where(false())
        return query.where(RouteSheet.county_code == user.county_code)
    return query.where(RouteSheet.courier_id == user.id)


def _sheet(session: Session, user: User, sheet_id: int) -> RouteSheet:
    """The sheet, its content not loaded (read it with :func:`_content`)."""
    query = select(RouteSheet).options(WITHOUT_CONTENT).where(RouteSheet.id == sheet_id)
    sheet = session.exec(_scoped(query, user)).first()
    if sheet is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no route sheet {sheet_id}")
    assert isinstance(sheet, RouteSheet)
    return sheet


def _content(session: Session, sheet: RouteSheet) -> dict[str, Any]:
    """The content for reading stops, places and times: each order cut to its id (cached
    per process; see :mod:`api.services.sheets`). The whole content is ``sheet.content``."""
    return dict(sheet_content(session, sheet))


def _stops(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in content.get("stops") or () if isinstance(s, dict)]


def _state(row: StopStatus | None, seq: int) -> StopState:
    if row is None:  # not initialised yet: nothing happened there
        return StopState(
            seq=seq,
            status="pending",
            needs_drop=False,
            needs_pickup=False,
            delivered=False,
            picked_up=False,
        )
    return StopState(
        seq=row.seq,
        status=row.status,
        needs_drop=row.needs_drop,
        needs_pickup=row.needs_pickup,
        delivered=row.delivered,
        picked_up=row.picked_up,
        updated_at=row.updated_at,  # answered in Asia/Shanghai (Moment)
    )


def _summary(sheet: RouteSheet, plan_date: date | None, content: dict[str, Any]) -> SheetSummary:
    start = content.get("start") if isinstance(content.get("start"), dict) else {}
    distance = content.get("distance_m")
    assert sheet.id is not None
    return SheetSummary(
        id=sheet.id,
        plan_id=sheet.plan_id,
        plan_date=plan_date.isoformat() if plan_date else content.get("plan_date"),
        route_id=sheet.route_id,
        echelon=sheet.echelon,
        county_code=sheet.county_code,
        vehicle_id=sheet.vehicle_id,
        courier_id=sheet.courier_id,
        status=sheet.status,
        stops=len(_stops(content)),
        distance_m=distance if isinstance(distance, int | float) else None,
        start_time=local_value(str(start["time"])) if start and start.get("time") else None,
    )


def _event_out(event: StopEvent) -> EventOut:
    return EventOut.model_validate(event)  # times answered in Asia/Shanghai (Moment)


# ---- reading --------------------------------------------------------------------------------
@router.get("/route-sheets", summary="list route sheets (yours, or your county's)")
def list_sheets(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="one plan")] = None,
    state: Annotated[SheetState | None, Query(alias="status", description="sheet status")] = None,
    day: Annotated[date | None, Query(alias="date", description="the plan date")] = None,
) -> dict[str, Any]:
    query = _scoped(select(RouteSheet).options(WITHOUT_CONTENT), user)
    if plan_id is not None:
        query = query.where(RouteSheet.plan_id == plan_id)
    if state is not None:
        query = query.where(RouteSheet.status == state)
    if day is not None:
        query = query.join(Plan, Plan.id == RouteSheet.plan_id).where(Plan.plan_date == day)
    items, total = paginate(
        session, query, RouteSheet, page, ("id", "plan_id", "route_id", "status", "courier_id")
    )
    dates: dict[int | None, date] = dict(
        session.exec(
            select(col(Plan.id), col(Plan.plan_date)).where(
                col(Plan.id).in_(sorted({s.plan_id for s in items}))
            )
        ).all()
    )
    return page_body(
        [_summary(s, dates.get(s.plan_id), _content(session, s)) for s in items], total, page
    )


#: The members of the answer for one sheet that come from its row (after the content's own).
_ROW_MEMBERS = (
    "id",
    "plan_id",
    "route_id",
    "echelon",
    "county_code",
    "vehicle_id",
    "courier_id",
    "status",
    "created_at",
    "stops",
)


def _pair(key: str, value: Any) -> bytes:
    return pydantic_core.to_json(key) + b":" + pydantic_core.to_json(value)


def _sheet_answer(sheet: RouteSheet, doc: SheetJson, states: dict[int, StopStatus]) -> bytes:
    """The JSON of ``{**content, <the row's members>, "stops": [{**stop, **state}, ...]}``,
    put together from the content's cached fragments: the same members in the same order
    as building that dict and encoding it, without parsing or encoding the content."""
    stops = []
    for seq, members in doc.stops:
        row = states.get(seq) if isinstance(seq, int) else None
        state = _state(row, seq if isinstance(seq, int) else 0).model_dump()
        parts = [_pair(k, state[k]) if k in state else m for k, m in members]
        have = {k for k, _ in members}
        parts += [_pair(k, v) for k, v in state.items() if k not in have]
        stops.append(b"{" + b",".join(parts) + b"}")
    values = {
        "id": sheet.id,
        "plan_id": sheet.plan_id,
        "route_id": sheet.route_id,
        "echelon": sheet.echelon,
        "county_code": sheet.county_code,
        "vehicle_id": sheet.vehicle_id,
        "courier_id": sheet.courier_id,
        "status": sheet.status,
        "created_at": local(sheet.created_at),
    }
    stops_member = b'"stops":[' + b",".join(stops) + b"]"

    def member(key: str, ready: bytes | None) -> bytes:
        if key == "stops":
            return stops_member
        return _pair(key, values[key]) if key in values else ready or b""

    parts = [member(k, m) for k, m in doc.members]
    have = {k for k, _ in doc.members}
    parts += [member(k, None) for k in _ROW_MEMBERS if k not in have]
    return b"{" + b",".join(parts) + b"}"


@router.get(
    "/route-sheets/{sheet_id}",
    summary="one route sheet with each stop's state",
    response_model=dict[str, Any],
    responses={404: NOT_FOUND},
)
def get_sheet(sheet_id: SheetId, session: SessionDep, user: UserDep) -> Response:
    """The sheet as planned (stops, orders by party, cost shares, geometry) with the sheet's
    status and, merged into each stop, its state (``status``, ``needs_drop``,
    ``needs_pickup``, ``delivered``, ``picked_up``, ``updated_at``)."""
    sheet = _sheet(session, user, sheet_id)
    assert sheet.id is not None
    body = _sheet_answer(sheet, sheet_json(session, sheet), stop_states(session, sheet.id))
    return Response(content=body, media_type="application/json")


@router.get(
    "/couriers",
    dependencies=[require("admin", "dispatcher")],
    summary="couriers who can take route sheets (a county's, and the trunk's)",
)
def list_couriers(
    session: SessionDep,
    user: UserDep,
    county: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="county code (admin; default all)")
    ] = None,
) -> list[dict[str, Any]]:
    """A dispatcher sees the couriers of their county; an admin those of ``county`` and
    the trunk's (couriers of no county), or all."""
    if user.role == "dispatcher":
        found = users.couriers(session, county=user.county_code, trunk=False)
    elif county is None:
        found = users.couriers(session, county=None, trunk=True, every=True)
    else:
        found = users.couriers(session, county=county, trunk=True)
    return [
        {
            "id": u.id,
            "username": u.username,
            "county_code": users.courier_county(session, u),
        }
        for u in found
    ]


@router.put(
    "/route-sheets/{sheet_id}/courier",
    response_model=SheetSummary,
    dependencies=[require("admin", "dispatcher")],
    summary="give a published route sheet to a courier, or hand it to another",
    responses={404: NOT_FOUND},
)
def set_courier(
    sheet_id: SheetId, body: CourierIn, session: SessionDep, user: UserDep
) -> SheetSummary:
    """The courier must belong to the sheet's county hub (a trunk route: to an organisation
    without a county) and must not drive another route of that day at the same time (409).
    A sheet under way can be handed to another courier, not taken back."""
    sheet = plans.assign_courier(
        session, sheet=_sheet(session, user, sheet_id), courier_id=body.courier_id, actor=user
    )
    day = session.exec(select(col(Plan.plan_date)).where(Plan.id == sheet.plan_id)).first()
    return _summary(sheet, day, _content(session, sheet))


@router.get(
    "/route-sheets/{sheet_id}/html",
    summary="the printable route sheet (A4 HTML)",
    response_class=HTMLResponse,
    responses={404: NOT_FOUND},
)
def sheet_html(sheet_id: SheetId, session: SessionDep, user: UserDep) -> HTMLResponse:
    from dispatch.report.sheets import render_html

    sheet = _sheet(session, user, sheet_id)
    content = dict(sheet.content or {})  # the whole content, orders and all
    title = f"路单 Route sheet {sheet.route_id}"
    if content.get("plan_date"):
        title += f" · {content['plan_date']}"
    return HTMLResponse(render_html([content], title=title))


@router.get(
    "/route-sheets/{sheet_id}/geojson",
    summary="the route and its stops as GeoJSON",
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "a FeatureCollection"},
        404: NOT_FOUND,
    },
)
def sheet_geojson(sheet_id: SheetId, session: SessionDep, user: UserDep) -> JSONResponse:
    """A FeatureCollection: the route's LineString (properties ``route_id``, ``vehicle``)
    when the sheet has a geometry, then one Point per stop (``seq``, ``place_id``,
    ``name_zh``, ``name_pinyin``, ``arrival``, ``status``); a stop without coordinates has a
    null geometry."""
    sheet = _sheet(session, user, sheet_id)
    assert sheet.id is not None
    content = _content(session, sheet)
    states = stop_states(session, sheet.id)
    vehicle = content.get("vehicle") if isinstance(content.get("vehicle"), dict) else {}
    features: list[dict[str, Any]] = []
    geometry = content.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "LineString":
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "route_id": sheet.route_id,
                    "vehicle": (vehicle or {}).get("id", sheet.vehicle_id),
                    "vehicle_name": (vehicle or {}).get("name"),
                    "status": sheet.status,
                },
            }
        )
    for stop in _stops(content):
        place = stop.get("place") if isinstance(stop.get("place"), dict) else {}
        place = place or {}
        lon, lat = place.get("lon"), place.get("lat")
        point = (
            {"type": "Point", "coordinates": [lon, lat]}
            if isinstance(lon, int | float) and isinstance(lat, int | float)
            else None
        )
        seq = stop.get("seq")
        row = states.get(seq) if isinstance(seq, int) else None
        features.append(
            {
                "type": "Feature",
                "geometry": point,
                "properties": {
                    "seq": seq,
                    "place_id": place.get("id"),
                    "name_zh": place.get("name_zh"),
                    "name_pinyin": place.get("name_pinyin"),
                    "kind": place.get("kind"),
                    "arrival": stop.get("arrival"),
                    "status": row.status if row else "pending",
                },
            }
        )
    return JSONResponse(
        {"type": "FeatureCollection", "features": features}, media_type="application/geo+json"
    )


@router.get(
    "/route-sheets/{sheet_id}/events",
    summary="what the courier reported on a sheet",
    responses={404: NOT_FOUND},
)
def list_events(
    sheet_id: SheetId, session: SessionDep, user: UserDep, page: PageDep
) -> dict[str, Any]:
    sheet = _sheet(session, user, sheet_id)
    query = select(StopEvent).where(StopEvent.sheet_id == sheet.id)
    items, total = paginate(
        session, query, StopEvent, page, ("id", "seq", "type", "occurred_at", "recorded_at")
    )
    return page_body([_event_out(e) for e in items], total, page)


# ---- reporting ------------------------------------------------------------------------------
@router.post(
    "/route-sheets/{sheet_id}/events",
    response_model=EventAnswer,
    status_code=status.HTTP_201_CREATED,
    summary="report what happened at a stop",
    responses={
        200: {"model": EventAnswer, "description": "a retry: the event stored before"},
        404: NOT_FOUND,
        409: {"description": "impossible at the stop now, or client_event_id reused"},
        422: {"description": "an unknown stop, a failure without reason, a bad field"},
    },
)
def post_event(
    sheet_id: SheetId,
    body: Annotated[EventIn, Body(openapi_examples=EVENT_EXAMPLES)],
    session: SessionDep,
    user: UserDep,
    response: Response,
) -> Any:
    """A stop goes ``pending`` → ``arrived`` → ``completed`` (once it is ``delivered`` when
    it has drops and ``picked_up`` when it has pickups; a stop with neither completes on
    arrival) or ``failed`` (from pending or arrived, with a ``reason``).

    Send every event with a fresh ``client_event_id``; resend the same one after a lost
    answer: a retry answers 200 with the stored event and changes nothing."""
    sheet = _sheet(session, user, sheet_id)
    event, created = apply_event(
        session,
        sheet,
        seq=body.seq,
        type=body.type,
        client_event_id=body.client_event_id,
        user_id=user.id,
        reason=body.reason,
        signer_name=body.signer_name,
        pickup_code=body.pickup_code,
        occurred_at=body.occurred_at,
        lon=body.lon,
        lat=body.lat,
        accuracy_m=body.accuracy_m,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    row = session.exec(
        select(StopStatus).where(StopStatus.sheet_id == sheet_id, StopStatus.seq == event.seq)
    ).first()
    return EventAnswer(
        event=_event_out(event),
        stop=_state(row, event.seq),
        sheet_status=sheet.status,
    )


@router.post(
    "/route-sheets/{sheet_id}/stops/{seq}/photo",
    response_model=PhotoOut,
    status_code=status.HTTP_201_CREATED,
    summary="upload a proof-of-delivery photo",
    responses={
        404: NOT_FOUND,
        413: {"description": "larger than the service's photo limit"},
        415: {"description": "not a JPEG, PNG or WebP image"},
        422: {"description": "an unknown stop or event"},
    },
)
def upload_photo(
    sheet_id: SheetId,
    seq: Seq,
    file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP image")],
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    client_event_id: Annotated[
        str | None,
        Form(
            min_length=1,
            max_length=CLIENT_EVENT_ID_MAX,
            pattern=PRINTABLE,
            description="attach the photo to this event of the stop",
        ),
    ] = None,
) -> PhotoOut:
    """Stored as ``<sheet id>/<seq>-<uuid>.<ext>`` under the photo directory, written
    atomically. The type is checked twice: the declared content type and the file's
    first bytes must both say JPEG, PNG or WebP."""
    sheet = _sheet(session, user, sheet_id)
    assert sheet.id is not None
    seqs = {s.get("seq") for s in _stops(_content(session, sheet))}
    if seq not in seqs:
        raise InputError("seq", f"route sheet {sheet.id} has no stop {seq}")
    data, ext = read_photo(file.content_type, file.file, settings.photo_max_bytes)
    event = None
    if client_event_id is not None:
        event = session.exec(
            select(StopEvent).where(
                StopEvent.sheet_id == sheet.id, StopEvent.client_event_id == client_event_id
            )
        ).first()
        if event is None or event.seq != seq:
            raise InputError(
                "client_event_id", f"no event {client_event_id!r} at stop {seq} of this sheet"
            )
    relative = store_photo(settings.photo_dir, str(sheet.id), str(seq), data, ext)
    target = settings.photo_dir / relative
    if event is not None:
        try:
            event.photo_path = relative
            session.add(event)
            session.commit()
        except BaseException:
            session.rollback()
            with contextlib.suppress(OSError):
                target.unlink()
            raise
    return PhotoOut(
        path=relative,
        size=len(data),
        content_type=PHOTO_MEDIA[ext],
        client_event_id=client_event_id,
    )


def _latest_photo(photo_dir: FilePath, sheet_id: int, seq: int) -> FilePath | None:
    """The newest photo stored for the stop (``<sheet id>/<seq>-<hex>.<ext>``), or None.

    Only regular files whose resolved path stays inside ``photo_dir`` are considered, so
    a symlink or odd name planted in the directory is never served."""
    root = photo_dir.resolve()
    directory = root / str(sheet_id)
    if not directory.is_dir():
        return None
    pattern = re.compile(rf"^{seq}-[0-9a-f]{{32}}\.({'|'.join(PHOTO_MEDIA)})$")
    found: list[tuple[int, str, FilePath]] = []
    for entry in directory.iterdir():
        if not pattern.match(entry.name):
            continue
        try:
            real = entry.resolve(strict=True)
            if not real.is_relative_to(root) or not real.is_file():
                continue
            found.append((real.stat().st_mtime_ns, entry.name, real))
        except (OSError, RuntimeError):
            continue
    return max(found)[2] if found else None


@router.get(
    "/route-sheets/{sheet_id}/stops/{seq}/photo",
    response_class=FileResponse,
    summary="the stop's latest proof-of-delivery photo",
    responses={
        200: {"content": {t: {} for t in PHOTO_MEDIA.values()}, "description": "the image"},
        404: {"description": "no such route sheet (or not one of yours), or no photo"},
    },
)
def get_photo(
    sheet_id: SheetId, seq: Seq, session: SessionDep, settings: SettingsDep, user: UserDep
) -> FileResponse:
    """The most recently uploaded photo of the stop, with its image content type. Who may
    read the sheet may read its photos; anyone else gets 404, as for a missing sheet."""
    sheet = _sheet(session, user, sheet_id)
    assert sheet.id is not None
    path = _latest_photo(settings.photo_dir, sheet.id, seq)
    if path is None:
        raise NotFound(f"no photo for stop {seq} of route sheet {sheet.id}")
    return FileResponse(
        path,
        media_type=PHOTO_MEDIA[path.suffix.lstrip(".")],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"},
    )
