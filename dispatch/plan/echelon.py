"""One echelon's routing problem: lots of orders, a fleet at one depot, timed routes back.

A *lot* is what the router moves as one shipment: orders with the same pickup place,
drop place, vehicle needs and time windows, consolidated (across carriers in the shared
plan, within one party in the separate plan) and cut into pieces no bigger than a share
of the largest suitable vehicle, so that the solver can still spread a big township over
several vehicles. Routing works on these lots, never on parcels.

A :class:`Stage` is built into a :class:`routing.model.Problem` (amounts in kilograms and
litres, times in seconds after the plan day's midnight, costs in fen), solved in a worker
process by :func:`solve_stage`, and read back as :class:`TimedRoute` schedules.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.domain import Order, VehicleSpec
from routing.check import RouteReport, evaluate_route
from routing.model import MAX_TIME, Problem, ProblemBuilder
from routing.reasons import UNREACHABLE
from routing.solution import RoutePlan

if TYPE_CHECKING:
    from routing.network import RoadNetwork


@dataclass(frozen=True)
class ServiceTimes:
    """Handling times (s). Assumptions: no published figures; stated in ASSUMPTIONS.md."""

    stop_setup_s: int = 300  # park, find the station keeper, paperwork (per stop)
    hub_setup_s: int = 600  # trunk truck docking at a hub or the warehouse
    per_lot_s: int = 60  # per consignment lot handed over
    per_piece_s: float = 2.0  # scan and hand over one parcel
    per_100kg_s: int = 60  # load or unload 100 kg of produce by hand
    live_animal_s: int = 600  # load live animals calmly
    transfer_s: int = 1800  # at a hub between echelons: unload, sort, load (per lot)


@dataclass(frozen=True)
class Lot:
    """Orders moved together as one routing shipment."""

    id: int
    orders: tuple[str, ...]
    parties: frozenset[str]
    origin: str  # place id where it is picked up
    destination: str  # place id where it is dropped
    weight: int  # kg
    volume_l: int
    pieces: int
    skills: frozenset[int]
    ready_s: int  # pickup window opens
    due_s: int  # delivery window closes
    live_animal: bool = False

    def service_s(self, times: ServiceTimes) -> int:
        s = (
            times.per_lot_s
            + times.per_piece_s * self.pieces
            + times.per_100kg_s * self.weight / 100
        )
        if self.live_animal:
            s += times.live_animal_s
        return round(s)


@dataclass(frozen=True)
class Stage:
    """One routing problem: lots to move and the vehicles that may move them."""

    key: str  # "shared/trunk", "shared/county/532326", "alone/ZTO/county/532326"
    echelon: str  # "trunk" | "county"
    county: str | None
    depot: str  # place id of the vehicles' base
    lots: tuple[Lot, ...]
    vehicles: tuple[VehicleSpec, ...]
    setup_s: int  # per stop
    # replanning a day under way: vehicle id -> (place it is at, when it is free, s), and
    # lot id -> the vehicle that already carries it (a lot with no origin is on board)
    starts: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    carried_by: Mapping[int, str] = field(default_factory=dict)
    driven_s: Mapping[str, int] = field(default_factory=dict)  # vehicle id -> driven today


PIN_SKILL = 1000  # skills from here up tie goods on board to their vehicle


@dataclass(frozen=True)
class Visit:
    """One pickup or drop of a lot on a timed route."""

    kind: str  # "pickup" | "delivery"
    lot: int
    place: str
    arrival_s: int
    begin_s: int  # after waiting
    departure_s: int
    distance_cum_m: int
    load_kg: int  # on board after the visit
    load_l: int


@dataclass(frozen=True)
class TimedRoute:
    """A vehicle's route with its schedule, travel and cost."""

    stage: str
    echelon: str
    county: str | None
    vehicle: VehicleSpec
    start_s: int
    end_s: int
    distance_m: int
    travel_s: int
    cost_fen: int
    visits: tuple[Visit, ...]
    # for coalition costs: depot location then each visit's location, indices into `legs`
    loc_seq: tuple[int, ...] = ()
    legs_s: tuple[tuple[int, ...], ...] = ()
    legs_m: tuple[tuple[int, ...], ...] = ()
    end_pos: int = -1  # where the route ends in ``legs``; -1: back where it started
    start_place: str = ""  # place id where the route starts (its depot, or on a replan
    # wherever the vehicle was)

    def travel_of(self, keep: Sequence[bool]) -> tuple[int, int]:
        """(s, m) of this route driven only to the visits flagged in ``keep`` (shortcut)."""
        if not any(keep):
            return 0, 0
        depot = self.loc_seq[0]
        home = depot if self.end_pos < 0 else self.end_pos
        path = [depot] + [self.loc_seq[i + 1] for i, k in enumerate(keep) if k] + [home]
        s = sum(self.legs_s[a][b] for a, b in itertools.pairwise(path))
        m = sum(self.legs_m[a][b] for a, b in itertools.pairwise(path))
        return s, m

    def cost_of(self, keep: Sequence[bool]) -> int:
        """Cost of this route, by its own vehicle, driven only to the visits in ``keep``."""
        if not any(keep):
            return 0
        s, m = self.travel_of(keep)
        v = self.vehicle
        return v.fixed_fen + round(v.per_hour_fen * s / 3600 + v.per_km_fen * m / 1000)


