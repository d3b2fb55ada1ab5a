"""Route sheets: scope, printing, GeoJSON, the stop state machine, retries, photos."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import api.services.sheets
from api.core.config import Settings
from api.errors import Conflict
from api.models import Order, Plan, RouteSheet, StopEvent, StopStatus, now
from api.services.sheets import apply_event, init_stops

DAY = date(2026, 9, 15)
DAYAO = "532326"
Login = Callable[[str], dict[str, str]]


# ---- fixtures -------------------------------------------------------------------------------
def _place(pid: str, zh: str, pinyin: str, kind: str, lon: float, lat: float) -> dict[str, Any]:
    return {"id": pid, "name_zh": zh, "name_pinyin": pinyin, "kind": kind, "lon": lon, "lat": lat}


HUB = _place("HUB-532326", "大姚县物流中心", "Dayao Wuliu Zhongxin", "hub", 101.323876, 25.735685)
SHIYANG = _place("532326102", "石羊镇", "Shiyang Zhen", "township", 101.099569, 25.850105)
LIUJU = _place("532326103", "六苴镇", "Liuju Zhen", "township", 101.352502, 25.906255)
XINJIE = _place("532326105", "新街镇", "Xinjie Zhen", "township", 101.254042, 25.807902)


def _order(oid: str, goods: str, final: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "order_id": oid,
        "pieces": 3,
        "weight_kg": 12.5,
        "volume_m3": 0.06,
        "temperature": "ambient",
        "goods": goods,
        "live_animal": False,
        "tracking": [f"E{oid[-5:]}01"],
        "final_destination": final,
    }


def _group(party: str, name: str, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"party": party, "party_name_zh": name, "orders": orders}]


def _stop(
    seq: int,
    place: dict[str, Any],
    clock: str,
    drop: list[dict[str, Any]],
    pickup: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "seq": seq,
        "place": place,
        "arrival": f"2026-09-15T{clock}:00+08:00",
        "departure": f"2026-09-15T{clock}:00+08:00",
        "wait_s": 0,
        "distance_from_prev_m": 21000,
        "distance_cum_m": 21000 * seq,
        "drop": drop,
        "pickup": pickup,
        "load_after": {"kg": 40.0, "m3": 0.2},
        "note": "",
    }


def sheet_content(route_id: str, vehicle_id: str, tag: str) -> dict[str, Any]:
    """Three stops: drops only, pickups only, both (order ids carry ``tag``)."""
    return {
        "route_id": route_id,
        "plan_date": DAY.isoformat(),
        "echelon": "county",
        "county": {"code": DAYAO, "name_zh": "大姚县", "name_pinyin": "Dayao Xian"},
        "vehicle": {
            "id": vehicle_id,
            "name": "大姚县物流中心 厢式货车",
            "owner": "HUB",
            "owner_name_zh": "大姚县物流中心",
            "kind": "van",
            "profile": "van",
            "capacity_kg": 1500,
            "capacity_m3": 8.0,
            "refrigerated": False,
            "livestock": False,
        },
        "start": {"place": HUB, "time": "2026-09-15T08:00:00+08:00"},
        "end": {"place": HUB, "time": "2026-09-15T15:30:00+08:00"},
        "distance_m": 84000,
        "duration_s": 27000,
        "cost_fen": 38600,
        "stops": [
            _stop(
                1,
                SHIYANG,
                "09:10",
                _group(
                    "EMS",
                    "中国邮政",
                    [
                        _order(f"D-{tag}-1", "包裹"),
                        # for an unlocated village, held at the township for collection
                        _order(
                            f"D-{tag}-H",
                            "包裹",
                            final=_place(
                                "532326102201", "石羊村", "Shiyang Cun", "village", 0.0, 0.0
                            ),
                        ),
                    ],
                ),
                [],
            ),
            _stop(
                2,
                LIUJU,
                "10:40",
                [],
                _group("COOP", "六苴核桃合作社", [_order(f"U-{tag}-2", "核桃")]),
            ),
            _stop(
                3,
                XINJIE,
                "12:05",
                _group("ZTO", "中通快递", [_order(f"D-{tag}-3", "农资")]),
                _group("COOP", "新街蔬菜合作社", [_order(f"U-{tag}-3", "蔬菜")]),
            ),
        ],
        "cost_shares": [
            {
                "party": "EMS",
                "name_zh": "中国邮政",
                "standalone_fen": 30000,
                "proportional_fen": 19300,
                "shapley_fen": 19000,
            }
        ],
        "allocation_note": "exact Shapley values",
        "geometry": {
            "type": "LineString",
            "coordinates": [
                [HUB["lon"], HUB["lat"]],
                [SHIYANG["lon"], SHIYANG["lat"]],
                [LIUJU["lon"], LIUJU["lat"]],
                [XINJIE["lon"], XINJIE["lat"]],
                [HUB["lon"], HUB["lat"]],
            ],
        },
        "network_note": "",
    }


@dataclass
class World:
    plan_id: int
    a: int  # courier1's sheet
    b: int  # courier2's sheet


def _db_order(oid: str, direction: str, origin: str, destination: str, plan_id: int) -> Order:
    return Order(
        order_id=oid,
        party="EMS",
        direction=direction,
        origin=origin,
        destination=destination,
        county_code=DAYAO,
        plan_date=DAY,
        weight_kg=12.5,
        pieces=3,
        status="planned",
        plan_id=plan_id,
        created_at=now(),
    )


@pytest.fixture
def world(session: Session, accounts: dict[str, int]) -> World:
    plan = Plan(
        plan_date=DAY,
        counties=[DAYAO],
        status="published",
        progress=1.0,
        created_at=now(),
        published_at=now(),
    )
    session.add(plan)
    session.commit()
    assert plan.id is not None
    ids = []
    for route_id, vehicle_id, tag, courier in (
        ("C-532326-01", "DY-VAN-01", "A", "courier1"),
        ("C-532326-02", "DY-VAN-02", "B", "courier2"),
    ):
        sheet = RouteSheet(
            plan_id=plan.id,
            route_id=route_id,
            echelon="county",
            county_code=DAYAO,
            vehicle_id=vehicle_id,
            courier_id=accounts[courier],
            status="assigned",
            content=sheet_content(route_id, vehicle_id, tag),
            created_at=now(),
        )
        session.add(sheet)
        session.flush()
        init_stops(session, sheet)
        init_stops(session, sheet)  # idempotent
        for order in (
            _db_order(f"D-{tag}-1", "down", "WH-CX", SHIYANG["id"], plan.id),
            _db_order(f"D-{tag}-H", "down", "WH-CX", "532326102201", plan.id),
            _db_order(f"U-{tag}-2", "up", LIUJU["id"], "WH-CX", plan.id),
            _db_order(f"D-{tag}-3", "down", "WH-CX", XINJIE["id"], plan.id),
            _db_order(f"U-{tag}-3", "up", XINJIE["id"], "WH-CX", plan.id),
        ):
            session.add(order)
        session.commit()
        assert sheet.id is not None
        ids.append(sheet.id)
    rows = session.exec(select(StopStatus).where(StopStatus.sheet_id == ids[0])).all()
    assert sorted((r.seq, r.needs_drop, r.needs_pickup) for r in rows) == [
        (1, True, False),
        (2, False, True),
        (3, True, True),
    ]
    return World(plan.id, ids[0], ids[1])


def url(sheet_id: int, tail: str = "") -> str:
    return f"/api/v1/route-sheets/{sheet_id}{tail}"


class Reporter:
    """Posts events with fresh client ids."""

    def __init__(self, client: TestClient, login: Login) -> None:
        self.client = client
        self.login = login
        self.n = 0

    def __call__(self, who: str, sheet_id: int, seq: int, type: str, **extra: Any) -> Any:
        self.n += 1
        body = {"client_event_id": f"ev-{self.n}", "seq": seq, "type": type, **extra}
        return self.client.post(url(sheet_id, "/events"), json=body, headers=self.login(who))


@pytest.fixture
def report(client: TestClient, login: Login) -> Reporter:
    return Reporter(client, login)


def _order_status(session: Session, oid: str) -> str:
    session.expire_all()
    order = session.exec(select(Order).where(Order.order_id == oid)).one()
    return order.status


# ---- scope ----------------------------------------------------------------------------------
def test_listing_is_scoped(client: TestClient, login: Login, world: World) -> None:
    def ids(who: str, query: str = "") -> list[int]:
        r = client.get(f"/api/v1/route-sheets{query}", headers=login(who))
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids("courier1") == [world.a]
    assert ids("courier2") == [world.b]
    assert ids("dayao") == [world.a, world.b]
    assert ids("admin") == [world.a, world.b]
    assert ids("yongren") == []
    assert client.get("/api/v1/route-sheets", headers=login("zto")).status_code == 403
    assert client.get("/api/v1/route-sheets").status_code == 401

    r = client.get("/api/v1/route-sheets?sort=-id&limit=1", headers=login("dayao"))
    body = r.json()
    assert body["total"] == 2 and len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"] == world.b and item["route_id"] == "C-532326-02"
    assert item["stops"] == 3 and item["distance_m"] == 84000
    assert item["start_time"] == "2026-09-15T08:00:00+08:00"
    assert item["plan_date"] == "2026-09-15" and item["status"] == "assigned"
    assert item["county_code"] == DAYAO and item["vehicle_id"] == "DY-VAN-02"

    assert ids("dayao", f"?plan_id={world.plan_id}") == [world.a, world.b]
    assert ids("dayao", "?plan_id=999") == []
    assert ids("dayao", "?status=assigned&date=2026-09-15") == [world.a, world.b]
    assert ids("dayao", "?status=completed") == []
    assert ids("dayao", "?date=2026-09-16") == []
    for bad in ("?status=lost", "?date=yesterday", "?plan_id=0", "?plan_id=1e99", "?sort=content"):
        assert client.get(f"/api/v1/route-sheets{bad}", headers=login("dayao")).status_code == 422


def test_a_sheet_out_of_scope_is_404_like_a_missing_one(
    client: TestClient, login: Login, world: World
) -> None:
    missing = client.get(url(99999), headers=login("courier1"))
    assert missing.status_code == 404
    for who, sheet in (("courier1", world.b), ("courier2", world.a), ("yongren", world.a)):
        for tail in ("", "/html", "/geojson", "/events"):
            r = client.get(url(sheet, tail), headers=login(who))
            assert r.status_code == 404, (who, tail)
            assert r.json() == {"detail": f"no route sheet {sheet}"}
    assert missing.json() == {"detail": "no route sheet 99999"}
    for who in ("dayao", "admin"):
        for sheet in (world.a, world.b):
            assert client.get(url(sheet), headers=login(who)).status_code == 200
    assert client.get(url(world.a), headers=login("zto")).status_code == 403
    for bad in ("abc", "0", "-1", "99999999999999999999999"):
        assert client.get(f"/api/v1/route-sheets/{bad}", headers=login("admin")).status_code == 422


def test_detail_merges_stop_states(client: TestClient, login: Login, world: World) -> None:
    r = client.get(url(world.a), headers=login("courier1"))
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == world.a and body["status"] == "assigned"
    assert body["route_id"] == "C-532326-01" and body["county"]["name_zh"] == "大姚县"
    assert [s["place"]["name_zh"] for s in body["stops"]] == ["石羊镇", "六苴镇", "新街镇"]
    assert [(s["status"], s["needs_drop"], s["needs_pickup"]) for s in body["stops"]] == [
        ("pending", True, False),
        ("pending", False, True),
        ("pending", True, True),
    ]
    assert body["stops"][0]["drop"][0]["orders"][0]["order_id"] == "D-A-1"
    assert body["geometry"]["type"] == "LineString"


def test_html_and_geojson(client: TestClient, login: Login, world: World) -> None:
    r = client.get(url(world.a, "/html"), headers=login("courier1"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<!DOCTYPE html>" in r.text and "C-532326-01" in r.text and "石羊镇" in r.text

    r = client.get(url(world.a, "/geojson"), headers=login("dayao"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    line, *points = doc["features"]
    assert line["geometry"]["type"] == "LineString"
    assert line["properties"]["route_id"] == "C-532326-01"
    assert line["properties"]["vehicle"] == "DY-VAN-01"
    assert [p["properties"]["seq"] for p in points] == [1, 2, 3]
    assert points[0]["geometry"] == {"type": "Point", "coordinates": [101.099569, 25.850105]}
    assert points[1]["properties"]["name_zh"] == "六苴镇"
    assert points[1]["properties"]["name_pinyin"] == "Liuju Zhen"
    assert {p["properties"]["status"] for p in points} == {"pending"}


# ---- the state machine ----------------------------------------------------------------------
def test_state_machine(
    client: TestClient, login: Login, world: World, report: Reporter, session: Session
) -> None:
    a = world.a
    # stop 1: drops only
    r = report("courier1", a, 1, "delivered")
    assert r.status_code == 409 and "arrived" in r.json()["detail"]
    r = report("courier1", a, 1, "arrived", occurred_at="2026-09-15T09:12:00+08:00")
    assert r.status_code == 201, r.text
    body = r.json()
    event = body["event"]
    assert event["type"] == "arrived" and event["seq"] == 1 and event["sheet_id"] == a
    assert body["stop"]["status"] == "arrived" and body["sheet_status"] == "in_progress"
    assert event["occurred_at"] == "2026-09-15T09:12:00+08:00"  # answered in Asia/Shanghai
    assert report("courier1", a, 1, "arrived").status_code == 409
    r = report("courier1", a, 1, "picked_up")
    assert r.status_code == 409 and "nothing to pick up" in r.json()["detail"]
    r = report("courier1", a, 1, "delivered", signer_name="李桂英")
    assert r.status_code == 201
    assert r.json()["stop"] == {**r.json()["stop"], "status": "completed", "delivered": True}
    assert r.json()["event"]["signer_name"] == "李桂英"
    r = report("courier1", a, 1, "delivered")
    assert r.status_code == 409 and "completed" in r.json()["detail"]
    assert report("courier1", a, 1, "failed", reason="x").status_code == 409
    assert _order_status(session, "D-A-1") == "delivered"
    assert _order_status(session, "D-A-H") == "delivered"  # held at the township

    # stop 2: pickups only
    for reason in (None, "", "   "):
        extra = {} if reason is None else {"reason": reason}
        r = report("courier1", a, 2, "failed", **extra)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["reason"], r.text
    assert report("courier1", a, 2, "picked_up").status_code == 409
    assert report("courier1", a, 2, "arrived").json()["stop"]["status"] == "arrived"
    r = report("courier1", a, 2, "delivered")
    assert r.status_code == 409 and "nothing to deliver" in r.json()["detail"]
    r = report("courier1", a, 2, "picked_up", pickup_code="4821")
    assert r.status_code == 201 and r.json()["stop"]["status"] == "completed"
    assert r.json()["stop"]["picked_up"] is True
    assert _order_status(session, "U-A-2") == "planned"  # on its way to the warehouse

    # stop 3: both; fails from pending
    r = report("courier1", a, 3, "failed", reason="塌方封路 landslide")
    assert r.status_code == 201 and r.json()["stop"]["status"] == "failed"
    assert r.json()["event"]["reason"] == "塌方封路 landslide"
    assert r.json()["sheet_status"] == "completed"
    assert report("courier1", a, 3, "arrived").status_code == 409
    assert _order_status(session, "D-A-3") == "failed"
    assert _order_status(session, "U-A-3") == "failed"

    # unknown stop, bad fields: 422 naming the field
    r = report("courier1", a, 9, "arrived")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["seq"]
    session.expire_all()
    plan = session.get(Plan, world.plan_id)
    assert plan is not None and plan.status == "published"  # sheet b is still open

    r = client.get(url(a, "/events"), headers=login("courier1"))
    assert r.status_code == 200
    events = r.json()["items"]
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "arrived"),
        (1, "delivered"),
        (2, "arrived"),
        (2, "picked_up"),
        (3, "failed"),
    ]
    assert r.json()["total"] == 5
    detail = client.get(url(a), headers=login("courier1")).json()
    assert detail["status"] == "completed"
    assert [s["status"] for s in detail["stops"]] == ["completed", "completed", "failed"]


def test_failing_after_arrival_and_partial_work(
    world: World, report: Reporter, session: Session
) -> None:
    b = world.b
    assert report("courier2", b, 3, "arrived").status_code == 201
    r = report("courier2", b, 3, "delivered")
    assert r.json()["stop"]["status"] == "arrived"  # the pickup is still to do
    r = report("courier2", b, 3, "failed", reason="合作社无人 nobody at the cooperative")
    assert r.status_code == 201 and r.json()["stop"]["status"] == "failed"
    assert _order_status(session, "D-B-3") == "delivered"
    assert _order_status(session, "U-B-3") == "failed"


def test_bad_input_is_422_never_500(
    client: TestClient, login: Login, world: World, report: Reporter
) -> None:
    headers = login("courier1")
    good = {"client_event_id": "ok-1", "seq": 1, "type": "arrived"}
    bad_bodies: list[Any] = [
        {**good, "type": "teleported"},
        {**good, "seq": 0},
        {**good, "seq": -3},
        {**good, "seq": 10**30},
        {**good, "seq": "one"},
        {**good, "seq": None},
        {**good, "client_event_id": ""},
        {**good, "client_event_id": "x" * 65},
        {**good, "client_event_id": "bad\x00id"},
        {**good, "client_event_id": 12},
        {**good, "reason": "x" * 501},
        {**good, "signer_name": "a\x00b"},
        {**good, "occurred_at": "2026-09-15T09:12:00"},  # no zone
        {**good, "occurred_at": "soon"},
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "client_event_id"},
        [good],
        "arrived",
        None,
    ]
    for body in bad_bodies:
        r = client.post(url(world.a, "/events"), json=body, headers=headers)
        assert r.status_code == 422, (body, r.status_code, r.text)
    r = client.post(
        url(world.a, "/events"),
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post(url(99999999999999999999, "/events"), json=good, headers=headers)
    assert r.status_code == 422
    # nothing happened
    assert client.get(url(world.a, "/events"), headers=headers).json()["total"] == 0


def test_who_may_report(client: TestClient, login: Login, world: World, report: Reporter) -> None:
    assert report("courier2", world.a, 1, "arrived").status_code == 404
    assert report("yongren", world.a, 1, "arrived").status_code == 404
    assert report("zto", world.a, 1, "arrived").status_code == 403
    r = report("dayao", world.a, 1, "arrived")
    assert r.status_code == 201
    assert r.json()["event"]["user_id"] is not None
    assert report("admin", world.a, 1, "delivered").status_code == 201


# ---- retries --------------------------------------------------------------------------------
def test_a_retry_returns_the_stored_event(
    client: TestClient, login: Login, world: World, report: Reporter, session: Session
) -> None:
    headers = login("courier1")
    body = {"client_event_id": "7c9e-arrive-1", "seq": 1, "type": "arrived"}
    first = client.post(url(world.a, "/events"), json=body, headers=headers)
    assert first.status_code == 201
    again = client.post(url(world.a, "/events"), json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["event"]["id"] == first.json()["event"]["id"]
    assert again.json()["event"]["recorded_at"] == first.json()["event"]["recorded_at"]
    assert again.json()["stop"]["status"] == "arrived"
    assert client.get(url(world.a, "/events"), headers=headers).json()["total"] == 1

    # the stop moves on; the retry still answers with the stored event and changes nothing
    deliver = {"client_event_id": "7c9e-deliver-1", "seq": 1, "type": "delivered"}
    assert client.post(url(world.a, "/events"), json=deliver, headers=headers).status_code == 201
    late = client.post(url(world.a, "/events"), json=body, headers=headers)
    assert late.status_code == 200 and late.json()["event"]["id"] == first.json()["event"]["id"]
    assert late.json()["stop"]["status"] == "completed"
    again = client.post(url(world.a, "/events"), json=deliver, headers=headers)
    assert again.status_code == 200 and again.json()["event"]["type"] == "delivered"
    assert client.get(url(world.a, "/events"), headers=headers).json()["total"] == 2

    # the same id for another event is a conflict
    for other in ({**body, "type": "failed", "reason": "x"}, {**body, "seq": 2}):
        r = client.post(url(world.a, "/events"), json=other, headers=headers)
        assert r.status_code == 409 and "7c9e-arrive-1" in r.json()["detail"]
    # ids are per sheet: courier2 may use the same one on their sheet
    r = client.post(url(world.b, "/events"), json=body, headers=login("courier2"))
    assert r.status_code == 201


def test_a_concurrent_duplicate_is_caught_by_the_constraint(
    session: Session, settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request stored the same client_event_id between our look-up and insert."""
    from api.core.db import engine_for

    with Session(engine_for(settings.database_url)) as other:
        stored = StopEvent(
            sheet_id=world.a,
            seq=1,
            type="arrived",
            client_event_id="race-1",
            recorded_at=now(),
        )
        other.add(stored)
        other.commit()
        stored_id = stored.id

    real = api.services.sheets._stored
    calls = {"n": 0}

    def late(s: Session, sheet_id: int, cid: str) -> StopEvent | None:
        calls["n"] += 1  # not there before nor after the lock, there at the insert
        return None if calls["n"] <= 2 else real(s, sheet_id, cid)

    monkeypatch.setattr(api.services.sheets, "_stored", late)
    sheet = session.get(RouteSheet, world.a)
    assert sheet is not None
    event, created = apply_event(
        session, sheet, seq=1, type="arrived", client_event_id="race-1", user_id=None
    )
    assert created is False and event.id == stored_id
    session.expire_all()
    row = session.exec(
        select(StopStatus).where(StopStatus.sheet_id == world.a, StopStatus.seq == 1)
    ).one()
    assert row.status == "pending"  # our transition was rolled back
    assert session.get(RouteSheet, world.a).status == "assigned"  # type: ignore[union-attr]

    calls["n"] = 0
    with pytest.raises(Conflict):
        apply_event(
            session, sheet, seq=1, type="failed", reason="x", client_event_id="race-1", user_id=None
        )


