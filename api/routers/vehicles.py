"""The fleet: vehicles at the public warehouse and the county hubs.

Admins manage every vehicle; a county dispatcher the vehicles at the county's hub
(``HUB-<county>``); a carrier user may read its own party's vehicles. Deleting retires a
vehicle (``active: false``); the planner uses active vehicles only. The rules are those of
the fleet file (:mod:`dispatch.io.fleet`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import false
from sqlmodel import Session, select

from api.deps import PageDep, SafeRoute, SessionDep, invalid, page_body, paginate, require
from api.errors import NotFound
from api.models import User, Vehicle
from api.schemas.common import Text, bad_text
from api.services.convert import depot_county, vehicle_row
from api.services.reference import network, parties, served
from api.services.users import carrier_party
from dispatch.io.fleet import DEPOT_KINDS, PROFILES, owner_problem

router = APIRouter(tags=["vehicles"], route_class=SafeRoute)

READERS = ("admin", "dispatcher", "carrier")
WRITERS = ("admin", "dispatcher")
VEHICLE_SORTS = ("id", "depot", "county_code", "owner", "kind", "capacity_kg")
MAX_INT = 2**31 - 1

ClockText = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["06:00"])]
Money = Annotated[int, Field(ge=0, le=100_000_000, description="integer fen")]
Hours = Annotated[float, Field(gt=0, le=24, allow_inf_nan=False)]

_EXAMPLE: dict[str, Any] = {
    "id": "HUB-532326-V09",
    "owner": "HUB",
    "depot": "HUB-532326",
    "kind": "van",
    "profile": "van",
    "capacity_kg": 1500,
    "capacity_m3": 9.0,
    "refrigerated": False,
    "freezer": False,
    "livestock": False,
    "fixed_fen": 6500,
    "per_km_fen": 95,
    "per_hour_fen": 2800,
    "shift_start": "07:00",
    "shift_end": "19:00",
    "max_shift_h": 12.0,
    "max_driving_h": 8.0,
    "name": "大姚县物流中心 厢式货车 9",
    "courier_id": None,
}


def _profile(value: str) -> str:
    if value not in PROFILES:
        raise ValueError(f"must be one of {', '.join(PROFILES)}, got {value!r}")
    return value


Profile = Annotated[str, AfterValidator(_profile)]


class VehiclePatch(BaseModel):
    """Fields to change; those left out keep their value. ``courier_id: null`` unassigns."""

    owner: Text | None = Field(
        default=None, min_length=1, max_length=64, description="party id of the owner"
    )
    depot: Text | None = Field(
        default=None, min_length=1, max_length=64, description="WH-CX or HUB-<county code>"
    )
    kind: Text | None = Field(default=None, min_length=1, max_length=64)
    profile: Profile | None = Field(
        default=None, description="routing profile: " + ", ".join(PROFILES)
    )
    capacity_kg: int | None = Field(default=None, gt=0, le=1_000_000)
    capacity_m3: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)
    refrigerated: bool | None = None
    freezer: bool | None = None
    livestock: bool | None = None
    fixed_fen: Money | None = None
    per_km_fen: Money | None = None
    per_hour_fen: Money | None = None
    shift_start: ClockText | None = None
    shift_end: ClockText | None = None
    max_shift_h: Hours | None = None
    max_driving_h: Hours | None = None
    name: Text | None = Field(default=None, max_length=200)
    courier_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="the courier (user id) who drives it"
    )
    active: bool | None = None

    model_config = ConfigDict(
        str_strip_whitespace=True,
        extra="forbid",
        json_schema_extra={"examples": [{"courier_id": 4, "shift_start": "06:30"}]},
    )


class VehicleIn(BaseModel):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
        description="vehicle id (letters, digits, '-', '_', '.')",
    )
    owner: Text = Field(min_length=1, max_length=64, description="party id of the owner")
    depot: Text = Field(min_length=1, max_length=64, description="WH-CX or HUB-<county code>")
    kind: Text = Field(min_length=1, max_length=64, description="truck, van, reefer_van, ...")
    profile: Profile = Field(description="routing profile: " + ", ".join(PROFILES))
    capacity_kg: int = Field(gt=0, le=1_000_000)
    capacity_m3: float = Field(gt=0, le=10_000, allow_inf_nan=False)
    refrigerated: bool = False
    freezer: bool = False
    livestock: bool = False
    fixed_fen: Money = 0
    per_km_fen: Money = 0
    per_hour_fen: Money = 0
    shift_start: ClockText = "08:00"
    shift_end: ClockText = "20:00"
    max_shift_h: Hours = 12.0
    max_driving_h: Hours = 8.0
    name: Text = Field(default="", max_length=200)
    courier_id: int | None = Field(default=None, ge=1, le=MAX_INT)

    model_config = ConfigDict(
        str_strip_whitespace=True, extra="forbid", json_schema_extra={"examples": [_EXAMPLE]}
    )


class VehicleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    depot: str
    county_code: str | None
    kind: str
    profile: str
    capacity_kg: int
    capacity_m3: float
    refrigerated: bool
    freezer: bool
    livestock: bool
    fixed_fen: int
    per_km_fen: int
    per_hour_fen: int
    shift_start: str
    shift_end: str
    max_shift_h: float
    max_driving_h: float
    name: str
    courier_id: int | None
    active: bool


class ImportOut(BaseModel):
    imported: int = Field(description="vehicles in the bundled fleet file")
    created: int
    updated: int


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
    """WH-CX and the hubs of the served counties."""
    out = set()
    for place in network().places:
        if place.kind not in DEPOT_KINDS:
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
        raise invalid(
            ["body", "depot"],
            f"unknown depot {values['depot']!r}; one of {', '.join(sorted(depots))}",
        )
    if user.role == "dispatcher" and values["depot"] != f"HUB-{user.county_code}":
        raise invalid(
            ["body", "depot"],
            f"a dispatcher of county {user.county_code} manages the vehicles at "
            f"HUB-{user.county_code} only",
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
    for name, value in changes.items():
        setattr(row, name, value)
    row.county_code = depot_county(row.depot)
    session.add(row)
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
    dependencies=[require("admin")],
)
def import_bundled(session: SessionDep) -> Any:
    from dispatch.io.fleet import load_fleet

    depots = {p.id for p in network().places if p.kind in DEPOT_KINDS}
    specs = load_fleet(parties=parties(), place_ids=depots)
    created = updated = 0
    for spec in specs:
        fresh = vehicle_row(spec)
        row = session.get(Vehicle, spec.id)
        if row is None:
            session.add(fresh)
            created += 1
            continue
        for name, value in fresh.model_dump(exclude={"id", "courier_id", "active"}).items():
            setattr(row, name, value)
        session.add(row)
        updated += 1
    session.commit()
    return ImportOut(imported=len(specs), created=created, updated=updated)
