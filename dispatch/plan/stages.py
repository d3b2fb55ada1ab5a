"""Each order's path through the echelons, the fleets, and the stage problems built from them.

:func:`order_paths` gives each order its stop, its hub and whether it rides the trunk;
:func:`vehicles_for` and :func:`reuse_vehicles` the vehicles of a stage (a party alone
hires copies of the depot's pool vehicles); :func:`trunk_stage` and :func:`county_stage`
the routing problem of one echelon, its lots registered on the plan run. Times are
seconds from the plan day's midnight, money integer fen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import time as dtime
from typing import TYPE_CHECKING

from dispatch.domain import Day, Order, Party, VehicleSpec
from dispatch.plan.echelon import Lot, Stage, StageResult, lot_caps, make_lots
from dispatch.plan.timing import shift_end_s
from dispatch.plan.types import NO_DUE, WAREHOUSE, OrderPath, PlanOptions, PlanRun, hub_of

if TYPE_CHECKING:
    from routing.network import RoadNetwork


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
    register_lots(run, lots, "trunk")
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
        end = shift_end_s(v)
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
    *,
    via: Mapping[str, str] | None = None,
    via_legs: Mapping[str, tuple[int, int]] | None = None,
    register: bool = True,
) -> Stage:
    """``available``: order id -> when a trunk-delivered order can leave the hub (s).
    ``via``: village -> the township station its goods pass through (a last-mile stage
    carries them on), so the county routes call at the station instead; ``via_legs``:
    village -> (s from the station to it, s back), handling included
    (:func:`dispatch.plan.lastmile.station_legs`), which narrow the windows at the station.
    ``register``: record the lots on the run now (False when the caller chooses)."""
    via, via_legs = via or {}, via_legs or {}
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
        stop = via.get(p.stop, p.stop)
        there, back_to = via_legs.get(p.stop, (0, 0)) if stop != p.stop else (0, 0)
        margin = options.handling_margin_s if stop != p.stop else 0
        if o.direction == "down":
            if p.trunk:
                if o.id not in available:
                    continue  # never reached the hub
                ready = available[o.id]
            else:
                ready = p.ready_s
            # at the station early enough for a last-mile round, not only a single trip
            legs.append((o, hub, stop, ready, p.due_s - there - margin))
        else:
            deadline = p.due_s
            if p.trunk:  # at the hub in time for the produce run to WH-CX
                deadline = min(collect, p.due_s - back[county] - hub_setup) - transfer
            legs.append((o, stop, hub, p.ready_s + back_to, deadline))
    lots = make_lots(
        legs, cap_kg=cap_kg, cap_l=cap_l, by_party=run.party is not None, first_id=next_lot
    )
    if register:
        register_lots(run, lots, "county")
    return Stage(
        key=f"{run.name}/county/{county}",
        echelon="county",
        county=county,
        depot=hub,
        lots=tuple(lots),
        vehicles=vehicles,
        setup_s=options.service.stop_setup_s,
    )


def station_vehicles(
    fleet: Sequence[VehicleSpec], network: RoadNetwork, paths: Iterable[OrderPath], county: str
) -> dict[str, str]:
    """Village -> its township station, for the located villages of ``county`` with orders
    whose station has vehicles of its own (a last-mile stage can start there)."""
    depots = {v.depot for v in fleet}
    out: dict[str, str] = {}
    for p in paths:
        if p.county != county or p.held:
            continue
        place = network.place(p.stop)
        if place.kind != "village" or place.township_code not in depots:
            continue
        if network.place(place.township_code).located:  # the station has a point to start
            out[place.id] = place.township_code
    return out


def last_mile_stage(
    run: PlanRun,
    station: str,
    county: str,
    paths: Iterable[OrderPath],
    day: Day,
    options: PlanOptions,
    at_station: Mapping[str, int],
    next_lot: int,
) -> Stage:
    """The last mile from a township station to its villages and back, with the station's
    vehicles: ``at_station`` is, per village order (id), when its parcels can leave the
    station (down: the county route's drop there plus ``transfer_s``) or by when its
    produce must be there (up: the county route's pickup there less ``transfer_s``)."""
    vehicles = tuple(v for v in day.fleet if v.depot == station)
    cap_kg, cap_l = lot_caps(vehicles, options.lot_share)
    legs = []
    for p in paths:
        o = p.order
        if o.id not in at_station:
            continue
        if o.direction == "down":
            legs.append((o, station, p.stop, at_station[o.id], p.due_s))
        else:
            legs.append((o, p.stop, station, p.ready_s, at_station[o.id]))
    lots = make_lots(legs, cap_kg=cap_kg, cap_l=cap_l, by_party=False, first_id=next_lot)
    return Stage(
        key=f"{run.name}/village/{station}",
        echelon="village",
        county=county,
        depot=station,
        lots=tuple(lots),
        vehicles=vehicles,
        setup_s=options.service.stop_setup_s,
    )


def register_lots(run: PlanRun, lots: Iterable[Lot], echelon: str) -> None:
    """Record ``lots`` on the run, and for each of their orders its lot on ``echelon``."""
    for lot in lots:
        run.lots[lot.id] = lot
        for oid in lot.orders:
            run.order_lots.setdefault(oid, {})[echelon] = lot.id