@dataclass(frozen=True)
class StageResult:
    stage: Stage
    routes: tuple[TimedRoute, ...]
    unassigned: dict[int, tuple[str, str]]  # lot id -> (reason, detail)
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


# ---- lots -------------------------------------------------------------------------------
def make_lots(
    orders: Iterable[tuple[Order, str, str, int, int]],
    *,
    cap_kg: int,
    cap_l: int,
    by_party: bool,
    first_id: int = 0,
) -> list[Lot]:
    """Consolidate (order, from, to, ready_s, due_s) legs into lots of at most the caps.

    Orders with the same from, to, needs and windows form one group (per party when
    ``by_party``); each group is cut first-fit-decreasing into lots of at most ``cap_kg``
    and ``cap_l``. An order larger than the caps stays whole, a lot of its own.
    """
    groups: dict[tuple[Any, ...], list[tuple[Order, str, str, int, int]]] = defaultdict(list)
    for leg in orders:
        o, a, b, ready, due = leg
        key = (a, b, o.skills, o.live_animal, ready, due, o.party if by_party else "")
        groups[key].append(leg)
    lots: list[Lot] = []
    next_id = first_id
    for key in sorted(groups, key=lambda k: (k[0], k[1], sorted(k[2]), k[3], k[4], k[5], k[6])):
        legs = sorted(groups[key], key=lambda g: (-g[0].weight, g[0].id))
        bins: list[list[Order]] = []
        loads: list[tuple[int, int]] = []
        for o, *_ in legs:
            for i, (kg, litres) in enumerate(loads):
                if kg + o.weight <= cap_kg and litres + o.volume_l <= cap_l:
                    bins[i].append(o)
                    loads[i] = (kg + o.weight, litres + o.volume_l)
                    break
            else:
                bins.append([o])
                loads.append((o.weight, o.volume_l))
        a, b, skills, live, ready, due, _ = key
        for content in bins:
            lots.append(
                Lot(
                    id=next_id,
                    orders=tuple(sorted(o.id for o in content)),
                    parties=frozenset(o.party for o in content),
                    origin=a,
                    destination=b,
                    weight=sum(o.weight for o in content),
                    volume_l=sum(o.volume_l for o in content),
                    pieces=sum(o.pieces for o in content),
                    skills=skills,
                    ready_s=ready,
                    due_s=due,
                    live_animal=live,
                )
            )
            next_id += 1
    return lots


