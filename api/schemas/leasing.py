"""Bodies of the leasing resources: listings of warehouse space and equipment, their day
calendar, and bookings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Text
from api.services import leasing

MAX_ID = 2**31 - 1


def _in_range(value: date) -> date:
    if not leasing.FIRST_DAY <= value <= leasing.LAST_DAY:
        raise ValueError(f"must be from {leasing.FIRST_DAY} to {leasing.LAST_DAY}")
    return value


Day = Annotated[date, AfterValidator(_in_range)]
Kind = Literal["warehouse", "equipment"]
Temperature = Literal["ambient", "chilled", "frozen"]
Unit = Literal["m2", "unit"]
EquipmentType = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="pallet, forklift, sorting_line, reefer_box, ... (lower-case, '_')",
        examples=["forklift"],
    ),
]
Capacity = Annotated[int, Field(gt=0, le=leasing.MAX_CAPACITY)]
Price = Annotated[
    int, Field(ge=0, le=leasing.MAX_PRICE_FEN, description="fen per unit (m2 or item) and day")
]
OrgId = Annotated[int, Field(ge=1, le=MAX_ID)]

_COLD_ROOM: dict[str, Any] = {
    "kind": "warehouse",
    "place_id": "HUB-532326",
    "name": "大姚县物流中心 冷库 A (0–4 °C)",
    "temperature": "chilled",
    "capacity": 100,
    "price_per_unit_day_fen": 150,
    "available_from": "2026-10-01",
    "available_to": "2026-12-31",
}
_FORKLIFTS: dict[str, Any] = {
    "kind": "equipment",
    "place_id": "HUB-532326",
    "name": "电动叉车 1.5 t",
    "equipment_type": "forklift",
    "capacity": 3,
    "price_per_unit_day_fen": 8000,
    "available_from": "2026-10-01",
    "available_to": "2026-10-31",
}


# ---- bodies ---------------------------------------------------------------------------


class ListingIn(BaseModel):
    kind: Kind = Field(description="warehouse space (m2) or equipment (a count)")
    place_id: Text = Field(
        min_length=1, max_length=64, description="where it is: a place id of the road network"
    )
    name: Text = Field(min_length=1, max_length=leasing.NAME_MAX)
    temperature: Temperature | None = Field(
        default=None, description="needed for warehouse space; optional for equipment"
    )
    equipment_type: EquipmentType | None = Field(
        default=None, description="needed for equipment; none for warehouse space"
    )
    unit: Unit | None = Field(
        default=None, description="m2 for warehouse space, unit for equipment (the default)"
    )
    capacity: Capacity = Field(description="m2 or number of items")
    price_per_unit_day_fen: Price
    available_from: Day
    available_to: Day = Field(
        description=f"inclusive; at most {leasing.MAX_DAYS} days after available_from"
    )
    org_id: OrgId | None = Field(
        default=None,
        description="the owning organisation (admins only; default: your organisation)",
    )

    model_config = ConfigDict(
        str_strip_whitespace=True,
        extra="forbid",
        json_schema_extra={"examples": [_COLD_ROOM, _FORKLIFTS]},
    )


class ListingPatch(BaseModel):
    """Fields to change; those left out keep their value."""

    name: Text | None = Field(default=None, min_length=1, max_length=leasing.NAME_MAX)
    price_per_unit_day_fen: Price | None = Field(
        default=None, description="applies to bookings made from now on"
    )
    status: Literal["active", "withdrawn"] | None = Field(
        default=None,
        description="withdrawn: no new bookings (confirmed ones stand); active: bookable again",
    )

    model_config = ConfigDict(
        str_strip_whitespace=True,
        extra="forbid",
        json_schema_extra={"examples": [{"price_per_unit_day_fen": 120}, {"status": "withdrawn"}]},
    )


class ListingOut(BaseModel):
    id: int
    org_id: int
    org_name: str | None
    kind: str
    place_id: str
    place_name: str | None
    county_code: str | None = Field(description="the county of the place")
    name: str
    temperature: str | None
    equipment_type: str | None
    unit: str
    capacity: int
    price_per_unit_day_fen: int
    available_from: date
    available_to: date
    status: str
    created_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")


class DayOut(BaseModel):
    day: date
    capacity: int
    booked: int
    free: int


class AvailabilityOut(BaseModel):
    listing_id: int
    unit: str
    start: date
    end: date
    days: list[DayOut] = Field(description="one per day the listing offers in start..end")


class BookingIn(BaseModel):
    start_day: Day
    end_day: Day = Field(description="inclusive")
    quantity: int = Field(gt=0, le=leasing.MAX_CAPACITY, description="m2 or number of items")
    org_id: OrgId | None = Field(
        default=None, description="the booking organisation (admins only; default: yours)"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"start_day": "2026-10-03", "end_day": "2026-10-05", "quantity": 20}]
        },
    )


class BookingOut(BaseModel):
    id: int
    listing_id: int
    org_id: int = Field(description="the organisation that booked")
    start_day: date
    end_day: date = Field(description="inclusive")
    days: int
    quantity: int
    unit: str
    price_fen: int = Field(description="quantity x days x price per unit-day")
    status: str = Field(description="confirmed | cancelled")
    created_by: int | None
    created_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")


BOOKING_EXAMPLES: dict[str, Any] = {
    "cold room": {
        "summary": "20 m2 for three days",
        "value": {"start_day": "2026-10-03", "end_day": "2026-10-05", "quantity": 20},
    },
    "forklift": {
        "summary": "one forklift for a day",
        "value": {"start_day": "2026-10-03", "end_day": "2026-10-03", "quantity": 1},
    },
}
