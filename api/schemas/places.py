"""Bodies of /places: a place of the road network, a corrected point, and the list of
recent corrections (who placed what, where it was before)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Text


class CorrectionOut(BaseModel):
    source: str
    corrected_by: int | None
    corrected_by_username: str | None = Field(
        default=None, description="the corrector's username (null if the account is gone)"
    )
    corrected_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")


class PlaceOut(BaseModel):
    id: str
    kind: str
    name_zh: str
    name_pinyin: str
    county_code: str
    township_code: str
    township_zh: str | None = Field(
        default=None, description="the parent township's Chinese name (villages)"
    )
    township_pinyin: str | None = Field(default=None, description="its pinyin name")
    lon: float | None = Field(description="WGS84 longitude; null when unlocated")
    lat: float | None = Field(description="WGS84 latitude; null when unlocated")
    located: bool = Field(
        description="has coordinates the planner can use (a corrected place always has)"
    )
    corrected: bool = Field(description="the coordinates are a correction")
    coord_source: str
    notes: str
    correction: CorrectionOut | None = None
    open_orders: int | None = Field(
        default=None,
        description="open orders of the day `orders_on` with this place as their rural end "
        "(destination of a down order, origin of an up order); only with `orders_on`",
    )


class PlaceCorrectionIn(BaseModel):
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")
    source: Text = Field(
        min_length=1, max_length=200, description="where the point comes from (survey, GPS)"
    )

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"lon": 101.3312, "lat": 25.7421, "source": "GPS survey by 大姚县物流中心"}
            ]
        },
    )


class PointOut(BaseModel):
    lon: float
    lat: float


class PlaceRef(BaseModel):
    id: str
    kind: str
    name_zh: str
    name_pinyin: str
    county_code: str
    township_code: str


class CorrectionListItem(BaseModel):
    id: int
    place: PlaceRef
    lon: float = Field(description="the corrected WGS84 longitude")
    lat: float = Field(description="the corrected WGS84 latitude")
    previous: PointOut | None = Field(
        description="where the place was before: the previous correction, else the bundled "
        "point; null when it had none (an unlocated place)"
    )
    source: str
    corrected_by: int | None
    corrected_by_username: str | None
    corrected_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")
