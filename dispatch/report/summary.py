"""What a plan tells its readers: the summary (contract section 4) and the route sheets."""

from __future__ import annotations

import functools
import itertools
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dispatch.costs.savings import Comparison, compare
from dispatch.costs.shares import party_totals
from dispatch.domain import Day
from dispatch.plan.echelon import Lot, TimedRoute, Visit
from dispatch.plan.sync import check_synchronisation, transfers
from dispatch.plan.types import WAREHOUSE, OrderPath, Plan, PlanRun

if TYPE_CHECKING:
    from routing.network import RoadNetwork

MODELED_NOTE = (
    "MODELED road network: links and lengths are modeled from published distances and "
    "place coordinates, with OpenStreetMap trunk roads (© OpenStreetMap contributors, "
    "ODbL) where they agree with them; times and distances are estimates."
)


def _km(m: float) -> float:
    return round(m / 1000, 1)


def _h(s: float) -> float:
    return round(s / 3600, 2)


def _run_figures(run: PlanRun, echelon: str | None = None, county: str | None = None) -> dict:
    routes = [
        r
        for r in run.routes()
        if (echelon is None or r.echelon == echelon) and (county is None or r.county == county)
    ]
    return {
        "routes": len(routes),
        "vehicles_used": len({r.vehicle.id for r in routes}),
        "distance_km": _km(sum(r.distance_m for r in routes)),
        "duration_h": _h(sum(r.end_s - r.start_s for r in routes)),
        "cost_fen": sum(r.cost_fen for r in routes),
    }


def _separate_figures(
    plan: Plan, same: Comparison, echelon: str | None = None, county: str | None = None
) -> dict:
    """The separate plans' routes as solved, and their cost on the orders the shared plan
    serves (``cost_fen``, like for like; see ``dispatch.costs.savings``)."""
    total = {"routes": 0, "vehicles_used": 0, "distance_km": 0.0, "duration_h": 0.0}
    for run in plan.separate.values():
        f = _run_figures(run, echelon, county)
        for k in total:
            total[k] += f[k]
    total["assigned"] = plan.separate_assigned
    total["distance_km"] = round(total["distance_km"], 1)
    total["duration_h"] = round(total["duration_h"], 2)
    total["cost_fen"] = same.separate_of(echelon, county)
    return total


