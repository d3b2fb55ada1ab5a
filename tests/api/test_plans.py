"""Planning jobs in-process (the embedded default: SQLite, no Redis)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models import Order, Plan
from api.services.convert import order_row
from dispatch.io.day import sample_orders_path, served_counties
from dispatch.io.fleet import load_parties
from dispatch.io.orders import read_orders
from routing.network import load_network

COUNTY = "532327"  # 永仁县


def load_county_orders(
    session: Session, county: str, limit: int = 80, *, spread: bool = False
) -> int:
    """Orders of the sample day for one county; ``spread``: one per place, so that the
    routes leave the hub's own town."""
    network = load_network()
    result = read_orders(
        sample_orders_path(date(2026, 9, 15)),
        places={p.id: p for p in network.places},
        parties=load_parties(),
        served_counties=served_counties(),
    )
    count = 0
    seen: set[str] = set()
    for o in result.orders:
        place = network.place(o.destination if o.direction == "down" else o.origin)
        if place.county_code != county or (spread and place.id in seen):
            continue
        seen.add(place.id)
        session.add(order_row(o, county, date(2026, 9, 15), None))
        count += 1
        if count >= limit:
            break
    session.commit()
    return count


def wait(client: TestClient, headers: dict[str, str], plan_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/plans/{plan_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return r.json()
        time.sleep(0.2)


def test_dispatcher_plans_own_county_in_process(
    client: TestClient, login, session: Session, accounts: dict[str, int]
) -> None:
    n = load_county_orders(session, COUNTY)
    assert n > 20
    # another county's dispatcher can neither plan nor see it
    r = client.post(
        "/api/v1/plans",
        json={"plan_date": "2026-09-15", "counties": [COUNTY]},
        headers=login("dayao"),
    )
    assert r.status_code == 403
    r = client.post("/api/v1/plans", json={"plan_date": "2026-09-15"}, headers=login("yongren"))
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/api/v1/plans/{r.json()['id']}"
    plan_id = r.json()["id"]
    assert r.json()["counties"] == [COUNTY]
    plan = wait(client, login("yongren"), plan_id)
    assert plan["status"] == "succeeded", plan
    assert plan["progress"] == 1.0 and plan["summary"]["orders"] == n
    assert plan["summary"]["assigned"] + plan["summary"]["unassigned"] == n
    assert client.get(f"/api/v1/plans/{plan_id}", headers=login("dayao")).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}", headers=login("courier1")).status_code == 403
    listed = client.get("/api/v1/plans", headers=login("dayao")).json()
    assert listed["total"] == 0
    listed = client.get("/api/v1/plans", headers=login("yongren")).json()
    assert [p["id"] for p in listed["items"]] == [plan_id]

    # the orders it routed are planned now
    planned = session.exec(select(Order).where(Order.status == "planned")).all()
    assert len(planned) == plan["summary"]["assigned"]

    sheets = client.get(f"/api/v1/plans/{plan_id}/sheets", headers=login("admin")).json()
    assert sheets and all(s["status"] == "draft" for s in sheets)
    route = next(s["route_id"] for s in sheets if s["echelon"] == "county")
    # a courier of another county's hub cannot be given the route (defect 9)
    r = client.post(
        f"/api/v1/plans/{plan_id}/publish",
        json={"assignments": {route: accounts["courier1"]}},
        headers=login("yongren"),
    )
    assert r.status_code == 422 and "532327" in r.text, r.text
    r = client.post(
        f"/api/v1/plans/{plan_id}/publish",
        json={"assignments": {route: accounts["courier3"]}},
        headers=login("yongren"),
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    mine = client.get("/api/v1/route-sheets", headers=login("courier3")).json()
    assert mine["total"] == 1
    assert client.get("/api/v1/route-sheets", headers=login("courier1")).json()["total"] == 0
    # publishing twice is refused
    again = client.post(f"/api/v1/plans/{plan_id}/publish", json={}, headers=login("yongren"))
    assert again.status_code == 409


def test_bad_plan_requests(client: TestClient, login) -> None:
    admin = login("admin")
    r = client.post(
        "/api/v1/plans", json={"plan_date": "2026-09-15", "counties": ["999999"]}, headers=admin
    )
    assert r.status_code == 422
    r = client.post("/api/v1/plans", json={"plan_date": "15.9.2026"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "plan_date"
    r = client.post(
        "/api/v1/plans", json={"plan_date": "2026-09-15", "time_limit": -1}, headers=admin
    )
    assert r.status_code == 422
    assert client.get("/api/v1/plans/999", headers=admin).status_code == 404
    r = client.post("/api/v1/plans/999/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 404


def test_failed_job_says_why(client: TestClient, login, session: Session) -> None:
    """A plan that cannot be made fails with the reason, not a stuck job."""
    from api.models import Vehicle

    session.add(
        Vehicle(
            id="BROKEN",
            owner="HUB",
            depot="HUB-532327",
            county_code=COUNTY,
            kind="van",
            profile="rocket",
            capacity_kg=1000,
            capacity_m3=8.0,
        )
    )
    session.commit()
    load_county_orders(session, COUNTY, limit=5)
    r = client.post(
        "/api/v1/plans",
        json={"plan_date": "2026-09-15", "counties": [COUNTY]},
        headers=login("admin"),
    )
    plan = wait(client, login("admin"), r.json()["id"])
    assert plan["status"] == "failed"
    assert "rocket" in plan["error"]


def test_stale_running_job_is_requeued_then_failed(
    client: TestClient, login, session: Session, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job whose worker died (no heartbeat) is queued again, and failed after the
    last attempt: never left running."""
    import api.services.queue

    started = []
    monkeypatch.setattr(
        api.services.queue, "enqueue_plan", lambda s, plan_id: started.append(plan_id)
    )
    from datetime import timedelta

    from api.models import now

    old = now() - timedelta(seconds=settings.stale_after_s + 5)
    plan = Plan(
        plan_date=date(2026, 9, 15),
        counties=[COUNTY],
        status="running",
        attempts=1,
        started_at=old,
        heartbeat_at=old,
        created_at=old,
    )
    session.add(plan)
    session.commit()
    session.refresh(plan)
    r = client.get(f"/api/v1/plans/{plan.id}", headers=login("admin")).json()
    assert r["status"] == "queued" and "worker stopped" in r["message"]
    assert started == [plan.id]
    # the retry dies too: the last attempt fails the plan
    session.refresh(plan)
    plan.status, plan.attempts, plan.heartbeat_at = "running", 2, old
    session.add(plan)
    session.commit()
    r = client.get(f"/api/v1/plans/{plan.id}", headers=login("admin")).json()
    assert r["status"] == "failed" and "stopped 2 times" in r["error"]


def test_closure_flags_plan_and_replan_keeps_done_stops(
    client: TestClient, login, session: Session, accounts: dict[str, int]
) -> None:
    load_county_orders(session, COUNTY, limit=1000, spread=True)
    admin = login("admin")
    r = client.post(
        "/api/v1/plans", json={"plan_date": "2026-09-15", "counties": [COUNTY]}, headers=admin
    )
    plan_id = r.json()["id"]
    assert wait(client, admin, plan_id)["status"] == "succeeded"
    sheets = client.get(f"/api/v1/plans/{plan_id}/sheets", headers=admin).json()
    r = client.post(f"/api/v1/plans/{plan_id}/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 200

    def travels(item: dict) -> bool:  # a county route that leaves the hub's own town
        body = client.get(f"/api/v1/route-sheets/{item['id']}", headers=admin).json()
        points = {(st["place"]["lon"], st["place"]["lat"]) for st in body["stops"]}
        return len(points) > 1

    county = next(s for s in sheets if s["echelon"] == "county" and travels(s))
    # published with no courier: the dispatcher gives the route to one afterwards (defect 9)
    r = client.put(
        f"/api/v1/route-sheets/{county['id']}/courier",
        json={"courier_id": accounts["courier3"]},
        headers=login("yongren"),
    )
    assert r.status_code == 200 and r.json()["status"] == "assigned", r.text
    sheet = client.get(f"/api/v1/route-sheets/{county['id']}", headers=login("courier3")).json()
    stops = sheet["stops"]
    # the courier reports the first stop done, then stands at it
    first = stops[0]
    events = ["arrived"]
    events += ["delivered"] if any(g["orders"] for g in first["drop"]) else []
    events += ["picked_up"] if any(g["orders"] for g in first["pickup"]) else []
    for k, kind in enumerate(events):
        r = client.post(
            f"/api/v1/route-sheets/{county['id']}/events",
            json={"client_event_id": f"e{k}", "seq": first["seq"], "type": kind},
            headers=login("courier3"),
        )
        assert r.status_code == 201, r.text

    # a landslide closes the road to the second stop: the plan using it is flagged
    here = (first["place"]["lon"], first["place"]["lat"])
    away = next(st for st in stops if (st["place"]["lon"], st["place"]["lat"]) != here)
    r = client.post(
        "/api/v1/closures",
        json={
            "from_place": first["place"]["id"],
            "to_place": away["place"]["id"],
            "starts_at": "2026-09-15T11:00:00+08:00",
            "ends_at": "2026-09-16T18:00:00+08:00",
            "reason": "塌方",
        },
        headers=login("yongren"),
    )
    assert r.status_code == 201, r.text
    assert plan_id in r.json()["flagged_plans"]
    flagged = client.get(f"/api/v1/plans/{plan_id}", headers=admin).json()
    assert flagged["flags"] and flagged["flags"][0]["closure_id"] == r.json()["id"]

    r = client.post(
        f"/api/v1/plans/{plan_id}/replan", json={"at": "2026-09-15T12:00:00+08:00"}, headers=admin
    )
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    new = wait(client, admin, new_id)
    assert new["status"] == "succeeded", new
    assert new["summary"]["replan_of"] == plan_id
    assert new["summary"]["vehicles_under_way"] == 1
    assert new["summary"]["road_closures"]
    new_sheets = client.get(f"/api/v1/plans/{new_id}/sheets", headers=admin).json()
    r = client.post(f"/api/v1/plans/{new_id}/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 200, r.text
    new_sheets = client.get(f"/api/v1/plans/{new_id}/sheets", headers=admin).json()
    assert client.get(f"/api/v1/plans/{plan_id}", headers=admin).json()["status"] == "superseded"
    mine = [
        s
        for s in new_sheets
        if s["vehicle_id"] == county["vehicle_id"] and s["echelon"] == "county"
    ]
    assert mine, "the vehicle under way gets a replanned sheet"
    assert mine[0]["courier_id"] == accounts["courier3"]  # its courier carried over (defect 9)
    body = client.get(f"/api/v1/route-sheets/{mine[0]['id']}", headers=login("courier3")).json()
    assert body["stops"][0]["place"]["id"] == first["place"]["id"]
    assert body["stops"][0]["status"] == "completed"  # done stays done
    assert body["start"]["place"]["id"] == first["place"]["id"]  # starts where it stands
    # a replan of a superseded plan is refused
    again = client.post(f"/api/v1/plans/{plan_id}/replan", json={}, headers=admin)
    assert again.status_code == 409


def test_replan_keeps_parcels_on_board_with_their_vehicle(
    client: TestClient, login, session: Session, accounts: dict[str, int]
) -> None:
    """Defect 10: parcels a van picked up at the hub are on board at the replan: they stay
    with that van (never listed as unassigned ``no_vehicle``) and reach their stops."""
    load_county_orders(session, COUNTY, limit=1000, spread=True)
    admin = login("admin")
    r = client.post(
        "/api/v1/plans", json={"plan_date": "2026-09-15", "counties": [COUNTY]}, headers=admin
    )
    plan_id = r.json()["id"]
    assert wait(client, admin, plan_id)["status"] == "succeeded"
    sheets = client.get(f"/api/v1/plans/{plan_id}/sheets", headers=admin).json()
    r = client.post(f"/api/v1/plans/{plan_id}/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 200, r.text
    courier = admin  # the hub enters what its vans report
    loaded: dict[str, set[str]] = {}  # vehicle -> parcels it picked up at the hub
    for item in sheets:
        if item["echelon"] != "county":
            continue
        body = client.get(f"/api/v1/route-sheets/{item['id']}", headers=courier).json()
        first = body["stops"][0]
        picked = {o["order_id"] for g in first["pickup"] for o in g["orders"]}
        if not first["place"]["id"].startswith("HUB-") or not picked:
            continue
        events = ["arrived", "picked_up"]
        events += ["delivered"] if any(g["orders"] for g in first["drop"]) else []
        for k, kind in enumerate(events):
            r = client.post(
                f"/api/v1/route-sheets/{item['id']}/events",
                json={"client_event_id": f"{item['id']}-{k}", "seq": first["seq"], "type": kind},
                headers=courier,
            )
            assert r.status_code == 201, r.text
        loaded[item["vehicle_id"]] = picked
    assert loaded, "some van loads parcels at the hub first"
    r = client.post(
        f"/api/v1/plans/{plan_id}/replan", json={"at": "2026-09-15T10:30:00+08:00"}, headers=admin
    )
    assert r.status_code == 202, r.text
    new = wait(client, admin, r.json()["id"])
    assert new["status"] == "succeeded", new
    on_board = set().union(*loaded.values())
    lost = [u for u in new["summary"]["unassigned_orders"] if u["order_id"] in on_board]
    assert lost == []
    new_sheets = client.get(f"/api/v1/plans/{new['id']}/sheets", headers=admin).json()
    for item in new_sheets:
        if item["vehicle_id"] not in loaded:
            continue
        body = client.get(f"/api/v1/route-sheets/{item['id']}", headers=admin).json()
        dropped = {
            o["order_id"]
            for st in body["stops"]
            if not st.get("done")
            for g in st["drop"]
            for o in g["orders"]
        }
        loaded[item["vehicle_id"]] -= dropped
    assert all(not left for left in loaded.values()), loaded


def test_plan_board_shows_every_route_and_every_unassigned_order(
    client: TestClient, login, session: Session
) -> None:
    """The board answers, for one plan, what the dispatcher's page draws: one entry per
    route sheet with its timeline, driving hours within the limit, load within capacity,
    cost split among the parties; the unassigned orders with reasons; a dispatcher of
    another county sees none of it."""
    load_county_orders(session, COUNTY, limit=300, spread=True)
    yongren = login("yongren")
    r = client.post("/api/v1/plans", json={"plan_date": "2026-09-15"}, headers=yongren)
    plan = wait(client, yongren, r.json()["id"])
    assert plan["status"] == "succeeded", plan
    r = client.get(f"/api/v1/plans/{plan['id']}/board", headers=yongren)
    assert r.status_code == 200, r.text
    board = r.json()
    summary = plan["summary"]
    assert len(board["routes"]) == summary["routes"] > 0
    assert len(board["unassigned"]) == summary["unassigned"]
    assert all(u["reason"] and u["detail"] for u in board["unassigned"])
    assert len({route["colour"] for route in board["routes"]}) == len(board["routes"])
    for route in board["routes"]:
        assert 0 <= route["driving_h"] <= board["driving_limit_h"]
        if route["distance_km"] >= 1:
            assert route["driving_h"] > 0
        assert route["load_pct"] is not None and 0 <= route["load_pct"] <= 100
        assert sum(p["fen"] for p in route["parties"]) == route["cost_fen"]
        assert len(route["timeline"]) == route["stops"] > 0
        assert all(t["arrival"].endswith("+08:00") for t in route["timeline"])
        assert route["geometry"]["type"] == "LineString"
    assert sum(r["cost_fen"] for r in board["routes"]) == summary["cost_fen"]
    assert (
        client.get(f"/api/v1/plans/{plan['id']}/board", headers=login("dayao")).status_code == 404
    )
