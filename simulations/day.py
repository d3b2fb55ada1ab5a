"""One simulated day of a scenario: its orders, its plan, and the figures of the report.

:func:`simulate_day` plans the day once (``dispatch.plan.day.plan_day``) and reads three
ways of running it off that plan:

* **alone** (today's): every carrier and shipper with its own vehicles, line-haul and
  county rounds (the plan's separate runs). A carrier whose parcels for a township are
  few (below ``sparse_threshold`` a day on average, from the demand model) serves it only
  on ``sparse_days`` of the week, as small brands do in the mountains: the parcels wait
  at its county depot and ride the next round, late (they count as not on time).
* **county_pool** (武定's 统仓共配, 2025): the carriers' own line-haul to the county (the
  alone trunk routes) and one shared delivery in the county (the shared plan's county
  and last-mile routes). An approximation: the shared county routes keep the timing of
  the shared line-haul.
* **shared** (the platform): the shared plan. Orders outside the scenario's scope (a
  carrier that has not joined, a county without a hub, a township without a delivery
  centre) stay with their carrier: their cost is the alone routes driven only to their
  stops (the route shortcut of ``dispatch.costs.savings``), in both pooled baselines.

The search stops by iterations (:attr:`Scenario.iterations_per_lot`), so the same scenario,
seed and day give the same figures on any machine (unless a stage hits the day's time
cap, which the record counts as ``capped_stages``).

Emissions: CO2 from fuel, 2.68 kg per litre of diesel (IPCC 2006 default, 74.1 t CO2 per
TJ at 43 MJ/kg and 0.84 kg/L) and 2.30 kg per litre of petrol (the same method,
69.3 t/TJ); litres per 100 km by vehicle kind are assumptions (:data:`LITRES_PER_100KM`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dispatch.domain import Day, Order, Party, VehicleSpec
from routing.errors import InputError
from simulations.demand import Calendar, day_demand
from simulations.scenario import Closure, Scenario

if TYPE_CHECKING:
    from dispatch.plan.echelon import TimedRoute
    from dispatch.plan.types import Plan, PlanRun
    from routing.network import RoadNetwork

__all__ = ["World", "simulate_day", "world_for"]

KG_CO2_PER_L = {"diesel": 2.68, "petrol": 2.30}
# litres per 100 km (assumption: typical of each class on mountain roads, loaded)
LITRES_PER_100KM: dict[str, tuple[str, float]] = {
    "truck": ("diesel", 22.0),
    "reefer_truck": ("diesel", 24.0),  # the cooling unit
    "livestock_truck": ("diesel", 20.0),
    "van": ("diesel", 11.0),
    "reefer_van": ("diesel", 13.0),
    "light_truck": ("diesel", 14.0),
    "motorbike": ("petrol", 3.0),  # motor tricycle
}
DEFAULT_FUEL = ("diesel", 14.0)
MUSHROOM = "野生菌"
# Sampled Shapley values of routes with more than 8 parties (the plan's default is 2,000
# samples): a year of days sums many routes, so each needs fewer
SHAPLEY_SAMPLES = 400


def co2_kg(kind: str, km: float) -> float:
    fuel, per_100 = LITRES_PER_100KM.get(kind, DEFAULT_FUEL)
    return km * per_100 / 100 * KG_CO2_PER_L[fuel]


@dataclass
class World:
    """What a scenario's days share: the network, the fleet, the parties, the scope."""

    scenario: Scenario
    network: RoadNetwork
    fleet: tuple[VehicleSpec, ...]
    parties: Mapping[str, Party]
    counties: tuple[str, ...]
    scope_townships: frozenset[str]
    joined: frozenset[str]
    sparse: frozenset[tuple[str, str]]  # (carrier, township) served on sparse days only
    calendar: Calendar
    names: Mapping[str, tuple[str, str]]  # county -> (zh, en)
    closed: dict[tuple[int, ...], RoadNetwork]
    recent: dict[int, list[Order]] = field(default_factory=dict)  # ordinal day -> orders

    def network_on(self, day: date) -> RoadNetwork:
        """The network of ``day``, the scenario's closures of that day shut."""
        active = [c for c in self.scenario.closures if c.on(day)]
        if not active:
            return self.network
        edges: set[int] = set()
        for c in active:
            edges.update(_closed_road(self.network, c, "closures"))
        key = tuple(sorted(edges))
        if key not in self.closed:
            self.closed[key] = self.network.without_edges(key)
        return self.closed[key]