def summary(plan: Plan, network: RoadNetwork) -> dict[str, Any]:
    """The plan summary of CONTRACTS.md section 4, with the figures behind it."""
    shared = _run_figures(plan.shared)
    same = compare(plan)
    separate = _separate_figures(plan, same) if plan.separate else None
    outcomes = plan.outcomes
    assigned = sum(1 for o in outcomes.values() if o.assigned)
    reasons = Counter(o.reason for o in outcomes.values() if not o.assigned)
    townships, villages = _served_places(plan, network)
    with_orders = sorted(
        {p.stop for p in plan.paths.values() if network.place(p.stop).kind == "township"}
    )
    sync = check_synchronisation(plan)
    cost = shared["cost_fen"]
    sep_cost = separate["cost_fen"] if separate else None
    allocations = list(plan.allocations.values())
    orders = list(plan.paths.values())
    doc: dict[str, Any] = {
        "date": plan.day.date.isoformat(),
        "orders": len(outcomes),
        "assigned": assigned,
        "unassigned": len(outcomes) - assigned,
        "routes": shared["routes"],
        "vehicles_used": shared["vehicles_used"],
        "distance_km": shared["distance_km"],
        "duration_h": shared["duration_h"],
        "cost_fen": cost,
        "separate_cost_fen": sep_cost,
        "savings_pct": round(100 * (1 - cost / sep_cost), 2) if sep_cost else None,
        "townships_served": len(townships),
        "villages_served": len(villages),
        "village_coverage": village_coverage(
            network, list(plan.options.counties) or sorted({p.county for p in orders})
        ),
        "unassigned_reasons": dict(sorted(reasons.items())),
        "echelons": {
            "trunk": _echelon(plan, same, "trunk"),
            "county": _echelon(plan, same, "county"),
            "village": _echelon(plan, same, "village"),
        },
        # per county with village service points and station vehicles: the villages
        # reached on the county routes or by a last mile from the township stations
        "village_last_mile": dict(sorted(plan.shared.village_choice.items())),
        "counties": list(plan.options.counties) or sorted({p.county for p in orders}),
        "parcels": sum(p.order.pieces for p in orders if p.order.direction == "down"),
        "weight_kg": {
            "down": round(sum(p.order.weight_kg for p in orders if p.order.direction == "down")),
            "up": round(sum(p.order.weight_kg for p in orders if p.order.direction == "up")),
        },
        "held_at_township": sum(1 for p in orders if p.held),
        "max_driving_h": _h(max((r.travel_s for r in plan.shared.routes()), default=0)),
        "unlocated_stops": _unlocated(plan, network),
        "townships_with_orders": len(with_orders),
        "townships_with_orders_not_served": [t for t in with_orders if t not in townships],
        "separate": separate,
        "savings": None,
        "parties": party_totals(plan, same.by_party),
        "allocation": {
            "routes": len(allocations),
            "exact": sum(1 for a in allocations if a.exact),
            "sampled": sum(1 for a in allocations if not a.exact),
            "max_std_error_fen": max((a.max_std_error_fen for a in allocations), default=0.0),
            "shares_sum_to_route_cost": all(
                sum(s.shapley_fen for s in a.shares) == a.total_fen
                and sum(s.proportional_fen for s in a.shares) == a.total_fen
                for a in allocations
            ),
            "shares_above_standalone": sum(
                1 for a in allocations for s in a.shares if not s.no_more_than_alone
            ),
        },
        "synchronisation": {
            "transfers": transfers(plan),
            "violations": len(sync),
        },
        "network": {"source": plan.network_source, "note": MODELED_NOTE},
        "seconds": round(plan.seconds, 1),
        "time_limit_s": plan.options.time_limit,
    }
    if separate:
        doc["savings"] = {
            "cost_fen": sep_cost - cost if sep_cost is not None else None,
            "vehicle_km": round(separate["distance_km"] - shared["distance_km"], 1),
            "vehicles": separate["vehicles_used"] - shared["vehicles_used"],
            "routes": separate["routes"] - shared["routes"],
        }
        doc["comparison"] = same.as_dict()
    return doc


def _unlocated(plan: Plan, network: RoadNetwork) -> dict[str, int]:
    """Orders that could not be routed because their township has no coordinates, by
    township (add the township to data/road_network/place_overrides.csv to route them)."""
    out: Counter[str] = Counter()
    for oid, (reason, _) in plan.rejected.items():
        if reason != "unreachable":
            continue
        o = plan.order_index[oid]
        place = network.place(o.destination if o.direction == "down" else o.origin)
        township = network.place(place.township_code) if place.kind == "village" else place
        out[f"{township.id} {township.name_zh}"] += 1
    return dict(sorted(out.items()))


def _echelon(plan: Plan, same: Comparison, echelon: str) -> dict[str, Any]:
    out: dict[str, Any] = _run_figures(plan.shared, echelon)
    if plan.separate:
        alone = _separate_figures(plan, same, echelon)
        out["separate_cost_fen"] = alone["cost_fen"]
        out["separate_vehicles_used"] = alone["vehicles_used"]
        out["separate_distance_km"] = alone["distance_km"]
    out["orders"] = sum(1 for o in plan.outcomes.values() if echelon in o.legs)
    if echelon == "trunk":
        out["collection_times"] = {
            county: plan.day.at(s).strftime("%H:%M") for county, s in sorted(plan.collects.items())
        }
    if echelon == "county":
        out["by_county"] = {
            county: {
                **_run_figures(plan.shared, "county", county),
                **(
                    {"separate_cost_fen": same.separate_of("county", county)}
                    if plan.separate
                    else {}
                ),
            }
            for county in sorted(plan.shared.counties)
        }
    return out


#: The prefecture's plan: a logistics service point in at least half of the villages.
VILLAGE_TARGET_PCT = 50.0


