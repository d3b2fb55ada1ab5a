"""Synchronisation between the echelons, checked on a finished plan.

Times are seconds from the plan day's midnight.
"""

from __future__ import annotations

from dispatch.plan.types import Plan

__all__ = ["check_synchronisation"]


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
