"""The monitoring centre: progress, last report, delay, ETA and lateness (by time window or
30 minutes after the plan), failed stops with reason, photo URLs, closures in force and
the dispatchers' scope, from events posted through the API."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.models import Plan, RouteSheet, now
from api.services.monitor import LATE_AFTER, RULE_PLANNED, RULE_WINDOW, monitor
from api.services.sheets import init_stops
from dispatch.domain import TZ
from routing.errors import InputError

Login = Callable[[str], dict[str, str]]
DAYAO, YONGREN = "532326", "532327"
#: A day safely in the past, so that events of that day are not refused as future ones.
DAY = (datetime.now(TZ) - timedelta(days=20)).date()


def _place(pid: str, zh: str, pinyin: str, kind: str, lon: float, lat: float) -> dict[str, Any]:
    return {"id": pid, "name_zh": zh, "name_pinyin": pinyin, "kind": kind, "lon": lon, "lat": lat}


HUB = _place("HUB-532326", "大姚县物流中心", "Dayao Wuliu Zhongxin", "hub", 101.323876, 25.735685)
SHIYANG = _place("532326102", "石羊镇", "Shiyang Zhen", "township", 101.099569, 25.850105)
LIUJU = _place("532326103", "六苴镇", "Liuju Zhen", "township", 101.352502, 25.906255)
XINJIE = _place("532326105", "新街镇", "Xinjie Zhen", "township", 101.254042, 25.807902)


def at(clock: str, day: date = DAY) -> str:
    return f"{day.isoformat()}T{clock}:00+08:00"


def _order(oid: str) -> dict[str, Any]:
    return {"order_id": oid, "pieces": 1, "weight_kg": 5.0, "final_destination": None}


def content(route_id: str, county: str | None, tag: str, window_end: str | None = None) -> dict:
    """Three stops planned at 09:10, 10:40 and 12:05, each with a drop; ``window_end``: the
    third stop's time window closes then."""
    stops = []
    for seq, (place, clock) in enumerate(
        ((SHIYANG, "09:10"), (LIUJU, "10:40"), (XINJIE, "12:05")), 1
    ):
        stop: dict[str, Any] = {
            "seq": seq,
            "place": place,
            "arrival": at(clock),
            "departure": at(clock),
            "drop": [{"party": "EMS", "orders": [_order(f"D-{tag}-{seq}")]}],
            "pickup": [],
        }
        if seq == 3 and window_end:
            stop["window"] = {"start": at("08:00"), "end": at(window_end)}
        stops.append(stop)
    return {
        "route_id": route_id,
        "plan_date": DAY.isoformat(),
        "echelon": "county" if county else "trunk",
        "vehicle": {"id": f"V-{tag}", "name": f"车 {tag}"},
        "start": {"place": HUB, "time": at("08:00")},
        "end": {"place": HUB, "time": at("15:30")},
        "stops": stops,
    }


@dataclass
class World:
    plan_id: int
    a: int  # 大姚, courier1, no windows
    b: int  # 大姚, courier2, stop 3's window closes at 13:00
    y: int  # 永仁, courier3
    t: int  # trunk, driver


@pytest.fixture
def world(session: Session, accounts: dict[str, int]) -> World:
    plan = Plan(
        plan_date=DAY,
        counties=[DAYAO, YONGREN],
        status="published",
        progress=1.0,
        created_at=now(),
        published_at=now(),
    )
    session.add(plan)
    session.commit()
    assert plan.id is not None
    ids = []
    for route_id, county, tag, courier, window in (
        ("C-532326-01", DAYAO, "A", "courier1", None),
        ("C-532326-02", DAYAO, "B", "courier2", "13:00"),
        ("C-532327-01", YONGREN, "Y", "courier3", None),
        ("T-01", None, "T", "driver", None),
    ):
        sheet = RouteSheet(
            plan_id=plan.id,
            route_id=route_id,
            echelon="county" if county else "trunk",
            county_code=county,
            vehicle_id=f"V-{tag}",
            courier_id=accounts[courier],
            status="assigned",
            content=content(route_id, county, tag, window),
            created_at=now(),
        )
        session.add(sheet)
        session.flush()
        init_stops(session, sheet)
        session.commit()
        assert sheet.id is not None
        ids.append(sheet.id)
    return World(plan.id, *ids)


