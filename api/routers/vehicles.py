"""The fleet: vehicles at the public warehouse and the county hubs.

Admins manage every vehicle; a county dispatcher the vehicles at the county's hub
(``HUB-<county>``); a carrier user may read its own party's vehicles. Deleting retires a
vehicle (``active: false``); the planner uses active vehicles only. The rules are those of
the fleet file (:mod:`dispatch.io.fleet`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import false
from sqlmodel import Session, select

from api.deps import PageDep, SafeRoute, SessionDep, invalid, page_body, paginate, require
from api.errors import NotFound
from api.models import User, Vehicle
from api.schemas.common import bad_text
from api.schemas.vehicles import ImportOut, VehicleIn, VehicleOut, VehiclePatch
from api.services import audit, vehicles
from api.services.convert import WAREHOUSE, depot_county
from api.services.reference import network, parties, served
from api.services.users import carrier_party
from dispatch.io.fleet import DEPOT_KINDS, owner_problem

router = APIRouter(tags=["vehicles"], route_class=SafeRoute)

READERS = ("admin", "dispatcher", "carrier")
WRITERS = ("admin", "dispatcher")
VEHICLE_SORTS = ("id", "depot", "county_code", "owner", "kind", "capacity_kg")

# ---- scope ----------------------------------------------------------------------------


def _scope(query: Any, session: Session, user: User) -> Any:
    if user.role == "admin":
        return query
    if user.role == "dispatcher":
        if not user.county_code:
            return query.where(false())
        return query.where(Vehicle.county_code == user.county_code)
    party = carrier_party(session, user)
    return query.where(Vehicle.owner == party) if party else query.where(false())


def _visible(session: Session, user: User, vehicle_id: str) -> Vehicle:
    """The vehicle if it exists and the user may see it; 404 otherwise."""
    row = session.get(Vehicle, vehicle_id) if bad_text(vehicle_id) is None else None
    if row is not None:
        if user.role == "dispatcher":
            ok = bool(user.county_code) and row.county_code == user.county_code
        elif user.role == "carrier":
            ok = row.owner == carrier_party(session, user)
        else:
            ok = True
        if ok:
            return row
    raise NotFound(f"vehicle {vehicle_id!r} not found")


def _depots() -> set[str]:
    """WH-CX, the hubs of the served counties and their located township stations (whose
    own vehicles run a last mile to the villages)."""
    out = set()
    for place in network().places:
        if place.kind not in DEPOT_KINDS or (place.kind == "township" and not place.located):
            continue
        if place.kind == "warehouse" or depot_county(place.id) in served():
            out.add(place.id)
    return out


def _check(session: Session, user: User, values: dict[str, Any]) -> None:
    """The fleet-file rules on a whole vehicle (after a change); 422 naming the field."""
    problem = owner_problem(values["owner"], parties())  # the planner's rule
    if problem:
        raise invalid(["body", "owner"], problem)
    depots = _depots()
    if values["depot"] not in depots:
        hubs = ", ".join(sorted(d for d in depots if not d.isdigit()))
        raise invalid(
            ["body", "depot"],
            f"unknown depot {values['depot']!r}; one of {hubs}, or a located township "
            "station of a served county (its 9-digit code)",
        )
    if user.role == "dispatcher" and (
        values["depot"] == WAREHOUSE or depot_county(values["depot"]) != user.county_code
    ):
        raise invalid(
            ["body", "depot"],
            f"a dispatcher of county {user.county_code} manages the vehicles at "
            f"HUB-{user.county_code} and its township stations only",
        )
    if values["shift_end"] <= values["shift_start"]:
        raise invalid(
            ["body", "shift_end"],
            f"shift ends at {values['shift_end']}, not after its start {values['shift_start']}",
        )
    if values["max_driving_h"] > values["max_shift_h"]:
        raise invalid(
            ["body", "max_driving_h"],
            f"must be at most the shift ({values['max_shift_h']} h), got {values['max_driving_h']}",
        )
    courier_id = values.get("courier_id")
    if courier_id is not None:
        courier = session.get(User, courier_id)
        if courier is None or courier.role != "courier" or not courier.active:
            raise invalid(["body", "courier_id"], f"user {courier_id} is not an active courier")


# ---- endpoints ------------------------------------------------------------------------

VehicleId = Annotated[str, Path(max_length=64, examples=["HUB-532326-V01"])]


@router.get("/vehicles", summary="list vehicles (scoped to the caller)")
def list_vehicles(
    session: SessionDep,
    page: PageDep,
    user: Annotated[User, require(*READERS)],
    depot: Annotated[
        str | None, Query(max_length=64, examples=["HUB-532326"], description="depot place id")
    ] = None,
    county: Annotated[
        str | None, Query(pattern=r"^\d{6}$", examples=["532326"], description="county code")
    ] = None,
    owner: Annotated[
        str | None, Query(max_length=64, examples=["HUB"], description="owner party id")
    ] = None,
    kind: Annotated[str | None, Query(max_length=64, examples=["van"])] = None,
    active: Annotated[
        bool | None, Query(description="only active (true) or retired (false) vehicles")
    ] = None,
) -> dict[str, Any]:
    query = _scope(select(Vehicle), session, user)
    for column, value in (
        (Vehicle.depot, depot),
        (Vehicle.county_code, county),
        (Vehicle.owner, owner),
        (Vehicle.kind, kind),
        (Vehicle.active, active),
    ):
        if value is None:
            continue
        if isinstance(value, str) and bad_text(value):
            query = query.where(false())
        else:
            query = query.where(column == value)
    items, total = paginate(session, query, Vehicle, page, VEHICLE_SORTS)
    return page_body([VehicleOut.model_validate(v) for v in items], total, page)


@router.get("/vehicles/{vehicle_id}", response_model=VehicleOut, summary="one vehicle")
def get_vehicle(
    vehicle_id: VehicleId, session: SessionDep, user: Annotated[User, require(*READERS)]
) -> Any:
    return _visible(session, user, vehicle_id)


@router.post(
    "/vehicles",
    response_model=VehicleOut,
    status_code=status.HTTP_201_CREATED,
    summary="add a vehicle (admin; a dispatcher at the county's hub)",
)
def new_vehicle(
    body: VehicleIn, session: SessionDep, user: Annotated[User, require(*WRITERS)]
) -> Any:
    values = body.model_dump()
    _check(session, user, values)
    if session.get(Vehicle, body.id) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"vehicle {body.id!r} exists already (a retired one is revived with "
            "PATCH active=true)",
        )
    row = Vehicle(**values, county_code=depot_county(body.depot), active=True)
    session.add(row)
    audit.record(
        session,
        actor=user,
        action="vehicle.create",
        entity="vehicle",
        entity_id=row.id,
        after=row.model_dump(),
    )
    session.commit()
    session.refresh(row)
    return row


@router.patch(
    "/vehicles/{vehicle_id}",
    response_model=VehicleOut,
    summary="change a vehicle (assign a courier, shift, costs...)",
)
def change_vehicle(
    vehicle_id: VehicleId,
    body: VehiclePatch,
    session: SessionDep,
    user: Annotated[User, require(*WRITERS)],
) -> Any:
    row = _visible(session, user, vehicle_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name != "courier_id":
            raise invalid(["body", name], "may not be null")
    values = {**row.model_dump(), **changes}
    _check(session, user, values)
    before = row.model_dump()
    for name, value in changes.items():
        setattr(row, name, value)
    row.county_code = depot_county(row.depot)
    session.add(row)
    audit.record_change(
        session,
        actor=user,
        action="vehicle.update",
        entity="vehicle",
        entity_id=row.id,
        before=before,
        after=row.model_dump(),
    )
    session.commit()
    session.refresh(row)
    return row


@router.delete(
    "/vehicles/{vehicle_id}",
    response_model=VehicleOut,
    summary="retire a vehicle (active: false)",
)
def retire_vehicle(
    vehicle_id: VehicleId, session: SessionDep, user: Annotated[User, require(*WRITERS)]
) -> Any:
    row = _visible(session, user, vehicle_id)
    if row.active:
        audit.record(
            session,
            actor=user,
            action="vehicle.delete",
            entity="vehicle",
            entity_id=row.id,
            before={"active": True},
            after={"active": False},
        )
    row.active = False
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


@router.post(
    "/vehicles/import-bundled",
    response_model=ImportOut,
    summary="load the bundled fleet (data/dispatch/fleet.csv) into the table (admin)",
    description="Adds every vehicle of the bundled fleet file and updates those that exist "
    "(by id), keeping their courier and whether they are retired.",
)
def import_bundled(session: SessionDep, admin: Annotated[User, require("admin")]) -> Any:
    imported, created, updated = vehicles.import_bundled(session, actor=admin)
    return ImportOut(imported=imported, created=created, updated=updated)
