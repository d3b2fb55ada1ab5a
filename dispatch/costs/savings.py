"""The saving of shared delivery, measured on the same orders on both sides.

The shared plan and the separate plans (every party alone) are solved independently, so
each can leave a few orders unassigned that the other serves (on the bundled day the
parties alone served 3,145 orders and the shared plan 3,139, six more on one side and
two more on the other). Dividing their costs as they stand would compare unequal work.
:func:`compare` prices the separate side on exactly the orders the shared plan serves:

* orders both sides serve: the separate routes are driven only to the stops that carry
  them (the same route shortcut the cost shares use, see ``dispatch.costs.shares``;
  skipping stops never costs more under shortest-path travel, a route left with no
  such stop costs nothing). The separate plan's extra orders thus drop out;
* orders only the shared plan serves (no party alone got them through): priced at what
  they cost in the shared plan, their party's Shapley share of each route they ride,
  split over the party's orders on that route by weight. This assumes a party alone
  would do as well as sharing for them, so the saving reported is conservative.

``cost_fen`` stays the shared plan's own cost (what runs on the road) and
``separate_cost_fen`` is the like-for-like figure, so ``savings_pct = 100 * (1 -
cost_fen / separate_cost_fen)`` compares the same orders (CONTRACTS.md section 4).
Money in integer fen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatch.plan.echelon import TimedRoute
    from dispatch.plan.types import Plan, PlanRun

__all__ = ["Comparison", "compare"]

METHOD_NOTE = (
    "同一批订单比较 Same orders on both sides: the separate routes are shortcut past the "
    "orders the shared plan does not serve; orders no party alone could serve are priced "
    "at their Shapley share in the shared plan (conservative)."
)


@dataclass(frozen=True)
class Comparison:
    """The separate side priced on the orders the shared plan serves."""

    orders: int  # orders compared: those the shared plan serves
    served_alone: int  # of them, served by the separate plans too
    only_shared: tuple[str, ...]  # served by the shared plan only (priced from it)
    only_shared_fen: int
    only_separate: tuple[str, ...]  # served alone only (dropped from the separate side)
    separate_plan_fen: int  # the separate plans' own cost, as solved
    # like-for-like separate cost by (echelon, county or None for trunk) and by party
    by_stage: Mapping[tuple[str, str | None], int] = field(default_factory=dict)
    by_party: Mapping[str, int] = field(default_factory=dict)

    @property
    def separate_fen(self) -> int:
        """The cost of the compared orders, every party alone."""
        return sum(self.by_stage.values())

    def separate_of(self, echelon: str | None = None, county: str | None = None) -> int:
        return sum(
            fen
            for (e, c), fen in self.by_stage.items()
            if (echelon is None or e == echelon) and (county is None or c == county)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "served_alone": self.served_alone,
            "only_shared": {"orders": len(self.only_shared), "priced_fen": self.only_shared_fen},
            "only_separate": {
                "orders": len(self.only_separate),
                "dropped_fen": self.separate_plan_fen - self.separate_fen + self.only_shared_fen,
            },
            "separate_plan_cost_fen": self.separate_plan_fen,
            "separate_cost_fen": self.separate_fen,
            "method": METHOD_NOTE,
        }


def compare(plan: Plan) -> Comparison:
    """The like-for-like comparison of ``plan``'s shared and separate sides."""
    shared = frozenset(oid for oid, oc in plan.outcomes.items() if oc.assigned)
    both = shared & plan.separate_served
    by_stage: dict[tuple[str, str | None], int] = defaultdict(int)
    by_party: dict[str, int] = defaultdict(int)
    raw = 0
    for party, run in plan.separate.items():
        for route in run.routes():
            raw += route.cost_fen
            fen = _cost_for(route, run, both)
            by_stage[(route.echelon, route.county)] += fen
            by_party[party] += fen
    only_shared = sorted(shared - plan.separate_served)
    priced = 0
    for (echelon, county, party), fen in _shared_prices(plan, only_shared).items():
        by_stage[(echelon, county)] += fen
        by_party[party] += fen
        priced += fen
    return Comparison(
        orders=len(shared),
        served_alone=len(both),
        only_shared=tuple(only_shared),
        only_shared_fen=priced,
        only_separate=tuple(sorted(plan.separate_served - shared)),
        separate_plan_fen=raw,
        by_stage=dict(by_stage),
        by_party=dict(by_party),
    )


def _cost_for(route: TimedRoute, run: PlanRun, orders: frozenset[str]) -> int:
    """The route driven only to the visits that carry one of ``orders``."""
    keep = [any(o in orders for o in run.lots[v.lot].orders) for v in route.visits]
    return route.cost_fen if all(keep) else route.cost_of(keep)


def _shared_prices(plan: Plan, order_ids: list[str]) -> dict[tuple[str, str | None, str], int]:
    """What ``order_ids`` cost in the shared plan, by (echelon, county, party): per route
    they ride, their party's Shapley share split over its orders there by weight."""
    if not order_ids:
        return {}
    wanted = set(order_ids)
    index = plan.order_index
    out: dict[tuple[str, str | None, str], int] = defaultdict(int)
    for rid, route in plan.shared_routes():
        alloc = plan.allocations.get(rid)
        carried = {o for v in route.visits for o in plan.shared.lots[v.lot].orders}
        if alloc is None or not carried & wanted:
            continue
        for share in alloc.shares:
            mine = [o for o in carried if index[o].party == share.party]
            ours = [o for o in mine if o in wanted]
            if not ours:
                continue
            total = sum(index[o].weight_kg for o in mine)
            part = sum(index[o].weight_kg for o in ours)
            if total <= 0:  # weightless orders: split by count
                total, part = len(mine), len(ours)
            out[(route.echelon, route.county, share.party)] += round(
                share.shapley_fen * part / total
            )
    return dict(out)