class Reporter:
    def __init__(self, client: TestClient, login: Login) -> None:
        self.client, self.login, self.n = client, login, 0

    def __call__(self, who: str, sheet: int, seq: int, type: str, **extra: Any) -> str:
        self.n += 1
        cid = f"mon-{self.n}"
        body = {"client_event_id": cid, "seq": seq, "type": type, **extra}
        r = self.client.post(
            f"/api/v1/route-sheets/{sheet}/events", json=body, headers=self.login(who)
        )
        assert r.status_code == 201, r.text
        return cid


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def get(client: TestClient, login: Login, who: str, **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/monitor", params=params, headers=login(who))
    assert r.status_code == 200, r.text
    return dict(r.json())


def by_route(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["route_id"]: s for s in answer["sheets"]}


# ---- the tests ---------------------------------------------------------------------------------
def test_progress_delay_eta_and_late_by_the_plan(
    client: TestClient, login: Login, world: World
) -> None:
    report = Reporter(client, login)
    report("courier1", world.a, 1, "arrived", occurred_at=at("09:55"))  # 45 min behind
    delivered = report("courier1", world.a, 1, "delivered", occurred_at=at("09:55"))
    r = client.post(
        f"/api/v1/route-sheets/{world.a}/stops/1/photo",
        files={"file": ("签收.png", tiny_png(), "image/png")},
        data={"client_event_id": delivered},
        headers=login("courier1"),
    )
    assert r.status_code == 201, r.text

    answer = get(client, login, "dayao", plan_id=world.plan_id)
    assert answer["plans"] == [
        {"id": world.plan_id, "plan_date": DAY.isoformat(), "status": "published",
         "counties": [DAYAO, YONGREN]}
    ]  # fmt: skip
    assert answer["plan_date"] == DAY.isoformat()
    assert answer["as_of"].endswith("+08:00")
    a = by_route(answer)["C-532326-01"]
    assert a["sheet_id"] == world.a and a["status"] == "in_progress"
    assert (a["stops_done"], a["stops_total"]) == (1, 3)
    assert a["courier"]["username"] == "courier1" and a["vehicle"]["name"] == "车 A"
    assert a["last_report"] == {
        "time": at("09:55"),
        "type": "delivered",
        "seq": 1,
        "place": {"id": SHIYANG["id"], "name_zh": "石羊镇", "name_pinyin": "Shiyang Zhen"},
        "lon": SHIYANG["lon"],
        "lat": SHIYANG["lat"],
    }
    assert a["delay_s"] == 45 * 60
    done, second, third = a["stops"]
    assert done["done"] and done["status"] == "completed" and "eta" not in done
    assert second["planned"] == at("10:40") and second["eta"] == at("11:25")
    assert second["late"] and second["rule"] == RULE_PLANNED and second["late_min"] == 45
    assert second["window_end"] is None and second["deadline"] == at("11:10")
    assert not second["passed"]
    assert third["eta"] == at("12:50") and third["late"]
    late = [(x["route_id"], x["seq"], x["late_min"], x["rule"]) for x in answer["late"]]
    assert late == [("C-532326-01", 2, 45, RULE_PLANNED), ("C-532326-01", 3, 45, RULE_PLANNED)]
    assert answer["late"][0]["planned"] == at("10:40") and answer["late"][0]["eta"] == at("11:25")
    assert answer["late"][0]["place"]["name_zh"] == "六苴镇"

    assert answer["photos"] == [
        {
            "sheet_id": world.a,
            "route_id": "C-532326-01",
            "seq": 1,
            "place": {"id": SHIYANG["id"], "name_zh": "石羊镇", "name_pinyin": "Shiyang Zhen"},
            "time": at("09:55"),
            "event_id": answer["photos"][0]["event_id"],
            "type": "delivered",
            "url": f"/api/v1/route-sheets/{world.a}/stops/1/photo",
        }
    ]
    photo = client.get(answer["photos"][0]["url"], headers=login("dayao"))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/png"

    totals = answer["totals"]
    assert totals["sheets"] == 3 and totals["under_way"] == 1 and totals["completed"] == 0
    assert (totals["stops_done"], totals["stops_total"]) == (1, 9)
    assert totals["late"] == 2 and totals["failed"] == 0


def test_a_small_delay_is_not_late(client: TestClient, login: Login, world: World) -> None:
    report = Reporter(client, login)
    report("courier1", world.a, 1, "arrived", occurred_at=at("09:30"))  # 20 min behind
    a = by_route(get(client, login, "admin", plan_id=world.plan_id))["C-532326-01"]
    assert a["delay_s"] == 20 * 60 and (a["stops_done"], a["stops_total"]) == (0, 3)
    assert [s["eta"] for s in a["stops"]] == [at("09:30"), at("11:00"), at("12:25")]
    assert [s["late"] for s in a["stops"]] == [False, False, False]
    # ahead of the plan: the ETA stays the planned time
    report("courier2", world.b, 1, "arrived", occurred_at=at("09:00"))
    b = by_route(get(client, login, "admin", plan_id=world.plan_id))["C-532326-02"]
    assert b["delay_s"] == -600 and b["stops"][1]["eta"] == at("10:40")
    assert timedelta(minutes=30) == LATE_AFTER
    # a report at stop 3 with stop 2 still pending: the vehicle went past stop 2
    report("courier1", world.a, 3, "arrived", occurred_at=at("12:45"))  # 40 min behind
    a = by_route(get(client, login, "admin", plan_id=world.plan_id))["C-532326-01"]
    assert [(s["status"], s["passed"]) for s in a["stops"]] == [
        ("arrived", False),
        ("pending", True),
        ("arrived", False),
    ]
    late = get(client, login, "admin", plan_id=world.plan_id)["late"]
    assert [(x["seq"], x["passed"], x["late_min"]) for x in late] == [(2, True, 40), (3, False, 40)]


def test_failed_stop_and_late_by_the_time_window(
    client: TestClient, login: Login, world: World
) -> None:
    report = Reporter(client, login)
    report("courier2", world.b, 1, "arrived", occurred_at=at("09:10"))
    report("courier2", world.b, 1, "delivered", occurred_at=at("09:12"))
    report(
        "courier2", world.b, 2, "failed", reason="收件人不在 nobody home", occurred_at=at("11:05")
    )
    answer = get(client, login, "dayao", plan_id=world.plan_id)
    b = by_route(answer)["C-532326-02"]
    assert (b["stops_done"], b["stops_total"], b["stops_failed"]) == (2, 3, 1)
    assert b["delay_s"] == 25 * 60 and b["last_report"]["type"] == "failed"
    third = b["stops"][2]
    # 25 min behind: expected at 12:30, before its window closes (13:00)
    assert third["eta"] == at("12:30") and third["rule"] == RULE_WINDOW and not third["late"]
    assert third["window_end"] == at("13:00")
    assert answer["failed"] == [
        {
            "sheet_id": world.b,
            "route_id": "C-532326-02",
            "seq": 2,
            "place": {"id": LIUJU["id"], "name_zh": "六苴镇", "name_pinyin": "Liuju Zhen"},
            "time": at("11:05"),
            "reason": "收件人不在 nobody home",
            "courier": {"id": b["courier"]["id"], "username": "courier2"},
        }
    ]
    assert answer["totals"]["failed"] == 1 and answer["totals"]["late"] == 0

    # reached at 13:20 (75 min behind), after its window closed: 20 minutes late
    report("courier2", world.b, 3, "arrived", occurred_at=at("13:20"))
    b = by_route(get(client, login, "dayao", plan_id=world.plan_id))["C-532326-02"]
    assert b["delay_s"] == 75 * 60
    third = b["stops"][2]
    assert third["status"] == "arrived" and third["eta"] == at("13:20")
    assert third["late"] and third["rule"] == RULE_WINDOW and third["late_min"] == 20
    assert third["deadline"] == at("13:00")


def test_closures_in_force_now_and_on_the_day(
    client: TestClient, login: Login, world: World
) -> None:
    moment = datetime.now(TZ).replace(microsecond=0)
    bodies = {
        "now": (moment - timedelta(hours=1), moment + timedelta(hours=1), "塌方 landslide"),
        "day": (datetime.fromisoformat(at("06:00")), datetime.fromisoformat(at("18:00")), "施工"),
        "later": (moment + timedelta(days=3), moment + timedelta(days=4), "以后"),
    }
    ids = {}
    for name, (starts, ends, reason) in bodies.items():
        body = {
            "from_place": HUB["id"],
            "to_place": SHIYANG["id"],
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "reason": reason,
        }
        r = client.post("/api/v1/closures", json=body, headers=login("dayao"))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    answer = get(client, login, "dayao", plan_id=world.plan_id)
    shown = {c["id"]: c for c in answer["closures"]}
    assert set(shown) == {ids["now"], ids["day"]}
    now_c, day_c = shown[ids["now"]], shown[ids["day"]]
    assert now_c["in_force_now"] and not day_c["in_force_now"]
    assert now_c["reason"] == "塌方 landslide" and day_c["starts_at"] == at("06:00")
    assert now_c["from_place"]["name_zh"] == "大姚县物流中心"
    assert now_c["to_place"]["name_zh"] == "石羊镇"
    assert len(now_c["line"]) >= 2 and all(len(p) == 2 for p in now_c["line"])
    assert answer["totals"]["closures"] == 2 and answer["totals"]["closures_now"] == 1
    # another county's dispatcher does not see 大姚's closures
    assert get(client, login, "yongren", plan_id=world.plan_id)["closures"] == []


def test_dispatchers_see_their_county_and_the_trunk(
    client: TestClient, login: Login, world: World
) -> None:
    report = Reporter(client, login)
    report("courier3", world.y, 1, "failed", reason="塌方")
    report("driver", world.t, 1, "arrived")
    dayao = get(client, login, "dayao", plan_id=world.plan_id)
    assert [s["sheet_id"] for s in dayao["sheets"]] == [world.a, world.b, world.t]
    assert dayao["failed"] == []
    yongren = get(client, login, "yongren", plan_id=world.plan_id)
    assert [s["sheet_id"] for s in yongren["sheets"]] == [world.y, world.t]
    assert [f["reason"] for f in yongren["failed"]] == ["塌方"]
    admin = get(client, login, "admin")  # the newest published plan by default
    assert [s["sheet_id"] for s in admin["sheets"]] == [world.a, world.b, world.y, world.t]
    assert admin["totals"]["under_way"] == 2  # the trunk and 永仁 (a failed stop of three)
    by_day = get(client, login, "dayao", plan_date=DAY.isoformat())
    assert [p["id"] for p in by_day["plans"]] == [world.plan_id]
    other_day = get(client, login, "dayao", plan_date=(DAY + timedelta(days=1)).isoformat())
    assert other_day["plans"] == [] and other_day["sheets"] == []
    assert other_day["totals"]["sheets"] == 0
    for who in ("courier1", "zto"):
        assert client.get("/api/v1/monitor", headers=login(who)).status_code == 403
    assert client.get("/api/v1/monitor").status_code == 401


def test_superseded_plans_and_sheets_are_not_shown(
    client: TestClient, login: Login, world: World, session: Session
) -> None:
    plan = session.get(Plan, world.plan_id)
    assert plan is not None
    plan.status = "superseded"
    session.add(plan)
    sheet = session.get(RouteSheet, world.a)
    assert sheet is not None
    sheet.status = "superseded"
    session.add(sheet)
    session.commit()
    assert get(client, login, "admin", plan_date=DAY.isoformat())["sheets"] == []
    answer = get(client, login, "admin", plan_id=world.plan_id)
    assert world.a not in [s["sheet_id"] for s in answer["sheets"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("plan_date=2026-13-01", "plan_date"),
        ("plan_date=yesterday", "plan_date"),
        ("plan_id=0", "plan_id"),
        ("plan_id=abc", "plan_id"),
        ("date=2026-09-15", "date"),
    ],
)
def test_bad_queries_are_422(
    client: TestClient, login: Login, world: World, query: str, field: str
) -> None:
    r = client.get(f"/api/v1/monitor?{query}", headers=login("dayao"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_plan_of_another_day_or_county(
    client: TestClient, login: Login, world: World, session: Session
) -> None:
    other = (DAY + timedelta(days=1)).isoformat()
    r = client.get(
        f"/api/v1/monitor?plan_id={world.plan_id}&plan_date={other}", headers=login("dayao")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "plan_date"
    assert client.get("/api/v1/monitor?plan_id=99999", headers=login("dayao")).status_code == 404
    alone = Plan(plan_date=DAY, counties=[YONGREN], status="published", created_at=now())
    session.add(alone)
    session.commit()
    r = client.get(f"/api/v1/monitor?plan_id={alone.id}", headers=login("dayao"))
    assert r.status_code == 404


def test_the_service_needs_an_aware_now(session: Session, accounts: dict[str, int]) -> None:
    from api.models import User

    admin = session.get(User, accounts["admin"])
    assert admin is not None
    answer = monitor(session, user=admin, plan_date=None, plan_id=None, now=now())
    assert answer["plans"] == [] and answer["totals"]["sheets"] == 0
    with pytest.raises(InputError, match="time zone"):
        monitor(session, user=admin, plan_date=None, plan_id=None, now=datetime(2026, 1, 1))
