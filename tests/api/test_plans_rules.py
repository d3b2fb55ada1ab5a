"""Plans and couriers: one job in flight per date and county, nothing half-queued, lost
jobs found again (defect 7 of issue 11); couriers given, handed over and kept within
their county and their day (defect 9)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import api.services.plans
import api.services.queue
from api.core.config import Settings
from api.errors import Conflict
from api.main import create_app
from api.models import Plan, PlanClaim, RouteSheet, now

DAY = date(2026, 9, 15)
YONGREN = "532327"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


# ---- one job in flight ------------------------------------------------------------------------
def test_twenty_racing_plan_requests_queue_one_plan(
    pg: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.services.plans, "enqueue_plan", lambda _s, _p: None)
    barrier = threading.Barrier(20)
    answers: list[str] = []

    def ask() -> None:
        with Session(pg) as session:
            barrier.wait()
            try:
                plan = api.services.plans.start_plan(
                    session,
                    settings,
                    plan_date=DAY,
                    counties=[YONGREN],
                    options={},
                    created_by=None,
                )
                answers.append(f"plan {plan.id}")
            except Conflict as e:
                answers.append(str(e))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    queued = [a for a in answers if a.startswith("plan ")]
    assert len(answers) == 20 and len(queued) == 1, answers
    assert all(queued[0] in a for a in answers if a not in queued)  # refusals name it
    with Session(pg) as session:
        assert len(session.exec(select(Plan)).all()) == 1
        # the job ends: the county is free again
        plan = session.exec(select(Plan)).one()
        plan.status = "failed"
        session.add(plan)
        api.services.queue.release_claims(session, plan.id or 0)
        session.commit()
        again = api.services.plans.start_plan(
            session, settings, plan_date=DAY, counties=[YONGREN], options={}, created_by=None
        )
        assert again.id != plan.id


def test_a_claim_left_by_an_ended_job_does_not_block_the_day(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.services.plans, "enqueue_plan", lambda _s, _p: None)
    old = Plan(plan_date=DAY, counties=[YONGREN], status="failed")
    session.add(old)
    session.flush()
    session.add(PlanClaim(plan_date=DAY, county_code=YONGREN, plan_id=old.id or 0))
    session.commit()
    plan = api.services.plans.start_plan(
        session, settings, plan_date=DAY, counties=[YONGREN], options={}, created_by=None
    )
    assert plan.status == "queued"
    with pytest.raises(Conflict, match=f"plan {plan.id}"):
        api.services.plans.start_plan(
            session,
            settings,
            plan_date=DAY,
            counties=[YONGREN, "532326"],
            options={},
            created_by=None,
        )


def test_queue_down_answers_503_and_keeps_no_row(
    settings: Settings, accounts: dict[str, int], session: Session
) -> None:
    app = create_app(replace(settings, redis_url=DEAD_REDIS))
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": "correct horse battery"}
        ).json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        published = _published_plan(session, [])
        r = client.post(f"/api/v1/plans/{published}/replan", json={}, headers=admin)
        assert r.status_code == 503, r.text
        r = client.post(
            "/api/v1/plans", json={"plan_date": "2026-09-16", "counties": [YONGREN]}, headers=admin
        )
        assert r.status_code == 503, r.text
    session.expire_all()
    assert [p.id for p in session.exec(select(Plan)).all()] == [published]
    assert session.exec(select(PlanClaim)).all() == []


def test_a_queued_plan_whose_job_vanished_is_queued_again(
    settings: Settings, session: Session
) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=3).ping()
    except Exception as e:
        pytest.skip(f"Redis not reachable: {e}")
    from rq import Queue

    on_queue = replace(
        settings, redis_url="redis://127.0.0.1:6379/0", queue=f"t-{uuid.uuid4().hex[:8]}"
    )
    long_ago = now() - api.services.queue.LOST_AFTER * 2
    lost = Plan(plan_date=DAY, counties=[YONGREN], status="queued", job_id="gone",
                created_at=long_ago)  # fmt: skip
    fresh = Plan(plan_date=DAY, counties=["532326"], status="queued", created_at=now())
    session.add(lost)
    session.add(fresh)
    session.commit()
    queue = Queue(on_queue.queue, connection=redis.Redis.from_url(on_queue.redis_url))
    try:
        assert api.services.queue.reconcile(on_queue) == 1  # the fresh one may still be queueing
        session.refresh(lost)
        assert lost.job_id != "gone" and queue.fetch_job(lost.job_id or "") is not None
        assert api.services.queue.reconcile(on_queue) == 0  # its job is there now
    finally:
        queue.delete(delete_jobs=True)


# ---- couriers -------------------------------------------------------------------------------
def _published_plan(session: Session, routes: list[tuple[str, str | None, str, str]]) -> int:
    """A published plan with route sheets (route id, county, leaves, returns: HH:MM)."""
    plan = Plan(plan_date=DAY, counties=[YONGREN], status="published", published_at=now())
    session.add(plan)
    session.flush()
    for route_id, county, start, end in routes:
        content: dict[str, Any] = {
            "route_id": route_id,
            "start": {"time": f"2026-09-15T{start}:00+08:00"},
            "end": {"time": f"2026-09-15T{end}:00+08:00"},
            "stops": [],
        }
        session.add(
            RouteSheet(
                plan_id=plan.id or 0,
                route_id=route_id,
                echelon="county" if county else "trunk",
                county_code=county,
                vehicle_id=f"V-{route_id}",
                content=content,
            )
        )
    session.commit()
    return plan.id or 0


def _sheet_ids(session: Session, plan_id: int) -> dict[str, int]:
    rows = session.exec(select(RouteSheet).where(RouteSheet.plan_id == plan_id)).all()
    return {r.route_id: r.id or 0 for r in rows}


def test_couriers_are_given_routes_of_their_county_one_at_a_time(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    session: Session,
    accounts: dict[str, int],
) -> None:
    plan_id = _published_plan(
        session,
        [
            ("C-532327-01", YONGREN, "08:00", "12:00"),
            ("C-532327-02", YONGREN, "11:00", "15:00"),  # overlaps 01
            ("C-532327-03", YONGREN, "13:00", "17:00"),  # after 01
            ("T-01", None, "05:30", "11:00"),
        ],
    )
    ids = _sheet_ids(session, plan_id)
    dispatcher = login("yongren")

    def give(route: str, courier: int | None, who: dict[str, str] = dispatcher) -> Any:
        url = f"/api/v1/route-sheets/{ids[route]}/courier"
        return client.put(url, json={"courier_id": courier}, headers=who)

    r = give("C-532327-01", accounts["courier3"])
    assert r.status_code == 200 and r.json()["courier_id"] == accounts["courier3"]
    assert r.json()["status"] == "assigned"
    # the same courier, a route that overlaps: refused, naming both routes
    r = give("C-532327-02", accounts["courier3"])
    assert r.status_code == 409 and "C-532327-01" in r.text and "C-532327-02" in r.text
    assert give("C-532327-03", accounts["courier3"]).status_code == 200  # later that day
    # another county's courier cannot drive 永仁's route, nor then read it
    r = give("C-532327-02", accounts["courier1"])
    assert r.status_code == 422 and "courier_id" in r.text
    sheet = ids["C-532327-02"]
    assert client.get(f"/api/v1/route-sheets/{sheet}", headers=login("courier1")).status_code == 404
    # trunk routes go to the warehouse's couriers, not a county's
    assert give("T-01", accounts["courier3"], login("admin")).status_code == 422
    assert give("T-01", accounts["driver"], login("admin")).status_code == 200
    # another county's dispatcher does not even see the sheet; couriers cannot assign
    assert give("C-532327-02", accounts["courier3"], login("dayao")).status_code == 404
    assert give("C-532327-02", accounts["courier3"], login("courier3")).status_code == 403
    # taken back (not started yet): the courier is free for the overlapping route
    r = give("C-532327-01", None)
    assert r.status_code == 200 and r.json()["status"] == "draft"
    assert give("C-532327-03", None).status_code == 200
    assert give("C-532327-02", accounts["courier3"]).status_code == 200
    mine = client.get("/api/v1/route-sheets", headers=login("courier3")).json()
    assert [s["route_id"] for s in mine["items"]] == ["C-532327-02"]


def test_publishing_refuses_overlapping_routes_for_one_courier(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    session: Session,
    accounts: dict[str, int],
) -> None:
    plan = Plan(plan_date=DAY, counties=[YONGREN], status="succeeded")
    session.add(plan)
    session.flush()
    for route_id, start, end in (
        ("C-532327-01", "08:00", "12:00"),
        ("C-532327-02", "09:00", "10:00"),
    ):
        session.add(
            RouteSheet(
                plan_id=plan.id or 0,
                route_id=route_id,
                echelon="county",
                county_code=YONGREN,
                vehicle_id=f"V-{route_id}",
                content={
                    "start": {"time": f"2026-09-15T{start}:00+08:00"},
                    "end": {"time": f"2026-09-15T{end}:00+08:00"},
                    "stops": [],
                },
            )
        )
    session.commit()
    both = {"C-532327-01": accounts["courier3"], "C-532327-02": accounts["courier3"]}
    r = client.post(
        f"/api/v1/plans/{plan.id}/publish", json={"assignments": both}, headers=login("yongren")
    )
    assert r.status_code == 409, r.text
    session.refresh(plan)
    assert plan.status == "succeeded"  # nothing published
