"""What a solver returns: ordered routes and unassigned tasks with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing.model import Step

REASONS = (
    "capacity",
    "time_window",
    "skills",
    "max_travel_time",
    "max_tasks",
    "unreachable",
    "no_vehicle",
    "other",
)


@dataclass(frozen=True)
class RoutePlan:
    """One vehicle's route: its task and break steps in order (start and end implied)."""

    vehicle: int  # index into Problem.vehicles
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Unassigned:
    task: int  # index into Problem.tasks
    reason: str  # one of REASONS
    detail: str  # a sentence a dispatcher understands


@dataclass(frozen=True)
class Solution:
    routes: tuple[RoutePlan, ...]
    unassigned: tuple[Unassigned, ...]
    stats: dict[str, Any] = field(default_factory=dict)  # solver figures (time, search)