def _closed_road(network: RoadNetwork, closure: Closure, where: str) -> tuple[int, ...]:
    """The road segments a closure shuts: the fastest road between its two places."""
    from routing.network import resolve, shortest_route

    try:
        a, b = resolve(network, [closure.from_place, closure.to_place], ["from_place", "to_place"])
    except InputError as e:
        raise InputError(f"{where}.{e.field}", e.reason) from None
    return tuple(shortest_route(network, a, b, "van").edges)


def _township_of(place: Any) -> str:
    return str(place.id if place.kind == "township" else place.township_code or "")


_WORLDS: dict[str, World] = {}


def world_for(scenario: Scenario) -> World:
    """What every day of ``scenario`` needs, built once a process."""
    key = scenario.digest()
    if key not in _WORLDS:
        if len(_WORLDS) >= 4:
            _WORLDS.pop(next(iter(_WORLDS)))
        _WORLDS[key] = _build_world(scenario)
    return _WORLDS[key]


def _build_world(scenario: Scenario) -> World:
    from dispatch.io.day import served_counties
    from dispatch.io.fleet import load_fleet, load_parties
    from routing.network import load_network
    from routing.network.places import load_counties
    from simulations.sample_day import load_assumptions, load_population
    from simulations.villages import synthetic_village_points

    base = load_network()
    served = served_counties()
    for code in scenario.counties or ():
        if code not in served:
            raise InputError(f"{scenario.name}: build.counties", f"{code} is not a served county")
    counties = tuple(sorted(scenario.counties or served))
    network = base
    fleet: list[VehicleSpec] = []
    if scenario.village_coverage > 0:
        fixes = synthetic_village_points(base, scenario.village_coverage, scenario.seed, counties)
        network = load_network(fixes=fixes)
    parties = load_parties()
    fleet = list(load_fleet(None, parties=parties, place_ids={p.id for p in network.places}))
    fleet += _extra_vehicles(fleet, scenario.fleet_extra)
    calendar = Calendar(**scenario.demand)  # type: ignore[arg-type]
    population = load_population()
    assumptions = load_assumptions()
    hubs = set(counties if scenario.hubs is None else scenario.hubs)
    for code in hubs:
        if code not in served:
            raise InputError(f"{scenario.name}: build.hubs", f"{code} is not a served county")
    townships = _scope_townships(network, hubs, scenario.townships, population)
    joined = _joined(scenario.joined, parties, assumptions)
    sparse = _sparse(network, counties, population, assumptions, scenario, calendar)
    for i, closure in enumerate(scenario.closures):  # every closure's road exists
        _closed_road(network, closure, f"{scenario.name}: closures[{i}]")
    names = {
        row["county_code"]: (row.get("name_zh", ""), row.get("name_en", ""))
        for row in load_counties()
    }
    return World(
        scenario,
        network,
        tuple(fleet),
        parties,
        counties,
        townships,
        joined,
        sparse,
        calendar,
        names,
        {},
    )


def _extra_vehicles(
    fleet: Sequence[VehicleSpec], extra: Iterable[tuple[str, int]]
) -> list[VehicleSpec]:
    by_id = {v.id: v for v in fleet}
    out = []
    for like, count in extra:
        if like not in by_id:
            raise InputError("fleet.extra.like", f"no vehicle {like!r} in the fleet")
        for k in range(1, count + 1):
            v = by_id[like]
            out.append(replace(v, id=f"{v.id}-X{k}", name=f"{v.name} (scenario +{k})"))
    return out


def _scope_townships(
    network: RoadNetwork, hubs: set[str], rule: str | tuple[str, ...], population: Mapping[str, int]
) -> frozenset[str]:
    towns = [p for p in network.places if p.kind == "township" and p.county_code in hubs]
    if isinstance(rule, tuple):
        known = {p.id for p in network.places if p.kind == "township"}
        for tid in rule:
            if tid not in known:
                raise InputError("build.townships", f"no township {tid!r}")
        return frozenset(t.id for t in towns if t.id in rule)
    if rule == "all":
        return frozenset(t.id for t in towns)
    n = int(rule.split(":", 1)[1])
    ranked = sorted(towns, key=lambda t: (-population.get(t.id, 0), t.id))
    return frozenset(t.id for t in ranked[:n])


