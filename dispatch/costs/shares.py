"""Who pays what of each shared route: coalition costs, shares by two methods.

**Coalition cost.** The cost of a route for a coalition S of its participants is the cost
of the *same* route driven only to the stops where S has goods, skipping the others'
stops in the order the route visits them, by the *cheapest vehicle of the depot's fleet
that can carry S's goods*: its peak load along the shortened route fits, and it has the
skills (cold chain, livestock) S's goods need. Cost = that vehicle's fixed cost per day +
per-hour x driving time + per-km x distance, with the driving times and distances of the
route as driven. The whole route (all participants) costs what the plan's route costs.

Why this and not a re-solve:

- it is exact and deterministic: 2^n coalitions of a route cost microseconds each, while
  a re-solve is a heuristic search whose noise (a coalition re-solved a little worse or a
  little better by chance) would move money between carriers;
- with shortest-path travel times the triangle inequality holds, so skipping stops never
  costs more, and a smaller load never needs a dearer vehicle: a bigger coalition never
  costs less (monotone), and each coalition's cost is an upper bound on what it could
  achieve by re-planning the route alone;
- volume counts: a carrier with a few parcels could have done its stops with a tricycle
  or a small van, one with a full load needs the van; so the Shapley value charges the
  heavy user more, not merely the one with more stops (with stops alone, carriers that
  call at the same township stations would split a route evenly whatever they carry);
- it is what a dispatcher can explain: "without you, a 0.2 t tricycle would have done it
  and skipped 三台乡".

Approximations, stated: a smaller vehicle is costed on the route's own driving times
and distances (its own speeds and road access are not re-routed), and its shift is not
re-checked.

**Shares.** ``dispatch.costs.allocation`` splits the route's cost by (a) proportion to each
participant's stand-alone cost (the coalition cost of itself alone) and (b) the Shapley
value (exact up to 8 participants, sampled beyond with the standard error reported). Both
are integer fen that sum exactly to the route's cost. Each participant's row says whether
it pays no more than it would alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dispatch.costs.allocation import RouteAllocation, allocate
from dispatch.domain import Order, VehicleSpec
from dispatch.plan.echelon import Lot, TimedRoute

if TYPE_CHECKING:
    from dispatch.plan.types import Plan


def coalition_cost(
    route: TimedRoute,
    lots: Mapping[int, Lot],
    orders: Mapping[str, Order],
    fleet: Sequence[VehicleSpec],
) -> Callable[[frozenset[str]], int]:
    """The coalition cost function of a route (frozenset of party ids -> fen); ``fleet``
    holds the vehicles a coalition could have used (the route's depot's)."""
    players = route_participants(route, lots)
    index = {p: k for k, p in enumerate(players)}
    n_visits = len(route.visits)
    masks = np.zeros(n_visits, dtype=np.int64)
    kg = np.zeros((len(players), n_visits))
    litres = np.zeros((len(players), n_visits))
    skills: list[frozenset[int]] = []
    for j, v in enumerate(route.visits):
        lot = lots[v.lot]
        skills.append(lot.skills)
        sign = 1.0 if v.kind == "pickup" else -1.0
        for oid in lot.orders:
            o = orders[oid]
            k = index[o.party]
            masks[j] |= 1 << k
            kg[k, j] += sign * o.weight
            litres[k, j] += sign * o.volume_l
    # on board after each visit (a shipment is on board from its pickup to its delivery)
    on_kg = np.cumsum(kg, axis=1)
    on_l = np.cumsum(litres, axis=1)
    rates = _vehicle_options(fleet, route.vehicle)
    full = (1 << len(players)) - 1
    memo: dict[int, int] = {}

    def cost(coalition: frozenset[str]) -> int:
        bits = sum(1 << index[p] for p in coalition if p in index)
        if bits == 0:
            return 0
        if bits == full:
            return route.cost_fen
        if bits not in memo:
            members = [k for k in range(len(players)) if bits >> k & 1]
            keep = (masks & bits) != 0
            peak_kg = float(on_kg[members].sum(axis=0).max(initial=0.0))
            peak_l = float(on_l[members].sum(axis=0).max(initial=0.0))
            need = frozenset().union(*(skills[j] for j in np.flatnonzero(keep)))
            seconds, metres = route.travel_of(keep.tolist())
            memo[bits] = min(
                v.fixed_fen + round(v.per_hour_fen * seconds / 3600 + v.per_km_fen * metres / 1000)
                for v in rates
                if v is route.vehicle
                or (v.capacity_kg >= peak_kg and v.capacity_l >= peak_l and need <= v.skills)
            )
        return memo[bits]

    return cost


def _vehicle_options(fleet: Sequence[VehicleSpec], used: VehicleSpec) -> list[VehicleSpec]:
    """The route's own vehicle and one of each distinct kind at its depot."""
    seen = set()
    out = [used]
    for v in fleet:
        key = (v.capacity_kg, v.capacity_l, v.skills, v.fixed_fen, v.per_km_fen, v.per_hour_fen)
        if v.depot == used.depot and key not in seen:
            seen.add(key)
            out.append(v)
    return out


def route_participants(route: TimedRoute, lots: Mapping[int, Lot]) -> list[str]:
    return sorted({party for v in route.visits for party in lots[v.lot].parties})


def allocate_routes(plan: Plan) -> dict[str, RouteAllocation]:
    """The allocation of every shared route, by route id."""
    out: dict[str, RouteAllocation] = {}
    lots = plan.shared.lots
    orders = {oid: p.order for oid, p in plan.paths.items()}
    for rid, route in plan.shared_routes():
        out[rid] = allocate(
            route_participants(route, lots),
            coalition_cost(route, lots, orders, plan.day.fleet),
            exact_max=plan.options.shapley_exact_max,
            samples=plan.options.shapley_samples,
            seed=plan.options.seed,
        )
    return out


def party_totals(plan: Plan, alone_fen: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per party: its shares of the shared routes against ``alone_fen``, its cost alone
    for the same orders (``dispatch.costs.savings``)."""
    shapley: dict[str, int] = {}
    proportional: dict[str, int] = {}
    standalone_routes: dict[str, int] = {}
    for alloc in plan.allocations.values():
        for s in alloc.shares:
            shapley[s.party] = shapley.get(s.party, 0) + s.shapley_fen
            proportional[s.party] = proportional.get(s.party, 0) + s.proportional_fen
            standalone_routes[s.party] = standalone_routes.get(s.party, 0) + s.standalone_fen
    rows = []
    for party in sorted(set(shapley) | set(plan.separate)):
        alone = alone_fen.get(party) if party in plan.separate else None
        info = plan.day.parties.get(party)
        row: dict[str, Any] = {
            "party": party,
            "name_zh": info.name_zh if info else party,
            "kind": info.kind if info else "",
            "shapley_fen": shapley.get(party, 0),
            "proportional_fen": proportional.get(party, 0),
            "separate_cost_fen": alone,
        }
        if alone:
            row["saving_pct"] = round(100 * (1 - shapley.get(party, 0) / alone), 2)
            row["pays_no_more_than_alone"] = shapley.get(party, 0) <= alone
        rows.append(row)
    return rows
