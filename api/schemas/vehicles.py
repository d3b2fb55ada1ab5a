"""Bodies of /vehicles: a vehicle of the fleet (new, changed, as answered) and the import
of the bundled fleet."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.schemas.common import Text
from dispatch.io.fleet import PROFILES

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