def _joined(
    rule: str | int | tuple[str, ...], parties: Mapping[str, Party], a: Any
) -> frozenset[str]:
    """Parties in the shared plan: shippers always (the produce backhaul is the
    platform's), carriers as the scenario says (N: the N largest by national share)."""
    carriers = [p for p, info in parties.items() if info.kind == "carrier"]
    others = {p for p, info in parties.items() if info.kind != "carrier"}
    if rule == "all":
        return frozenset(parties)
    if isinstance(rule, int):
        shares = {"ZTO": a.zto_share_pct, **dict(a.other_shares_pct)}
        ranked = sorted(carriers, key=lambda c: (-shares.get(c, 0.0), c))
        return frozenset(others | set(ranked[:rule]))
    for c in rule:
        if c not in parties:
            raise InputError("carriers.joined", f"no party {c!r}")
    return frozenset(others | set(rule))


def _sparse(
    network: RoadNetwork,
    counties: Sequence[str],
    population: Mapping[str, int],
    a: Any,
    scenario: Scenario,
    calendar: Calendar,
) -> frozenset[tuple[str, str]]:
    """(carrier, township) pairs with fewer parcels a day than the threshold."""
    rate = a.inbound_per_resident_day * calendar.scale
    out = set()
    for town in network.places:
        if town.kind != "township" or town.county_code not in counties:
            continue
        residents = population.get(town.id, 0)
        for carrier, share in a.carrier_shares(town.county_code).items():
            if residents * rate * share < scenario.sparse_threshold:
                out.add((carrier, town.id))
    return frozenset(out)


# ---- the day's orders ----------------------------------------------------------------------
def orders_of(world: World, day: date) -> list[Order]:
    """The day's orders of the scenario's counties (the last few days' kept: a sparse
    round gathers the parcels of the days before it)."""
    key = day.toordinal()
    if key not in world.recent:
        world.recent[key] = _generate(world, day)
        while len(world.recent) > 8:
            world.recent.pop(min(world.recent))
    return list(world.recent[key])


def _generate(world: World, day: date) -> list[Order]:
    from simulations.sample_day import generate_day

    demand = day_demand(day, world.calendar)
    orders = generate_day(
        day,
        seed=world.scenario.seed,
        scale=demand.parcels,
        produce_scale=demand.produce,
        places=world.network.places,
        parties=world.parties,
    )
    wanted = set(world.counties)
    return [o for o in orders if _county(world, o) in wanted]


def _county(world: World, order: Order) -> str:
    place = world.network.place(order.destination if order.direction == "down" else order.origin)
    return str(place.county_code)


def _town(world: World, order: Order) -> str:
    place = world.network.place(order.destination if order.direction == "down" else order.origin)
    return _township_of(place)


def _held(world: World, order: Order) -> bool:
    """A carrier's parcel for a township it serves on sparse days only."""
    return order.direction == "down" and (order.party, _town(world, order)) in world.sparse


def _moved(order: Order, day: date) -> Order:
    """A held parcel, ready and due on ``day`` at the same clock times, from the hub."""

    def on(t: datetime | None) -> datetime | None:
        return None if t is None else datetime.combine(day, t.timetz())

    return replace(order, ready=on(order.ready), due=on(order.due))


def _at_station(world: World, order: Order) -> Order:
    """A party alone serves a village with a synthetic service point as it does today: at
    its township station (the points are the platform's: a what-if of the scenario)."""
    from simulations.villages import is_synthetic

    end = order.destination if order.direction == "down" else order.origin
    place = world.network.place(end)
    if place.kind != "village" or not is_synthetic(place):
        return order
    if order.direction == "down":
        return replace(order, destination=place.township_code)
    return replace(order, origin=place.township_code)


def alone_orders(
    world: World, day: date, today: Sequence[Order]
) -> tuple[list[Order], frozenset[str]]:
    """What the parties alone carry on ``day``, and the ids of those held back from the
    days before (late by then)."""
    orders, held = _alone_orders(world, day, today)
    if world.scenario.village_coverage > 0:
        orders = [_at_station(world, o) for o in orders]
    return orders, held


def _alone_orders(
    world: World, day: date, today: Sequence[Order]
) -> tuple[list[Order], frozenset[str]]:
    if day.weekday() not in world.scenario.sparse_days:
        return [o for o in today if not _held(world, o)], frozenset()
    out = list(today)
    held: set[str] = set()
    back = day - timedelta(days=1)
    while back.weekday() not in world.scenario.sparse_days and (day - back).days < 7:
        for o in orders_of(world, back):
            if _held(world, o):
                out.append(_moved(o, day))
                held.add(o.id)
        back -= timedelta(days=1)
    return out, frozenset(held)


def in_scope(world: World, order: Order) -> bool:
    return order.party in world.joined and _town(world, order) in world.scope_townships


