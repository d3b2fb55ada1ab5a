"""Planning jobs in-process (the embedded default: SQLite, no Redis)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.convert import order_row
from api.models import Order, Plan
from dispatch.day import sample_orders_path, served_counties
from dispatch.fleet import load_parties
from dispatch.orders import read_orders
from routing.network import load_network

COUNTY = "532327"  # 永仁县


def load_county_orders(session: Session, county: str, limit: int = 80) -> int:
    network = load_network()
    result = read_orders(
        sample_orders_path(date(2026, 9, 15)),
        places={p.id: p for p in network.places},
        parties=load_parties(),
        served_counties=served_counties(),
    )
    count = 0
    for o in result.orders:
        place = network.place(o.destination if o.direction == "down" else o.origin)
        if place.county_code != county:
            continue
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
    r = client.post(
        f"/api/v1/plans/{plan_id}/publish",
        json={"assignments": {sheets[0]["route_id"]: accounts["courier1"]}},
        headers=login("yongren"),
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    mine = client.get("/api/v1/route-sheets", headers=login("courier1")).json()
    assert mine["total"] == 1
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


def test_failed_job_says_why(client: TestClient, login, monkeypatch: pytest.MonkeyPatch) -> None:
    import dispatch.plan

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("the road network is on fire")

    monkeypatch.setattr(dispatch.plan, "plan_day", broken)
    r = client.post(
        "/api/v1/plans",
        json={"plan_date": "2026-09-15", "counties": [COUNTY]},
        headers=login("admin"),
    )
    plan = wait(client, login("admin"), r.json()["id"])
    assert plan["status"] == "failed"
    assert "the road network is on fire" in plan["error"]


def test_stale_running_job_is_requeued_then_failed(
    client: TestClient, login, session: Session, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job whose worker died (no heartbeat) is queued again, and failed after the
    last attempt: never left running."""
    import api.jobs

    started = []
    monkeypatch.setattr(api.jobs, "enqueue_plan", lambda s, plan_id: started.append(plan_id))
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