def village_coverage(network: RoadNetwork, counties: Sequence[str]) -> dict[str, Any]:
    """Villages with a located service point (a point on the network: bundled, surveyed
    override or a correction) against all villages, per county and in all, against the
    50 % target. ``synthetic`` counts the located ones a scenario invented
    (``simulations.villages``): a figure with any is a what-if, not the prefecture's."""
    per: dict[str, dict[str, Any]] = {
        c: {"villages": 0, "located": 0, "synthetic": 0} for c in sorted(counties)
    }
    for place in network.places:
        if place.kind == "village" and place.county_code in per:
            row = per[place.county_code]
            row["villages"] += 1
            row["located"] += int(place.located)
            row["synthetic"] += int(place.located and place.coord_source.startswith("synthetic"))

    def finish(row: dict[str, Any]) -> dict[str, Any]:
        pct = round(100 * row["located"] / row["villages"], 1) if row["villages"] else 0.0
        return {**row, "pct": pct, "meets_target": pct >= VILLAGE_TARGET_PCT}

    total = {k: sum(r[k] for r in per.values()) for k in ("villages", "located", "synthetic")}
    return {
        "target_pct": VILLAGE_TARGET_PCT,
        **finish(total),
        "counties": {c: finish(r) for c, r in per.items()},
    }


def _served_places(plan: Plan, network: RoadNetwork) -> tuple[set[str], set[str]]:
    townships: set[str] = set()
    villages: set[str] = set()
    for r in plan.shared.routes():
        if r.echelon == "trunk":
            continue
        for v in r.visits:
            kind = network.place(v.place).kind
            if kind == "township" and r.echelon == "county":
                townships.add(v.place)
            elif kind == "village":  # on a county route, or a station's last mile
                villages.add(v.place)
    return townships, villages


# ---- route sheets -----------------------------------------------------------------------
def _place(network: RoadNetwork, place_id: str) -> dict[str, Any]:
    p = network.place(place_id)
    return {
        "id": p.id,
        "name_zh": p.name_zh,
        "name_pinyin": p.name_pinyin,
        "kind": p.kind,
        "lon": p.lon,
        "lat": p.lat,
    }


class SheetSource(Protocol):
    """What a route sheet is written from: a day's plan, or a replan of it."""

    @property
    def day(self) -> Day: ...

    @property
    def paths(self) -> Mapping[str, OrderPath]: ...

    @property
    def allocations(self) -> Mapping[str, Any]: ...

    @property
    def network_source(self) -> str: ...

    @property
    def sheet_lots(self) -> Mapping[int, Lot]: ...


def route_sheets(plan: Plan, network: RoadNetwork) -> list[dict[str, Any]]:
    """One route sheet (JSON-ready) per shared route."""
    return sheets_for(plan, network, plan.shared_routes())


def sheets_for(
    source: SheetSource, network: RoadNetwork, routes: Iterable[tuple[str, TimedRoute]]
) -> list[dict[str, Any]]:
    geometry = _Geometry(network)
    return [_sheet(source, network, rid, route, geometry) for rid, route in routes]


