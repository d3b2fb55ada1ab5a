"""Who pays what of each shared route: coalition costs by shortcut, shares by two methods.

**Coalition cost.** The cost of a route for a coalition S of its participants is the cost
of the *same* route driven only to the stops where S has goods, skipping the others'
stops in the order the route visits them (fixed cost + per-hour x travel time + per-km x
distance, as for the whole route). Why the shortcut and not a re-solve:

- it is exact and deterministic: 2^n coalitions of a route cost microseconds each, while
  a re-solve is a heuristic search whose noise (a coalition re-solved a little worse or a
  little better by chance) would move money between carriers;
- with shortest-path travel times the triangle inequality holds, so skipping stops never
  costs more: the shortcut cost is monotone (a bigger coalition never pays less in total)
  and is an upper bound on what the coalition could achieve by re-planning the route;
- it is what a dispatcher can explain: "without you, the van would have skipped 三台乡".

**Shares.** ``dispatch.allocation`` splits the route's cost by (a) proportion to each
participant's stand-alone cost on the route and (b) the Shapley value (exact up to 8
participants, sampled beyond with the standard error reported). Both are integer fen that
sum exactly to the route's cost. Each participant's row says whether it pays no more
than it would alone (its stand-alone shortcut cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dispatch.allocation import RouteAllocation, allocate
from dispatch.echelon import Lot, TimedRoute

if TYPE_CHECKING:
    from dispatch.plan import Plan


def coalition_cost(route: TimedRoute, lots: dict[int, Lot]) -> Any:
    """The coalition cost function of a route (frozenset of party ids -> fen)."""
    visit_parties = [lots[v.lot].parties for v in route.visits]
    memo: dict[frozenset[str], int] = {}

    def cost(coalition: frozenset[str]) -> int:
        if coalition not in memo:
            memo[coalition] = route.cost_of([bool(p & coalition) for p in visit_parties])
        return memo[coalition]

    return cost


def route_participants(route: TimedRoute, lots: dict[int, Lot]) -> list[str]:
    return sorted({party for v in route.visits for party in lots[v.lot].parties})


def allocate_routes(plan: Plan) -> dict[str, RouteAllocation]:
    """The allocation of every shared route, by route id."""
    out: dict[str, RouteAllocation] = {}
    lots = plan.shared.lots
    for rid, route in plan.shared_routes():
        players = route_participants(route, lots)
        out[rid] = allocate(
            players,
            coalition_cost(route, lots),
            exact_max=plan.options.shapley_exact_max,
            samples=plan.options.shapley_samples,
            seed=plan.options.seed,
        )
    return out


def party_totals(plan: Plan) -> list[dict[str, Any]]:
    """Per party: its shares of the shared routes against its cost alone."""
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
        alone = plan.separate[party].cost_fen() if party in plan.separate else None
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
