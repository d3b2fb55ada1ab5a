"""The places console's API: dispatchers place their county's unlocated townships and
villages, open orders per place of a day, the recent corrections, and a placed township
reaching the next plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.models import Order
from api.services.convert import utc

API = "/api/v1"
DAY = date(2026, 9, 15)
Login = Callable[[str], dict[str, str]]

WANBI = "532326206"  # 湾碧傣族傈僳族乡, 大姚县: unlocated township
YINGTA = "532326101002"  # 映塔社区, 金碧镇, 大姚县: unlocated village
BEICHENG = "532326101001"  # 北城社区, 大姚县: located village
YONGXING = "532327204"  # 永兴傣族乡, 永仁县: unlocated township
IN_DAYAO = {"lon": 101.33, "lat": 25.74, "source": "现场核实"}
IN_YONGREN = {"lon": 101.60, "lat": 26.0, "source": "GPS"}


def _order(session: Session, order_id: str, place: str, county: str, **changes: object) -> None:
    up = changes.pop("direction", "down") == "up"
    hub = f"HUB-{county}"
    row = Order(
        order_id=order_id,
        party="EMS",
        direction="up" if up else "down",
        origin=place if up else "WH-CX",
        destination=hub if up else place,
        county_code=county,
        plan_date=DAY,
        weight_kg=5.0,
        volume_m3=0.02,
        pieces=1,
        # stored in UTC, as the service stores them (api.services.convert.utc)
        ready_at=utc(datetime.fromisoformat("2026-09-15T06:00:00+08:00")),
        due_at=utc(datetime.fromisoformat("2026-09-15T18:00:00+08:00")),
    )
    for k, v in changes.items():
        setattr(row, k, v)
    session.add(row)
    session.commit()


def test_dispatcher_places_own_county_only(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    url = f"{API}/places/{WANBI}"
    r = client.patch(url, json=IN_DAYAO, headers=login("dayao"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["located"] and body["corrected"] and (body["lon"], body["lat"]) == (101.33, 25.74)
    fix = body["correction"]
    assert fix["corrected_by"] == accounts["dayao"] and fix["corrected_by_username"] == "dayao"
    assert fix["source"] == "现场核实" and fix["corrected_at"].endswith("+08:00")
    got = client.get(url, headers=login("zto")).json()
    assert got["correction"]["corrected_by_username"] == "dayao"

    # another county's dispatcher: 403 naming the place's county
    r = client.patch(url, json=IN_DAYAO, headers=login("yongren"))
    assert r.status_code == 403 and "532326" in r.json()["detail"], r.text
    r = client.patch(f"{API}/places/{YONGXING}", json=IN_YONGREN, headers=login("dayao"))
    assert r.status_code == 403 and "532327" in r.json()["detail"]
    # couriers and carriers never; depots are the admins'
    for who in ("courier1", "zto"):
        assert client.patch(url, json=IN_DAYAO, headers=login(who)).status_code == 403, who
    r = client.patch(f"{API}/places/HUB-532326", json=IN_DAYAO, headers=login("dayao"))
    assert r.status_code == 403
    assert client.patch(
        f"{API}/places/HUB-532326", json=IN_DAYAO, headers=login("admin")
    ).is_success
    # a point outside the prefecture: 422 naming lon and lat, nothing kept
    kunming = {"lon": 102.71, "lat": 25.04, "source": "错点"}
    r = client.patch(f"{API}/places/{YINGTA}", json=kunming, headers=login("dayao"))
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "lon"], ["body", "lat"]]
    assert "outside Chuxiong" in r.json()["detail"][0]["msg"]
    assert client.get(f"{API}/places/{YINGTA}", headers=login("dayao")).json()["located"] is False


def test_open_orders_per_place(client: TestClient, login: Login, session: Session) -> None:
    for i in range(3):
        _order(session, f"T-D{i}", YINGTA, "532326")
    _order(session, "T-U1", YINGTA, "532326", direction="up")
    _order(session, "T-X1", YINGTA, "532326", status="cancelled")
    _order(session, "T-P1", YINGTA, "532326", status="planned")
    _order(session, "T-L1", YINGTA, "532326", plan_date=date(2026, 9, 16))
    _order(session, "T-W1", WANBI, "532326")
    _order(session, "T-B1", BEICHENG, "532326")
    _order(session, "T-Y1", YONGXING, "532327")

    url = (
        f"{API}/places?located=false&county=532326&orders_on=2026-09-15&sort=-open_orders&limit=500"
    )
    r = client.get(url, headers=login("dayao"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(p["id"], p["open_orders"]) for p in items[:2]] == [(YINGTA, 4), (WANBI, 1)]
    assert all(p["open_orders"] == 0 for p in items[2:]) and not any(p["located"] for p in items)
    assert items[0]["township_zh"] == "金碧镇" and items[0]["kind"] == "village"
    # ties keep id order; paging counts all
    zeros = [p["id"] for p in items[2:]]
    assert zeros == sorted(zeros) and r.json()["total"] == len(items)

    r = client.get(f"{url}&kind=township", headers=login("admin")).json()
    assert [(p["id"], p["open_orders"]) for p in r["items"]] == [(WANBI, 1)]
    r = client.get(f"{url}&q=映塔&offset=0", headers=login("admin")).json()
    assert r["total"] == 1 and r["items"][0]["open_orders"] == 4
    # the located village counts too when asked for all places
    r = client.get(f"{API}/places?q=北城&orders_on=2026-09-15", headers=login("admin")).json()
    assert r["items"][0]["id"] == BEICHENG and r["items"][0]["open_orders"] == 1
    # another county's dispatcher sees no counts of orders that are not theirs
    r = client.get(url, headers=login("yongren")).json()
    assert all(p["open_orders"] == 0 for p in r["items"])
    # without orders_on: no counts
    r = client.get(f"{API}/places?located=false&county=532326", headers=login("dayao")).json()
    assert all(p["open_orders"] is None for p in r["items"])

    for bad, field in (
        ("sort=-open_orders", "sort"),
        ("orders_on=2026-02-30", "orders_on"),
        ("orders_on=yesterday", "orders_on"),
        ("sort=lon&orders_on=2026-09-15", "sort"),
        ("county=5323", "county"),
    ):
        r = client.get(f"{API}/places?{bad}", headers=login("dayao"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field], bad


def test_corrections_list_scoping(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    admin, dayao = login("admin"), login("dayao")
    assert client.patch(f"{API}/places/{BEICHENG}", json=IN_DAYAO, headers=admin).is_success
    assert client.patch(f"{API}/places/{YONGXING}", json=IN_YONGREN, headers=admin).is_success
    moved = {"lon": 101.331, "lat": 25.741, "source": "再次核实"}
    assert client.patch(f"{API}/places/{BEICHENG}", json=moved, headers=dayao).is_success
    assert client.patch(f"{API}/places/{WANBI}", json=IN_DAYAO, headers=dayao).is_success

    r = client.get(f"{API}/places/corrections", headers=dayao)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert r.json()["total"] == 3
    assert [i["place"]["id"] for i in items] == [WANBI, BEICHENG, BEICHENG]  # newest first
    wanbi, second, first = items
    assert wanbi["previous"] is None and wanbi["place"]["name_zh"] == "湾碧傣族傈僳族乡"
    assert second["previous"] == {"lon": 101.33, "lat": 25.74}
    assert (second["lon"], second["lat"]) == (101.331, 25.741)
    assert second["corrected_by"] == accounts["dayao"]
    assert second["corrected_by_username"] == "dayao" and second["source"] == "再次核实"
    assert first["corrected_by_username"] == "admin" and first["corrected_at"].endswith("+08:00")
    assert first["previous"] is not None  # the bundled point of a located village
    assert client.get(f"{API}/places/corrections?county=532326", headers=dayao).is_success

    r = client.get(f"{API}/places/corrections?county=532327", headers=dayao)
    assert r.status_code == 403 and "532326" in r.json()["detail"]
    r = client.get(f"{API}/places/corrections?county=532327", headers=admin).json()
    assert [i["place"]["id"] for i in r["items"]] == [YONGXING]
    r = client.get(f"{API}/places/corrections?limit=2&offset=1", headers=admin).json()
    assert r["total"] == 4 and len(r["items"]) == 2
    mine = client.get(f"{API}/places/corrections", headers=login("yongren")).json()
    assert [i["place"]["id"] for i in mine["items"]] == [YONGXING]
    for who in ("courier1", "zto"):
        assert client.get(f"{API}/places/corrections", headers=login(who)).status_code == 403
    assert client.get(f"{API}/places/corrections?county=x", headers=admin).status_code == 422
    assert client.get(f"{API}/places/corrections?limit=0", headers=admin).status_code == 422


def test_placed_township_reaches_the_next_plan(
    client: TestClient, login: Login, session: Session
) -> None:
    """Unplaced, the township's order is unreachable; placed by the county's dispatcher,
    the network of the next plan has it located and the plan routes the order."""
    from api.worker.jobs import _network

    network, _ = _network(session, DAY)
    assert not network.place(YONGXING).located
    yongren = login("yongren")
    r = client.patch(f"{API}/places/{YONGXING}", json=IN_YONGREN, headers=yongren)
    assert r.status_code == 200, r.text
    network, _ = _network(session, DAY)
    place = network.place(YONGXING)
    assert place.located and place.node >= 0 and (place.lon, place.lat) == (101.60, 26.0)
    assert place.snap_m < 5_000, place.snap_m  # near a road of the network

    _order(session, "T-YX1", YONGXING, "532327")
    r = client.post(f"{API}/plans", json={"plan_date": "2026-09-15"}, headers=yongren)
    assert r.status_code == 202, r.text
    plan_id = r.json()["id"]
    deadline = time.monotonic() + 60
    plan = r.json()
    while plan["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        plan = client.get(f"{API}/plans/{plan_id}", headers=yongren).json()
    assert plan["status"] == "succeeded", plan
    assert plan["summary"]["orders"] == 1 and plan["summary"]["assigned"] == 1, plan["summary"]
