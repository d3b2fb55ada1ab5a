"""Places, vehicles and orders: validation, scope, imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models import Order as OrderRow
from dispatch.io.fleet import fleet_path

API = "/api/v1"
Login = Callable[[str], dict[str, str]]

DAYAO_VILLAGE = "532326101001"  # 北城社区, 金碧镇, 大姚县 (located)
DAYAO_UNLOCATED = "532326101002"  # 映塔社区 (no published point)
YONGREN_VILLAGE = "532327101001"  # 苴却社区, 永仁县


def order(order_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "party": "EMS",
        "direction": "down",
        "origin": "HUB-532326",
        "destination": DAYAO_VILLAGE,
        "weight_kg": 12.5,
        "volume_m3": 0.08,
        "pieces": 2,
        "temperature": "ambient",
        "ready_time": "2026-09-15T07:30:00+08:00",
        "due_time": "2026-09-15T18:00",
        "live_animal": False,
        "tracking_numbers": [f"{order_id}-1", f"{order_id}-2"],
        "goods": "包裹",
    }
    body.update(changes)
    return body


def fleet_rows() -> list[dict[str, str]]:
    with fleet_path().open(encoding="utf-8-sig", newline="") as f:
        return [row for row in csv.DictReader(f) if any(v.strip() for v in row.values())]


# ---- places ---------------------------------------------------------------------------


def test_places_list_filter_and_get(client: TestClient, login: Login) -> None:
    h = login("dayao")
    r = client.get(f"{API}/places?kind=hub", headers=h)
    assert r.status_code == 200 and r.json()["total"] == 6
    assert {p["id"] for p in r.json()["items"]} >= {"HUB-532326", "HUB-532327"}

    r = client.get(f"{API}/places?county=532326&kind=township&limit=500", headers=h)
    body = r.json()
    assert body["total"] > 5 and all(p["county_code"] == "532326" for p in body["items"])
    assert [p["id"] for p in body["items"]] == sorted(p["id"] for p in body["items"])

    for q in ("jinbi", "JINBI", "金碧"):
        ids = [p["id"] for p in client.get(f"{API}/places?q={q}", headers=h).json()["items"]]
        assert "532326101" in ids, q

    r = client.get(f"{API}/places?located=false&county=532326&limit=500", headers=h)
    assert r.json()["total"] > 0
    assert all(p["lon"] is None and not p["located"] for p in r.json()["items"])

    r = client.get(f"{API}/places?kind=hub&sort=-name_pinyin&limit=2&offset=1", headers=h)
    names = [p["name_pinyin"] for p in r.json()["items"]]
    assert len(names) == 2 and names == sorted(names, reverse=True)
    assert r.json()["limit"] == 2 and r.json()["offset"] == 1

    r = client.get(f"{API}/places?sort=lon", headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "sort"]
    assert client.get(f"{API}/places?kind=city", headers=h).status_code == 422
    assert client.get(f"{API}/places?located=maybe", headers=h).status_code == 422

    r = client.get(f"{API}/places/HUB-532326", headers=login("zto"))
    assert r.status_code == 200
    assert r.json()["name_zh"] == "大姚县物流中心" and r.json()["corrected"] is False
    assert client.get(f"{API}/places/NOPE", headers=h).status_code == 404
    # a courier lists their own county's places only; a trunk courier (no county) none
    assert client.get(f"{API}/places", headers=login("courier1")).status_code == 200
    assert client.get(f"{API}/places?county=532327", headers=login("courier1")).status_code == 403
    assert client.get(f"{API}/places", headers=login("driver")).status_code == 403
    assert client.get(f"{API}/places").status_code == 401


def test_place_correction(client: TestClient, login: Login) -> None:
    url = f"{API}/places/{DAYAO_UNLOCATED}"
    point = {"lon": 101.3301, "lat": 25.7402, "source": "GPS survey"}
    assert client.patch(url, json=point, headers=login("yongren")).status_code == 403
    assert client.patch(f"{API}/places/NOPE", json=point, headers=login("admin")).status_code == 404

    outside = {"lon": 102.71, "lat": 25.04, "source": "Kunming by mistake"}
    r = client.patch(url, json=outside, headers=login("admin"))
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["detail"]]
    assert ["body", "lon"] in locs and ["body", "lat"] in locs
    assert "outside Chuxiong" in r.json()["detail"][0]["msg"]
    for bad in (
        {**point, "lon": 200},
        {**point, "source": "  "},
        {"lon": 101.33, "source": "x"},
        {**point, "lat": "north"},
    ):
        assert client.patch(url, json=bad, headers=login("admin")).status_code == 422, bad
    r = client.patch(
        url,
        content=b'{"lon": NaN, "lat": 25.7, "source": "x"}',
        headers={**login("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422

    r = client.patch(url, json=point, headers=login("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["corrected"] is True and r.json()["located"] is True
    assert (r.json()["lon"], r.json()["lat"]) == (101.3301, 25.7402)
    assert r.json()["correction"]["source"] == "GPS survey"
    assert r.json()["correction"]["corrected_at"].endswith("+08:00")

    later = {"lon": 101.3311, "lat": 25.7412, "source": "second survey"}
    assert client.patch(url, json=later, headers=login("admin")).status_code == 200
    r = client.get(url, headers=login("dayao"))
    assert (r.json()["lon"], r.json()["lat"]) == (101.3311, 25.7412) and r.json()["corrected"]
    r = client.get(f"{API}/places?located=true&q=映塔", headers=login("dayao"))
    assert DAYAO_UNLOCATED in [p["id"] for p in r.json()["items"]]


# ---- vehicles -------------------------------------------------------------------------


def new_vehicle(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "HUB-532326-T99",
        "owner": "HUB",
        "depot": "HUB-532326",
        "kind": "van",
        "profile": "van",
        "capacity_kg": 1500,
        "capacity_m3": 9.0,
        "fixed_fen": 6500,
        "per_km_fen": 95,
        "per_hour_fen": 2800,
        "shift_start": "07:00",
        "shift_end": "19:00",
        "max_shift_h": 12,
        "max_driving_h": 8,
        "name": "大姚 厢式货车 99",
    }
    body.update(changes)
    return body


def test_import_bundled_fleet(client: TestClient, login: Login) -> None:
    url = f"{API}/vehicles/import-bundled"
    assert client.post(url, headers=login("dayao")).status_code == 403
    rows = fleet_rows()
    r = client.post(url, headers=login("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": len(rows), "created": len(rows), "updated": 0}
    r = client.post(url, headers=login("admin"))
    assert r.json() == {"imported": len(rows), "created": 0, "updated": len(rows)}
    r = client.get(f"{API}/vehicles?limit=1", headers=login("admin"))
    assert r.json()["total"] == len(rows)

    dayao = [row for row in rows if row["depot"] == "HUB-532326"]
    r = client.get(f"{API}/vehicles?limit=500", headers=login("dayao"))
    assert r.json()["total"] == len(dayao)
    assert {v["county_code"] for v in r.json()["items"]} == {"532326"}
    r = client.get(f"{API}/vehicles?owner=ZTO&limit=500", headers=login("zto"))
    zto = [row for row in rows if row["owner"] == "ZTO"]
    assert r.json()["total"] == len(zto) > 0
    r = client.get(f"{API}/vehicles?limit=500", headers=login("zto"))
    assert {v["owner"] for v in r.json()["items"]} == {"ZTO"}

    first = rows[0]
    r = client.get(f"{API}/vehicles/{first['id']}", headers=login("admin"))
    assert r.json()["shift_start"] == first["shift_start"]
    assert r.json()["county_code"] is None and r.json()["depot"] == "WH-CX"
    r = client.get(f"{API}/vehicles?depot=WH-CX&sort=-capacity_kg", headers=login("admin"))
    caps = [v["capacity_kg"] for v in r.json()["items"]]
    assert caps == sorted(caps, reverse=True)
    r = client.get(f"{API}/vehicles?sort=name", headers=login("admin"))
    assert r.status_code == 422


def test_vehicle_crud_and_scope(client: TestClient, login: Login, accounts) -> None:
    dayao, yongren, admin = login("dayao"), login("yongren"), login("admin")
    r = client.post(f"{API}/vehicles", json=new_vehicle(), headers=dayao)
    assert r.status_code == 201, r.text
    assert r.json()["county_code"] == "532326" and r.json()["active"] is True
    url = f"{API}/vehicles/HUB-532326-T99"

    r = client.post(f"{API}/vehicles", json=new_vehicle(), headers=admin)
    assert r.status_code == 409
    r = client.post(f"{API}/vehicles", json=new_vehicle(id="X1", depot="HUB-532327"), headers=dayao)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "depot"]

    # another county's dispatcher neither sees nor changes it
    assert client.get(url, headers=yongren).status_code == 404
    assert client.patch(url, json={"name": "mine"}, headers=yongren).status_code == 404
    assert client.delete(url, headers=yongren).status_code == 404
    r = client.get(f"{API}/vehicles", headers=yongren)
    assert r.json()["total"] == 0
    # couriers have no access; carriers only read
    for method in ("get", "patch", "delete"):
        kwargs: dict[str, Any] = {"json": {}} if method == "patch" else {}
        r = getattr(client, method)(url, headers=login("courier1"), **kwargs)
        assert r.status_code == 403, method
    assert client.get(f"{API}/vehicles", headers=login("courier1")).status_code == 403
    r = client.post(f"{API}/vehicles", json=new_vehicle(id="Z1"), headers=login("zto"))
    assert r.status_code == 403
    assert client.get(url, headers=login("zto")).status_code == 404  # owned by HUB

    # assigning a courier: only a courier
    r = client.patch(url, json={"courier_id": accounts["courier1"]}, headers=dayao)
    assert r.status_code == 200 and r.json()["courier_id"] == accounts["courier1"]
    r = client.patch(url, json={"courier_id": accounts["dayao"]}, headers=dayao)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "courier_id"]
    assert client.patch(url, json={"courier_id": 999}, headers=dayao).status_code == 422
    r = client.patch(url, json={"courier_id": None}, headers=dayao)
    assert r.status_code == 200 and r.json()["courier_id"] is None

    # moving it to the warehouse: admin only; the county follows the depot
    r = client.patch(url, json={"depot": "WH-CX"}, headers=dayao)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "depot"]
    r = client.patch(url, json={"depot": "HUB-532327"}, headers=admin)
    assert r.status_code == 200 and r.json()["county_code"] == "532327"
    assert client.get(url, headers=yongren).status_code == 200
    assert client.get(url, headers=dayao).status_code == 404
    r = client.patch(url, json={"depot": "HUB-532326"}, headers=admin)
    assert r.json()["county_code"] == "532326"

    # soft delete
    r = client.delete(url, headers=dayao)
    assert r.status_code == 200 and r.json()["active"] is False
    r = client.get(f"{API}/vehicles?active=false", headers=dayao)
    assert [v["id"] for v in r.json()["items"]] == ["HUB-532326-T99"]
    assert client.get(f"{API}/vehicles?active=true", headers=dayao).json()["total"] == 0
    r = client.patch(url, json={"active": True}, headers=dayao)
    assert r.json()["active"] is True

    # a township station's own vehicle (a last mile to its villages): its county's
    # dispatcher registers it, another county's cannot
    station = new_vehicle(id="ST-532326101-M01", depot="532326101", profile="motorbike")
    r = client.post(f"{API}/vehicles", json=station, headers=dayao)
    assert r.status_code == 201, r.text
    assert r.json()["county_code"] == "532326" and r.json()["depot"] == "532326101"
    other = new_vehicle(id="ST-532327101-M01", depot="532327101", profile="motorbike")
    r = client.post(f"{API}/vehicles", json=other, headers=dayao)
    assert r.status_code == 422 and "532326" in r.json()["detail"][0]["msg"]
    assert client.post(f"{API}/vehicles", json=other, headers=yongren).status_code == 201


VEHICLE_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"profile": "bicycle"}, "profile"),
    ({"capacity_kg": 0}, "capacity_kg"),
    ({"capacity_m3": -1}, "capacity_m3"),
    ({"per_km_fen": -5}, "per_km_fen"),
    ({"shift_start": "7:00"}, "shift_start"),
    ({"shift_start": "25:00"}, "shift_start"),
    ({"shift_start": "19:00", "shift_end": "07:00"}, "shift_end"),
    ({"max_shift_h": 6, "max_driving_h": 8}, "max_driving_h"),
    ({"max_shift_h": 30}, "max_shift_h"),
    ({"depot": "HUB-532301"}, "depot"),
    ({"depot": "532326101001"}, "depot"),  # a village is no depot
    ({"depot": "532326206"}, "depot"),  # 湾碧: a township station without a point
    ({"owner": "coop-dayao-walnut"}, "owner"),
    ({"owner": "NOBODY"}, "owner"),
    ({"id": "has space"}, "id"),
    ({"capacity_kg": 10**30}, "capacity_kg"),
    ({"name": "bad\u0000name"}, "name"),
    ({"colour": "red"}, "colour"),
]


def test_vehicle_validation(client: TestClient, login: Login) -> None:
    for changes, field in VEHICLE_ERRORS:
        r = client.post(f"{API}/vehicles", json=new_vehicle(**changes), headers=login("admin"))
        assert r.status_code == 422, (changes, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field, (changes, r.json())


def test_vehicle_patch_validation(client: TestClient, login: Login) -> None:
    admin = login("admin")
    assert client.post(f"{API}/vehicles", json=new_vehicle(), headers=admin).status_code == 201
    url = f"{API}/vehicles/HUB-532326-T99"
    for patch, field in (
        ({"capacity_kg": None}, "capacity_kg"),
        ({"shift_end": "06:00"}, "shift_end"),
        ({"max_driving_h": 13}, "max_driving_h"),
        ({"id": "renamed"}, "id"),
    ):
        r = client.patch(url, json=patch, headers=admin)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field, patch
    assert client.get(f"{API}/vehicles/NOPE", headers=admin).status_code == 404


# ---- orders ---------------------------------------------------------------------------


def test_create_get_and_scope(client: TestClient, login: Login, accounts) -> None:
    dayao, yongren, zto, admin = login("dayao"), login("yongren"), login("zto"), login("admin")
    r = client.post(f"{API}/orders", json=order("D-1"), headers=dayao)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["county_code"] == "532326" and out["plan_date"] == "2026-09-15"
    assert out["ready_time"] == "2026-09-15T07:30:00+08:00"
    assert out["due_time"] == "2026-09-15T18:00:00+08:00"
    assert out["created_at"].endswith("+08:00")
    assert out["status"] == "open" and out["tracking_numbers"] == ["D-1-1", "D-1-2"]
    assert out["created_by"] == accounts["dayao"]

    r = client.get(f"{API}/orders/D-1", headers=dayao)
    assert r.status_code == 200 and r.json() == out
    assert client.get(f"{API}/orders/D-1", headers=admin).status_code == 200
    assert client.get(f"{API}/orders/D-1", headers=yongren).status_code == 404
    assert client.get(f"{API}/orders/D-1", headers=zto).status_code == 404
    assert client.get(f"{API}/orders/NOPE", headers=admin).status_code == 404
    assert client.get(f"{API}/orders/D-1", headers=login("courier1")).status_code == 403
    assert (
        client.post(f"{API}/orders", json=order("C-1"), headers=login("courier1")).status_code
        == 403
    )

    # a dispatcher creates orders of the own county only
    r = client.post(f"{API}/orders", json=order("Y-1"), headers=yongren)
    assert r.status_code == 422
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "destination"]
    assert "532326 (大姚县)" in err["msg"] and "532327 (永仁县)" in err["msg"]
    yongren_order = order("Y-1", origin="HUB-532327", destination=YONGREN_VILLAGE)
    assert client.post(f"{API}/orders", json=yongren_order, headers=yongren).status_code == 201

    # a carrier creates orders of the own party only, in any served county
    r = client.post(f"{API}/orders", json=order("Z-0"), headers=zto)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "party"]
    assert "ZTO" in r.json()["detail"][0]["msg"]
    for oid, body in (
        ("Z-1", order("Z-1", party="ZTO")),
        ("Z-2", order("Z-2", party="ZTO", origin="WH-CX", destination=YONGREN_VILLAGE)),
    ):
        r = client.post(f"{API}/orders", json=body, headers=zto)
        assert r.status_code == 201, (oid, r.text)

    def ids(headers: dict[str, str], query: str = "") -> list[str]:
        r = client.get(f"{API}/orders?limit=500{query}", headers=headers)
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["items"]]

    assert ids(admin) == ["D-1", "Y-1", "Z-1", "Z-2"]
    assert ids(dayao) == ["D-1", "Z-1"]
    assert ids(yongren) == ["Y-1", "Z-2"]
    assert ids(zto) == ["Z-1", "Z-2"]
    assert ids(dayao, "&county=532327") == []
    assert ids(admin, "&party=ZTO&county=532327") == ["Z-2"]
    assert ids(admin, "&plan_date=2026-09-16") == []
    assert ids(admin, "&status=open&direction=down&sort=-order_id") == ["Z-2", "Z-1", "Y-1", "D-1"]
    assert client.get(f"{API}/orders", headers=login("courier2")).status_code == 403


def test_duplicate_order_id_is_409(client: TestClient, login: Login) -> None:
    assert (
        client.post(f"{API}/orders", json=order("D-1"), headers=login("dayao")).status_code == 201
    )
    r = client.post(
        f"{API}/orders", json=order("D-1", tracking_numbers=None), headers=login("admin")
    )
    assert r.status_code == 409 and "exists already" in r.json()["detail"]
    r = client.post(
        f"{API}/orders/bulk",
        json=[order("D-1", tracking_numbers="A;B"), order("D-2", tracking_numbers=None)],
        headers=login("admin"),
        params={"skip_bad": "true"},
    )
    assert r.status_code == 201 and r.json()["imported"] == 1
    assert r.json()["errors"] == [
        {"index": 0, "field": "order_id", "value": "D-1", "reason": "order_id exists already"}
    ]


def test_order_field_errors(client: TestClient, login: Login) -> None:
    h = login("admin")
    for body, field in (
        ({k: v for k, v in order("E-1").items() if k != "order_id"}, "order_id"),
        (order("E-1", weight_kg=0), "weight_kg"),
        (order("E-1", weight_kg="heavy"), "weight_kg"),
        (order("E-1", pieces=3), "tracking_numbers"),
        (order("E-1", direction="sideways"), "direction"),
        (order("E-1", destination="NOWHERE"), "destination"),
        (order("E-1", origin="HUB-532327"), "origin"),
        (order("E-1", destination="532301101"), "destination"),  # 楚雄市: not served
        (order("E-1", party="PLATFORM"), "party"),
        (order("E-1", due_time="2026-09-15T06:00+08:00"), "due_time"),
        (order("E-1", temperature="warm"), "temperature"),
        (order("E-1", ready_time=None, due_time=None), "plan_date"),
        (order("E-1", ready_time="07:30", due_time=None), "ready_time"),
        (order("E-1", tracking_numbers=None, pieces=10**30), "pieces"),
        (order("E-1", ready_time="9999-12-31T23:59-08:00", due_time=None), "ready_time"),
        (order("E-1", plan_date="15/09/2026"), "plan_date"),
        (order("E-1", tracking_numbers=[1, 2]), "tracking_numbers"),
    ):
        r = client.post(f"{API}/orders", json=body, headers=h)
        assert r.status_code == 422, (field, r.text)
        assert any(field in e["loc"] for e in r.json()["detail"]), (field, r.json())
    assert client.get(f"{API}/orders", headers=h).json()["total"] == 0

    # HH:MM times fall on the plan date; a plan date from the body wins
    body = order("E-2", ready_time="07:30", due_time="18:00", plan_date="2026-09-16")
    r = client.post(f"{API}/orders", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["ready_time"] == "2026-09-16T07:30:00+08:00"
    assert r.json()["plan_date"] == "2026-09-16"
    # CSV-style text values are read like file cells
    body = order("E-3", weight_kg="8.5", pieces="2", direction="下行", live_animal="否")
    r = client.post(f"{API}/orders", json=body, headers=h)
    assert r.status_code == 201 and r.json()["weight_kg"] == 8.5


def test_bulk_all_or_nothing_and_skip_bad(client: TestClient, login: Login) -> None:
    h = login("dayao")
    items = [order("B-1"), order("B-2", weight_kg=-1), order("B-3"), order("B-1")]
    r = client.post(f"{API}/orders/bulk", json=items, headers=h)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [(e["index"], e["field"]) for e in detail] == [
        (1, "weight_kg"),
        (3, "order_id"),
        (3, "tracking_numbers"),
        (3, "tracking_numbers"),
    ]
    assert detail[0]["loc"] == ["body", 1, "weight_kg"]
    assert "at item 0" in detail[1]["msg"]
    assert client.get(f"{API}/orders", headers=h).json()["total"] == 0

    r = client.post(f"{API}/orders/bulk?skip_bad=true", json=items, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2 and r.json()["order_ids"] == ["B-1", "B-3"]
    assert {e["index"] for e in r.json()["errors"]} == {1, 3}
    assert client.get(f"{API}/orders", headers=h).json()["total"] == 2

    # nothing good: 422 even with skip_bad
    r = client.post(f"{API}/orders/bulk?skip_bad=true", json=[order("B-9", pieces=0)], headers=h)
    assert r.status_code == 422
    # scope per item
    r = client.post(
        f"{API}/orders/bulk?skip_bad=true",
        json=[order("B-4"), order("B-5", origin="HUB-532327", destination=YONGREN_VILLAGE)],
        headers=h,
    )
    assert r.status_code == 201 and r.json()["imported"] == 1
    assert r.json()["errors"][0]["index"] == 1 and r.json()["errors"][0]["field"] == "destination"

    # items of different plan dates; a repeated id across them is still caught
    r = client.post(
        f"{API}/orders/bulk",
        json=[
            order("P-1", ready_time="08:00", due_time=None, plan_date="2026-09-16"),
            order(
                "P-2",
                ready_time="08:00",
                due_time=None,
                plan_date="2026-09-17",
                tracking_numbers=["P-1-1", "P-2-2"],
            ),
            order(
                "P-1", ready_time=None, due_time=None, tracking_numbers=None, plan_date="2026-09-18"
            ),
        ],
        headers=h,
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [(e["index"], e["field"]) for e in detail] == [(1, "tracking_numbers"), (2, "order_id")]
    assert detail[1]["msg"] == "order id 'P-1' is already used at item 0"
    r = client.post(
        f"{API}/orders/bulk",
        json=[order("P-3", plan_date="2026-09-16"), order("P-4", plan_date="2026-09-17")],
        headers=h,
    )
    assert r.status_code == 201 and r.json()["imported"] == 2
    assert client.get(f"{API}/orders/P-4", headers=h).json()["plan_date"] == "2026-09-17"

    assert client.post(f"{API}/orders/bulk", json=[], headers=h).status_code == 422
    assert client.post(f"{API}/orders/bulk", json={"a": 1}, headers=h).status_code == 422
    too_many = [order(f"M-{i}", tracking_numbers=None) for i in range(5001)]
    assert client.post(f"{API}/orders/bulk", json=too_many, headers=h).status_code == 422


CSV_HEADER = (
    "order_id,party,direction,origin,destination,weight_kg,volume_m3,pieces,"
    "temperature,ready_time,due_time,live_animal,tracking_numbers,goods\n"
)


def csv_file(*lines: str) -> bytes:
    return (CSV_HEADER + "".join(line + "\n" for line in lines)).encode("utf-8")


def test_csv_upload(client: TestClient, login: Login) -> None:
    h = login("dayao")
    good = f"U-1,EMS,down,HUB-532326,{DAYAO_VILLAGE},3.5,0.02,1,ambient,07:00,18:00,false,T1,包裹"
    bad = f"U-2,EMS,down,HUB-532326,{DAYAO_VILLAGE},-3,0.02,1,ambient,07:00,18:00,false,T2,包裹"
    data = csv_file(good, bad)
    r = client.post(
        f"{API}/orders/upload",
        files={"file": ("orders.csv", data, "text/csv")},
        data={"plan_date": "2026-09-15"},
        headers=h,
    )
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert (err["line"], err["column"], err["value"]) == (3, "weight_kg", "-3")
    assert err["msg"].startswith("line 3, column weight_kg")
    assert client.get(f"{API}/orders", headers=h).json()["total"] == 0

    r = client.post(
        f"{API}/orders/upload",
        files={"file": ("orders.csv", data, "text/csv")},
        data={"plan_date": "2026-09-15", "skip_bad": "true"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 1 and r.json()["rows"] == 2
    assert r.json()["errors"][0]["line"] == 3
    got = client.get(f"{API}/orders/U-1", headers=h).json()
    assert got["ready_time"] == "2026-09-15T07:00:00+08:00" and got["plan_date"] == "2026-09-15"

    # without a plan date, HH:MM times have no day
    r = client.post(
        f"{API}/orders/upload",
        files={"file": ("orders.csv", csv_file(good.replace("U-1", "U-3")), "text/csv")},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["column"] == "ready_time"
    # the plan date is the ready time's day; uploading the same order again is refused
    dated = good.replace("07:00,18:00", "2026-09-20T07:00,2026-09-20T18:00").replace("U-1", "U-4")
    for expected in (201, 422):
        r = client.post(
            f"{API}/orders/upload",
            files={"file": ("orders.csv", csv_file(dated), "text/csv")},
            headers=h,
        )
        assert r.status_code == expected, r.text
    assert r.json()["detail"][0]["reason"] == "order_id exists already"
    assert client.get(f"{API}/orders/U-4", headers=h).json()["plan_date"] == "2026-09-20"

    # a row of another county
    other = f"U-5,EMS,down,HUB-532327,{YONGREN_VILLAGE},3,0,1,ambient,07:00,18:00,false,,"
    r = client.post(
        f"{API}/orders/upload",
        files={"file": ("orders.csv", csv_file(other), "text/csv")},
        data={"plan_date": "2026-09-15"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["column"] == "destination"


def test_upload_rejects_bad_files(client: TestClient, login: Login) -> None:
    h = login("dayao")

    def upload(name: str, data: bytes, **form: str) -> Any:
        return client.post(
            f"{API}/orders/upload",
            files={"file": (name, data, "application/octet-stream")},
            data=form,
            headers=h,
        )

    r = upload("orders.txt", b"order_id\n1\n")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    assert ".txt" in r.json()["detail"][0]["msg"]
    assert upload("orders", b"x").status_code == 422
    assert upload("orders.xlsx", b"not a zip at all").status_code == 422
    assert upload("orders.csv", b"").status_code == 422
    assert upload("orders.csv", CSV_HEADER.encode()).status_code == 422  # no orders
    r = upload("orders.csv", b"order_id,party\nA,EMS\n")
    assert r.status_code == 422 and "missing required column" in r.json()["detail"][0]["msg"]
    assert upload("orders.csv", b"\xff\xfe\x00\x00garbage").status_code == 422
    assert upload("orders.csv", csv_file("a,b"), plan_date="tomorrow").status_code == 422
    assert upload("../../etc/orders.csv", csv_file("a,b")).status_code == 422
    r = client.post(f"{API}/orders/upload", data={"plan_date": "2026-09-15"}, headers=h)
    assert r.status_code == 422
    assert client.get(f"{API}/orders", headers=h).json()["total"] == 0


def test_xlsx_upload(client: TestClient, login: Login) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(CSV_HEADER.strip().split(","))
    sheet.append(
        [
            "X-1",
            "ZTO",
            "下行",
            "WH-CX",
            DAYAO_VILLAGE,
            4,
            0.5,
            2,
            "冷藏",
            datetime(2026, 9, 15, 6, 0),
            datetime(2026, 9, 15, 17, 0),
            False,
            "ZX1;ZX2",
            "野生菌",
        ]
    )
    sheet.append(["X-2", "ZTO", "up", DAYAO_VILLAGE, "HUB-532326", 20, None, 1])
    buf = io.BytesIO()
    book.save(buf)
    r = client.post(
        f"{API}/orders/upload",
        files={"file": ("订单.xlsx", buf.getvalue(), "application/vnd.ms-excel")},
        data={"plan_date": "2026-09-15"},
        headers=login("zto"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2 and r.json()["errors"] == []
    got = client.get(f"{API}/orders/X-1", headers=login("zto")).json()
    assert got["temperature"] == "chilled" and got["direction"] == "down"
    assert got["ready_time"] == "2026-09-15T06:00:00+08:00"
    assert got["tracking_numbers"] == ["ZX1", "ZX2"]
    up = client.get(f"{API}/orders/X-2", headers=login("dayao")).json()
    assert up["county_code"] == "532326" and up["ready_time"] is None


def test_cancel_rules(client: TestClient, login: Login, session: Session) -> None:
    dayao = login("dayao")
    for oid in ("K-1", "K-2"):
        assert client.post(f"{API}/orders", json=order(oid), headers=dayao).status_code == 201
    assert client.delete(f"{API}/orders/K-1", headers=login("yongren")).status_code == 404
    assert client.delete(f"{API}/orders/K-1", headers=login("courier1")).status_code == 403
    r = client.delete(f"{API}/orders/K-1", headers=dayao)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = client.delete(f"{API}/orders/K-1", headers=dayao)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    assert client.delete(f"{API}/orders/NOPE", headers=dayao).status_code == 404

    row = session.exec(select(OrderRow).where(OrderRow.order_id == "K-2")).one()
    row.status = "planned"
    session.add(row)
    session.commit()
    assert client.delete(f"{API}/orders/K-2", headers=login("admin")).status_code == 409
    r = client.get(f"{API}/orders?status=cancelled", headers=dayao)
    assert [o["order_id"] for o in r.json()["items"]] == ["K-1"]


def test_order_pagination_and_sort(client: TestClient, login: Login) -> None:
    h = login("admin")
    items = [order(f"S-{i}", weight_kg=10 + i, tracking_numbers=None) for i in range(7)]
    assert client.post(f"{API}/orders/bulk", json=items, headers=h).status_code == 201
    r = client.get(f"{API}/orders?sort=-weight_kg&limit=3&offset=2", headers=h)
    body = r.json()
    assert body["total"] == 7 and (body["limit"], body["offset"]) == (3, 2)
    assert [o["order_id"] for o in body["items"]] == ["S-4", "S-3", "S-2"]
    for sort in ("order_id", "-plan_date", "created_at", "id"):
        assert client.get(f"{API}/orders?sort={sort}", headers=h).status_code == 200
    for query in (
        "sort=password",
        "sort=county_code",
        "limit=0",
        "limit=501",
        "offset=-1",
        "status=lost",
        "direction=left",
        "plan_date=soon",
        "county=53",
    ):
        r = client.get(f"{API}/orders?{query}", headers=h)
        assert r.status_code == 422, query
        assert isinstance(r.json()["detail"], list)
    r = client.get(f"{API}/orders?sort=password", headers=h)
    assert r.json()["detail"][0]["loc"] == ["query", "sort"]


def test_no_bad_input_gives_500(client: TestClient, login: Login) -> None:
    """Odd values anywhere are 4xx (the test client re-raises server errors)."""
    h = {**login("admin"), "Content-Type": "application/json"}
    raw_bodies = [
        b"",
        b"not json",
        b"[]",
        b"null",
        b'{"order_id": "\\ud800", "party": "EMS"}',
        b'{"order_id": "A\\u0000", "party": "EMS"}',
        b'{"weight_kg": NaN, "order_id": "A"}',
        b'{"weight_kg": 1e400, "order_id": "A"}',
        b'{"pieces": 1e400, "order_id": "A"}',
        b'{"order_id": ["x"]}',
        b'{"plan_date": "0000-01-01"}',
        b'{"tracking_numbers": {"a": 1}}',
    ]
    for url, method in (
        (f"{API}/orders", "post"),
        (f"{API}/orders/bulk", "post"),
        (f"{API}/vehicles", "post"),
        (f"{API}/vehicles/X", "patch"),
        (f"{API}/places/WH-CX", "patch"),
    ):
        for raw in raw_bodies:
            r = client.request(method.upper(), url, content=raw, headers=h)
            assert 400 <= r.status_code < 500, (url, raw, r.status_code, r.text)
    odd_orders = [
        order("O-1", ready_time="0001-01-01T00:00+08:00", due_time=None),
        order("O-2", ready_time="2026-09-15T08:00+25:00"),
        order("O-3", weight_kg=True),
        order("O-4", live_animal=2),
        order("O-5", plan_date="9999-12-31", ready_time="23:59", due_time=None),
        order("O-6", tracking_numbers="a；b"),
        order("O-7", origin="", destination=None),
        order("x" * 5000, tracking_numbers=None),
    ]
    for body in odd_orders:
        r = client.post(f"{API}/orders", json=body, headers=h)
        assert r.status_code < 500, (body, r.text)
    for path in (
        "/orders/%00",
        "/orders/%2e%2e",
        "/vehicles/%00",
        "/places/%00",
        "/orders?party=%00",
        "/vehicles?owner=%00&kind=%00&depot=%00",
        "/places?q=%00",
        "/orders?plan_date=2026-02-30",
    ):
        r = client.get(f"{API}{path}", headers=h)
        assert 200 <= r.status_code < 500, (path, r.text)
    upload_odd = [
        ("a.csv", 'order_id,party,direction,origin,destination,weight_kg,pieces\n"unclosed,EMS\n'),
        ("b.csv", CSV_HEADER + "Q,EMS,down,WH-CX,532326101001,1,0,1,,9999-12-31T23:59-08:00,,,,\n"),
        ("c.csv", CSV_HEADER + "Q,EMS,down,WH-CX,532326101001,1,0,99999999999999999999,,,,,,\n"),
    ]
    for name, text in upload_odd:
        r = client.post(
            f"{API}/orders/upload",
            files={"file": (name, text.encode(), "text/csv")},
            data={"plan_date": str(date(2026, 9, 15))},
            headers=login("admin"),
        )
        assert 400 <= r.status_code < 500, (name, r.text)


def test_openapi_documents_the_resources(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, method in (
        ("/api/v1/places", "get"),
        ("/api/v1/places/{place_id}", "patch"),
        ("/api/v1/vehicles", "post"),
        ("/api/v1/vehicles/import-bundled", "post"),
        ("/api/v1/orders", "post"),
        ("/api/v1/orders/bulk", "post"),
        ("/api/v1/orders/upload", "post"),
        ("/api/v1/orders/{order_id}", "delete"),
    ):
        assert spec["paths"][path][method]["summary"], (path, method)
    schemas = spec["components"]["schemas"]
    for name in ("OrderIn", "VehicleIn", "PlaceCorrectionIn"):
        assert schemas[name]["examples"], name


def test_order_ids_with_a_slash(client: TestClient, login: Login) -> None:
    h = login("dayao")
    r = client.post(f"{API}/orders", json=order("2026/09/15-7"), headers=h)
    assert r.status_code == 201
    assert client.get(f"{API}/orders/2026/09/15-7", headers=h).json()["order_id"] == "2026/09/15-7"
    assert client.delete(f"{API}/orders/2026/09/15-7", headers=h).status_code == 200


def test_place_corrections_reach_the_planner_as_data(session: Session) -> None:
    """The planning job's network has the latest correction of each place (issue 11:
    corrections went through a temporary CSV that dropped the bundled overrides)."""

    from api.models import PlaceCorrection
    from api.worker.jobs import _network

    session.add(PlaceCorrection(place_id="532322104", lon=101.2, lat=24.4, source="first"))
    session.add(PlaceCorrection(place_id="532322104", lon=101.298, lat=24.452, source="GPS"))
    session.commit()
    network, _closures = _network(session, date(2026, 9, 15))
    place = network.place("532322104")
    assert (place.lon, place.lat) == (101.298, 24.452) and place.node >= 0
    assert "GPS" in place.coord_source