# ---- the figures -----------------------------------------------------------------------------
@dataclass
class _Tally:
    cost_fen: int = 0
    fixed_fen: int = 0
    m: float = 0.0
    s: float = 0.0
    co2: float = 0.0
    vehicles: set[tuple[str, str]] = field(default_factory=set)

    def add_route(self, run: str, route: TimedRoute, keep: Sequence[bool] | None = None) -> None:
        if keep is None:
            cost, m, s = route.cost_fen, route.distance_m, route.end_s - route.start_s
        else:
            if not any(keep):
                return
            s, m = route.travel_of(keep)
            cost = route.cost_of(keep)
        self.cost_fen += cost
        self.fixed_fen += route.vehicle.fixed_fen
        self.m += m
        self.s += s
        self.co2 += co2_kg(route.vehicle.kind, m / 1000)
        self.vehicles.add((run, route.vehicle.id))

    def as_dict(self, served: int, parcels: int, on_time: int, deferred: int) -> dict[str, Any]:
        return {
            "cost_fen": self.cost_fen,
            "fixed_fen": self.fixed_fen,
            "orders_served": served,
            "parcels_served": parcels,
            "km": round(self.m / 1000, 1),
            "vehicle_hours": round(self.s / 3600, 1),
            "vehicles": len(self.vehicles),
            "co2_kg": round(self.co2, 1),
            "on_time_orders": on_time,
            "deferred_orders": deferred,
        }


def _keep(run: PlanRun, route: TimedRoute, orders: frozenset[str]) -> list[bool]:
    return [any(o in orders for o in run.lots[v.lot].orders) for v in route.visits]


def _figures(
    world: World,
    plan: Plan,
    alone: Sequence[Order],
    late: frozenset[str],
    out_of_scope: frozenset[str],
) -> dict[str, Any]:
    """The three baselines' figures and the counties' (see the module's notes)."""
    served_alone = plan.separate_served
    served_shared = {oid for oid, oc in plan.outcomes.items() if oc.assigned}
    pieces = {o.id: o.pieces if o.direction == "down" else 0 for o in alone}
    pieces.update(
        {oid: p.order.pieces if p.order.direction == "down" else 0 for oid, p in plan.paths.items()}
    )
    tallies = {k: _Tally() for k in ("alone", "county_pool", "shared")}
    county: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for party, run in plan.separate.items():
        for r in run.routes():
            tallies["alone"].add_route(party, r)
            county[r.county or ""]["alone_fen"] += r.cost_fen
            county[r.county or ""]["alone_km"] += r.distance_m / 1000
            if r.echelon == "trunk":
                tallies["county_pool"].add_route(party, r)
                county[""]["county_pool_fen"] += r.cost_fen
            elif out_of_scope:
                keep = _keep(run, r, out_of_scope)
                tallies["county_pool"].add_route(party, r, keep)
                tallies["shared"].add_route(party, r, keep)
                if any(keep):
                    county[r.county or ""]["county_pool_fen"] += r.cost_of(keep)
                    county[r.county or ""]["shared_fen"] += r.cost_of(keep)
        if out_of_scope:
            for r in run.trunk_routes():
                keep = _keep(run, r, out_of_scope)
                tallies["shared"].add_route(party, r, keep)
                if any(keep):
                    county[""]["shared_fen"] += r.cost_of(keep)
    for r in plan.shared.routes():
        tallies["shared"].add_route("shared", r)
        county[r.county or ""]["shared_fen"] += r.cost_fen
        county[r.county or ""]["shared_km"] += r.distance_m / 1000
        if r.echelon != "trunk":
            tallies["county_pool"].add_route("shared", r)
            county[r.county or ""]["county_pool_fen"] += r.cost_fen
    # both pooled baselines serve the shared plan's orders and leave the rest alone
    served = {"alone": served_alone, "county_pool": served_shared | (served_alone & out_of_scope)}
    served["shared"] = served["county_pool"]
    baselines = {
        name: tally.as_dict(
            len(served[name]),
            sum(pieces.get(o, 0) for o in served[name]),
            len(served[name] - late),
            len(late) if name == "alone" else 0,
        )
        for name, tally in tallies.items()
    }
    return {"baselines": baselines, "by_county": _by_county(world, plan, county)}


