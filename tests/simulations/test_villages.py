"""Synthetic village service points (simulations.villages) and a plan that reaches them.

The points are invented for scenarios: seeded, in their township's area and county,
labelled synthetic; the plan of a generated day on a network holding them routes the
villages' orders to the villages themselves, with no synchronisation violation, and the
summary's coverage counts them (and says they are synthetic).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest

from dispatch.domain import Day, Order
from dispatch.io.fleet import load_fleet, load_parties
from dispatch.plan.day import Plan, PlanOptions, check_synchronisation, plan_day
from dispatch.report.summary import summary
from routing.errors import InputError
from routing.network import PlaceFix, RoadNetwork, load_network
from routing.network.geometry import haversine_m
from routing.network.snap import load_boundary
from simulations.sample_day import generate_day
from simulations.villages import (
    MAX_M,
    MIN_M,
    is_synthetic,
    station_fleet,
    synthetic_village_points,
)

COUNTY = "532325"  # 姚安县


def _where(order: Order) -> str:
    """The place of an order in the county: where it goes down to or comes up from."""
    return order.destination if order.direction == "down" else order.origin


def test_points_are_seeded_in_their_township_area_and_labelled(network: RoadNetwork) -> None:
    fixes = synthetic_village_points(network, 0.5, seed=3)
    assert fixes == synthetic_village_points(network, 0.5, seed=3)
    assert fixes != synthetic_village_points(network, 0.5, seed=4)
    boundary = load_boundary()
    towns = [p for p in network.places if p.kind == "township" and p.located]
    for fix in fixes:
        village = network.place(fix.id)
        town = network.place(village.township_code)
        assert village.kind == "village" and not village.located  # real points never move
        assert fix.source == "synthetic (seed 3)"
        d = float(haversine_m(town.lon, town.lat, fix.lon, fix.lat))
        assert MIN_M - 1 <= d <= MAX_M + 1
        assert boundary.county_of(fix.lon, fix.lat) == village.county_code
        # nearer to its own station than to any other located township
        nearest = min(towns, key=lambda t: float(haversine_m(t.lon, t.lat, fix.lon, fix.lat)))
        assert nearest.id == town.id


def test_each_located_township_reaches_the_share(network: RoadNetwork) -> None:
    fixes = synthetic_village_points(network, 0.5, seed=1)
    placed = Counter(network.place(f.id).township_code for f in fixes)
    villages: Counter[str] = Counter()
    located: Counter[str] = Counter()
    for p in network.places:
        if p.kind == "village":
            villages[p.township_code] += 1
            located[p.township_code] += int(p.located)
    for town, n in villages.items():
        if network.place(town).located:
            assert placed[town] + located[town] >= math.ceil(0.5 * n)
            assert placed[town] + located[town] <= max(math.ceil(0.5 * n), located[town])
        else:  # no station point: no area to put the villages in
            assert placed[town] == 0
    assert synthetic_village_points(network, 0.0) == []
    everything = synthetic_village_points(network, 1.0, seed=1)
    assert len(everything) > len(fixes)


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan"), "half"])
def test_a_bad_share_is_refused_naming_it(network: RoadNetwork, share: object) -> None:
    with pytest.raises(InputError) as err:
        synthetic_village_points(network, share)  # type: ignore[arg-type]
    assert err.value.field == "share"


def _scenario(
    network: RoadNetwork, *, last_mile: str = "auto", station_vans: bool = False
) -> tuple[RoadNetwork, Plan, list[PlaceFix]]:
    """A generated 姚安 day with half its villages located (synthetic), planned with
    ``last_mile``; ``station_vans``: a 1.2 t van at every township station."""
    fixes = synthetic_village_points(network, 0.5, seed=11, counties=[COUNTY])
    with_points = load_network(fixes=fixes)
    parties = load_parties()
    day_date = date(2026, 10, 12)
    orders = [
        o
        for o in generate_day(day_date, seed=5, scale=0.6, places=list(with_points.places))
        if with_points.place(_where(o)).county_code == COUNTY
    ]
    fleet = load_fleet(parties=parties, place_ids={p.id for p in with_points.places})
    if station_vans:
        fleet += station_fleet(with_points, [COUNTY], kind="van")
    options = PlanOptions(
        time_limit=4.0, workers=1, seed=1, counties=(COUNTY,), last_mile=last_mile
    )
    plan = plan_day(Day(day_date, parties, orders, fleet), with_points, options)
    return with_points, plan, fixes


def test_a_generated_day_reaches_synthetic_villages_in_sync(network: RoadNetwork) -> None:
    with_points, plan, fixes = _scenario(network)
    assert fixes and {network.place(f.id).county_code for f in fixes} == {COUNTY}
    orders = plan.day.orders
    doc = summary(plan, with_points)

    assert check_synchronisation(plan) == []
    assert doc["synchronisation"]["violations"] == 0
    # orders of villages with a point go to the village, not to the township station
    synthetic = {f.id for f in fixes}
    at_villages = [o for o in orders if _where(o) in synthetic]
    assert at_villages
    served = {
        v.place for r in plan.shared.routes() if r.echelon == "county" for v in r.visits
    } & synthetic
    assert doc["villages_served"] >= len(served) > 0
    assert all(plan.paths[o.id].stop == _where(o) for o in at_villages)
    assert not any(plan.paths[o.id].held for o in at_villages)
    routed = sum(plan.outcomes[o.id].assigned for o in at_villages)
    assert routed >= 0.9 * len(at_villages)
    # held at the station: only orders of villages still without a point
    held = [o for o in orders if (p := plan.paths.get(o.id)) is not None and p.held]
    assert held and all(not with_points.place(_where(o)).located for o in held)
    assert doc["held_at_township"] == len(held)
    # coverage: the real points of the county plus the synthetic ones, and said so
    cover = doc["village_coverage"]["counties"][COUNTY]
    real = sum(
        1 for p in network.places if p.kind == "village" and p.county_code == COUNTY and p.located
    )
    assert cover["synthetic"] == len(fixes)
    assert cover["located"] == real + len(fixes)
    assert cover["pct"] == round(100 * cover["located"] / cover["villages"], 1)
    assert all(is_synthetic(with_points.place(f.id)) for f in fixes)


def test_a_last_mile_from_the_township_stations_hands_over_in_sync(
    network: RoadNetwork,
) -> None:
    net, plan, _ = _scenario(network, last_mile="stations", station_vans=True)
    doc = summary(plan, net)
    assert check_synchronisation(plan) == []
    choice = doc["village_last_mile"][COUNTY]
    assert choice["chosen"] == "via_stations (forced)" and choice["via_stations"]["stations"] > 0
    last = [(rid, r) for rid, r in plan.shared_routes() if r.echelon == "village"]
    assert last and all(rid.startswith("V-") for rid, _ in last)
    assert doc["echelons"]["village"]["routes"] == len(last)
    visited: set[str] = set()
    for _, route in last:
        station = route.vehicle.depot
        assert net.place(station).kind == "township"
        for v in route.visits:  # its own station and that township's villages only
            place = net.place(v.place)
            assert v.place == station or place.township_code == station
            visited.add(v.place)
    assert doc["villages_served"] >= len(visited - {r.vehicle.depot for _, r in last}) > 0
    # an order served by a station's last mile rides a county route to the station first
    handed = 0
    for oid, oc in plan.outcomes.items():
        if oc.assigned and "village" in oc.legs:
            handed += 1
            county_leg, village_leg = oc.legs["county"], oc.legs["village"]
            transfer = plan.options.service.transfer_s
            if plan.paths[oid].order.direction == "down":
                assert village_leg[1] >= county_leg[2] + transfer
            else:
                assert county_leg[1] >= village_leg[2] + transfer
    assert handed > 0
    assert doc["synchronisation"]["transfers"] >= handed


def test_auto_keeps_the_way_that_serves_more_then_costs_less(network: RoadNetwork) -> None:
    net, plan, _ = _scenario(network, station_vans=True)
    choice = summary(plan, net)["village_last_mile"][COUNTY]
    direct, via = choice["direct"], choice["via_stations"]
    wins = (-via["served"], via["cost_fen"]) < (-direct["served"], direct["cost_fen"])
    assert choice["chosen"] == ("via_stations" if wins else "direct")
    has_last_mile = any(r.echelon == "village" for r in plan.shared.routes())
    assert has_last_mile == wins
    assert check_synchronisation(plan) == []


def test_an_unknown_last_mile_mode_is_refused() -> None:
    with pytest.raises(InputError) as err:
        PlanOptions(last_mile="sometimes")
    assert err.value.field == "last_mile"
