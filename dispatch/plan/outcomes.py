"""What became of each order in a plan run, and the ids of the run's routes.

Route ids: ``T-01`` for the trunk routes, ``C-<county>-01`` for the county ones,
``V-<township>-01`` for a township station's last mile to its villages, prefixed with
``<party>-`` in a party's separate plan. An order is assigned when every echelon of
its path carries it; otherwise its outcome says which echelon failed and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatch.plan.types import OrderPath, Outcome, PlanRun

__all__ = ["number_routes", "order_outcomes"]


def number_routes(runs: Sequence[PlanRun]) -> dict[int, str]:
    """id(TimedRoute) -> route id, for every route of the runs."""
    ids: dict[int, str] = {}
    for run in runs:
        prefix = "" if run.party is None else f"{run.party}-"
        for k, r in enumerate(run.trunk_routes(), 1):
            ids[id(r)] = f"{prefix}T-{k:02d}"
        for county in sorted(run.counties):
            for k, r in enumerate(run.counties[county].routes, 1):
                ids[id(r)] = f"{prefix}C-{county}-{k:02d}"
            for stage in run.last_mile.get(county, ()):
                station = stage.stage.depot
                for k, r in enumerate(stage.routes, 1):
                    ids[id(r)] = f"{prefix}V-{station}-{k:02d}"
    return ids


def order_outcomes(
    paths: Mapping[str, OrderPath],
    rejected: Mapping[str, tuple[str, str]],
    run: PlanRun,
    route_ids: Mapping[int, str],
) -> dict[str, Outcome]:
    """Order id -> its outcome in ``run``, for the orders of ``paths`` and those
    ``rejected`` before routing (order id -> (reason, detail))."""
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
    for result in run.stage_results():
        for lot_id, (reason, detail) in result.unassigned.items():
            unassigned[lot_id] = (result.stage.echelon, reason, detail)
    for oid, p in paths.items():
        oc = Outcome()
        lots = run.order_lots.get(oid, {})
        needed = ["trunk", "county"] if p.trunk else ["county"]
        if "village" in lots:  # a last mile from the township station
            needed.append("village")
        if p.order.direction == "up":
            needed.reverse()
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
            elif echelon == "village" and p.order.direction == "down":
                reason, detail = "other", "its county leg to the township station was not planned"
            else:
                reason, detail = "other", "no route carries it"
            oc.reason = oc.reason or reason
            oc.detail = oc.detail or f"{echelon} echelon: {detail}"
        oc.assigned = not oc.reason
        out[oid] = oc
    return out