def lot_caps(vehicles: Sequence[VehicleSpec], share: float = 0.5) -> tuple[int, int]:
    """Lot size limits: a share of the median vehicle's capacity (kg, litres), so a lot
    fits a typical vehicle of the depot with room for others."""
    if not vehicles:
        return 1, 1
    kg = sorted(v.capacity_kg for v in vehicles)[len(vehicles) // 2]
    litres = sorted(v.capacity_l for v in vehicles)[len(vehicles) // 2]
    return max(1, int(kg * share)), max(1, int(litres * share))


# ---- problem ----------------------------------------------------------------------------
def _seconds_of_day(t: Any) -> int:
    return int(t.hour * 3600 + t.minute * 60 + t.second)


def build_problem(
    stage: Stage, network: RoadNetwork, times: ServiceTimes
) -> tuple[Problem, list[str]]:
    """The routing problem of a stage, and the place id of each matrix index."""
    from routing.network import resolve, travel_matrix

    places = sorted(
        {stage.depot}
        | {lot.origin for lot in stage.lots if lot.origin}
        | {lot.destination for lot in stage.lots}
        | {place for place, _ in stage.starts.values()}
    )
    index = {p: i for i, p in enumerate(places)}
    waypoints = resolve(network, places)
    b = ProblemBuilder(n_dims=2)
    for profile in sorted({v.profile for v in stage.vehicles}):
        m = travel_matrix(network, waypoints, profile=profile)
        bad = ~m.reachable()
        b.set_matrix(
            profile,
            np.where(bad, UNREACHABLE, m.durations_s),
            np.where(bad, UNREACHABLE, m.distances_m),
        )
    b.set_locations([(w.lon, w.lat) for w in waypoints])
    pins = {v.id: PIN_SKILL + k for k, v in enumerate(stage.vehicles)}
    carriers = set(stage.carried_by.values())
    for lot in stage.lots:
        service = lot.service_s(times)
        hub_side = {stage.depot}
        if not lot.origin:  # already on board of the vehicle that carries it: a drop only
            b.add_job(
                id=lot.id,
                location=index[lot.destination],
                where=f"lot {lot.id}",
                delivery=[lot.weight, lot.volume_l],
                setup=0 if lot.destination in hub_side else stage.setup_s,
                service=service,
                time_windows=[[0, max(0, lot.due_s)]],
                skills=sorted(lot.skills | {pins[stage.carried_by[lot.id]]}),
            )
            continue
        b.add_shipment(
            where=f"lot {lot.id}",
            amount=[lot.weight, lot.volume_l],
            skills=sorted(lot.skills),
            pickup={
                "id": lot.id,
                "location": index[lot.origin],
                "setup": 0 if lot.origin in hub_side else stage.setup_s,
                "service": service,
                "time_windows": [[max(0, lot.ready_s), MAX_TIME]],
            },
            delivery={
                "id": lot.id,
                "location": index[lot.destination],
                "setup": 0 if lot.destination in hub_side else stage.setup_s,
                "service": service,
                "time_windows": [[0, max(0, lot.due_s)]],
            },
        )
    for k, v in enumerate(stage.vehicles):
        start = _seconds_of_day(v.shift_start)
        end = min(_seconds_of_day(v.shift_end), start + round(v.max_shift_h * 3600))
        at, free = stage.starts.get(v.id, (stage.depot, start))
        start = max(start, free)
        b.add_vehicle(
            id=k,
            where=f"vehicle {v.id}",
            profile=v.profile,
            start=index[at],
            end=index[stage.depot],
            capacity=[v.capacity_kg, v.capacity_l],
            # only a vehicle carrying goods already needs its own skill (the goods' tie)
            skills=sorted(v.skills | ({pins[v.id]} if v.id in carriers else set())),
            time_window=[start, max(start, end)],
            # the day's driving limit, less what the vehicle drove before a replan
            max_travel_time=max(0, round(v.max_driving_h * 3600) - stage.driven_s.get(v.id, 0)),
            costs={"fixed": v.fixed_fen, "per_hour": v.per_hour_fen, "per_km": v.per_km_fen},
            description=v.id,
        )
    return b.build(), places


def time_limit_for(n_lots: int, per_lot: float, cap: float, floor: float = 0.3) -> float:
    return max(floor, min(cap, per_lot * n_lots))


@dataclass(frozen=True)
class Effort:
    """How hard a stage's search works beyond its time limit: an iteration bound (0: none,
    the time limit alone) and OR-Tools' polish of its routes."""

    iterations: int = 0
    polish: str = "descent"


def stage_file_name(key: str) -> str:
    """A stage key as a file name: ``shared/county/532326`` -> ``shared-county-532326.json``."""
    return key.replace("/", "-") + ".json"


def dump_problem(
    problem: Problem, places: Sequence[str], stage: Stage, time_limit: float, seed: int, to: Path
) -> Path:
    """Write a stage's routing problem as a VROOM document, with the time limit and seed the
    plan gave it and the place id of every matrix index under ``meta`` (support cases,
    reproducible benchmarks: ``codist solve FILE --time-limit T`` solves it again)."""
    import json

    from routing.vroom_io import problem_document

    doc = problem_document(problem)
    doc["meta"] = {
        "stage": stage.key,
        "time_limit": round(time_limit, 3),
        "seed": seed,
        "places": list(places),
        "lots": len(stage.lots),
    }
    to.mkdir(parents=True, exist_ok=True)
    path = to / stage_file_name(stage.key)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def solve_stage(
    stage: Stage,
    network: RoadNetwork,
    times: ServiceTimes,
    time_limit: float,
    seed: int,
    dump_to: Path | None = None,
    effort: Effort | None = None,
) -> StageResult:
    """Solve one stage (runs in a worker process) and read the timed routes back; with
    ``dump_to``, its problem is written there first (:func:`dump_problem`); ``effort``
    bounds the search by iterations (reproducible) and chooses the polish."""
    import time as _time

    from routing.solver import SearchConfig, solve
    from routing.stop import FirstOf, MaxIterations, converged

    t0 = _time.perf_counter()
    if not stage.lots:
        return StageResult(stage, (), {}, 0.0)
    problem, places = build_problem(stage, network, times)
    if dump_to is not None:
        dump_problem(problem, places, stage, time_limit, seed, dump_to)
    effort = effort or Effort()
    stop = None
    if effort.iterations > 0:
        units = sum(1 for t in problem.tasks if t.kind != "delivery")
        stop = FirstOf(MaxIterations(effort.iterations), converged(units))
    config = SearchConfig(polish=effort.polish)
    solution = solve(problem, time_limit, seed, stop=stop, config=config)
    routes = tuple(
        _timed(stage, problem, places, evaluate_route(problem, plan), plan)
        for plan in solution.routes
    )
    unassigned = {
        problem.tasks[u.task].id: (u.reason, u.detail)
        for u in solution.unassigned
        if problem.tasks[u.task].kind in ("pickup", "job")
    }
    for u in solution.unassigned:  # a delivery task alone (never expected) counts too
        t = problem.tasks[u.task]
        unassigned.setdefault(t.id, (u.reason, u.detail))
    return StageResult(
        stage, routes, unassigned, _time.perf_counter() - t0, solution.stats.as_dict()
    )


def _timed(
    stage: Stage, problem: Problem, places: Sequence[str], report: RouteReport, plan: RoutePlan
) -> TimedRoute:
    v = stage.vehicles[report.vehicle]
    pv = problem.vehicles[report.vehicle]
    dur, dist = problem.travel(pv)
    steps = [s for s in report.steps if s.kind in ("pickup", "delivery", "job")]
    visits = []
    for s in steps:
        task = problem.tasks[s.ref]
        begin = s.arrival + s.waiting_s
        visits.append(
            Visit(
                kind="delivery" if s.kind == "job" else s.kind,
                lot=task.id,
                place=places[task.location],
                arrival_s=s.arrival,
                begin_s=begin,
                departure_s=begin + s.setup_s + s.service_s,
                distance_cum_m=s.distance,
                load_kg=int(s.load[0]),
                load_l=int(s.load[1]),
            )
        )
    depot = pv.start if pv.start is not None else problem.tasks[steps[0].ref].location
    home = pv.end if pv.end is not None else depot
    first_loc = problem.tasks[steps[0].ref].location
    # The search times a route from the vehicle's earliest start, so a first stop with a
    # later window shows a wait there. The sheet leaves the depot just in time instead:
    # the first stop is reached when its service begins, and the rest of the schedule
    # (which runs forward from that moment) is unchanged.
    start = visits[0].begin_s - int(dur[depot, first_loc])
    visits[0] = dataclasses.replace(visits[0], arrival_s=visits[0].begin_s)
    end = report.steps[-1].arrival
    locs = sorted({depot, home} | {problem.tasks[s.ref].location for s in steps})
    pos = {loc: i for i, loc in enumerate(locs)}
    sub = np.ix_(locs, locs)
    return TimedRoute(
        stage=stage.key,
        echelon=stage.echelon,
        county=stage.county,
        vehicle=v,
        start_s=int(start),
        end_s=int(end),
        distance_m=int(report.distance),
        travel_s=int(report.duration),
        cost_fen=int(report.cost),
        visits=tuple(visits),
        loc_seq=(pos[depot], *(pos[problem.tasks[s.ref].location] for s in steps)),
        end_pos=pos[home],
        start_place=places[depot],
        legs_s=tuple(tuple(int(x) for x in row) for row in dur[sub]),
        legs_m=tuple(tuple(int(x) for x in row) for row in dist[sub]),
    )
