"""The saving compares the same orders on both sides (defect 15 of issue 11)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from dispatch.costs.allocation import RouteAllocation, Share
from dispatch.costs.savings import compare
from dispatch.domain import VehicleSpec
from dispatch.plan.echelon import Lot, TimedRoute, Visit

VAN = VehicleSpec(
    id="V1", owner="P", depot="H", kind="van", profile="van", capacity_kg=1000,
    capacity_m3=5, fixed_fen=10_000, per_km_fen=100,
)  # fmt: skip
KM = 1000
# places H (depot, 0), A (1), C (2): H-A 10 km, H-C 20 km, A-C 15 km
LEGS_M = ((0, 10 * KM, 20 * KM), (10 * KM, 0, 15 * KM), (20 * KM, 15 * KM, 0))
LEGS_S = ((0, 0, 0), (0, 0, 0), (0, 0, 0))
LOC = {"H": 0, "A": 1, "C": 2}


def lot(i: int, orders: tuple[str, ...], to: str) -> Lot:
    return Lot(
        id=i, orders=orders, parties=frozenset({"P"}), origin="H", destination=to,
        weight=10, volume_l=10, pieces=1, skills=frozenset(), ready_s=0, due_s=86_400,
    )  # fmt: skip


def route(stops: list[tuple[int, str]]) -> TimedRoute:
    places = [p for _, p in stops]
    metres = sum(LEGS_M[LOC[a]][LOC[b]] for a, b in itertools.pairwise(["H", *places, "H"]))
    return TimedRoute(
        stage="county-H", echelon="county", county="532301", vehicle=VAN, start_s=0,
        end_s=3600, distance_m=metres, travel_s=0,
        cost_fen=VAN.fixed_fen + VAN.per_km_fen * metres // KM,
        visits=tuple(Visit("delivery", i, p, 0, 0, 0, 0, 0, 0) for i, p in stops),
        loc_seq=(0, *(LOC[p] for p in places)), legs_s=LEGS_S, legs_m=LEGS_M,
    )  # fmt: skip


def outcome(assigned: bool) -> Any:
    return SimpleNamespace(assigned=assigned)


def test_separate_side_priced_on_the_orders_the_shared_plan_serves() -> None:
    # shared: a (30 kg, at A) and b (10 kg, at C); c failed.  alone: b and c (at A); a failed
    shared_route = route([(1, "A"), (2, "C")])  # 45 km: 14,500 fen
    alone_route = route([(11, "C"), (12, "A")])  # 45 km: 14,500 fen; b alone: 40 km
    share = Share("P", 14_500, 14_500, 14_500, 14_500.0, True, True)
    plan = SimpleNamespace(
        outcomes={"a": outcome(True), "b": outcome(True), "c": outcome(False)},
        separate_served=frozenset({"b", "c"}),
        separate={"P": SimpleNamespace(
            routes=lambda: [alone_route], lots={11: lot(11, ("b",), "C"), 12: lot(12, ("c",), "A")}
        )},
        shared=SimpleNamespace(lots={1: lot(1, ("a",), "A"), 2: lot(2, ("b",), "C")}),
        shared_routes=lambda: [("C-532301-01", shared_route)],
        allocations={"C-532301-01": RouteAllocation(14_500, (share,), "", True, 0, 0.0, True)},
        order_index={
            "a": SimpleNamespace(party="P", weight_kg=30.0),
            "b": SimpleNamespace(party="P", weight_kg=10.0),
            "c": SimpleNamespace(party="P", weight_kg=5.0),
        },
    )  # fmt: skip
    same = compare(plan)  # type: ignore[arg-type]
    assert same.orders == 2 and same.served_alone == 1
    assert same.only_shared == ("a",) and same.only_separate == ("c",)
    assert same.separate_plan_fen == 14_500  # as solved: b and c
    # b alone by the shortcut H-C-H (40 km) + a at its share of the shared route (30 / 40)
    assert same.only_shared_fen == 10_875
    assert same.separate_fen == 14_000 + 10_875
    assert same.by_party == {"P": 24_875}
    assert same.separate_of("county", "532301") == 24_875 and same.separate_of("trunk") == 0
    doc = same.as_dict()
    assert doc["only_separate"] == {"orders": 1, "dropped_fen": 500}
    assert doc["separate_cost_fen"] == 24_875


def test_equal_work_leaves_the_separate_cost_as_solved() -> None:
    alone_route = route([(11, "C")])
    plan = SimpleNamespace(
        outcomes={"b": outcome(True)},
        separate_served=frozenset({"b"}),
        separate={
            "P": SimpleNamespace(routes=lambda: [alone_route], lots={11: lot(11, ("b",), "C")})
        },
        shared=SimpleNamespace(lots={}),
        shared_routes=lambda: [],
        allocations={},
        order_index={"b": SimpleNamespace(party="P", weight_kg=10.0)},
    )  # fmt: skip
    same = compare(plan)  # type: ignore[arg-type]
    assert same.separate_fen == same.separate_plan_fen == alone_route.cost_fen == 14_000
    assert same.only_shared == () and same.only_separate == ()
