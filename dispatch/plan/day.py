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
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.domain import Day, Order, Party, VehicleSpec
from dispatch.plan.echelon import (
    Lot,
    ServiceTimes,
    Stage,
    StageResult,
    TimedRoute,
    lot_caps,
    make_lots,
    solve_stage,
    time_limit_for,
)
from routing.model import MAX_TIME

if TYPE_CHECKING:
    from routing.network import RoadNetwork

WAREHOUSE = "WH-CX"
NO_DUE = MAX_TIME // 2


def hub_of(county: str) -> str:
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
    lots: dict[int, Lot] = field(default_factory=dict)
    order_lots: dict[str, dict[str, int]] = field(default_factory=dict)  # order -> echelon -> lot

    def trunk_routes(self) -> list[TimedRoute]:
        return [r for stage in (self.trunk, self.trunk_up) if stage for r in stage.routes]

    def routes(self) -> list[TimedRoute]:
        out = self.trunk_routes()
        for county in sorted(self.counties):
            out.extend(self.counties[county].routes)
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


# ---- paths ------------------------------------------------------------------------------
def order_paths(
    day: Day, network: RoadNetwork, counties: Iterable[str]
) -> tuple[dict[str, OrderPath], dict[str, tuple[str, str]], list[Order]]:
    """Each order's path, the orders that cannot be routed (with why), and those of
    counties outside the plan."""
    wanted = set(counties)
    paths: dict[str, OrderPath] = {}
    rejected: dict[str, tuple[str, str]] = {}
    outside: list[Order] = []
    for o in day.orders:
        place_id = o.destination if o.direction == "down" else o.origin
        place = network.place(place_id)
        if place.county_code not in wanted:
            outside.append(o)
            continue
        stop, held = place.id, False
        if not place.located and place.kind == "village":
            township = network.place(place.township_code)
            if township.located:
                stop, held = township.id, True
            else:
                rejected[o.id] = (
                    "unreachable",
                    f"neither {place.name_zh} nor its township {township.name_zh} has "
                    "coordinates on the road network",
                )
                continue
        elif not place.located:
            rejected[o.id] = ("unreachable", f"{place.name_zh} has no coordinates")
            continue
        trunk = WAREHOUSE in (o.origin, o.destination)
        paths[o.id] = OrderPath(
            order=o,
            county=place.county_code,
            stop=stop,
            held=held,
            trunk=trunk,
            ready_s=day.seconds(o.ready) if o.ready else 0,
            due_s=day.seconds(o.due) if o.due else NO_DUE,
        )
    return paths, rejected, outside


# ---- fleets -----------------------------------------------------------------------------
def pool_vehicles(fleet: Sequence[VehicleSpec], parties: Mapping[str, Party], depot: str) -> list:
    return [
        v
        for v in fleet
        if v.depot == depot and (v.owner not in parties or parties[v.owner].kind == "hub")
    ]


def vehicles_for(
    fleet: Sequence[VehicleSpec], parties: Mapping[str, Party], depot: str, party: str | None
) -> tuple[VehicleSpec, ...]:
    """The shared plan uses every vehicle at the depot; a party alone uses its own plus
    hired copies of the depot's pool vehicles."""
    at_depot = [v for v in fleet if v.depot == depot]
    if party is None:
        return tuple(at_depot)
    own = [v for v in at_depot if v.owner == party]
    hired = [
        replace(v, id=f"{v.id}@{party}", owner=party, name=f"{v.name} (hired by {party})")
        for v in pool_vehicles(fleet, parties, depot)
    ]
    return tuple(own + hired)


