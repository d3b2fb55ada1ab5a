"""When goods can be handed between echelons at the hubs.

:func:`collection_times`: how late the trunk collects produce at each hub;
:func:`latest_at_hub`: how late a parcel may leave its hub and still reach its stop;
:func:`trunk_arrivals` and :func:`hub_arrivals`: when goods brought to a hub by one echelon
can leave it on the other. Times are seconds from the plan day's midnight (durations in
seconds too), read from the road network's travel matrices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import time as dtime
from typing import TYPE_CHECKING

import numpy as np

from dispatch.domain import VehicleSpec
from dispatch.plan.types import WAREHOUSE, OrderPath, PlanOptions, PlanRun, hub_of

if TYPE_CHECKING:
    from routing.network import RoadNetwork


def clock_seconds(t: dtime) -> int:
    """A clock time as seconds from midnight."""
    return t.hour * 3600 + t.minute * 60 + t.second


def shift_end_s(v: VehicleSpec) -> int:
    """When a vehicle's day ends (s): its shift's end, or ``max_shift_h`` after its start
    if that is earlier."""
    return min(
        clock_seconds(v.shift_end), clock_seconds(v.shift_start) + round(v.max_shift_h * 3600)
    )


def collection_times(
    network: RoadNetwork,
    fleet: Sequence[VehicleSpec],
    counties: Sequence[str],
    options: PlanOptions,
) -> tuple[dict[str, int], dict[str, int]]:
    """County -> the latest time the trunk collects produce for WH-CX at its hub (s), and
    county -> the fastest trunk drive from its hub to WH-CX (s)."""
    from routing.network import resolve, travel_matrix

    latest = clock_seconds(options.latest_collect)
    trucks = [v for v in fleet if v.depot == WAREHOUSE]
    if not trucks or not counties:
        return dict.fromkeys(counties, latest), dict.fromkeys(counties, 0)
    out: dict[str, int] = {}
    fastest: dict[str, int] = {}
    points = resolve(network, [WAREHOUSE, *(hub_of(c) for c in counties)])
    back = {}
    for profile in sorted({v.profile for v in trucks}):
        m = travel_matrix(network, points[1:], points[:1], profile=profile)
        back[profile] = [int(x) for x in m.durations_s[:, 0]]
    for k, county in enumerate(counties):
        best = None
        for v in trucks:
            if back[v.profile][k] < 0:
                continue
            end = shift_end_s(v)
            leave = (
                end - back[v.profile][k] - options.service.hub_setup_s - options.collect_margin_s
            )
            best = leave if best is None else max(best, leave)
        out[county] = min(latest, best) if best is not None else latest
        fastest[county] = min((b[k] for b in back.values() if b[k] >= 0), default=0)
    return out, fastest


def hub_arrivals(run: PlanRun, paths: Mapping[str, OrderPath], transfer_s: int) -> dict[str, int]:
    """Order id -> when produce for WH-CX, brought to its hub by a county route, can be
    loaded on the trunk (unloading begins, plus ``transfer_s``)."""
    out: dict[str, int] = {}
    for result in run.counties.values():
        for r in result.routes:
            for v in r.visits:
                lot = run.lots[v.lot]
                if v.kind != "delivery" or not lot.destination.startswith("HUB-"):
                    continue
                for oid in lot.orders:
                    if paths[oid].trunk:
                        out[oid] = v.begin_s + transfer_s
    return out


def latest_at_hub(
    network: RoadNetwork,
    fleet: Sequence[VehicleSpec],
    paths: Mapping[str, OrderPath],
    options: PlanOptions,
) -> dict[str, int]:
    """Order id -> the latest time a parcel can leave its hub and still reach its stop by
    its due time, with the county vehicle back before its shift ends (fastest profile)."""
    from routing.network import resolve, travel_matrix

    out: dict[str, int] = {}
    by_county: dict[str, list[OrderPath]] = defaultdict(list)
    for p in paths.values():
        if p.trunk and p.order.direction == "down":
            by_county[p.county].append(p)
    for county, group in by_county.items():
        hub = hub_of(county)
        vans = [v for v in fleet if v.depot == hub]
        if not vans:
            continue
        stops = sorted({p.stop for p in group})
        points = resolve(network, [hub, *stops])
        fastest = None
        for profile in sorted({v.profile for v in vans}):
            m = travel_matrix(network, points, profile=profile).durations_s
            there = m[0, 1:].astype(float)
            back = m[1:, 0].astype(float)
            trip = np.where((there < 0) | (back < 0), np.inf, there + back)
            fastest = trip if fastest is None else np.minimum(fastest, trip)
        assert fastest is not None
        end = max(shift_end_s(v) for v in vans)
        index = {stop: k for k, stop in enumerate(stops)}
        for p in group:
            k = index[p.stop]
            if not np.isfinite(fastest[k]):
                continue
            there = fastest[k] / 2  # a share of the round trip; matrices are near symmetric
            # loading at the hub, the stop's setup and handing over take time too
            slack = options.service.stop_setup_s + options.handling_margin_s
            out[p.order.id] = int(min(p.due_s - there - slack, end - fastest[k] - slack))
    return out


def trunk_arrivals(run: PlanRun, transfer_s: int) -> dict[str, int]:
    """Order id -> earliest time its parcels can leave the hub on a county route."""
    out: dict[str, int] = {}
    if run.trunk is None:
        return out
    for r in run.trunk.routes:
        for v in r.visits:
            lot = run.lots[v.lot]
            if v.kind == "delivery" and lot.destination != WAREHOUSE:
                for oid in lot.orders:
                    out[oid] = v.begin_s + transfer_s
    return out
