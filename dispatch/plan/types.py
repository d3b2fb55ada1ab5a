"""The types of a planned day: options, each order's path, outcomes, plan runs, the plan.

Also the constants every planning module shares: the public warehouse ``WAREHOUSE``, the
depot id of a county's hub (:func:`hub_of`) and ``NO_DUE``, the due time of an order
without one. Units: metres, seconds from the plan day's midnight (``*_s``), integer fen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any

from dispatch.domain import Day, Order
from dispatch.plan.echelon import Lot, ServiceTimes, StageResult, TimedRoute
from routing.errors import InputError
from routing.model import MAX_TIME

__all__ = [
    "NO_DUE",
    "WAREHOUSE",
    "OrderPath",
    "Outcome",
    "Plan",
    "PlanOptions",
    "PlanRun",
    "hub_of",
]


WAREHOUSE = "WH-CX"
NO_DUE = MAX_TIME // 2


POLISH_MODES = ("descent", "gls", "none")
LAST_MILE_MODES = ("auto", "direct", "stations")


def hub_of(county: str) -> str:
    """The place id of a county's hub (the county code: ``HUB-532326``)."""
    return f"HUB-{county}"


@dataclass(frozen=True)
class PlanOptions:
    """Knobs of a plan; defaults are the platform's operating rules."""

    time_limit: float = 25.0  # optimisation budget, seconds of wall clock for all stages
    seed: int = 0
    workers: int = 0  # worker processes; 0 = one per CPU
    counties: tuple[str, ...] = ()  # empty = every served county
    separate: bool = True  # also plan every party alone
    latest_collect: dtime = dtime(18, 0)  # produce leaves a hub for WH-CX at the latest
    collect_margin_s: int = 3600  # trunk back at WH-CX this long before its shift ends
    service: ServiceTimes = field(default_factory=ServiceTimes)
    handling_margin_s: int = 3600  # loading and handing over, when timing trunk arrivals
    lot_share: float = 0.5  # largest lot: this share of the largest suitable vehicle
    shapley_exact_max: int = 8
    shapley_samples: int = 2000
    dump_problems: Path | None = None  # write every stage's routing problem here (VROOM JSON)
    # A shared stage's lots weigh this many times a separate plan's in the time budget: the
    # shared plan is what runs on the road; the separate plans only price the comparison,
    # and their small stages converge early, so they seldom use all of their limit.
    # More time lowers a shared stage's cost (the bundled day's 7 county and trunk-down
    # stages at 1, 3, 8 s each: 0.975, 0.973, 0.966 x VROOM's, 2026-12-02); at 5 the warm
    # plan of the bundled day takes about 21 s of its 25 s budget.
    shared_weight: float = 5.0
    # Villages with a service point (shared plan; dispatch.plan.lastmile): "auto" plans
    # them on the county routes and by a last mile from their township stations (where the
    # station has vehicles) and keeps, per county, whichever serves more orders, then
    # costs less; "direct" only on the county routes; "stations" by the last mile wherever
    # a station has vehicles (what-ifs).
    last_mile: str = "auto"
    # Reproducible effort (simulations of many days): every stage's search stops after
    # this many iterations per lot (shared lots weigh ``shared_weight``), so a seed gives
    # the same plan on any machine; ``time_limit`` then only caps it (a stage that hits
    # the cap is counted in ``StageResult.stats``). 0: the wall-clock budget alone.
    iterations_per_lot: int = 0
    # OR-Tools' polish of the search's routes ("descent", "gls" or "none"; see
    # routing.solver.SearchConfig.polish). Simulations use "none": it is time-bound.
    polish: str = "descent"
    min_stage_s: float = 0.3  # no stage gets less of the budget than this

    def __post_init__(self) -> None:
        if self.last_mile not in LAST_MILE_MODES:
            raise InputError(
                "last_mile", f"one of {', '.join(LAST_MILE_MODES)}, not {self.last_mile!r}"
            )
        if self.polish not in POLISH_MODES:
            raise InputError("polish", f"one of {', '.join(POLISH_MODES)}, not {self.polish!r}")
        if self.iterations_per_lot < 0:
            raise InputError("iterations_per_lot", "must be >= 0")
        if not self.min_stage_s > 0:
            raise InputError("min_stage_s", "must be > 0 seconds")


