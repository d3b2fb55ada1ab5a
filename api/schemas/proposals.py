"""Bodies of /place-proposals: a proposed service point of an unlocated village or
township (from the field or the console), its review (accept, move, reject) and the
proposal as answered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Text
from api.schemas.places import PlaceOut

#: What a client id may hold: printable ASCII, no spaces.
CLIENT_ID = r"^[!-~]+$"
NOTE_MAX = 500

#: proposed: waiting for review; superseded: another proposal of the place was accepted.
ProposalStatus = Literal["proposed", "accepted", "rejected", "superseded"]


class ProposalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "place_id": "532326101002",
                    "lon": 101.3312,
                    "lat": 25.7421,
                    "accuracy_m": 12,
                    "note": "村委会门口的小卖部",
                    "client_id": "2b1f6c1e-5d0a-4f43-9d1e-0c2f6a1b7e55",
                }
            ]
        },
    )

    place_id: str = Field(min_length=1, max_length=64, description="the village or township")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")
    accuracy_m: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        allow_inf_nan=False,
        description="the phone's accuracy radius in metres, when it gave one",
    )
    note: Text = Field(default="", max_length=NOTE_MAX, description="what and where it is")
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=CLIENT_ID,
        description="made by the app once per proposal: a retry with it answers the first one",
    )


class AcceptIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{}, {"lon": 101.3315, "lat": 25.7419, "note": "移到路口"}]},
    )

    lon: float | None = Field(
        default=None,
        ge=-180,
        le=180,
        allow_inf_nan=False,
        description="accept at this corrected point instead (give lat too)",
    )
    lat: float | None = Field(
        default=None, ge=-90, le=90, allow_inf_nan=False, description="with lon"
    )
    note: Text = Field(default="", max_length=NOTE_MAX, description="the reviewer's note")


class RejectIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"note": "这是乡政府，不是村委会"}]},
    )

    note: Text = Field(min_length=1, max_length=NOTE_MAX, description="why (the proposer reads it)")


class ProposalOut(BaseModel):
    id: int
    place: PlaceOut = Field(
        description="the place as it is now (located: true once a proposal of it is accepted)"
    )
    county_code: str
    lon: float = Field(description="the proposed WGS84 longitude")
    lat: float = Field(description="the proposed WGS84 latitude")
    accuracy_m: float | None
    note: str
    source: Literal["field", "console"] = Field(
        description="field: a courier at the place; console: a dispatcher or admin on the map"
    )
    client_id: str | None
    status: ProposalStatus
    proposed_by: int | None
    proposed_by_username: str | None
    proposed_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")
    reviewed_by: int | None
    reviewed_by_username: str | None
    reviewed_at: Moment | None = Field(description="ISO 8601, Asia/Shanghai")
    review_note: str
    correction_id: int | None = Field(description="the place correction an acceptance wrote")
    photo_url: str | None = Field(description="the photo, when one was uploaded")
