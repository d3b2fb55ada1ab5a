"""Bodies of /closures: a road closed between two places for a time range."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import Moment, MomentIn


class ClosureIn(BaseModel):
    from_place: str = Field(description="place id at one end of the closed road")
    to_place: str = Field(description="place id at the other end")
    starts_at: MomentIn = Field(description="ISO 8601 with zone")
    ends_at: MomentIn
    reason: str = Field(default="", max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_place": "HUB-532326",
                    "to_place": "532326104",
                    "starts_at": "2026-07-20T06:00:00+08:00",
                    "ends_at": "2026-07-23T18:00:00+08:00",
                    "reason": "塌方 landslide on the county road",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _times(self) -> ClosureIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ClosureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_place: str
    to_place: str
    county_code: str | None
    starts_at: Moment | None
    ends_at: Moment | None
    reason: str
    created_at: Moment | None
    edges: list[int] = Field(default_factory=list, description="road segments closed")
    flagged_plans: list[int] = Field(default_factory=list)