@dataclass(frozen=True)
class OrderPath:
    """Where an order goes through the echelons."""

    order: Order
    county: str
    stop: str  # place where the county vehicle calls
    held: bool  # a village's order held at its township station
    trunk: bool  # has a trunk leg (to or from WH-CX)
    ready_s: int
    due_s: int


@dataclass
class Outcome:
    """What happened to one order in one plan."""

    assigned: bool = False
    reason: str = ""
    detail: str = ""
    legs: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    # echelon -> (route id, pickup begin s, delivery begin s)


@dataclass
class PlanRun:
    """One plan (the shared one, or one party's separate plan) over its stages."""

    name: str
    party: str | None  # None for the shared plan
    trunk: StageResult | None = None  # parcels down to the hubs
    trunk_up: StageResult | None = None  # produce up to the warehouse
    counties: dict[str, StageResult] = field(default_factory=dict)
    # county -> the last-mile stages from its township stations, when they won
    last_mile: dict[str, tuple[StageResult, ...]] = field(default_factory=dict)
    # county -> how its villages were reached: both ways' orders served and cost, the choice
    village_choice: dict[str, dict[str, Any]] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    order_lots: dict[str, dict[str, int]] = field(default_factory=dict)  # order -> echelon -> lot

    def trunk_routes(self) -> list[TimedRoute]:
        return [r for stage in (self.trunk, self.trunk_up) if stage for r in stage.routes]

    def last_mile_routes(self, county: str) -> list[TimedRoute]:
        return [r for stage in self.last_mile.get(county, ()) for r in stage.routes]

    def stage_results(self) -> list[StageResult]:
        """Every solved stage of the run: trunk down, up, each county and its last mile."""
        out = [x for x in (self.trunk, self.trunk_up) if x is not None]
        for county in sorted(self.counties):
            out.append(self.counties[county])
            out.extend(self.last_mile.get(county, ()))
        return out

    def routes(self) -> list[TimedRoute]:
        out = self.trunk_routes()
        for county in sorted(self.counties):
            out.extend(self.counties[county].routes)
            out.extend(self.last_mile_routes(county))
        return out

    def cost_fen(self) -> int:
        return sum(r.cost_fen for r in self.routes())


@dataclass
class Plan:
    """A finished day: the shared plan, the separate plans, outcomes and allocations."""

    day: Day
    options: PlanOptions
    paths: dict[str, OrderPath]
    rejected: dict[str, tuple[str, str]]  # order id -> (reason, detail) before routing
    shared: PlanRun
    separate: dict[str, PlanRun]
    outcomes: dict[str, Outcome]
    route_ids: dict[int, str]  # id(TimedRoute) -> route id
    allocations: dict[str, Any] = field(default_factory=dict)  # route id -> RouteAllocation
    seconds: float = 0.0
    network_source: str = ""
    collects: dict[str, int] = field(default_factory=dict)  # county -> trunk collection (s)
    separate_served: frozenset[str] = frozenset()  # orders the parties alone get through

    @property
    def separate_assigned(self) -> int:
        return len(self.separate_served)

    @property
    def sheet_lots(self) -> dict[int, Lot]:
        return self.shared.lots

    @functools.cached_property
    def order_index(self) -> dict[str, Order]:
        """The day's orders by id."""
        return {o.id: o for o in self.day.orders}

    def shared_routes(self) -> list[tuple[str, TimedRoute]]:
        return [(self.route_ids[id(r)], r) for r in self.shared.routes()]