# ---- completing the plan --------------------------------------------------------------------
def test_completing_every_stop_completes_the_sheets_and_the_plan(
    client: TestClient, login: Login, world: World, report: Reporter, session: Session
) -> None:
    for who, sheet in (("courier1", world.a), ("courier2", world.b)):
        steps = [
            (1, "arrived"),
            (1, "delivered"),
            (2, "arrived"),
            (2, "picked_up"),
            (3, "arrived"),
            (3, "picked_up"),
            (3, "delivered"),
        ]
        for seq, kind in steps:
            r = report(who, sheet, seq, kind)
            assert r.status_code == 201, r.text
        assert r.json()["sheet_status"] == "completed"
        assert r.json()["stop"]["status"] == "completed"
    session.expire_all()
    for sheet_id in (world.a, world.b):
        row = session.get(RouteSheet, sheet_id)
        assert row is not None and row.status == "completed"
    plan = session.get(Plan, world.plan_id)
    assert plan is not None and plan.status == "completed"
    for tag in ("A", "B"):
        assert _order_status(session, f"D-{tag}-3") == "delivered"
        assert _order_status(session, f"U-{tag}-3") == "planned"
    r = client.get("/api/v1/route-sheets?status=completed", headers=login("dayao"))
    assert r.json()["total"] == 2
    assert report("courier1", world.a, 1, "arrived").status_code == 409


