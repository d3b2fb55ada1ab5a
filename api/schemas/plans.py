"""Bodies of /plans: a planning job, its plan, publishing and replanning it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, MomentIn


class PlanIn(BaseModel):
    plan_date: date = Field(description="the day to plan (Asia/Shanghai)")
    counties: list[str] | None = Field(
        default=None,
        description="county codes; default: a dispatcher's county, or every served county",
    )
    time_limit: float | None = Field(
        default=None, gt=0, le=600, description="optimisation seconds (default: the service's)"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"plan_date": "2026-09-15", "counties": ["532326"]}]}
    )


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_date: date
    counties: list[str] | None
    status: str
    progress: float
    message: str
    attempts: int
    error: str | None
    created_at: Moment | None
    started_at: Moment | None
    finished_at: Moment | None
    published_at: Moment | None
    flags: list[dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None


class ReplanIn(BaseModel):
    at: MomentIn | None = Field(
        default=None,
        description="replan from this moment (ISO 8601 with zone); default: now",
    )
    time_limit: float | None = Field(default=None, gt=0, le=600)

    model_config = ConfigDict(json_schema_extra={"examples": [{"at": "2026-09-15T13:30:00+08:00"}]})


class PublishIn(BaseModel):
    assignments: dict[str, int] = Field(
        default_factory=dict,
        description="route id -> courier user id; routes not listed take the courier of "
        "their vehicle (vehicles.courier_id), if any",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"assignments": {"C-532326-01": 4, "T-01": 5}}]}
    )
