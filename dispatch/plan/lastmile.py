"""Reaching the villages: on the county routes, or by a last mile from the township station.

An order of a village with a service point is planned to the village itself. Two ways get
it there, and the plan keeps, per county, the one that serves more orders and then costs
less (``PlanOptions.last_mile``; the shared plan only, the parties alone take the first):

- **direct**: the county routes call at the village on their way (the county stage as it
  is);
- **via the station**: the county routes drop the village's parcels at its township
  station and collect its produce there, and the station's own small vehicles (motor
  tricycles, vans: fleet rows whose depot is the township) run the last mile, one stage
  per station. Parcels leave the station no earlier than ``transfer_s`` after the county
  route dropped them; produce is due at the station ``transfer_s`` before the county route
  collects it, so the hand-over holds by construction and
  :func:`dispatch.plan.sync.check_synchronisation` verifies it.

Only villages whose station has vehicles take part; a county without any plans direct.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dispatch.domain import VehicleSpec
from dispatch.plan.echelon import Lot, StageResult
from dispatch.plan.types import OrderPath

if TYPE_CHECKING:
    from routing.network import RoadNetwork

__all__ = ["VIA_SUFFIX", "choose", "served_orders", "station_legs", "station_times"]

VIA_SUFFIX = "/via-stations"  # the key of a county stage whose villages go via stations


def station_legs(
    network: RoadNetwork,
    via: Mapping[str, str],
    fleet: Sequence[VehicleSpec],
    setup_s: int,
    transfer_s: int,
) -> dict[str, tuple[int, int]]:
    """Village -> (s from its station to it, s from it back to the station), each with a
    stop's setup and the station's hand-over (``transfer_s``), by the fastest profile of
    the station's vehicles: the county routes' drop at the station must leave that much
    before a parcel is due at the village, and produce cannot be at the station sooner."""
    from routing.network import resolve, travel_matrix

    out: dict[str, tuple[int, int]] = {}
    for station in sorted(set(via.values())):
        villages = sorted(v for v, s in via.items() if s == station)
        profiles = sorted({v.profile for v in fleet if v.depot == station})
        points = resolve(network, [station, *villages])
        best: dict[str, tuple[int, int]] = {}
        for profile in profiles:
            m = travel_matrix(network, points, profile=profile).durations_s
            for k, village in enumerate(villages, 1):
                there, back = int(m[0, k]), int(m[k, 0])
                if there < 0 or back < 0:
                    continue
                old = best.get(village)
                best[village] = (
                    (there, back) if old is None else (min(old[0], there), min(old[1], back))
                )
        for village, (there, back) in best.items():
            out[village] = (there + setup_s + transfer_s, back + setup_s + transfer_s)
    return out


def station_times(
    result: StageResult, via: Mapping[str, str], paths: Iterable[OrderPath], transfer_s: int
) -> dict[str, int]:
    """Per village order (id) whose county leg is planned: when its parcels can leave the
    station (drop there + ``transfer_s``), or by when its produce must be there (pickup
    there - ``transfer_s``)."""
    village_orders = {p.order.id for p in paths if p.stop in via}
    lots = {lot.id: lot for lot in result.stage.lots}
    stations = set(via.values())
    out: dict[str, int] = {}
    for route in result.routes:
        for visit in route.visits:
            lot = lots[visit.lot]
            if visit.kind == "delivery" and lot.destination in stations:
                moment = visit.begin_s + transfer_s
            elif visit.kind == "pickup" and lot.origin in stations:
                moment = visit.begin_s - transfer_s
            else:
                continue
            for oid in lot.orders:
                if oid in village_orders:
                    out[oid] = moment
    return out


def _routed_lots(result: StageResult) -> list[Lot]:
    return [lot for lot in result.stage.lots if lot.id not in result.unassigned]


def served_orders(
    county: StageResult, last_mile: Sequence[StageResult] = (), needs: Iterable[str] = ()
) -> set[str]:
    """Orders the county stage carries, less those in ``needs`` (village orders going via
    a station) that no last-mile stage carries."""
    served = {oid for lot in _routed_lots(county) for oid in lot.orders}
    carried = {oid for r in last_mile for lot in _routed_lots(r) for oid in lot.orders}
    return served - (set(needs) - carried)


def _cost(results: Iterable[StageResult]) -> int:
    return sum(route.cost_fen for r in results for route in r.routes)


def choose(
    direct: StageResult,
    via: StageResult,
    last_mile: Sequence[StageResult],
    village_orders: Iterable[str],
) -> tuple[bool, dict[str, Any]]:
    """(True when the way via the stations wins, the comparison): more orders served
    first, then the lower cost (fen)."""
    needs = set(village_orders)
    by_station = served_orders(via, last_mile, needs)
    on_routes = served_orders(direct)
    cost_direct, cost_via = _cost([direct]), _cost([via, *last_mile])
    wins = (-len(by_station), cost_via) < (-len(on_routes), cost_direct)
    return wins, {
        "village_orders": len(needs),
        "direct": {"served": len(on_routes), "cost_fen": cost_direct},
        "via_stations": {
            "served": len(by_station),
            "cost_fen": cost_via,
            "stations": len(last_mile),
        },
        "chosen": "via_stations" if wins else "direct",
    }
