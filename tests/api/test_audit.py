"""The audit log: a row for each change that matters (who, when, before, after), written
in the change's transaction, readable and filterable by admins only, and append-only in
the database itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from test_resources import new_vehicle

from api.models import Plan, RouteSheet

API = "/api/v1"
DAY = date(2026, 9, 15)
Login = Callable[[str], dict[str, str]]
VAN = new_vehicle(id="HUB-532326-T77", name="大姚 厢式货车 77")


def _rows(client: TestClient, login: Login, **filters: Any) -> list[dict[str, Any]]:
    r = client.get(f"{API}/audit", params=filters, headers=login("admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _published(session: Session) -> tuple[Plan, RouteSheet]:
    plan = Plan(plan_date=DAY, counties=["532326"], status="succeeded", options={}, summary={})
    session.add(plan)
    session.commit()
    sheet = RouteSheet(
        plan_id=plan.id or 0,
        route_id="C-01",
        echelon="county",
        county_code="532326",
        vehicle_id="HUB-532326-V01",
        status="draft",
        content={
            "route_id": "C-01",
            "echelon": "county",
            "vehicle": {"id": "HUB-532326-V01", "owner": "HUB"},
            "cost_fen": 1000,
            "stops": [],
            "cost_shares": [
                {
                    "party": "ZTO",
                    "name_zh": "中通",
                    "standalone_fen": 1000,
                    "proportional_fen": 1000,
                    "shapley_fen": 1000,
                }
            ],
        },
    )
    session.add(sheet)
    session.commit()
    return plan, sheet


def test_vehicle_owner_and_courier_changes_are_audited(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    dayao = login("dayao")
    assert client.post(f"{API}/vehicles", json=VAN, headers=dayao).status_code == 201
    url = f"{API}/vehicles/{VAN['id']}"
    r = client.patch(url, json={"courier_id": accounts["courier1"]}, headers=dayao)
    assert r.status_code == 200
    r = client.patch(url, json={"owner": "ZTO", "per_km_fen": 90}, headers=dayao)
    assert r.status_code == 200, r.text
    r = client.patch(url, json={"owner": "NOBODY"}, headers=dayao)  # refused: no row
    assert r.status_code == 422
    assert client.delete(url, headers=dayao).status_code == 200
    rows = _rows(client, login, entity="vehicle", entity_id=VAN["id"])
    assert [r["action"] for r in rows] == [
        "vehicle.delete",
        "vehicle.update",
        "vehicle.update",
        "vehicle.create",
    ]
    delete, owner, courier, create = rows
    assert {r["actor"] for r in rows} == {"dayao"}
    assert {r["actor_id"] for r in rows} == {accounts["dayao"]}
    assert courier["before"] == {"courier_id": None}
    assert courier["after"] == {"courier_id": accounts["courier1"]}
    assert owner["before"] == {"owner": "HUB", "per_km_fen": 95}
    assert owner["after"] == {"owner": "ZTO", "per_km_fen": 90}
    assert delete["after"] == {"active": False}
    assert create["after"]["capacity_kg"] == 1500 and create["before"] is None
    assert create["at"].endswith("+08:00")


def test_sheet_assignments_and_plan_publishing_are_audited(
    client: TestClient, login: Login, session: Session, accounts: dict[str, int]
) -> None:
    plan, sheet = _published(session)
    r = client.post(
        f"{API}/plans/{plan.id}/publish",
        json={"assignments": {"C-01": accounts["courier1"]}},
        headers=login("dayao"),
    )
    assert r.status_code == 200, r.text
    r = client.put(
        f"{API}/route-sheets/{sheet.id}/courier",
        json={"courier_id": accounts["courier2"]},
        headers=login("dayao"),
    )
    assert r.status_code == 200, r.text
    published = _rows(client, login, action="plan.publish", entity_id=plan.id)
    assert len(published) == 1
    assert published[0]["before"] == {"status": "succeeded"}
    assert published[0]["after"]["status"] == "published"
    assert published[0]["after"]["assigned"] == 1
    given = _rows(client, login, entity="route_sheet", entity_id=sheet.id)
    assert [g["action"] for g in given] == ["route_sheet.assign"] * 2
    assert given[1]["after"]["courier_id"] == accounts["courier1"]
    assert given[0]["before"]["courier_id"] == accounts["courier1"]
    assert given[0]["after"]["courier_id"] == accounts["courier2"]
    assert {g["actor"] for g in given} == {"dayao"}


def test_replan_and_settle_are_audited(
    client: TestClient, login: Login, session: Session, accounts: dict[str, int]
) -> None:
    plan, _ = _published(session)
    admin = login("admin")
    r = client.post(f"{API}/plans/{plan.id}/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.post(f"{API}/plans/{plan.id}/settle", headers=admin)
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/plans/{plan.id}/settle", headers=admin)  # nothing new
    assert r.status_code == 200, r.text
    settled = _rows(client, login, action="plan.settle")
    assert len(settled) == 1 and settled[0]["after"]["total_fen"] == 1000
    r = client.post(
        f"{API}/plans/{plan.id}/replan",
        json={"at": "2026-09-15T11:00:00+08:00", "time_limit": 1},
        headers=admin,
    )
    assert r.status_code == 202, r.text
    replans = _rows(client, login, action="plan.replan", entity_id=plan.id)
    assert len(replans) == 1 and replans[0]["after"]["replan"] == r.json()["id"]
    assert replans[0]["actor_id"] == accounts["admin"]


def test_place_corrections_and_closures_are_audited(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    dayao = login("dayao")
    place = "532326206"  # 湾碧乡, unlocated
    for lon in (101.33, 101.34):
        r = client.patch(
            f"{API}/places/{place}", json={"lon": lon, "lat": 25.74, "source": "GPS"}, headers=dayao
        )
        assert r.status_code == 200, r.text
    moved = _rows(client, login, action="place.correct", entity_id=place)
    assert [m["after"]["lon"] for m in moved] == [101.34, 101.33]
    assert moved[1]["before"] is None
    assert moved[0]["before"] == {"lon": 101.33, "lat": 25.74, "source": "GPS"}
    body = {
        "from_place": "HUB-532326",
        "to_place": "532326104",
        "starts_at": "2026-09-20T06:00:00+08:00",
        "ends_at": "2026-09-20T18:00:00+08:00",
        "reason": "塌方",
    }
    r = client.post(f"{API}/closures", json=body, headers=dayao)
    assert r.status_code == 201, r.text
    closure = r.json()["id"]
    assert client.delete(f"{API}/closures/{closure}", headers=dayao).status_code == 204
    rows = _rows(client, login, entity="closure", entity_id=closure)
    assert [r["action"] for r in rows] == ["closure.delete", "closure.create"]
    assert rows[1]["after"]["reason"] == "塌方"
    assert rows[1]["after"]["starts_at"].startswith("2026-09-19T22:00:00")  # kept in UTC
    assert rows[0]["before"]["to_place"] == "532326104"


def test_only_admins_read_the_log_and_filters_are_checked(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    assert client.get(f"{API}/audit", headers=login("dayao")).status_code == 403
    r = client.get(f"{API}/audit", params={"action": "user.explode"}, headers=login("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "action"]
    r = client.get(f"{API}/audit", params={"since": "2026-09-15T08:00"}, headers=login("admin"))
    assert r.status_code == 422  # a time without its offset
    created = _rows(client, login, action="user.create")
    assert len(created) == len(accounts)  # the fixture's accounts, made by the service
    everyone = _rows(client, login, since="2000-01-01T00:00:00+08:00", limit=500)
    assert len(everyone) >= len(accounts)
    assert _rows(client, login, until="2000-01-01T00:00:00+08:00") == []


def _append_only(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id) "
                "VALUES (CURRENT_TIMESTAMP, 'x', 'user.update', 'user', '1')"
            )
        )
    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text(sql))
    with engine.connect() as c:
        assert c.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["x"]


def test_the_log_is_append_only_on_sqlite(session: Session) -> None:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    _append_only(engine)


def test_the_log_is_append_only_on_postgresql(pg: Engine) -> None:
    _append_only(pg)


def test_a_row_names_the_request_and_the_client(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    r = client.patch(
        f"{API}/users/{accounts['courier1']}",
        json={"display_name": "配送员 一"},
        headers={**login("admin"), "X-Request-ID": "req-audit-42"},
    )
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-audit-42"
    row = _rows(client, login, action="user.update")[0]
    assert row["request_id"] == "req-audit-42" and row["client"] == "testclient"
