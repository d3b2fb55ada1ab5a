"""What a vehicle under way holds at a replan, from its courier's reports (defect 10)."""

from __future__ import annotations

from typing import Any

from dispatch.domain import Order, VehicleSpec
from dispatch.plan.replan import under_way

VAN = VehicleSpec(
    id="HUB-532327-M01", owner="hub", depot="HUB-532327", kind="motorbike",
    profile="motorbike", capacity_kg=200, capacity_m3=1.0,
)  # fmt: skip
HUB = "HUB-532327"


def order(oid: str, direction: str = "down") -> Order:
    stop = "532327101"
    origin, destination = (HUB, stop) if direction == "down" else (stop, HUB)
    return Order(oid, "EMS", direction, origin, destination, 20.0, 0.1, 1)


def stop(seq: int, place: str, at: str, *, drop: tuple = (), pickup: tuple = ()) -> dict:
    def groups(ids: tuple) -> list[dict[str, Any]]:
        return [{"party": "EMS", "orders": [{"order_id": i} for i in ids]}] if ids else []

    return {
        "seq": seq,
        "place": {"id": place},
        "arrival": f"2026-09-15T{at}:00+08:00",
        "departure": f"2026-09-15T{at}:00+08:00",
        "drop": groups(drop),
        "pickup": groups(pickup),
    }


SHEET = {
    "start": {"time": "2026-09-15T08:00:00+08:00"},
    "stops": [
        stop(1, HUB, "08:00", pickup=("a", "b")),  # first load
        stop(2, "532327101", "09:00", drop=("a",), pickup=("u",)),
        stop(3, "532327102", "10:00", drop=("b",)),
        stop(4, HUB, "11:00", drop=("u",), pickup=("c", "d")),  # second load
        stop(5, "532327103", "12:00", drop=("c", "d")),
    ],
}
LEFT = {o.id: o for o in (order("b"), order("c"), order("d"), order("u", "up"))}


def test_only_goods_picked_up_and_not_dropped_are_on_board() -> None:
    held = under_way(SHEET, {1: "completed", 2: "completed"}, VAN, LEFT, 36_000)
    assert held is not None
    assert held.place == "532327101"
    assert held.on_board == ("b",)  # c and d wait for the second load at the hub
    assert held.carrying == ("u",)
    assert held.driven_s == 3600  # 08:00 at the hub, 09:00 at stop 2


def test_a_failed_stop_loads_nothing_and_no_report_means_not_left() -> None:
    held = under_way(SHEET, {1: "failed"}, VAN, LEFT, 36_000)
    assert held is not None and held.on_board == () and held.place == HUB
    assert under_way(SHEET, {}, VAN, LEFT, 36_000) is None
