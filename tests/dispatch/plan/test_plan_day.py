"""The daily plan on small hand-made days whose numbers can be checked by hand."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time

import pytest

from dispatch.domain import TZ, Day, Order, Party, VehicleSpec
from dispatch.plan.day import PlanOptions, check_synchronisation, plan_day
from dispatch.report.summary import summary
from routing.network import resolve, travel_matrix

D = date(2026, 9, 15)
HUB = "HUB-532325"  # 姚安县
TOWNSHIPS = ("532325102", "532325103", "532325105")  # 光禄镇, 前场镇, 太平镇
PARTIES = {
    "AAA": Party("AAA", "carrier", "甲快递", "A Express"),
    "BBB": Party("BBB", "carrier", "乙快递", "B Express"),
    "COOP": Party("COOP", "shipper", "丙合作社", "C Cooperative"),
    "HUB": Party("HUB", "hub", "县物流中心", "County hub"),
}
OPTIONS = PlanOptions(time_limit=2.0, workers=1, seed=1)


def at(h: int, m: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 9, day, h, m, tzinfo=TZ)


def van(vid: str, owner: str, depot: str = HUB, **kw: object) -> VehicleSpec:
    spec: dict = dict(
        id=vid,
        owner=owner,
        depot=depot,
        kind="van",
        profile="van",
        capacity_kg=1000,
        capacity_m3=8.0,
        fixed_fen=10_000,
        per_km_fen=100,
        per_hour_fen=3_000,
        shift_start=time(7, 0),
        shift_end=time(20, 0),
        max_shift_h=10,
    )
    spec.update(kw)
    return VehicleSpec(**spec)


def parcel(oid: str, party: str, dest: str, origin: str = HUB, **kw: object) -> Order:
    spec: dict = dict(
        id=oid,
        party=party,
        direction="down",
        origin=origin,
        destination=dest,
        weight_kg=50.0,
        volume_m3=0.2,
        pieces=10,
        ready=at(7),
        due=at(18),
        tracking=tuple(f"{oid}-{k}" for k in range(10)),
    )
    spec.update(kw)
    return Order(**spec)


def best_tour_cost(network, stops: tuple[str, ...], v: VehicleSpec) -> int:
    """Cheapest hub -> stops -> hub tour, by enumerating every order (hand check)."""
    places = [HUB, *stops]
    m = travel_matrix(network, resolve(network, places), profile=v.profile)
    best = None
    for perm in itertools.permutations(range(1, len(places))):
        path = [0, *perm, 0]
        s = sum(int(m.durations_s[a, b]) for a, b in itertools.pairwise(path))
        d = sum(int(m.distances_m[a, b]) for a, b in itertools.pairwise(path))
        cost = v.fixed_fen + round(v.per_hour_fen * s / 3600 + v.per_km_fen * d / 1000)
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def test_two_carriers_three_townships_hand_checked(network) -> None:
    fleet = [van("A-VAN", "AAA"), van("B-VAN", "BBB")]
    orders = [parcel(f"{p}-{t}", p, t) for p in ("AAA", "BBB") for t in TOWNSHIPS]
    day = Day(D, PARTIES, orders, fleet)
    plan = plan_day(day, network, OPTIONS)
    tour = best_tour_cost(network, TOWNSHIPS, fleet[0])
    doc = summary(plan, network)

    assert doc["orders"] == 6 and doc["assigned"] == 6 and doc["unassigned"] == 0
    # shared: one van drives the best tour once; alone: each carrier drives it
    assert doc["routes"] == 1 and doc["vehicles_used"] == 1
    assert doc["cost_fen"] == tour
    assert doc["separate_cost_fen"] == 2 * tour
    assert doc["savings_pct"] == pytest.approx(50.0, abs=0.01)
    assert doc["townships_served"] == 3
    # symmetric carriers: each pays half, by both methods, and less than alone
    (alloc,) = plan.allocations.values()
    shares = {s.party: s for s in alloc.shares}
    assert set(shares) == {"AAA", "BBB"}
    assert sum(s.shapley_fen for s in alloc.shares) == tour
    assert sum(s.proportional_fen for s in alloc.shares) == tour
    assert abs(shares["AAA"].shapley_fen - shares["BBB"].shapley_fen) <= 1
    assert all(s.standalone_fen == tour and s.no_more_than_alone for s in alloc.shares)
    assert alloc.exact


def test_trunk_and_county_are_synchronised(network) -> None:
    """Parcels leave the hub only after their trunk run arrived; produce reaches the hub
    in time for the trunk run back to the warehouse."""
    counties = {"532325": ("532325102", "532325105"), "532323": ("532323102", "532323103")}
    fleet = [
        van(
            "TRUCK-1",
            "HUB",
            depot="WH-CX",
            kind="truck",
            profile="truck",
            capacity_kg=8000,
            capacity_m3=40.0,
            shift_start=time(5, 0),
            shift_end=time(21, 0),
            max_shift_h=12,
        ),
        van(
            "TRUCK-2",
            "HUB",
            depot="WH-CX",
            kind="truck",
            profile="truck",
            capacity_kg=8000,
            capacity_m3=40.0,
            shift_start=time(5, 0),
            shift_end=time(21, 0),
            max_shift_h=12,
        ),
    ]
    orders = []
    for county, stops in counties.items():
        fleet.append(van(f"V-{county}", "HUB", depot=f"HUB-{county}"))
        for t in stops:
            orders.append(parcel(f"D-{t}", "AAA", t, origin="WH-CX", ready=at(5, 30)))
            orders.append(
                Order(
                    id=f"U-{t}",
                    party="COOP",
                    direction="up",
                    origin=t,
                    destination="WH-CX",
                    weight_kg=120,
                    volume_m3=0.5,
                    pieces=4,
                    temperature="ambient",
                    ready=at(9),
                    due=at(9, day=16),
                    goods="核桃",
                )
            )
    day = Day(D, PARTIES, orders, fleet)
    plan = plan_day(day, network, OPTIONS)
    assert check_synchronisation(plan) == []
    transfer = OPTIONS.service.transfer_s
    collect = 18 * 3600
    for oid, oc in plan.outcomes.items():
        assert oc.assigned, (oid, oc.reason, oc.detail)
        trunk, county = oc.legs["trunk"], oc.legs["county"]
        if oid.startswith("D-"):
            assert county[1] >= trunk[2] + transfer  # leaves hub after the trunk arrived
        else:
            assert trunk[1] >= county[2] + transfer  # trunk loads after the county unloaded
            assert county[2] <= collect - transfer
    doc = summary(plan, network)
    assert doc["synchronisation"] == {"transfers": 8, "violations": 0}
    assert doc["echelons"]["trunk"]["routes"] >= 1
    assert doc["echelons"]["county"]["routes"] >= 2


def test_impossible_orders_end_unassigned_with_reasons(network) -> None:
    fleet = [van("A-VAN", "AAA")]
    orders = [
        parcel("OK", "AAA", TOWNSHIPS[0]),
        parcel("HEAVY", "AAA", TOWNSHIPS[1], weight_kg=12_000.0),
        # due at 06:00 but vans start at 07:00: no vehicle can arrive in time
        parcel("LATE", "AAA", TOWNSHIPS[2], ready=at(5), due=at(6)),
        parcel("COLD", "AAA", TOWNSHIPS[2], temperature="chilled"),
    ]
    day = Day(D, PARTIES, orders, fleet)
    plan = plan_day(day, network, OPTIONS)
    got = {oid: (oc.assigned, oc.reason) for oid, oc in plan.outcomes.items()}
    assert got == {
        "OK": (True, ""),
        "HEAVY": (False, "capacity"),
        "LATE": (False, "time_window"),
        "COLD": (False, "skills"),
    }
    doc = summary(plan, network)
    assert doc["unassigned_reasons"] == {"capacity": 1, "skills": 1, "time_window": 1}
    assert all(plan.outcomes[o].detail for o in ("HEAVY", "LATE", "COLD"))


def test_unlocated_village_is_held_at_its_township(network) -> None:
    village = next(
        p
        for p in network.places
        if p.kind == "village" and not p.located and p.township_code == TOWNSHIPS[0]
    )
    fleet = [van("A-VAN", "AAA")]
    orders = [parcel("V", "AAA", village.id), parcel("T", "AAA", TOWNSHIPS[0])]
    plan = plan_day(Day(D, PARTIES, orders, fleet), network, OPTIONS)
    assert plan.paths["V"].held and plan.paths["V"].stop == TOWNSHIPS[0]
    doc = summary(plan, network)
    assert doc["held_at_township"] == 1 and doc["assigned"] == 2


def test_shares_follow_the_vehicle_each_load_needs(network) -> None:
    """A carrier whose few parcels a tricycle could carry pays half the tricycle's cost of
    the route; the one that needs the van pays the rest (Shapley of two players)."""
    trike = van(
        "TRIKE", "HUB", kind="motorbike", profile="motorbike", capacity_kg=200,
        capacity_m3=1.0, fixed_fen=1_000, per_km_fen=31, per_hour_fen=2_578,
    )  # fmt: skip
    fleet = [van("A-VAN", "AAA"), trike]
    orders = [parcel(f"A-{t}", "AAA", t, weight_kg=250.0) for t in TOWNSHIPS]
    orders += [parcel(f"B-{t}", "BBB", t, weight_kg=20.0) for t in TOWNSHIPS]
    plan = plan_day(Day(D, PARTIES, orders, fleet), network, OPTIONS)
    ((rid, route),) = plan.shared_routes()
    assert route.vehicle.id == "A-VAN"
    keep = [True] * len(route.visits)
    seconds, metres = route.travel_of(keep)
    by_trike = 1_000 + round(2_578 * seconds / 3600 + 31 * metres / 1000)
    shares = {s.party: s for s in plan.allocations[rid].shares}
    assert shares["BBB"].standalone_fen == by_trike
    assert shares["AAA"].standalone_fen == route.cost_fen
    assert abs(shares["BBB"].shapley_fen - by_trike / 2) <= 1
    assert shares["AAA"].shapley_fen + shares["BBB"].shapley_fen == route.cost_fen
    assert shares["AAA"].shapley_fen > shares["BBB"].shapley_fen


def test_replan_keeps_goods_on_their_vehicle_and_starts_where_it_is(network) -> None:
    """Half-way through the day: the van has served 光禄镇 and stands there with the
    parcels for the two other townships; a second van waits at the hub with a new order.
    The replan starts the first van at 光禄镇 with its load and routes around a closure."""
    from dispatch.plan.replan import UnderWay, replan_counties
    from routing.network import shortest_route

    first, second, third = TOWNSHIPS
    vans = [van("A-VAN", "AAA"), van("B-VAN", "BBB")]
    on_board = [parcel(f"A-{t}", "AAA", t) for t in (second, third)]
    new = parcel("B-NEW", "BBB", first, ready=at(12))
    a, b = resolve(network, [first, second])
    closed_edge = shortest_route(network, a, b, "van").edges[0]
    closed = network.without_edges([closed_edge])
    day = Day(D, PARTIES, [*on_board, new], vans)
    at_s = 11 * 3600
    result = replan_counties(
        day,
        closed,
        at_s=at_s,
        under_way=[UnderWay(vans[0], first, at_s, on_board=tuple(o.id for o in on_board))],
        counties=["532325"],
        options=OPTIONS,
    )
    assert result.unassigned == {}
    routes = {r.vehicle.id: r for _, r in result.routes()}
    a_route = routes["A-VAN"]
    assert a_route.start_place == first and a_route.start_s >= at_s
    dropped = {oid for v in a_route.visits for oid in result.lots[v.lot].orders}
    assert {"A-" + second, "A-" + third} <= dropped  # the parcels never change vehicle
    served = {oid for r in routes.values() for v in r.visits for oid in result.lots[v.lot].orders}
    assert "B-NEW" in served
    sheets_ok = all(
        sum(s.shapley_fen for s in alloc.shares) == alloc.total_fen
        for alloc in result.allocations.values()
    )
    assert sheets_ok