def _by_county(
    world: World, plan: Plan, county: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """Per county: its routes' costs, and the line-haul shared out by its orders."""
    orders: dict[str, int] = defaultdict(int)
    parcels: dict[str, int] = defaultdict(int)
    for p in plan.paths.values():
        orders[p.county] += 1
        parcels[p.county] += p.order.pieces if p.order.direction == "down" else 0
    total = sum(orders.values()) or 1
    trunk = county.get("", {})
    out = {}
    for code in world.counties:
        c = county.get(code, {})
        share = orders[code] / total
        zh, en = world.names.get(code, ("", ""))
        out[code] = {
            "name_zh": zh,
            "name_en": en,
            "orders": orders[code],
            "parcels": parcels[code],
            **{
                key: round(c.get(key, 0.0) + trunk.get(key, 0.0) * share)
                for key in ("alone_fen", "county_pool_fen", "shared_fen")
            },
            "alone_km": round(c.get("alone_km", 0.0) + trunk.get("alone_km", 0.0) * share, 1),
            "shared_km": round(c.get("shared_km", 0.0) + trunk.get("shared_km", 0.0) * share, 1),
        }
    return out


def _parties(world: World, plan: Plan, today: Sequence[Order]) -> dict[str, Any]:
    allocated: dict[str, int] = defaultdict(int)
    for alloc in plan.allocations.values():
        for s in alloc.shares:
            allocated[s.party] += s.shapley_fen
    orders: dict[str, int] = defaultdict(int)
    for o in today:
        orders[o.party] += 1
    out = {}
    for party in sorted(set(allocated) | set(plan.separate)):
        info = world.parties.get(party)
        run = plan.separate.get(party)
        out[party] = {
            "name_zh": info.name_zh if info else party,
            "name_en": info.name_en if info else party,
            "kind": info.kind if info else "",
            "orders": orders.get(party, 0),
            "allocated_fen": allocated.get(party, 0),
            "alone_fen": run.cost_fen() if run else 0,
        }
    return out


def simulate_day(
    scenario: Scenario, day: date, *, overrides: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The day record of ``scenario`` on ``day`` (see simulations/README: one JSON a day).
    ``overrides`` (sensitivity): ``demand_scale`` or ``sparse_threshold`` for this day."""
    from dispatch.plan.day import PlanOptions, plan_day
    from dispatch.report.summary import village_coverage

    t0 = time.perf_counter()
    if overrides:
        demand = dict(scenario.demand)
        if "demand_scale" in overrides:
            demand["scale"] = overrides["demand_scale"]
        scenario = replace(
            scenario,
            demand=demand,
            sparse_threshold=overrides.get("sparse_threshold", scenario.sparse_threshold),
        )
    world = world_for(scenario)
    network = world.network_on(day)
    today = orders_of(world, day)
    alone, late = alone_orders(world, day, today)
    shared = [o for o in today if in_scope(world, o)]
    out_of_scope = frozenset(o.id for o in alone if not in_scope(world, o))
    plan_input = Day(date=day, parties=dict(world.parties), orders=shared, fleet=list(world.fleet))
    options = PlanOptions(
        time_limit=scenario.time_limit,
        seed=scenario.seed,
        workers=1,
        counties=world.counties,
        iterations_per_lot=scenario.iterations_per_lot,
        polish="none",
        min_stage_s=0.05,
        shared_weight=scenario.shared_weight,
        shapley_samples=SHAPLEY_SAMPLES,
        # villages with a service point on the county routes: a last mile from the
        # township stations ("auto") would solve every county twice
        last_mile="direct",
    )
    plan = plan_day(plan_input, network, options, separate_orders=alone)
    figures = _figures(world, plan, alone, late, out_of_scope)
    mushrooms = [o for o in today if MUSHROOM in o.goods and in_scope(world, o)]
    stages = [r for run in (plan.shared, *plan.separate.values()) for r in run.stage_results()]
    capped = sum(1 for r in stages if (r.stats or {}).get("stopped_by") == "max_runtime")
    cover = village_coverage(network, world.counties)
    return {
        "scenario": scenario.name,
        "date": day.isoformat(),
        "seed": scenario.seed,
        "demand": day_demand(day, world.calendar).as_dict(),
        "orders": len(today),
        "parcels": sum(o.pieces for o in today if o.direction == "down"),
        **figures,
        "cold_chain": {
            "mushroom_orders": len(mushrooms),
            "mushroom_in_24h": sum(1 for o in mushrooms if plan.outcomes[o.id].assigned)
            if mushrooms
            else 0,
        },
        "villages": {
            k: cover[k] for k in ("villages", "located", "synthetic", "pct", "target_pct")
        },
        "parties": _parties(world, plan, today),
        "solve": {
            "seconds": round(time.perf_counter() - t0, 2),
            "capped_stages": capped,
            "stages": len(stages),
            "closures": len([c for c in scenario.closures if c.on(day)]),
        },
    }
