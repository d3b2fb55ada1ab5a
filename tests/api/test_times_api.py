"""One rule for times (defect 2 of issue 11): every time the API answers carries an offset
and is in Asia/Shanghai (+08:00), whatever the resource and whatever the database gave back
(SQLite returns naive UTC); a time sent without an offset is a 422 naming the field."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.models import Plan, RouteSheet, now
from api.services.sheets import init_stops
from tests.api.test_sheets_api import DAY, sheet_content

API = "/api/v1"
Login = Callable[[str], dict[str, str]]
WH = {"place": "WH-CX", "lon": 101.565456, "lat": 25.036751}
DAYAO = {"place": "HUB-532326", "lon": 101.323792, "lat": 25.729307}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

CLOSURE = {
    "from_place": "HUB-532326",
    "to_place": "532326104",
    "starts_at": "2026-09-20T06:00:00+08:00",
    "ends_at": "2026-09-20T18:00:00+08:00",
    "reason": "塌方",
}
CAPACITY = {
    "vehicle_type": "4.2 m box truck",
    "capacity_kg": 1000,
    "capacity_m3": 8,
    "price_per_km_fen": 250,
    "stops": [
        {**WH, "time": "2026-09-15T08:00:00+08:00"},
        {**DAYAO, "time": "2026-09-15T03:00:00Z"},  # 11:00 in Asia/Shanghai
    ],
}
CARGO = {
    "origin": "WH-CX",
    "origin_lon": WH["lon"],
    "origin_lat": WH["lat"],
    "destination": "HUB-532326",
    "destination_lon": DAYAO["lon"],
    "destination_lat": DAYAO["lat"],
    "weight_kg": 100,
    "volume_m3": 0.2,
    "pickup_start": "2026-09-14T23:00:00Z",  # 07:00 in Asia/Shanghai
    "pickup_end": "2026-09-15T12:00:00+08:00",
    "deliver_by": "2026-09-15T20:00:00+08:00",
    "offered_price_fen": 20000,
}
ORDER = {
    "order_id": "T-1",
    "party": "EMS",
    "direction": "down",
    "origin": "HUB-532326",
    "destination": "532326101001",
    "weight_kg": 12.5,
    "pieces": 1,
    "ready_time": "2026-09-15T07:30:00+08:00",
    "due_time": "2026-09-15T18:00",
    "goods": "包裹",
}
VEHICLE = {
    "id": "HUB-532326-T98",
    "owner": "HUB",
    "depot": "HUB-532326",
    "kind": "van",
    "profile": "van",
    "capacity_kg": 1500,
    "capacity_m3": 9.0,
}
LISTING = {
    "kind": "warehouse",
    "place_id": "HUB-532326",
    "name": "大姚县物流中心 冷库 T",
    "temperature": "chilled",
    "capacity": 100,
    "price_per_unit_day_fen": 150,
    "available_from": "2026-10-01",
    "available_to": "2026-10-09",
}


def strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a JSON value, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings(v, f"{where}[{i}]")
    elif isinstance(value, str):
        yield where, value


def times_of(value: Any) -> list[tuple[str, str]]:
    return [(w, s) for w, s in strings(value) if DATETIME.match(s)]


def _ok(r: Any, code: int = 200) -> Any:
    assert r.status_code == code, (r.request.url, r.text)
    return r.json()


def _seed(client: TestClient, login: Login, session: Session, accounts: dict[str, int]) -> dict:
    """Data in every resource, made through the API (plans and sheets as rows)."""
    admin, dayao, zto = login("admin"), login("dayao"), login("zto")
    ids: dict[str, Any] = {}
    ids["closure"] = _ok(client.post(f"{API}/closures", json=CLOSURE, headers=dayao), 201)["id"]
    _ok(client.post(f"{API}/orders", json=ORDER, headers=dayao), 201)
    _ok(client.post(f"{API}/vehicles", json=VEHICLE, headers=admin), 201)
    point = {"lon": 101.3301, "lat": 25.7402, "source": "GPS survey"}
    _ok(client.patch(f"{API}/places/532326101002", json=point, headers=admin))
    ids["capacity"] = _ok(client.post(f"{API}/capacity", json=CAPACITY, headers=zto), 201)["id"]
    ids["cargo"] = _ok(client.post(f"{API}/cargo", json=CARGO, headers=dayao), 201)["id"]
    booked = client.post(
        f"{API}/cargo/{ids['cargo']}/book",
        json={"capacity_id": ids["capacity"]},
        headers={**dayao, "Idempotency-Key": "t-1"},
    )
    ids["freight_booking"] = _ok(booked, 201)["id"]
    ids["listing"] = _ok(client.post(f"{API}/listings", json=LISTING, headers=dayao), 201)["id"]
    lease = {"start_day": "2026-10-02", "end_day": "2026-10-03", "quantity": 5}
    ids["lease"] = _ok(
        client.post(
            f"{API}/listings/{ids['listing']}/bookings",
            json=lease,
            headers={**zto, "Idempotency-Key": "t-2"},
        ),
        201,
    )["id"]
    org = {"name": "永仁县核桃合作社", "kind": "cooperative", "party_id": "coop-honey"}
    _ok(client.post(f"{API}/organisations", json=org, headers=admin), 201)
    user = {"username": "new.courier", "password": "a long passphrase", "role": "courier"}
    _ok(client.post(f"{API}/users", json=user, headers=admin), 201)
    accs = _ok(client.get(f"{API}/accounts", headers=admin))["items"]
    entry = {
        "debit_account_id": accs[0]["id"],
        "credit_account_id": accs[1]["id"],
        "amount_fen": 1200,
        "memo": "调整 adjustment",
    }
    ids["entry"] = _ok(
        client.post(
            f"{API}/ledger/entries", json=entry, headers={**admin, "Idempotency-Key": "t-3"}
        ),
        201,
    )["id"]
    _ok(
        client.post(
            f"{API}/ledger/entries/{ids['entry']}/state", json={"state": "confirmed"}, headers=admin
        )
    )
    # a published plan of the day with a route sheet, and a replan summary written in UTC
    plan = Plan(
        plan_date=DAY,
        counties=["532326"],
        status="published",
        progress=1.0,
        created_at=now(),
        started_at=now(),
        finished_at=now(),
        published_at=now(),
        summary={"date": DAY.isoformat(), "replan_of": None, "at": now().isoformat()},
    )
    session.add(plan)
    session.commit()
    assert plan.id is not None
    sheet = RouteSheet(
        plan_id=plan.id,
        route_id="C-532326-01",
        echelon="county",
        county_code="532326",
        vehicle_id="DY-VAN-01",
        courier_id=accounts["courier1"],
        status="assigned",
        content=sheet_content("C-532326-01", "DY-VAN-01", "A"),
        created_at=now(),
    )
    session.add(sheet)
    session.flush()
    init_stops(session, sheet)
    session.commit()
    ids["plan"], ids["sheet"] = plan.id, sheet.id
    at = (now() - timedelta(minutes=5)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    event = {"client_event_id": "t-ev-1", "seq": 1, "type": "arrived", "occurred_at": at}
    answer = _ok(
        client.post(f"{API}/route-sheets/{sheet.id}/events", json=event, headers=login("courier1")),
        201,
    )
    assert times_of(answer), answer
    return ids


def test_every_time_the_api_answers_is_in_asia_shanghai(
    client: TestClient, login: Login, session: Session, accounts: dict[str, int]
) -> None:
    answers: list[tuple[str, Any]] = []  # every JSON answer of the test, writes too

    def keep(response: Any) -> None:
        if response.headers.get("content-type", "").startswith("application/json"):
            response.read()
            where = f"{response.request.method} {response.request.url.path}"
            answers.append((where, response.json()))

    client.event_hooks["response"].append(keep)
    ids = _seed(client, login, session, accounts)
    admin = login("admin")
    gets = [
        "/me",
        "/organisations",
        "/users",
        "/closures",
        "/orders",
        "/orders/T-1",
        "/vehicles",
        "/vehicles/HUB-532326-T98",
        "/places/532326101002",
        "/capacity",
        f"/capacity/{ids['capacity']}",
        "/cargo",
        f"/cargo/{ids['cargo']}/matches",
        "/freight-bookings",
        "/listings",
        f"/listings/{ids['listing']}",
        f"/listings/{ids['listing']}/availability",
        "/bookings",
        f"/bookings/{ids['lease']}",
        "/accounts",
        "/ledger/entries",
        f"/ledger/entries/{ids['entry']}",
        "/plans",
        f"/plans/{ids['plan']}",
        f"/plans/{ids['plan']}/sheets",
        "/route-sheets",
        f"/route-sheets/{ids['sheet']}",
        f"/route-sheets/{ids['sheet']}/events",
        f"/route-sheets/{ids['sheet']}/geojson",
    ]
    for path in gets:
        _ok(client.get(f"{API}{path}", headers=admin))
    _ok(client.post(f"{API}/capacity/{ids['capacity']}/close", headers=login("zto")))
    replay = client.post(  # a replayed booking answers as the first time did
        f"{API}/cargo/{ids['cargo']}/book",
        json={"capacity_id": ids["capacity"]},
        headers={**login("dayao"), "Idempotency-Key": "t-1"},
    )
    _ok(replay, 201)
    seen = [
        (where.removeprefix(f"GET {API}"), path, text)
        for where, body in answers
        for path, text in times_of(body)
    ]
    wrong = [(path, where, text) for path, where, text in seen if not text.endswith("+08:00")]
    assert not wrong, "\n".join(f"{p} {w}: {t}" for p, w, t in wrong)
    covered = {path for path, _, _ in seen}
    for path in (
        f"POST {API}/route-sheets/{ids['sheet']}/events", f"POST {API}/cargo/{ids['cargo']}/book",
        f"POST {API}/ledger/entries", f"POST {API}/closures", f"POST {API}/capacity",
        "/organisations", "/closures", "/orders", "/places/532326101002",
        "/capacity", "/cargo", "/freight-bookings", "/listings", "/bookings", "/accounts",
        "/ledger/entries", f"/ledger/entries/{ids['entry']}", "/plans", f"/plans/{ids['plan']}",
        f"/route-sheets/{ids['sheet']}", f"/route-sheets/{ids['sheet']}/events",
    ):  # fmt: skip
        assert path in covered, f"no time seen in {path}"
    # the instants are kept: 03:00Z is 11:00 in Asia/Shanghai
    stops = _ok(client.get(f"{API}/capacity/{ids['capacity']}", headers=admin))["stops"]
    assert [s["time"] for s in stops] == ["2026-09-15T08:00:00+08:00", "2026-09-15T11:00:00+08:00"]
    cargo = _ok(client.get(f"{API}/cargo", headers=admin))["items"][0]
    assert cargo["pickup_start"] == "2026-09-15T07:00:00+08:00"


def _naive_is_refused(
    client: TestClient, headers: dict[str, str], url: str, body: dict[str, Any], field: str
) -> None:
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(loc[-1] == field or field in loc for loc in locs), locs


def test_a_time_without_an_offset_is_refused_naming_the_field(
    client: TestClient, login: Login
) -> None:
    dayao = login("dayao")
    _naive_is_refused(
        client, dayao, f"{API}/closures", {**CLOSURE, "starts_at": "2026-09-20T06:00:00"},
        "starts_at",
    )  # fmt: skip
    _naive_is_refused(
        client, dayao, f"{API}/cargo", {**CARGO, "deliver_by": "2026-09-15T20:00:00"},
        "deliver_by",
    )  # fmt: skip
    naive_stop = {**CAPACITY["stops"][1], "time": "2026-09-15T11:00:00"}  # type: ignore[dict-item]
    _naive_is_refused(
        client, login("zto"), f"{API}/capacity",
        {**CAPACITY, "stops": [CAPACITY["stops"][0], naive_stop]}, "time",  # type: ignore[index]
    )  # fmt: skip
    # with an offset, the same bodies are taken
    assert client.post(f"{API}/closures", json=CLOSURE, headers=dayao).status_code == 201
    assert client.post(f"{API}/cargo", json=CARGO, headers=dayao).status_code == 201