def _sheet(
    plan: SheetSource, network: RoadNetwork, rid: str, route: TimedRoute, geometry: _Geometry
) -> dict[str, Any]:
    day = plan.day
    v = route.vehicle
    owner = day.parties.get(v.owner)
    depot = route.vehicle.depot
    origin = route.start_place or depot
    stops: list[dict[str, Any]] = []
    prev_m = 0
    groups = itertools.groupby(route.visits, key=lambda x: x.place)
    for seq, (place, visits_iter) in enumerate(groups, 1):
        visits = list(visits_iter)
        cum = visits[-1].distance_cum_m
        stops.append(
            {
                "seq": seq,
                "place": _place(network, place),
                "arrival": day.at(visits[0].arrival_s).isoformat(),
                "departure": day.at(visits[-1].departure_s).isoformat(),
                "wait_s": visits[0].begin_s - visits[0].arrival_s,
                "distance_from_prev_m": visits[0].distance_cum_m - prev_m,
                "distance_cum_m": cum,
                "drop": _by_party(plan, network, [x for x in visits if x.kind == "delivery"]),
                "pickup": _by_party(plan, network, [x for x in visits if x.kind == "pickup"]),
                "load_after": {"kg": visits[-1].load_kg, "m3": round(visits[-1].load_l / 1000, 2)},
                "note": "装车 load at the depot" if place == depot else "",
            }
        )
        prev_m = cum
    alloc = plan.allocations.get(rid)
    county = route.county
    county_doc = None
    if county:
        row = _counties().get(county, {})
        county_doc = {
            "code": county,
            "name_zh": row.get("name_zh", county),
            "name_pinyin": row.get("name_pinyin", county),
        }
    path = [origin] + [str(s["place"]["id"]) for s in stops] + [depot]
    return {
        "route_id": rid,
        "plan_date": day.date.isoformat(),
        "echelon": route.echelon,
        "county": county_doc,
        "vehicle": {
            "id": v.id,
            "name": v.name,
            "owner": v.owner,
            "owner_name_zh": owner.name_zh if owner else v.owner,
            "kind": v.kind,
            "profile": v.profile,
            "capacity_kg": v.capacity_kg,
            "capacity_m3": v.capacity_m3,
            "refrigerated": v.refrigerated or v.freezer,
            "livestock": v.livestock,
        },
        "start": {"place": _place(network, origin), "time": day.at(route.start_s).isoformat()},
        "end": {"place": _place(network, depot), "time": day.at(route.end_s).isoformat()},
        "distance_m": route.distance_m,
        "duration_s": route.end_s - route.start_s,
        "cost_fen": route.cost_fen,
        "stops": stops,
        "cost_shares": [
            {
                "party": s.party,
                "name_zh": day.parties[s.party].name_zh if s.party in day.parties else s.party,
                "standalone_fen": s.standalone_fen,
                "proportional_fen": s.proportional_fen,
                "shapley_fen": s.shapley_fen,
            }
            for s in (alloc.shares if alloc else ())
        ],
        "allocation_note": alloc.method_note if alloc else "",
        "geometry": geometry.through(path, v.profile),
        "network_note": MODELED_NOTE if "modeled" in plan.network_source.lower() else "",
    }


@functools.cache
def _counties() -> dict[str, dict[str, str]]:
    from routing.network.places import load_counties

    return {row["county_code"]: row for row in load_counties()}


def _by_party(plan: SheetSource, network: RoadNetwork, visits: list[Visit]) -> list[dict[str, Any]]:
    parties: dict[str, list[dict[str, Any]]] = {}
    for v in visits:
        lot = plan.sheet_lots[v.lot]
        for oid in lot.orders:
            path = plan.paths[oid]
            o = path.order
            final = None
            if (
                path.held
                and lot.destination != WAREHOUSE
                and not lot.destination.startswith("HUB-")
            ):
                final = _place(network, o.destination if o.direction == "down" else o.origin)
            parties.setdefault(o.party, []).append(
                {
                    "order_id": o.id,
                    "pieces": o.pieces,
                    "weight_kg": o.weight_kg,
                    "volume_m3": o.volume_m3,
                    "temperature": o.temperature,
                    "goods": o.goods,
                    "live_animal": o.live_animal,
                    "tracking": list(o.tracking),
                    "final_destination": final,
                }
            )
    return [
        {
            "party": party,
            "party_name_zh": plan.day.parties[party].name_zh
            if party in plan.day.parties
            else party,
            "orders": sorted(rows, key=lambda r: r["order_id"]),
        }
        for party, rows in sorted(parties.items())
    ]


class _Geometry:
    """Road geometry through a sequence of places, legs cached."""

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network
        self.cache: dict[tuple[str, str, str], list[list[float]]] = {}

    def through(self, places: list[str], profile: str) -> dict[str, Any] | None:
        from routing.network import resolve, shortest_route

        coords: list[list[float]] = []
        for a, b in itertools.pairwise(places):
            if a == b:
                continue
            key = (a, b, profile)
            if key not in self.cache:
                wa, wb = resolve(self.network, [a, b])
                leg = shortest_route(self.network, wa, wb, profile).geometry["coordinates"]
                self.cache[key] = [list(map(float, c)) for c in leg]
            leg = self.cache[key]
            coords.extend(leg if not coords else leg[1:])
        if len(coords) < 2:
            return None
        return {"type": "LineString", "coordinates": coords}


def write_json(doc: Any, path: Path) -> None:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unassigned_rows(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for oid, oc in sorted(plan.outcomes.items()):
        if oc.assigned:
            continue
        o = plan.order_index[oid]
        rows.append(
            {
                "order_id": oid,
                "party": o.party,
                "direction": o.direction,
                "origin": o.origin,
                "destination": o.destination,
                "reason": oc.reason,
                "detail": oc.detail,
            }
        )
    return rows
