"""The daily co-distribution plan: trunk and county echelons, shared and separate.

How a day is planned (:func:`plan_day`):

1. **Paths.** Each order gets its path through the echelons. A ``down`` order from the
   public warehouse WH-CX rides a trunk route to its county hub and a county route to its
   stop; one from the hub rides only the county route. An ``up`` order rides a county route
   from its stop to the hub and, when it is bound for the warehouse, a trunk route on. A
   village without coordinates is served at its township station, which holds the goods
   for the village (the summary counts these orders); a township without coordinates
   cannot be routed and its orders are unassigned as ``unreachable``.
2. **Trunk echelon** (one problem, vehicles at WH-CX): lots of parcels from WH-CX to each
   hub, ready when the orders are ready at the warehouse; lots of produce from each hub to
   WH-CX, collectable at the hub from the hub's *collection time* and due at the
   warehouse by the orders' due times (wild mushrooms: 24 h after picking). A hub's
   collection time is as late as a trunk truck can still leave it and be back at WH-CX an
   hour before its shift ends, capped at ``latest_collect`` (18:00), so a near hub
   collects later than a far one and county routes get the whole working day.
   A truck may drop parcels in the morning, wait, and bring produce back.
3. **County echelons** (one problem per hub, solved in parallel processes): parcels are
   picked up at the hub no earlier than ``transfer_s`` after their trunk lot reached it;
   produce bound for the warehouse must be at the hub ``transfer_s`` before the trunk
   collection time. Deliveries and pickups share routes; cold chain and live animals are
   vehicle skills; shifts bound each vehicle's day. Vehicles may return to the hub to
   reload (a pickup at the hub can happen at any time after the goods are there).
4. **Trunk trimming.** Produce a county route could not collect is taken off the trunk
   routes, which are re-timed and re-costed.
5. **Separate plan.** The same orders, each party (carrier or shipper) alone: its own
   lots, its own vehicles at each depot and, hired at the same rates, a copy of every
   vehicle of the depot's shared pool, so no party alone is short of vehicles and the
   comparison favours the separate plan (the saving reported is conservative).
6. **Cost allocation** of every shared route (``dispatch.costs.allocation``) with coalition
   costs from the route shortcut past the other participants' stops (see
   :func:`allocate_routes`).

Synchronisation between echelons is a set of time windows, and :func:`check_synchronisation`
verifies it on the finished plan.

This module holds the orchestration; the parts live beside it: ``types`` (options, paths,
outcomes, plan runs, the plan), ``stages`` (order paths, fleets, stage problems),
``timing`` (collection times, hub and trunk arrivals), ``pool`` (worker processes and the
time budget), ``progress``, ``outcomes`` (route ids, each order's outcome) and ``sync``
(:func:`check_synchronisation`). The names other packages import from here are re-exported.
Units: metres, seconds (from the plan day's midnight), integer fen.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dispatch.costs.shares import allocate_routes
from dispatch.domain import Day, Order, VehicleSpec
from dispatch.plan.echelon import Stage, StageResult
from dispatch.plan.lastmile import VIA_SUFFIX, choose, station_legs, station_times
from dispatch.plan.outcomes import number_routes, order_outcomes
from dispatch.plan.pool import solve_all, start_pool, warm_hierarchies, worker_count
from dispatch.plan.progress import Progress
from dispatch.plan.stages import (
    county_stage,
    last_mile_stage,
    order_paths,
    pool_vehicles,
    register_lots,
    reuse_vehicles,
    station_vehicles,
    trunk_stage,
    vehicles_for,
)
from dispatch.plan.sync import check_synchronisation
from dispatch.plan.timing import collection_times, hub_arrivals, latest_at_hub, trunk_arrivals
from dispatch.plan.types import (
    NO_DUE,
    WAREHOUSE,
    OrderPath,
    Outcome,
    Plan,
    PlanOptions,
    PlanRun,
    hub_of,
)

if TYPE_CHECKING:
    from routing.network import RoadNetwork

__all__ = [
    "NO_DUE",
    "WAREHOUSE",
    "OrderPath",
    "Outcome",
    "Plan",
    "PlanOptions",
    "PlanRun",
    "Progress",
    "check_synchronisation",
    "collection_times",
    "county_stage",
    "hub_arrivals",
    "hub_of",
    "latest_at_hub",
    "order_paths",
    "plan_day",
    "pool_vehicles",
    "reuse_vehicles",
    "trunk_arrivals",
    "trunk_stage",
    "vehicles_for",
]


def plan_day(
    day: Day,
    network: RoadNetwork,
    options: PlanOptions | None = None,
    *,
    progress: Progress | None = None,
    separate_orders: Sequence[Order] | None = None,
) -> Plan:
    """Plan one day: shared routes over both echelons, the separate plans, allocations.

    ``separate_orders`` (simulations): the orders the parties alone carry that day, when
    they differ from the shared plan's (a carrier that serves a township on fewer days
    than daily carries the parcels held since its last round); default ``day.orders``."""
    from dispatch.io.day import served_counties

    options = options or PlanOptions()
    progress = progress or Progress(enabled=False)
    t0 = time.perf_counter()
    counties = tuple(options.counties) or tuple(sorted(served_counties()))
    paths, rejected, _outside = order_paths(day, network, counties)
    alone = paths
    if separate_orders is not None:
        alone = order_paths(replace(day, orders=list(separate_orders)), network, counties)[0]
    every = {**paths, **alone}
    runs = _runs(alone, options.separate)
    collects, backs = collection_times(network, day.fleet, counties, options)
    latest = latest_at_hub(network, day.fleet, every, options)
    warm_hierarchies(network, day.fleet)
    from routing.sisr import warm_up

    warm_up()  # before the workers fork: they inherit the compiled search
    workers = worker_count(options)
    pool = start_pool(network, workers) if workers > 1 else None
    try:
        phases = _Phases(day, network, options, _by_party(paths, alone), pool, progress)
        wh_fleet = {
            run.name: vehicles_for(day.fleet, day.parties, WAREHOUSE, run.party) for run in runs
        }
        phases.trunk_down(runs, wh_fleet, latest)
        phases.county_echelons(runs, counties, collects, backs)
        phases.trunk_up(runs, wh_fleet, every)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    plan = _assemble(day, network, options, (paths, alone), rejected, runs, collects)
    progress.phase("cost allocation", 1)
    plan.allocations = allocate_routes(plan)
    progress.step()
    plan.seconds = time.perf_counter() - t0
    return plan


def _runs(paths: Mapping[str, OrderPath], separate: bool) -> list[PlanRun]:
    """The shared run first, then (``separate``) one run per party with orders."""
    runs = [PlanRun("shared", None)]
    if separate:
        parties_with_orders = sorted({p.order.party for p in paths.values()})
        runs += [PlanRun(f"alone-{party}", party) for party in parties_with_orders]
    return runs


def _by_party(
    paths: Mapping[str, OrderPath], alone: Mapping[str, OrderPath]
) -> dict[str | None, list[OrderPath]]:
    """The paths each run plans: all of ``paths`` under ``None`` (the shared run), and
    each party's own of ``alone`` under the party."""
    by_party: dict[str | None, list[OrderPath]] = defaultdict(list)
    by_party[None].extend(paths.values())
    for p in alone.values():
        by_party[p.order.party].append(p)
    return by_party


