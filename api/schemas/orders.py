"""Bodies of /orders: one order (the columns of the order file), bulk and upload answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Text
from dispatch.io.orders import COLUMNS

EXAMPLE: dict[str, Any] = {
    "order_id": "20260915-D00421",
    "party": "ZTO",
    "direction": "down",
    "origin": "HUB-532326",
    "destination": "532326101001",
    "weight_kg": 12.5,
    "volume_m3": 0.08,
    "pieces": 2,
    "temperature": "ambient",
    "ready_time": "2026-09-15T07:30:00+08:00",
    "due_time": "2026-09-15T18:00:00+08:00",
    "live_animal": False,
    "tracking_numbers": ["ZT7801234501", "ZT7801234502"],
    "goods": "包裹",
}
EXAMPLE_UP: dict[str, Any] = {
    "order_id": "20260915-U00007",
    "party": "coop-dayao-walnut",
    "direction": "up",
    "origin": "532326101001",
    "destination": "WH-CX",
    "weight_kg": 480,
    "pieces": 16,
    "ready_time": "09:00",
    "due_time": "17:00",
    "goods": "核桃",
    "plan_date": "2026-09-15",
}

Number = float | int | Text
Flag = bool | int | Text


class OrderIn(BaseModel):
    """One order, with the columns of the order file (see ``dispatch/orders.py``).

    ``order_id``, ``party``, ``direction``, ``origin``, ``destination``, ``weight_kg`` and
    ``pieces`` are required; the values are checked like the cells of an uploaded file
    (so ``"12.5"`` and ``12.5`` are both a weight, ``下行`` is ``down``).
    """

    order_id: Text | None = Field(default=None, description="unique order id")
    party: Text | None = Field(default=None, description="carrier or shipper party id")
    direction: Text | None = Field(default=None, description="down or up (下行 / 上行)")
    origin: Text | None = Field(default=None, description="place id")
    destination: Text | None = Field(default=None, description="place id")
    weight_kg: Number | None = Field(default=None, description="> 0 and <= 100000")
    volume_m3: Number | None = Field(default=None, description=">= 0, default 0")
    pieces: Number | None = Field(default=None, description="whole number >= 1")
    temperature: Text | None = Field(default=None, description="ambient, chilled or frozen")
    ready_time: Text | None = Field(
        default=None, description="ISO 8601 date and time, or HH:MM on the plan date"
    )
    due_time: Text | None = Field(
        default=None, description="ISO 8601 date and time, or HH:MM; after ready_time"
    )
    live_animal: Flag | None = Field(default=None, description="true/false")
    tracking_numbers: list[Text] | Text | None = Field(
        default=None, description="exactly `pieces` numbers when given ('a;b' text also works)"
    )
    goods: Text | None = Field(default=None, description="what it is (包裹, 核桃, 野生菌)")
    plan_date: date | None = Field(
        default=None, description="the day to plan it; default: the day of ready_time"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "required": [
                "order_id",
                "party",
                "direction",
                "origin",
                "destination",
                "weight_kg",
                "pieces",
            ],
            "examples": [EXAMPLE, EXAMPLE_UP],
        }
    )


assert set(OrderIn.model_fields) == {*COLUMNS, "plan_date"}


class OrderOut(BaseModel):
    id: int
    order_id: str
    party: str
    direction: str
    origin: str
    destination: str
    county_code: str = Field(description="county of the township or village end")
    plan_date: date
    weight_kg: float
    volume_m3: float
    pieces: int
    temperature: str
    ready_time: Moment | None = Field(description="ISO 8601, Asia/Shanghai (+08:00)")
    due_time: Moment | None = Field(description="ISO 8601, Asia/Shanghai (+08:00)")
    live_animal: bool
    tracking_numbers: list[str]
    goods: str
    status: str
    plan_id: int | None
    created_by: int | None
    created_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai (+08:00)")


class ItemError(BaseModel):
    index: int = Field(description="position in the list, from 0")
    field: str = Field(description="the field at fault; empty for the whole item")
    value: str
    reason: str


class BulkOut(BaseModel):
    imported: int
    order_ids: list[str]
    errors: list[ItemError] = Field(description="the orders left out (skip_bad only)")
    warnings: list[str]


class RowErrorOut(BaseModel):
    line: int = Field(description="line of the file (CSV) or row (XLSX); the header is 1")
    column: str = Field(description="the column at fault; empty for the whole row")
    value: str
    reason: str


class UploadOut(BaseModel):
    imported: int
    rows: int = Field(description="data rows read (blank rows not counted)")
    errors: list[RowErrorOut] = Field(description="the rows left out (skip_bad only)")
    warnings: list[str]