# ---- stages -----------------------------------------------------------------------------
def _seconds(t: dtime) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def trunk_stage(
    run: PlanRun,
    paths: Iterable[OrderPath],
    options: PlanOptions,
    vehicles: tuple[VehicleSpec, ...],
    next_lot: int,
    *,
    direction: str,
    at_hub: Mapping[str, int] | None = None,
    latest: Mapping[str, int] | None = None,
) -> Stage:
    """The trunk problem of one direction. ``down``: parcels from WH-CX to the hubs.
    ``up``: produce from the hubs to WH-CX, collectable from ``at_hub`` (order id -> when
    it is at its hub and transferred, from the county routes). ``latest``: order id -> the
    latest time parcels can be at the hub and still reach their stop in time."""
    latest = latest or {}
    cap_kg, cap_l = lot_caps(vehicles, options.lot_share)
    transfer = options.service.transfer_s
    legs = []
    for p in paths:
        if not p.trunk or p.order.direction != direction:
            continue
        o = p.order
        hub = hub_of(p.county)
        if direction == "down":
            due = min(p.due_s, latest.get(o.id, p.due_s)) - transfer
            legs.append((o, WAREHOUSE, hub, p.ready_s, due))
        elif at_hub is not None and o.id in at_hub:
            legs.append((o, hub, WAREHOUSE, at_hub[o.id], p.due_s))
    lots = make_lots(
        legs, cap_kg=cap_kg, cap_l=cap_l, by_party=run.party is not None, first_id=next_lot
    )
    _register(run, lots, "trunk")
    return Stage(
        key=f"{run.name}/trunk-{direction}",
        echelon="trunk",
        county=None,
        depot=WAREHOUSE,
        lots=tuple(lots),
        vehicles=vehicles,
        setup_s=options.service.hub_setup_s,
    )


