"""GET /plans/{id}/compare: a replan against the plan it replaces, from the route sheets
(totals, each vehicle's old and new route, stops added and dropped, orders that changed
hands); a dispatcher sees their county's and the trunk vehicles only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.models import Order, Plan, RouteSheet, now

DAY = date(2026, 9, 15)
DAYAO, YONGREN = "532326", "532327"


def _stop(place: str, name: str, drops: list[str], at: str) -> dict[str, Any]:
    return {
        "place": {"id": place, "name_zh": name},
        "arrival": f"2026-09-15T{at}:00+08:00",
        "departure": f"2026-09-15T{at}:00+08:00",
        "drop": [{"party": "SF", "orders": [{"order_id": o} for o in drops]}],
        "pickup": [],
    }


def _sheet(
    plan_id: int, route_id: str, vehicle: str, county: str | None, stops: list[dict], km: float
) -> RouteSheet:
    content = {
        "route_id": route_id,
        "vehicle": {"id": vehicle, "name": f"车 {vehicle}", "kind": "van"},
        "start": {"place": {"id": "HUB"}, "time": "2026-09-15T08:00:00+08:00"},
        "end": {"place": {"id": "HUB"}, "time": "2026-09-15T12:00:00+08:00"},
        "distance_m": km * 1000,
        "cost_fen": int(km * 300),
        "stops": [{**s, "seq": k} for k, s in enumerate(stops, 1)],
        "geometry": {"type": "LineString", "coordinates": [[101.3, 25.7], [101.4, 25.8]]},
    }
    return RouteSheet(
        plan_id=plan_id,
        route_id=route_id,
        echelon="county" if county else "trunk",
        county_code=county,
        vehicle_id=vehicle,
        status="draft",
        content=content,
    )


def _plans(session: Session) -> tuple[int, int]:
    """A published prefecture plan and its replan: 大姚's van A loses 六苴 to van B, 永仁's
    van Y is unchanged, the trunk route is kept, order D4 becomes unassigned."""
    y9 = {"order_id": "Y9", "reason": "no_vehicle"}
    old = Plan(plan_date=DAY, counties=[DAYAO, YONGREN], status="published",
               published_at=now(), summary={"unassigned_orders": [y9]})  # fmt: skip
    session.add(old)
    session.flush()
    assert old.id is not None
    new = Plan(plan_date=DAY, counties=[DAYAO, YONGREN], status="succeeded",
               options={"replan_of": old.id, "at": "2026-09-15T10:00:00+08:00"},
               summary={"unassigned_orders": [{"order_id": "D4", "reason": "no_vehicle"},
                                              {"order_id": "Y9", "reason": "no_vehicle"}]},
               )  # fmt: skip
    session.add(new)
    session.flush()
    assert new.id is not None
    for oid, county in (("D1", DAYAO), ("D2", DAYAO), ("D3", DAYAO), ("D4", DAYAO),
                        ("Y1", YONGREN), ("Y9", YONGREN)):  # fmt: skip
        session.add(
            Order(
                order_id=oid,
                party="SF",
                direction="down",
                origin="WH",
                destination="X",
                county_code=county,
                plan_date=DAY,
                weight_kg=1,
                pieces=1,
            )
        )
    trunk = [_stop("HUB-532326", "大姚县物流中心", ["D1", "D2", "D3", "D4"], "07:00")]
    a_old = [_stop("P1", "金碧镇", ["D1"], "09:00"), _stop("P2", "六苴镇", ["D2", "D4"], "11:00")]
    a_new = [_stop("P1", "金碧镇", ["D1"], "09:00")]
    b_old = [_stop("P3", "石羊镇", ["D3"], "09:30")]
    b_new = [_stop("P3", "石羊镇", ["D3"], "09:30"), _stop("P2", "六苴镇", ["D2"], "11:30")]
    y = [_stop("P9", "永定镇", ["Y1"], "10:00")]
    for plan_id, prefix, a, b, km in (
        (old.id, "C", a_old, b_old, 0),
        (new.id, "R", a_new, b_new, 5),
    ):
        session.add(_sheet(plan_id, "T-01", "TRUNK-1", None, trunk, 100))
        session.add(_sheet(plan_id, f"{prefix}-532326-01", "VAN-A", DAYAO, a, 40 - km))
        session.add(_sheet(plan_id, f"{prefix}-532326-02", "VAN-B", DAYAO, b, 30 + km))
        session.add(_sheet(plan_id, f"{prefix}-532327-01", "VAN-Y", YONGREN, y, 20))
    session.commit()
    return old.id, new.id


def test_a_replan_compares_with_the_plan_it_replaces(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session
) -> None:
    old_id, new_id = _plans(session)
    r = client.get(f"/api/v1/plans/{new_id}/compare", headers=login("admin"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["old"]["id"] == old_id and doc["new"]["id"] == new_id
    assert doc["new"]["at"] == "2026-09-15T10:00:00+08:00"
    old, new = doc["totals"]["old"], doc["totals"]["new"]
    assert (old["routes"], new["routes"]) == (4, 4)
    assert (old["orders_served"], new["orders_served"]) == (5, 5)  # D4 still on the trunk
    assert (old["unassigned"], new["unassigned"]) == (1, 2)
    assert (old["km"], new["km"]) == (190.0, 190.0)
    assert old["cost_fen"] == 57000 and doc["totals"]["delta"]["cost_fen"] == 0
    assert old["driving_h"] > 0
    vehicles = doc["vehicles"]
    assert [v["vehicle_id"] for v in vehicles] == ["VAN-A", "VAN-B", "VAN-Y", "TRUNK-1"]
    assert [v["changed"] for v in vehicles] == [True, True, False, False]
    assert doc["vehicles_changed"] == 2
    a, b = vehicles[0], vehicles[1]
    assert a["old"]["route_id"] == "C-532326-01" and a["new"]["route_id"] == "R-532326-01"
    assert (a["old"]["stops"], a["new"]["stops"]) == (2, 1)
    assert (a["old"]["km"], a["new"]["km"]) == (40.0, 35.0)
    assert a["stops_dropped"] == [{"place_id": "P2", "name_zh": "六苴镇"}]
    assert a["stops_added"] == []
    assert b["stops_added"] == [{"place_id": "P2", "name_zh": "六苴镇"}]
    assert b["new"]["geometry"][0]["type"] == "LineString"
    orders = {o["order_id"]: o for o in doc["orders"]}
    assert orders["D2"]["change"] == "moved"
    assert orders["D2"]["old_vehicles"] == ["TRUNK-1", "VAN-A"]
    assert orders["D2"]["new_vehicles"] == ["TRUNK-1", "VAN-B"]
    # off van A, unassigned in the replan though still on the (kept) trunk route
    assert orders["D4"]["change"] == "unassigned" and orders["D4"]["reason"] == "no_vehicle"
    assert orders["D4"]["new_vehicles"] == ["TRUNK-1"]
    assert set(orders) == {"D2", "D4"}  # Y9 was and stays unassigned
    assert doc["orders_changed"] == {"moved": 1, "assigned": 0, "unassigned": 1}
    # naming the other plan explicitly gives the same; the reverse swaps old and new
    same = client.get(f"/api/v1/plans/{new_id}/compare?with={old_id}", headers=login("admin"))
    assert same.json()["totals"] == doc["totals"]
    back = client.get(f"/api/v1/plans/{old_id}/compare?with={new_id}", headers=login("admin"))
    assert back.json()["totals"]["old"] == new and back.json()["totals"]["new"] == old


def test_a_dispatcher_compares_their_county_and_the_trunk_routes(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session
) -> None:
    _, new_id = _plans(session)
    doc = client.get(f"/api/v1/plans/{new_id}/compare", headers=login("dayao")).json()
    assert doc["county_code"] == DAYAO
    assert {v["vehicle_id"] for v in doc["vehicles"]} == {"VAN-A", "VAN-B", "TRUNK-1"}
    assert doc["totals"]["new"]["unassigned"] == 1  # D4; 永仁's Y9 is not theirs
    assert doc["totals"]["new"]["routes"] == 3
    yongren = client.get(f"/api/v1/plans/{new_id}/compare", headers=login("yongren")).json()
    assert {v["vehicle_id"] for v in yongren["vehicles"]} == {"VAN-Y", "TRUNK-1"}


def test_compare_needs_another_plan_it_may_see(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session
) -> None:
    old_id, new_id = _plans(session)
    r = client.get(f"/api/v1/plans/{old_id}/compare", headers=login("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["with"]
    r = client.get(f"/api/v1/plans/{new_id}/compare?with=0", headers=login("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "with"]
    r = client.get(f"/api/v1/plans/{new_id}/compare?with=999", headers=login("admin"))
    assert r.status_code == 404, r.text
    other = Plan(plan_date=DAY, counties=[YONGREN], status="succeeded")
    session.add(other)
    session.commit()
    r = client.get(f"/api/v1/plans/{new_id}/compare?with={other.id}", headers=login("dayao"))
    assert r.status_code == 404, r.text  # 大姚's dispatcher does not see 永仁's own plan
    r = client.get(f"/api/v1/plans/{new_id}/compare", headers=login("courier1"))
    assert r.status_code == 403, r.text
