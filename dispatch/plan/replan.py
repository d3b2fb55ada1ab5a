"""Replanning a day under way: a road closed, orders added, a vehicle late.

What is done stays done. Each county echelon is planned again from the moment of the
replan: a vehicle out on its route starts from the last stop its courier reported, with the
parcels it still carries (they can only leave it at their stops) and the produce it has
picked up (which it brings to the hub); vehicles still at the hub, parcels still at the
hub and produce not yet collected are planned afresh. The trunk routes are kept as
published: a trunk truck is out of the county's reach once it has left. A replan plans
the county routes only: villages go on the county routes again (the last-mile routes of
the township stations, ``dispatch.plan.lastmile``, are not replanned), and what a station's
vehicle already carries is left to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dispatch.costs.allocation import RouteAllocation, allocate
from dispatch.costs.shares import coalition_cost, route_participants
from dispatch.domain import Day, Order, VehicleSpec
from dispatch.plan.echelon import (
    Lot,
    Stage,
    StageResult,
    TimedRoute,
    lot_caps,
    make_lots,
    solve_stage,
)
from dispatch.plan.stages import order_paths
from dispatch.plan.types import NO_DUE, OrderPath, PlanOptions, hub_of
from dispatch.report.sheets import driving_s

if TYPE_CHECKING:
    from routing.network import RoadNetwork


@dataclass(frozen=True)
class UnderWay:
    """A vehicle out on its county route when the replan is made."""

    vehicle: VehicleSpec
    place: str  # the last stop its courier reported
    free_s: int  # when it can move on (s after the plan day's midnight)
    on_board: tuple[str, ...] = ()  # order ids of parcels it still has to drop
    carrying: tuple[str, ...] = ()  # order ids of produce it picked up, for the hub
    driven_s: int = 0  # driving done today before the replan (counts against the limit)


@dataclass
class Replan:
    """The new county routes; it can be written as route sheets like a plan."""

    day: Day
    paths: dict[str, OrderPath]
    results: dict[str, StageResult]  # county -> its replanned routes
    lots: dict[int, Lot]
    unassigned: dict[str, tuple[str, str]]  # order id -> (reason, detail)
    allocations: dict[str, RouteAllocation] = field(default_factory=dict)
    network_source: str = ""
    route_ids: dict[int, str] = field(default_factory=dict)

    @property
    def sheet_lots(self) -> dict[int, Lot]:
        return self.lots

    def routes(self) -> list[tuple[str, TimedRoute]]:
        out = []
        for county in sorted(self.results):
            for r in self.results[county].routes:
                out.append((self.route_ids[id(r)], r))
        return out


def replan_counties(
    day: Day,
    network: RoadNetwork,
    *,
    at_s: int,
    under_way: Sequence[UnderWay],
    counties: Sequence[str],
    options: PlanOptions | None = None,
    prefix: str = "R",
) -> Replan:
    """Plan again, from ``at_s``, the county routes of ``day.orders`` still to be served.

    ``day.orders`` holds the orders not yet done: those on board or carried by a vehicle
    under way (named in ``under_way``) and those still waiting at the hub or at their stop.
    """
    options = options or PlanOptions()
    paths, rejected, _ = order_paths(day, network, counties)
    for p in paths.values():  # parcels only leave the hub from the replan on
        if p.order.direction == "down" and p.order.origin == "WH-CX":
            paths[p.order.id] = replace(p, trunk=False)
    held_by = {oid: u.vehicle.id for u in under_way for oid in (*u.on_board, *u.carrying)}
    unassigned: dict[str, tuple[str, str]] = dict(rejected)
    results: dict[str, StageResult] = {}
    lots: dict[int, Lot] = {}
    next_lot = 0
    for county in counties:
        hub = hub_of(county)
        vehicles = tuple(v for v in day.fleet if v.depot == hub)
        if not vehicles:
            continue
        cap_kg, cap_l = lot_caps(vehicles, options.lot_share)
        free_legs: list[tuple[Order, str, str, int, int]] = []
        carried: dict[str, list[tuple[Order, str, str, int, int]]] = {}
        ours = {v.id for v in vehicles}
        for p in paths.values():
            if p.county != county:
                continue
            o = p.order
            due = p.due_s if p.due_s < NO_DUE else NO_DUE
            if o.id in held_by and held_by[o.id] not in ours:
                continue  # on a township station's last-mile vehicle: its route stands
            if o.id in held_by:
                drop = p.stop if o.direction == "down" else hub
                carried.setdefault(held_by[o.id], []).append((o, "", drop, 0, due))
            elif o.direction == "down":
                free_legs.append((o, hub, p.stop, max(at_s, p.ready_s), due))
            else:
                free_legs.append((o, p.stop, hub, max(at_s, p.ready_s), due))
        stage_lots = make_lots(
            free_legs, cap_kg=cap_kg, cap_l=cap_l, by_party=False, first_id=next_lot
        )
        next_lot += len(stage_lots) + 1
        carried_by: dict[int, str] = {}
        for vid, legs in sorted(carried.items()):
            mine = make_lots(legs, cap_kg=10**9, cap_l=10**9, by_party=False, first_id=next_lot)
            next_lot += len(mine) + 1
            carried_by.update({lot.id: vid for lot in mine})
            stage_lots += mine
        starts = {v.id: (hub, at_s) for v in vehicles}
        starts.update({u.vehicle.id: (u.place, max(at_s, u.free_s)) for u in under_way})
        stage = Stage(
            key=f"replan/county/{county}",
            echelon="county",
            county=county,
            depot=hub,
            lots=tuple(stage_lots),
            vehicles=vehicles,
            setup_s=options.service.stop_setup_s,
            starts={vid: at for vid, at in starts.items() if vid in {v.id for v in vehicles}},
            carried_by=carried_by,
            driven_s={u.vehicle.id: u.driven_s for u in under_way},
        )
        limit = max(1.0, options.time_limit / max(1, len(counties)))
        result = solve_stage(stage, network, options.service, limit, options.seed)
        results[county] = result
        lots.update({lot.id: lot for lot in stage_lots})
        for lot_id, (reason, detail) in result.unassigned.items():
            for oid in lots[lot_id].orders:
                unassigned[oid] = (reason, f"county echelon: {detail}")
    plan = Replan(
        day=day,
        paths=paths,
        results=results,
        lots=lots,
        unassigned=unassigned,
        network_source=network.source,
    )
    for county in sorted(results):
        for k, r in enumerate(results[county].routes, 1):
            plan.route_ids[id(r)] = f"{prefix}-{county}-{k:02d}"
    orders = {oid: p.order for oid, p in paths.items()}
    for rid, route in plan.routes():
        plan.allocations[rid] = allocate(
            route_participants(route, lots),
            coalition_cost(route, lots, orders, day.fleet),
            exact_max=options.shapley_exact_max,
            samples=options.shapley_samples,
            seed=options.seed,
        )
    return plan


def under_way(
    content: Mapping[str, Any],
    states: Mapping[int, str],
    vehicle: VehicleSpec,
    left: Mapping[str, Order],
    at_s: int,
) -> UnderWay | None:
    """Where a published county sheet's vehicle stands and what it holds, from its
    couriers' reports; None when no stop has been reported (the vehicle has not left).

    On board are the goods picked up at a completed stop and not dropped at one since,
    among ``left`` (the orders not yet done): parcels (``down``) it still has to drop,
    produce (``up``) it brings to the hub. Goods of a later stop, such as a second load at
    the hub, are not on board yet and are planned afresh.
    """
    stops = list(content.get("stops", ()))
    reported = [st for st in stops if states.get(int(st["seq"]), "pending") != "pending"]
    if not reported:
        return None
    last = max(reported, key=lambda st: int(st["seq"]))
    picked: set[str] = set()
    for st in stops:
        if states.get(int(st["seq"])) != "completed":
            continue
        picked.update(str(o["order_id"]) for g in st.get("pickup", ()) for o in g["orders"])
        picked.difference_update(
            str(o["order_id"]) for g in st.get("drop", ()) for o in g["orders"]
        )
    held = sorted(oid for oid in picked if oid in left)
    return UnderWay(
        driven_s=driving_s(content, upto_seq=int(last["seq"])),
        vehicle=vehicle,
        place=str(last["place"]["id"]),
        free_s=at_s,
        on_board=tuple(oid for oid in held if left[oid].direction == "down"),
        carrying=tuple(oid for oid in held if left[oid].direction == "up"),
    )


def done_stops(content: Mapping[str, Any], states: Mapping[int, str]) -> list[dict[str, Any]]:
    """The stops of a published sheet that are over (completed or failed), kept as they
    were, marked with their state."""
    out = []
    for stop in content.get("stops", ()):
        state = states.get(int(stop["seq"]), "pending")
        if state in ("completed", "failed"):
            out.append({**stop, "status": state, "done": True})
    return out


def kept_sheet(content: Mapping[str, Any], states: Mapping[int, str]) -> dict[str, Any]:
    """A published sheet carried into a replan unchanged (a trunk route: out of the
    county's reach), its finished stops marked with their state."""
    over = {int(st["seq"]) for st in done_stops(content, states)}
    stops = [
        {**st, "status": states[int(st["seq"])], "done": True} if int(st["seq"]) in over else st
        for st in content.get("stops", [])
    ]
    return {**content, "stops": stops}


def continued_sheets(
    new_sheets: Sequence[dict[str, Any]],
    history: Mapping[str, Sequence[dict[str, Any]]],
    replan_of: int,
) -> list[dict[str, Any]]:
    """The replan's sheets, each vehicle's finished stops (``history``, by vehicle id)
    first and the stops numbered again from 1."""
    out = []
    for new in new_sheets:
        stops = [*history.get(new["vehicle"]["id"], ()), *new["stops"]]
        out.append(
            {**new, "stops": [{**st, "seq": k} for k, st in enumerate(stops, 1)],
             "replan_of": replan_of}
        )  # fmt: skip
    return out
