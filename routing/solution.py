"""What a solver returns: ordered routes, unassigned tasks with reasons, and how it searched.

:class:`Solution` is the routing result type: ``routes`` and ``unassigned`` as data,
``cost()`` and ``is_feasible()`` recomputed by the independent checker
(:mod:`routing.check`) on the problem it was solved for, and :class:`SolveStats` saying
which search path ran, why it stopped and what it found.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from routing.check import CheckReport, check_solution
from routing.model import RoutePlan

if TYPE_CHECKING:
    from routing.model import Problem

__all__ = ["PATHS", "REASONS", "RoutePlan", "Solution", "SolveStats", "Unassigned"]

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

# Search paths (SolveStats.path): our SISR search then OR-Tools local search from its
# routes; SISR alone (the polish was off, found nothing better, or could not read the
# routes); OR-Tools alone (the problem has a feature SISR does not model: ``fallback``
# says which); no search (nothing to route).
PATHS = ("sisr+ortools", "sisr", "ortools", "none")


@dataclass(frozen=True)
class Unassigned:
    task: int  # index into Problem.tasks
    reason: str  # one of REASONS
    detail: str  # a sentence a dispatcher understands


@dataclass(frozen=True)
class SolveStats:
    """How a solution was found. Seconds are wall clock; costs in problem cost units."""

    path: str  # one of PATHS
    seed: int = 0
    seconds: float = 0.0  # the whole solve, screening and polish included
    time_limit: float | None = None
    stopped_by: str = ""  # why the main search ended: max_runtime, max_iterations, ...
    fallback: str = ""  # why SISR did not run (path "ortools"), else ""
    sisr_iterations: int = 0
    sisr_seconds: float = 0.0
    sisr_cost: int | None = None  # SISR's objective (routes + unassigned penalties)
    polish: str = ""  # what the OR-Tools polish did: "improved", "no gain", "skipped: ..."
    polish_seconds: float = 0.0
    ortools_status: int | None = None
    objective: int | None = None  # the returned routes' objective, penalties included

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Solution:
    """Routes and unassigned tasks of one problem, with the statistics of the search."""

    routes: tuple[RoutePlan, ...]
    unassigned: tuple[Unassigned, ...]
    stats: SolveStats = field(default_factory=lambda: SolveStats(path="none"))
    problem: Problem | None = field(default=None, repr=False, compare=False)

    @cached_property
    def report(self) -> CheckReport:
        """The independent checker's report of these routes (needs ``problem``)."""
        if self.problem is None:
            raise ValueError("this solution carries no problem to check it against")
        return check_solution(self.problem, self.routes, [u.task for u in self.unassigned])

    def cost(self) -> int:
        """The routes' cost as the checker computes it (fixed costs included)."""
        return self.report.cost

    def is_feasible(self) -> bool:
        """True when the checker finds no violation and every task is routed or unassigned
        exactly once."""
        return self.report.feasible
