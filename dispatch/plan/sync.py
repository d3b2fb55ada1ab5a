"""Synchronisation between the echelons, checked on a finished plan.

Times are seconds from the plan day's midnight.
"""

from __future__ import annotations

from dispatch.plan.types import Plan

__all__ = ["check_synchronisation", "transfers"]

# The hand-overs of an order, as (echelon it arrives on, echelon it leaves on, where), by
# direction: down from the warehouse to the villages, up from the villages to it.
_HANDOVERS = {
    "down": (("trunk", "county", "hub"), ("county", "village", "township station")),
    "up": (("village", "county", "township station"), ("county", "trunk", "hub")),
}


def transfers(plan: Plan) -> int:
    """How many hand-overs between echelons the shared plan makes (one per order and
    place where it changes vehicle)."""
    count = 0
    for oid, oc in plan.outcomes.items():
        if oid in plan.paths:
            for a, b, _ in _HANDOVERS[plan.paths[oid].order.direction]:
                count += int(a in oc.legs and b in oc.legs)
    return count


def check_synchronisation(plan: Plan) -> list[str]:
    """Every order handed between echelons (at a hub, or at a township station for a last
    mile) leaves no earlier than ``transfer_s`` after it arrived; one sentence per
    violation (empty: all respected)."""
    transfer = plan.options.service.transfer_s
    problems = []
    for oid, oc in plan.outcomes.items():
        if oid not in plan.paths:
            continue
        for arrives, leaves, where in _HANDOVERS[plan.paths[oid].order.direction]:
            if arrives not in oc.legs or leaves not in oc.legs:
                continue
            arrived, left, route = oc.legs[arrives][2], oc.legs[leaves][1], oc.legs[leaves][0]
            if left < arrived + transfer:
                problems.append(
                    f"order {oid}: leaves the {where} at {left} s on {route}, "
                    f"less than {transfer} s after it arrived at {arrived} s"
                )
    return problems