# Shares of the time budget: trunk down 0.25, county echelons 0.6 (less the last mile's
# 0.05 when villages may go via their stations), trunk up 0.15.
COUNTY_SHARE = 0.6
LAST_MILE_SHARE = 0.05


@dataclass
class _Phases:
    """The three solving phases of a day, in order: trunk down, county echelons, trunk up.

    Every run's stage of a phase is solved together; ``next_lot`` numbers the lots of all
    stages of all runs apart (a stage's lots take ids from it, plus one spare)."""

    day: Day
    network: RoadNetwork
    options: PlanOptions
    by_party: Mapping[str | None, Sequence[OrderPath]]
    pool: ProcessPoolExecutor | None
    progress: Progress
    next_lot: int = 0

    def _numbered(self, run: PlanRun, stage: Stage) -> tuple[PlanRun, Stage]:
        self.next_lot += len(stage.lots) + 1
        return run, stage

    def trunk_down(
        self,
        runs: Sequence[PlanRun],
        wh_fleet: Mapping[str, tuple[VehicleSpec, ...]],
        latest: Mapping[str, int],
    ) -> None:
        """1. Parcels from WH-CX down to the hubs, at the hubs by ``latest`` (order id ->
        s) so that they can still reach their stops."""
        stages = [
            self._numbered(
                run,
                trunk_stage(
                    run,
                    self.by_party[run.party],
                    self.options,
                    wh_fleet[run.name],
                    self.next_lot,
                    direction="down",
                    latest=latest,
                ),
            )
            for run in runs
        ]
        for run, result in self._solve(stages, 0.25, "trunk echelon, down"):
            run.trunk = result

    def county_echelons(
        self,
        runs: Sequence[PlanRun],
        counties: Sequence[str],
        collects: Mapping[str, int],
        backs: Mapping[str, int],
    ) -> None:
        """2. Every county's echelon, in parallel: parcels from when the trunk brought
        them, produce to the hub in time for the trunk's collection (``collects``, county
        -> s; ``backs``, county -> the trunk's drive back to WH-CX, s). Villages with a
        service point are reached on the county routes or, when it serves more orders or
        costs less, by a last mile from their township stations (``dispatch.plan.lastmile``)."""
        stages = []
        via_of: dict[tuple[str, str], dict[str, str]] = {}
        for run in runs:
            available = trunk_arrivals(run, self.options.service.transfer_s)
            args = (self.day, self.options, available, collects, backs)
            for county in counties:
                paths = self.by_party[run.party]
                stage = county_stage(run, county, paths, *args, self.next_lot, register=False)
                stages.append(self._numbered(run, stage))
                via = {}
                if run.party is None and self.options.last_mile != "direct":
                    via = station_vehicles(self.day.fleet, self.network, paths, county)
                if via:
                    service = self.options.service
                    legs = station_legs(
                        self.network, via, self.day.fleet, service.stop_setup_s, service.transfer_s
                    )
                    via = {v: s for v, s in via.items() if v in legs}  # reachable from it
                if via:
                    alt = county_stage(
                        run, county, paths, *args, self.next_lot, via=via, via_legs=legs,
                        register=False,
                    )  # fmt: skip
                    alt = replace(alt, key=alt.key + VIA_SUFFIX)
                    stages.append(self._numbered(run, alt))
                    via_of[(run.name, county)] = via
        solved: dict[tuple[str, str, bool], StageResult] = {}
        # the last mile's share of the budget only when there is a last mile to plan
        share = COUNTY_SHARE - (LAST_MILE_SHARE if via_of else 0.0)
        for run, result in self._solve(stages, share, "county echelons"):
            is_via = result.stage.key.endswith(VIA_SUFFIX)
            solved[(run.name, result.stage.county or "", is_via)] = result
        last_miles = self._last_miles(runs, via_of, solved)
        for run in runs:
            for county in counties:
                self._keep(run, county, solved, via_of, last_miles)

    def _last_miles(
        self,
        runs: Sequence[PlanRun],
        via_of: Mapping[tuple[str, str], Mapping[str, str]],
        solved: Mapping[tuple[str, str, bool], StageResult],
    ) -> dict[tuple[str, str], list[StageResult]]:
        """The last-mile stages of every county that can go via its stations, solved."""
        by_name = {run.name: run for run in runs}
        stages = []
        for (name, county), via in via_of.items():
            run = by_name[name]
            paths = [p for p in self.by_party[run.party] if p.stop in via]
            times = station_times(
                solved[(name, county, True)], via, paths, self.options.service.transfer_s
            )
            for station in sorted(set(via.values())):
                mine = [p for p in paths if via[p.stop] == station]
                stage = last_mile_stage(
                    run, station, county, mine, self.day, self.options, times, self.next_lot
                )
                if stage.lots:
                    stages.append(self._numbered(run, stage))
        out: dict[tuple[str, str], list[StageResult]] = defaultdict(list)
        if stages:
            for run, result in self._solve(stages, LAST_MILE_SHARE, "village last mile"):
                out[(run.name, result.stage.county or "")].append(result)
        return out

    def _keep(
        self,
        run: PlanRun,
        county: str,
        solved: Mapping[tuple[str, str, bool], StageResult],
        via_of: Mapping[tuple[str, str], Mapping[str, str]],
        last_miles: Mapping[tuple[str, str], Sequence[StageResult]],
    ) -> None:
        """Keep the county's direct stage, or its stage via the stations with their last
        miles (when that serves more orders, then costs less), and record its lots."""
        direct = solved.get((run.name, county, False))
        if direct is None:
            return
        chosen = direct
        last: tuple[StageResult, ...] = ()
        via = via_of.get((run.name, county))
        if via is not None:
            alt = solved[(run.name, county, True)]
            lm = tuple(last_miles.get((run.name, county), ()))
            village_orders = [p.order.id for p in self.by_party[run.party] if p.stop in via]
            wins, comparison = choose(direct, alt, lm, village_orders)
            if self.options.last_mile == "stations":
                wins = True
                comparison["chosen"] = "via_stations (forced)"
            run.village_choice[county] = comparison
            if wins:
                chosen, last = alt, lm
        register_lots(run, chosen.stage.lots, "county")
        for result in last:
            register_lots(run, result.stage.lots, "village")
        run.counties[county] = chosen
        if last:
            run.last_mile[county] = last

    def trunk_up(
        self,
        runs: Sequence[PlanRun],
        wh_fleet: Mapping[str, tuple[VehicleSpec, ...]],
        paths: Mapping[str, OrderPath],
    ) -> None:
        """3. Produce up to WH-CX, from when the county routes brought it to the hubs, on
        the warehouse trucks still free after their morning runs."""
        stages = []
        for run in runs:
            at_hub = hub_arrivals(run, paths, self.options.service.transfer_s)
            vehicles = reuse_vehicles(wh_fleet[run.name], run.trunk)
            stage = trunk_stage(
                run,
                self.by_party[run.party],
                self.options,
                vehicles,
                self.next_lot,
                direction="up",
                at_hub=at_hub,
            )
            stages.append(self._numbered(run, stage))
        for run, result in self._solve(stages, 0.15, "trunk echelon, up"):
            run.trunk_up = result

    def _solve(
        self, stages: Sequence[tuple[PlanRun, Stage]], share: float, label: str
    ) -> list[tuple[PlanRun, StageResult]]:
        return solve_all(stages, self.network, self.options, share, self.pool, self.progress, label)


def _assemble(
    day: Day,
    network: RoadNetwork,
    options: PlanOptions,
    both: tuple[dict[str, OrderPath], dict[str, OrderPath]],
    rejected: dict[str, tuple[str, str]],
    runs: Sequence[PlanRun],
    collects: dict[str, int],
) -> Plan:
    """The plan of the solved runs (the shared one first): route ids, every order's
    outcome, and which orders the parties alone get through (``both``: the shared plan's
    paths, the parties' alone). No allocations yet."""
    paths, alone = both
    shared, separate = runs[0], {r.party or "": r for r in runs[1:]}
    route_ids = number_routes(runs)
    outcomes = order_outcomes(paths, rejected, shared, route_ids)
    separate_served: set[str] = set()
    for party, run in separate.items():
        mine = {oid: p for oid, p in alone.items() if p.order.party == party}
        served = order_outcomes(mine, {}, run, route_ids)
        separate_served.update(oid for oid, oc in served.items() if oc.assigned)
    return Plan(
        day=day,
        options=options,
        paths=paths,
        rejected=rejected,
        shared=shared,
        separate=separate,
        outcomes=outcomes,
        route_ids=route_ids,
        network_source=network.source,
        collects=collects,
        separate_served=frozenset(separate_served),
    )