def test_a_stop_without_orders_completes_on_arrival(
    client: TestClient, login: Login, world: World, report: Reporter, session: Session
) -> None:
    sheet = session.get(RouteSheet, world.a)
    assert sheet is not None and sheet.content is not None
    content = dict(sheet.content)
    depot_stop = _stop(4, HUB, "15:20", [], [])
    depot_stop["note"] = "卸货 back at the hub"
    content["stops"] = [*content["stops"], depot_stop]
    sheet.content = content
    session.add(sheet)
    session.commit()
    # no StopStatus row yet for stop 4: created on the first event
    r = report("courier1", world.a, 4, "arrived")
    assert r.status_code == 201 and r.json()["stop"]["status"] == "completed"


# ---- photos ---------------------------------------------------------------------------------
def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_photo_upload(
    client: TestClient,
    login: Login,
    world: World,
    report: Reporter,
    settings: Settings,
    session: Session,
) -> None:
    headers = login("courier1")
    png = tiny_png()
    arrived = report("courier1", world.a, 1, "arrived")
    cid = "ev-1"
    assert arrived.json()["event"]["client_event_id"] == cid
    r = client.post(
        url(world.a, "/stops/1/photo"),
        files={"file": ("签收.png", png, "image/png")},
        data={"client_event_id": cid},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["size"] == len(png) and body["content_type"] == "image/png"
    assert body["path"].startswith(f"{world.a}/1-") and body["path"].endswith(".png")
    stored = settings.photo_dir / body["path"]
    assert stored.read_bytes() == png
    assert not [p for p in stored.parent.iterdir() if p.name.endswith(".tmp")]
    session.expire_all()
    event = session.exec(select(StopEvent).where(StopEvent.client_event_id == cid)).one()
    assert event.photo_path == body["path"]

    # without an event
    r = client.post(
        url(world.a, "/stops/2/photo"), files={"file": ("a.png", png, "image/png")}, headers=headers
    )
    assert r.status_code == 201 and r.json()["path"].startswith(f"{world.a}/2-")

    # wrong types: 415
    for name, data, kind in (
        ("note.png", b"not an image at all", "text/plain"),
        ("note.png", b"not an image at all", "image/png"),
        ("photo.png", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/png"),  # a JPEG called PNG
        ("photo.gif", b"GIF89a" + b"\x00" * 20, "image/gif"),
    ):
        r = client.post(
            url(world.a, "/stops/1/photo"), files={"file": (name, data, kind)}, headers=headers
        )
        assert r.status_code == 415, (name, kind, r.text)

    # too big: 413
    app: Any = client.app
    app.state.settings = replace(settings, photo_max_bytes=len(png) - 1)
    r = client.post(
        url(world.a, "/stops/1/photo"), files={"file": ("a.png", png, "image/png")}, headers=headers
    )
    assert r.status_code == 413
    app.state.settings = settings

    # unknown stop or event, empty or missing file: 422
    for tail, files, form in (
        ("/stops/9/photo", {"file": ("a.png", png, "image/png")}, {}),
        ("/stops/2/photo", {"file": ("a.png", png, "image/png")}, {"client_event_id": cid}),
        ("/stops/1/photo", {"file": ("a.png", png, "image/png")}, {"client_event_id": "nope"}),
        ("/stops/1/photo", {"file": ("a.png", b"", "image/png")}, {}),
        ("/stops/0/photo", {"file": ("a.png", png, "image/png")}, {}),
        ("/stops/1/photo", {}, {"client_event_id": cid}),
    ):
        r = client.post(url(world.a, tail), files=files or None, data=form, headers=headers)
        assert r.status_code == 422, (tail, r.text)

    # scope as for events
    r = client.post(
        url(world.a, "/stops/1/photo"),
        files={"file": ("a.png", png, "image/png")},
        headers=login("courier2"),
    )
    assert r.status_code == 404
    r = client.post(
        url(world.a, "/stops/1/photo"),
        files={"file": ("a.png", png, "image/png")},
        headers=login("zto"),
    )
    assert r.status_code == 403
    assert len(list((settings.photo_dir / str(world.a)).iterdir())) == 2


def test_photo_download(client: TestClient, login: Login, world: World, settings: Settings) -> None:
    png = tiny_png()
    photo = url(world.a, "/stops/1/photo")
    # nothing uploaded yet: 404
    r = client.get(photo, headers=login("courier1"))
    assert r.status_code == 404 and r.json() == {
        "detail": f"no photo for stop 1 of route sheet {world.a}"
    }
    up = client.post(photo, files={"file": ("a.png", png, "image/png")}, headers=login("courier1"))
    assert up.status_code == 201, up.text
    for who in ("courier1", "dayao", "admin"):
        r = client.get(photo, headers=login(who))
        assert r.status_code == 200, (who, r.text)
        assert r.content == png
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"

    # the newest upload wins, served with its own type
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 20
    up = client.post(
        photo, files={"file": ("b.jpg", jpeg, "image/jpeg")}, headers=login("courier1")
    )
    assert up.status_code == 201, up.text
    r = client.get(photo, headers=login("dayao"))
    assert r.status_code == 200 and r.content == jpeg
    assert r.headers["content-type"] == "image/jpeg"

    # out of scope, like a missing sheet: 404
    for who in ("courier2", "yongren"):
        r = client.get(photo, headers=login(who))
        assert r.status_code == 404, who
        assert r.json() == {"detail": f"no route sheet {world.a}"}
    assert client.get(url(99999, "/stops/1/photo"), headers=login("admin")).status_code == 404
    assert client.get(photo, headers=login("zto")).status_code == 403

    # a stop without a photo, or not on the sheet, or another sheet's stop: 404
    for sheet, seq in ((world.a, 2), (world.a, 9), (world.b, 1)):
        r = client.get(url(sheet, f"/stops/{seq}/photo"), headers=login("admin"))
        assert r.status_code == 404, (sheet, seq)
    for bad in ("0", "-1", "x", "99999999999"):
        r = client.get(url(world.a, f"/stops/{bad}/photo"), headers=login("admin"))
        assert r.status_code == 422, bad

    # a file planted in the directory that points outside the photo directory is not served
    outside = settings.photo_dir.parent / "secret.png"
    outside.write_bytes(png + b"secret")
    link = settings.photo_dir / str(world.a) / f"1-{'f' * 32}.png"
    link.symlink_to(outside)
    try:
        r = client.get(photo, headers=login("admin"))
        assert r.status_code == 200 and r.content == jpeg
    finally:
        link.unlink()
        outside.unlink()


# ---- sheets that are not out on the road ----------------------------------------------------
def _set_plan_status(session: Session, plan_id: int, status: str) -> None:
    plan = session.get(Plan, plan_id)
    assert plan is not None
    plan.status = status
    plan.published_at = None if status == "succeeded" else plan.published_at
    session.add(plan)
    session.commit()


@pytest.mark.parametrize("plan_status", ["succeeded", "queued", "running", "failed"])
def test_no_events_on_a_sheet_of_an_unpublished_plan(
    client: TestClient,
    login: Login,
    world: World,
    report: Reporter,
    session: Session,
    plan_status: str,
) -> None:
    _set_plan_status(session, world.plan_id, plan_status)
    sheet = session.get(RouteSheet, world.a)
    assert sheet is not None
    sheet.status = "draft"  # never published: a draft sheet
    session.add(sheet)
    session.commit()
    r = report("courier1", world.a, 1, "arrived")
    assert r.status_code == 409, r.text
    assert "not published" in r.json()["detail"] and plan_status in r.json()["detail"]
    # nothing happened
    session.expire_all()
    row = session.exec(
        select(StopStatus).where(StopStatus.sheet_id == world.a, StopStatus.seq == 1)
    ).one()
    assert row.status == "pending"
    assert session.get(RouteSheet, world.a).status == "draft"  # type: ignore[union-attr]
    assert client.get(url(world.a, "/events"), headers=login("courier1")).json()["total"] == 0


def test_no_events_on_a_superseded_sheet(
    client: TestClient, login: Login, world: World, report: Reporter, session: Session
) -> None:
    assert report("courier1", world.a, 1, "arrived").status_code == 201
    # what publishing a replan does to its parent: the plan and its open sheets superseded
    _set_plan_status(session, world.plan_id, "superseded")
    for sheet_id in (world.a, world.b):
        sheet = session.get(RouteSheet, sheet_id)
        assert sheet is not None
        sheet.status = "superseded"
        session.add(sheet)
    session.commit()
    for who, sheet_id, seq, kind in (
        ("courier1", world.a, 1, "delivered"),
        ("courier2", world.b, 1, "arrived"),
    ):
        r = report(who, sheet_id, seq, kind)
        assert r.status_code == 409, r.text
        assert "superseded" in r.json()["detail"]
    session.expire_all()
    row = session.exec(
        select(StopStatus).where(StopStatus.sheet_id == world.a, StopStatus.seq == 1)
    ).one()
    assert row.status == "arrived" and not row.delivered
    assert _order_status(session, "D-A-1") == "planned"
    assert client.get(url(world.b, "/events"), headers=login("courier2")).json()["total"] == 0


def test_no_events_when_only_the_plan_is_superseded(
    world: World, report: Reporter, session: Session
) -> None:
    """Even a sheet whose own status was left behind is refused once its plan is superseded."""
    _set_plan_status(session, world.plan_id, "superseded")
    r = report("courier1", world.a, 1, "arrived")
    assert r.status_code == 409 and "superseded" in r.json()["detail"], r.text


def test_occurred_at_far_in_the_future_is_422(
    client: TestClient, login: Login, world: World, report: Reporter
) -> None:
    r = report("courier1", world.a, 1, "arrived", occurred_at="2030-01-01T09:00:00+08:00")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["occurred_at"]
    assert "future" in r.json()["detail"][0]["msg"]
    assert client.get(url(world.a, "/events"), headers=login("courier1")).json()["total"] == 0
    # a phone whose clock runs a few minutes fast is fine
    ahead = (now() + timedelta(minutes=3)).isoformat()
    r = report("courier1", world.a, 1, "arrived", occurred_at=ahead)
    assert r.status_code == 201, r.text
    # and so is the past
    r = report("courier1", world.a, 1, "delivered", occurred_at="2026-09-15T09:12:00+08:00")
    assert r.status_code == 201, r.text