def reuse_vehicles(
    vehicles: Sequence[VehicleSpec], down: StageResult | None
) -> tuple[VehicleSpec, ...]:
    """The warehouse fleet for the produce runs: a truck back from its morning run may go
    out again for the rest of its shift, its day's fixed cost already paid."""
    back = {r.vehicle.id: r for r in (down.routes if down else ())}
    out = []
    for v in vehicles:
        r = back.get(v.id)
        if r is None:
            out.append(v)
            continue
        start = _seconds(v.shift_start)
        end = min(_seconds(v.shift_end), start + round(v.max_shift_h * 3600))
        if r.end_s >= end:
            continue
        free = r.end_s
        out.append(
            replace(
                v,
                shift_start=dtime(free // 3600 % 24, free % 3600 // 60, free % 60),
                shift_end=dtime(end // 3600 % 24, end % 3600 // 60, end % 60),
                max_shift_h=(end - free) / 3600,
                max_driving_h=max(0.0, v.max_driving_h - r.travel_s / 3600),
                fixed_fen=0,
            )
        )
    return tuple(out)


def county_stage(
    run: PlanRun,
    county: str,
    paths: Iterable[OrderPath],
    day: Day,
    options: PlanOptions,
    available: Mapping[str, int],
    collects: Mapping[str, int],
    backs: Mapping[str, int],
    next_lot: int,
) -> Stage:
    """``available``: order id -> when a trunk-delivered order can leave the hub (s)."""
    hub = hub_of(county)
    vehicles = vehicles_for(day.fleet, day.parties, hub, run.party)
    cap_kg, cap_l = lot_caps(vehicles, options.lot_share)
    collect, back = collects[county], backs
    hub_setup = options.service.hub_setup_s
    transfer = options.service.transfer_s
    legs = []
    for p in paths:
        if p.county != county:
            continue
        o = p.order
        if o.direction == "down":
            if p.trunk:
                if o.id not in available:
                    continue  # never reached the hub
                ready = available[o.id]
            else:
                ready = p.ready_s
            legs.append((o, hub, p.stop, ready, p.due_s))
        else:
            deadline = p.due_s
            if p.trunk:  # at the hub in time for the produce run to WH-CX
                deadline = min(collect, p.due_s - back[county] - hub_setup) - transfer
            legs.append((o, p.stop, hub, p.ready_s, deadline))
    lots = make_lots(
        legs, cap_kg=cap_kg, cap_l=cap_l, by_party=run.party is not None, first_id=next_lot
    )
    _register(run, lots, "county")
    return Stage(
        key=f"{run.name}/county/{county}",
        echelon="county",
        county=county,
        depot=hub,
        lots=tuple(lots),
        vehicles=vehicles,
        setup_s=options.service.stop_setup_s,
    )


def _register(run: PlanRun, lots: Iterable[Lot], echelon: str) -> None:
    for lot in lots:
        run.lots[lot.id] = lot
        for oid in lot.orders:
            run.order_lots.setdefault(oid, {})[echelon] = lot.id


def collection_times(
    network: RoadNetwork,
    fleet: Sequence[VehicleSpec],
    counties: Sequence[str],
    options: PlanOptions,
) -> tuple[dict[str, int], dict[str, int]]:
    """County -> the latest time the trunk collects produce for WH-CX at its hub (s), and
    county -> the fastest trunk drive from its hub to WH-CX (s)."""
    from routing.network import resolve, travel_matrix

    latest = _seconds(options.latest_collect)
    trucks = [v for v in fleet if v.depot == WAREHOUSE]
    if not trucks or not counties:
        return dict.fromkeys(counties, latest), dict.fromkeys(counties, 0)
    out: dict[str, int] = {}
    fastest: dict[str, int] = {}
    points = resolve(network, [WAREHOUSE, *(hub_of(c) for c in counties)])
    back = {}
    for profile in sorted({v.profile for v in trucks}):
        m = travel_matrix(network, points[1:], points[:1], profile=profile)
        back[profile] = [int(x) for x in m.durations_s[:, 0]]
    for k, county in enumerate(counties):
        best = None
        for v in trucks:
            if back[v.profile][k] < 0:
                continue
            end = min(_seconds(v.shift_end), _seconds(v.shift_start) + round(v.max_shift_h * 3600))
            leave = (
                end - back[v.profile][k] - options.service.hub_setup_s - options.collect_margin_s
            )
            best = leave if best is None else max(best, leave)
        out[county] = min(latest, best) if best is not None else latest
        fastest[county] = min((b[k] for b in back.values() if b[k] >= 0), default=0)
    return out, fastest


def hub_arrivals(run: PlanRun, paths: Mapping[str, OrderPath], transfer_s: int) -> dict[str, int]:
    """Order id -> when produce for WH-CX, brought to its hub by a county route, can be
    loaded on the trunk (unloading begins, plus ``transfer_s``)."""
    out: dict[str, int] = {}
    for result in run.counties.values():
        for r in result.routes:
            for v in r.visits:
                lot = run.lots[v.lot]
                if v.kind != "delivery" or not lot.destination.startswith("HUB-"):
                    continue
                for oid in lot.orders:
                    if paths[oid].trunk:
                        out[oid] = v.begin_s + transfer_s
    return out


def latest_at_hub(
    network: RoadNetwork,
    fleet: Sequence[VehicleSpec],
    paths: Mapping[str, OrderPath],
    options: PlanOptions,
) -> dict[str, int]:
    """Order id -> the latest time a parcel can leave its hub and still reach its stop by
    its due time, with the county vehicle back before its shift ends (fastest profile)."""
    from routing.network import resolve, travel_matrix

    out: dict[str, int] = {}
    by_county: dict[str, list[OrderPath]] = defaultdict(list)
    for p in paths.values():
        if p.trunk and p.order.direction == "down":
            by_county[p.county].append(p)
    for county, group in by_county.items():
        hub = hub_of(county)
        vans = [v for v in fleet if v.depot == hub]
        if not vans:
            continue
        stops = sorted({p.stop for p in group})
        points = resolve(network, [hub, *stops])
        fastest = None
        for profile in sorted({v.profile for v in vans}):
            m = travel_matrix(network, points, profile=profile).durations_s
            there = m[0, 1:].astype(float)
            back = m[1:, 0].astype(float)
            trip = np.where((there < 0) | (back < 0), np.inf, there + back)
            fastest = trip if fastest is None else np.minimum(fastest, trip)
        assert fastest is not None
        end = max(
            min(_seconds(v.shift_end), _seconds(v.shift_start) + round(v.max_shift_h * 3600))
            for v in vans
        )
        index = {stop: k for k, stop in enumerate(stops)}
        for p in group:
            k = index[p.stop]
            if not np.isfinite(fastest[k]):
                continue
            there = fastest[k] / 2  # a share of the round trip; matrices are near symmetric
            # loading at the hub, the stop's setup and handing over take time too
            slack = options.service.stop_setup_s + options.handling_margin_s
            out[p.order.id] = int(min(p.due_s - there - slack, end - fastest[k] - slack))
    return out


def trunk_arrivals(run: PlanRun, transfer_s: int) -> dict[str, int]:
    """Order id -> earliest time its parcels can leave the hub on a county route."""
    out: dict[str, int] = {}
    if run.trunk is None:
        return out
    for r in run.trunk.routes:
        for v in r.visits:
            lot = run.lots[v.lot]
            if v.kind == "delivery" and lot.destination != WAREHOUSE:
                for oid in lot.orders:
                    out[oid] = v.begin_s + transfer_s
    return out


# ---- workers ----------------------------------------------------------------------------
_NETWORK: RoadNetwork | None = None


def _init_worker(network: RoadNetwork, parent: int) -> None:
    """A worker process starts with the network and the routing search loaded (compiled
    code from the cache, or inherited from the parent), never inside a stage's budget, and
    dies with the process that planned (a killed job leaves no solver running)."""
    from routing.sisr import warm_up

    _die_with(parent)
    global _NETWORK
    _NETWORK = network
    warm_up()


def _die_with(parent: int) -> None:
    """Ask the kernel to stop this process when its parent dies (Linux: PR_SET_PDEATHSIG);
    elsewhere the pool's own checks stop idle workers once the parent is gone."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _work(
    stage: Stage, times: ServiceTimes, limit: float, seed: int, dump_to: Path | None
) -> StageResult:
    assert _NETWORK is not None
    return solve_stage(stage, _NETWORK, times, limit, seed, dump_to)


class Progress:
    """A progress bar on stderr (a line per step when stderr is not a terminal)."""

    def __init__(self, enabled: bool = True, stream: Any = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.label = ""
        self.total = 0
        self.done = 0

    def phase(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._draw(force=True)

    def step(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        width = 28
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * round(width * frac) + "." * (width - round(width * frac))
        text = (
            f"{self.label:<28} [{bar}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.t0:6.1f} s"
        )
        if self.tty:
            self.stream.write("\r" + text + ("\n" if force and self.done >= self.total else ""))
            self.stream.flush()
        elif force:
            self.stream.write(text + "\n")
            self.stream.flush()


def _run_stages(
    stages: Sequence[Stage],
    network: RoadNetwork,
    options: PlanOptions,
    budget: float,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    label: str,
) -> list[StageResult]:
    workers = max(1, options.workers or os.cpu_count() or 1)
    weights = [options.shared_weight if s.key.startswith("shared/") else 1.0 for s in stages]
    total = sum(w * len(s.lots) for w, s in zip(weights, stages, strict=True)) or 1.0
    per_unit = budget * workers / total
    cap = max(1.0, budget * 0.6)

    def limit(i: int) -> float:
        return time_limit_for(len(stages[i].lots), per_unit * weights[i], cap)

    progress.phase(label, len(stages))
    if pool is None:
        out = []
        for i, s in enumerate(stages):
            out.append(
                solve_stage(
                    s, network, options.service, limit(i), options.seed, options.dump_problems
                )
            )
            progress.step()
        return out
    # biggest first, so the long problems do not start last
    order = sorted(range(len(stages)), key=lambda i: -len(stages[i].lots))
    futures: dict[int, Future[StageResult]] = {}
    for i in order:
        s = stages[i]
        fut = pool.submit(
            _work,
            s,
            options.service,
            limit(i),
            options.seed,
            options.dump_problems,
        )
        fut.add_done_callback(lambda _f: progress.step())
        futures[i] = fut
    return [futures[i].result() for i in range(len(stages))]


def _solve_all(
    stages: Sequence[tuple[PlanRun, Stage]],
    network: RoadNetwork,
    options: PlanOptions,
    share: float,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    label: str,
) -> list[tuple[PlanRun, StageResult]]:
    """Solve the stages that have lots; ``share`` of the time budget goes to this phase."""
    busy = [(run, s) for run, s in stages if s.lots]
    results = _run_stages(
        [s for _, s in busy], network, options, options.time_limit * share, pool, progress, label
    )
    return [(run, r) for (run, _), r in zip(busy, results, strict=True)]


# ---- the day ----------------------------------------------------------------------------
def plan_day(
    day: Day,
    network: RoadNetwork,
    options: PlanOptions | None = None,
    *,
    progress: Progress | None = None,
) -> Plan:
    """Plan one day: shared routes over both echelons, the separate plans, allocations."""
    from dispatch.costs.shares import allocate_routes

    options = options or PlanOptions()
    progress = progress or Progress(enabled=False)
    t0 = time.perf_counter()
    from dispatch.io.day import served_counties

    served = served_counties()
    counties = tuple(options.counties) or tuple(sorted(served))
    paths, rejected, _outside = order_paths(day, network, counties)
    parties_with_orders = sorted({p.order.party for p in paths.values()})
    runs = [PlanRun("shared", None)]
    if options.separate:
        runs += [PlanRun(f"alone-{party}", party) for party in parties_with_orders]
    by_party: dict[str | None, list[OrderPath]] = defaultdict(list)
    for p in paths.values():
        by_party[None].append(p)
        by_party[p.order.party].append(p)

    collects, backs = collection_times(network, day.fleet, counties, options)
    latest = latest_at_hub(network, day.fleet, paths, options)
    _warm_hierarchies(network, day.fleet)
    from routing.sisr import warm_up

    warm_up()  # before the workers fork: they inherit the compiled search
    workers = max(1, options.workers or os.cpu_count() or 1)
    pool = _pool(network, workers) if workers > 1 else None
    try:
        next_lot = 0
        wh_fleet = {
            run.name: vehicles_for(day.fleet, day.parties, WAREHOUSE, run.party) for run in runs
        }
        # 1. trunk, parcels down
        stages = []
        for run in runs:
            stage = trunk_stage(
                run,
                by_party[run.party],
                options,
                wh_fleet[run.name],
                next_lot,
                direction="down",
                latest=latest,
            )
            next_lot += len(stage.lots) + 1
            stages.append((run, stage))
        for run, result in _solve_all(
            stages, network, options, 0.25, pool, progress, "trunk echelon, down"
        ):
            run.trunk = result
        # 2. county echelons, in parallel
        stages = []
        for run in runs:
            available = trunk_arrivals(run, options.service.transfer_s)
            for county in counties:
                stage = county_stage(
                    run,
                    county,
                    by_party[run.party],
                    day,
                    options,
                    available,
                    collects,
                    backs,
                    next_lot,
                )
                next_lot += len(stage.lots) + 1
                stages.append((run, stage))
        for run, result in _solve_all(
            stages, network, options, 0.6, pool, progress, "county echelons"
        ):
            run.counties[result.stage.county or ""] = result
        # 3. trunk, produce up, from when the county routes brought it to the hubs
        stages = []
        for run in runs:
            at_hub = hub_arrivals(run, paths, options.service.transfer_s)
            vehicles = reuse_vehicles(wh_fleet[run.name], run.trunk)
            stage = trunk_stage(
                run,
                by_party[run.party],
                options,
                vehicles,
                next_lot,
                direction="up",
                at_hub=at_hub,
            )
            next_lot += len(stage.lots) + 1
            stages.append((run, stage))
        for run, result in _solve_all(
            stages, network, options, 0.15, pool, progress, "trunk echelon, up"
        ):
            run.trunk_up = result
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    shared, separate = runs[0], {r.party or "": r for r in runs[1:]}
    route_ids = _route_ids(runs)
    outcomes = _outcomes(paths, rejected, shared, route_ids)
    separate_served: set[str] = set()
    for party, run in separate.items():
        mine = {oid: p for oid, p in paths.items() if p.order.party == party}
        alone = _outcomes(mine, {}, run, route_ids)
        separate_served.update(oid for oid, oc in alone.items() if oc.assigned)
    plan = Plan(
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
    progress.phase("cost allocation", 1)
    plan.allocations = allocate_routes(plan)
    progress.step()
    plan.seconds = time.perf_counter() - t0
    return plan


def _warm_hierarchies(network: RoadNetwork, fleet: Sequence[VehicleSpec]) -> None:
    """Load (or build) every profile's matrix hierarchy once, before the workers fork."""
    from routing.network.matrix import hierarchy

    for profile in sorted({v.profile for v in fleet}):
        hierarchy(network, profile)


def _pool(network: RoadNetwork, workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(network, os.getpid()),
    )


def _route_ids(runs: Sequence[PlanRun]) -> dict[int, str]:
    ids: dict[int, str] = {}
    for run in runs:
        prefix = "" if run.party is None else f"{run.party}-"
        for k, r in enumerate(run.trunk_routes(), 1):
            ids[id(r)] = f"{prefix}T-{k:02d}"
        for county in sorted(run.counties):
            for k, r in enumerate(run.counties[county].routes, 1):
                ids[id(r)] = f"{prefix}C-{county}-{k:02d}"
    return ids


def _outcomes(
    paths: Mapping[str, OrderPath],
    rejected: Mapping[str, tuple[str, str]],
    run: PlanRun,
    route_ids: Mapping[int, str],
) -> dict[str, Outcome]:
    out: dict[str, Outcome] = {oid: Outcome(False, r, d) for oid, (r, d) in rejected.items()}
    served: dict[int, tuple[str, int, int]] = {}  # lot -> (route, pickup begin, drop begin)
    for r in run.routes():
        rid = route_ids[id(r)]
        pick: dict[int, int] = {}
        for v in r.visits:
            if v.kind == "pickup":
                pick[v.lot] = v.begin_s
            else:
                served[v.lot] = (rid, pick.get(v.lot, -1), v.begin_s)
    unassigned: dict[int, tuple[str, str, str]] = {}
    stages = [x for x in (run.trunk, run.trunk_up) if x is not None]
    stages += [run.counties[c] for c in sorted(run.counties)]
    for result in stages:
        for lot_id, (reason, detail) in result.unassigned.items():
            unassigned[lot_id] = (result.stage.echelon, reason, detail)
    for oid, p in paths.items():
        oc = Outcome()
        lots = run.order_lots.get(oid, {})
        needed = ["county"]
        if p.trunk:
            needed = ["trunk", "county"] if p.order.direction == "down" else ["county", "trunk"]
        for echelon in needed:
            lot = lots.get(echelon)
            if lot is not None and lot in served:
                oc.legs[echelon] = served[lot]
                continue
            if lot is not None and lot in unassigned:
                _, reason, detail = unassigned[lot]
            elif echelon == "county" and p.order.direction == "down":
                reason, detail = "other", "its trunk leg to the hub was not planned"
            elif echelon == "trunk" and p.order.direction == "up":
                reason, detail = "other", "its county leg to the hub was not planned"
            else:
                reason, detail = "other", "no route carries it"
            oc.reason = oc.reason or reason
            oc.detail = oc.detail or f"{echelon} echelon: {detail}"
        oc.assigned = not oc.reason
        out[oid] = oc
    return out


# ---- synchronisation --------------------------------------------------------------------
def check_synchronisation(plan: Plan) -> list[str]:
    """Every order handed between echelons at a hub leaves it no earlier than
    ``transfer_s`` after it arrived; one sentence per violation (empty: all respected)."""
    transfer = plan.options.service.transfer_s
    problems = []
    for oid, oc in plan.outcomes.items():
        if "trunk" not in oc.legs or "county" not in oc.legs:
            continue
        trunk, county = oc.legs["trunk"], oc.legs["county"]
        if plan.paths[oid].order.direction == "down":
            arrived, left, route = trunk[2], county[1], county[0]
        else:
            arrived, left, route = county[2], trunk[1], trunk[0]
        if left < arrived + transfer:
            problems.append(
                f"order {oid}: leaves the hub at {left} s on {route}, "
                f"less than {transfer} s after it arrived at {arrived} s"
            )
    return problems
