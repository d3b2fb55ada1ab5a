"""Bodies of /route-sheets: a sheet's summary, stop events (the courier app's reports),
stop states, photos, and handing a sheet to a courier."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, MomentIn
from api.services.sheets import CLIENT_EVENT_ID_MAX

MAX_SEQ = 100_000
EventType = Literal["arrived", "delivered", "picked_up", "failed"]

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # one line, no control characters
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # free text; newlines and tabs allowed


class SheetSummary(BaseModel):
    id: int
    plan_id: int
    plan_date: str | None = None
    route_id: str
    echelon: str
    county_code: str | None
    vehicle_id: str
    courier_id: int | None
    status: str
    stops: int = Field(description="number of stops")
    distance_m: float | None = None
    start_time: str | None = Field(default=None, description="when the vehicle leaves its depot")


class EventIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_event_id": "6f1c2d9e-arrived-3",
                    "seq": 3,
                    "type": "arrived",
                    "occurred_at": "2025-03-18T10:42:00+08:00",
                }
            ]
        },
    )

    client_event_id: str = Field(
        min_length=1,
        max_length=CLIENT_EVENT_ID_MAX,
        pattern=PRINTABLE,
        description="made by the courier app once per event; a retry sends the same id",
    )
    seq: int = Field(ge=1, le=MAX_SEQ, description="the stop's sequence number on the sheet")
    type: EventType
    reason: str | None = Field(
        default=None, max_length=500, pattern=TEXT, description="why a stop failed (required)"
    )
    signer_name: str | None = Field(
        default=None, max_length=100, pattern=TEXT, description="who signed for a delivery"
    )
    pickup_code: str | None = Field(
        default=None, max_length=64, pattern=PRINTABLE, description="code shown by the sender"
    )
    occurred_at: MomentIn | None = Field(
        default=None, description="when it happened on the road (ISO 8601 with zone); default now"
    )
    lon: float | None = Field(
        default=None, ge=-180, le=180, description="where the phone was (WGS84; with lat)"
    )
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="where the phone was (WGS84; with lon)"
    )
    accuracy_m: float | None = Field(
        default=None, ge=0, le=100_000, description="the position's accuracy radius, metres"
    )


EVENT_EXAMPLES: dict[str, Any] = {
    "arrived": {
        "summary": "arrived at a stop",
        "value": {
            "client_event_id": "6f1c2d9e-arrived-3",
            "seq": 3,
            "type": "arrived",
            "occurred_at": "2025-03-18T10:42:00+08:00",
        },
    },
    "delivered": {
        "summary": "parcels handed over, signed for",
        "value": {
            "client_event_id": "6f1c2d9e-delivered-3",
            "seq": 3,
            "type": "delivered",
            "signer_name": "李桂英",
        },
    },
    "picked_up": {
        "summary": "produce collected",
        "value": {
            "client_event_id": "6f1c2d9e-picked-3",
            "seq": 3,
            "type": "picked_up",
            "pickup_code": "4821",
        },
    },
    "failed": {
        "summary": "stop failed (reason required)",
        "value": {
            "client_event_id": "6f1c2d9e-failed-4",
            "seq": 4,
            "type": "failed",
            "reason": "塌方封路 road closed by a landslide",
        },
    },
}


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sheet_id: int
    seq: int
    type: str
    client_event_id: str
    reason: str | None = None
    signer_name: str | None = None
    pickup_code: str | None = None
    photo_path: str | None = None
    occurred_at: Moment | None = None
    recorded_at: Moment | None = None
    user_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    distance_m: float | None = Field(default=None, description="from the stop's planned point")
    off_point: bool = Field(
        default=False, description="recorded more than 300 m (beyond the accuracy) from the stop"
    )


class StopState(BaseModel):
    seq: int
    status: str = Field(description="pending, arrived, completed or failed")
    needs_drop: bool
    needs_pickup: bool
    delivered: bool
    picked_up: bool
    updated_at: Moment | None = None


class EventAnswer(BaseModel):
    event: EventOut = Field(description="the event as stored (the earlier one for a retry)")
    stop: StopState = Field(description="the stop's state now")
    sheet_status: str = Field(description="the route sheet's status now")


class PhotoOut(BaseModel):
    path: str = Field(description="relative to the photo directory: <sheet id>/<seq>-<uuid>.<ext>")
    size: int = Field(description="bytes")
    content_type: str
    client_event_id: str | None = None


class CourierIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"courier_id": 4}]})

    courier_id: int | None = Field(
        description="the courier user who drives the route from now on; null takes an "
        "unstarted sheet back"
    )
