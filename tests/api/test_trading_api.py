"""What the trading pages read through the JSON API: the information board (open to
readers not signed in, who see only what the posting firm made public; filters by county,
day, vehicle type and temperature), the matches with their truck and the route with the
detour for the map, a firm's own postings and the bookings on its trucks, and the monthly
statement as JSON and XLSX adding up to the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook

API = "/api/v1"
PASSWORD = "correct horse battery"
WH = {"place": "WH-CX", "lon": 101.565456, "lat": 25.036751}
MOUDING = {"place": "HUB-532323", "lon": 101.545806, "lat": 25.3089}
DAYAO = {"place": "HUB-532326", "lon": 101.323876, "lat": 25.735685}
XINQIAO = (101.594571, 25.367323)  # 新桥镇, 牟定县: off the road WH-CX -> 牟定 -> 大姚

Login = Callable[[str], dict[str, str]]


def _truck(
    client: TestClient, headers: dict[str, str], *, public: bool = False, cold: bool = False
) -> dict:
    body = {
        "vehicle_type": "reefer_4_2m" if cold else "box_4_2m",
        "refrigerated": cold,
        "capacity_kg": 1000,
        "capacity_m3": 8,
        "price_per_km_fen": 250,
        "public": public,
        "stops": [
            {**WH, "time": "2026-09-15T08:00:00+08:00"},
            {**MOUDING, "time": "2026-09-15T09:30:00+08:00"},
            {**DAYAO, "time": "2026-09-15T11:30:00+08:00"},
        ],
    }
    r = client.post(f"{API}/capacity", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _cargo(
    client: TestClient, headers: dict[str, str], *, public: bool = False, kg: float = 300
) -> dict:
    body = {
        "origin": "532323102", "origin_lon": XINQIAO[0], "origin_lat": XINQIAO[1],
        "destination": "HUB-532326", "destination_lon": DAYAO["lon"],
        "destination_lat": DAYAO["lat"], "weight_kg": kg, "volume_m3": 1.0,
        "pickup_start": "2026-09-15T06:00:00+08:00", "pickup_end": "2026-09-15T12:00:00+08:00",
        "deliver_by": "2026-09-15T20:00:00+08:00", "offered_price_fen": 20000, "public": public,
    }  # fmt: skip
    r = client.post(f"{API}/cargo", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _ids(answer: dict) -> set[int]:
    return {int(item["id"]) for item in answer["items"]}


def test_the_board_is_open_showing_only_what_firms_made_public(
    client: TestClient, login: Login
) -> None:
    firm, shipper = login("zto"), login("dayao")
    shown = _truck(client, firm, public=True)
    hidden = _truck(client, firm, cold=True)
    open_cargo = _cargo(client, shipper, public=True)
    _cargo(client, shipper)
    anonymous = TestClient(client.app)
    r = anonymous.get(f"{API}/market/capacity")
    assert r.status_code == 200, r.text
    assert _ids(r.json()) == {shown["id"]} and r.json()["public_only"] is True
    item = r.json()["items"][0]
    assert item["org_name"] == "中通快递" and item["counties"] == ["532301", "532323", "532326"]
    assert [s["name_zh"] for s in item["stops"]] == [
        "楚雄州公共仓",
        "牟定县物流中心",
        "大姚县物流中心",
    ]
    assert item["stops"][0]["time"] == "2026-09-15T08:00:00+08:00"
    assert _ids(anonymous.get(f"{API}/market/cargo").json()) == {open_cargo["id"]}
    courier = anonymous.get(f"{API}/market/capacity", headers=login("courier1")).json()
    assert _ids(courier) == {shown["id"]}  # a courier does not trade: the public board
    everything = client.get(f"{API}/market/capacity", headers=firm).json()
    assert _ids(everything) == {shown["id"], hidden["id"]} and not everything["public_only"]
    # withdrawn: off the board
    client.post(f"{API}/capacity/{shown['id']}/close", headers=firm)
    assert anonymous.get(f"{API}/market/capacity").json()["items"] == []


def test_the_board_filters_by_county_day_vehicle_and_temperature(
    client: TestClient, login: Login
) -> None:
    firm, shipper = login("zto"), login("dayao")
    box = _truck(client, firm)
    reefer = _truck(client, firm, cold=True)
    cargo = _cargo(client, shipper)

    def ids(kind: str, query: str) -> set[int]:
        r = client.get(f"{API}/market/{kind}?{query}", headers=firm)
        assert r.status_code == 200, r.text
        return _ids(r.json())

    assert ids("capacity", "county=532323") == {box["id"], reefer["id"]}
    assert ids("capacity", "county=532322") == set()  # 双柏: no stop there
    assert ids("capacity", "day=2026-09-15") == {box["id"], reefer["id"]}
    assert ids("capacity", "day=2026-09-16") == set()
    assert ids("capacity", "vehicle_type=reefer_4_2m") == {reefer["id"]}
    assert ids("capacity", "temperature=chilled") == {reefer["id"]}  # can carry it
    assert ids("capacity", "temperature=ambient") == {box["id"], reefer["id"]}
    assert ids("cargo", "county=532323&day=2026-09-15&temperature=ambient") == {cargo["id"]}
    assert ids("cargo", "temperature=frozen") == set()
    assert ids("cargo", "county=532327") == set()
    for bad in ("county=12", "day=15.09.2026", "temperature=warm", "day=1900-01-01"):
        r = client.get(f"{API}/market/capacity?{bad}", headers=firm)
        assert r.status_code == 422, (bad, r.text)
    assert client.get(f"{API}/market/trucks").status_code == 422


def test_matches_name_the_truck_and_the_route_draws_the_detour(
    client: TestClient, login: Login
) -> None:
    firm, shipper = login("zto"), login("dayao")
    truck = _truck(client, firm)
    cargo = _cargo(client, shipper, kg=250)
    matches = client.get(f"{API}/cargo/{cargo['id']}/matches", headers=shipper).json()
    assert [m["capacity_id"] for m in matches] == [truck["id"]]
    m = matches[0]
    assert m["org_name"] == "中通快递" and m["vehicle_type"] == "box_4_2m"
    assert m["room_kg"] == 1000 and m["room_m3"] == 8.0 and m["detour_km"] > 0
    assert m["departs_at"] == "2026-09-15T08:00:00+08:00"
    assert m["arrives_at"] == "2026-09-15T11:30:00+08:00"
    url = f"{API}/cargo/{cargo['id']}/matches/{truck['id']}/route"
    route = client.get(url, headers=shipper).json()
    assert route["booked"] is False
    assert route["pickup"] == list(XINQIAO)
    assert len(route["planned"]["coordinates"]) >= 3
    assert len(route["with_cargo"]["coordinates"]) > len(route["planned"]["coordinates"])
    assert route["with_cargo_km"] > route["planned_km"]
    assert route["detour_km"] > 0
    assert (route["pickup_position"], route["delivery_position"]) == (
        m["pickup_position"],
        m["delivery_position"],
    )
    assert client.get(f"{API}/cargo/{cargo['id']}", headers=shipper).json()["id"] == cargo["id"]
    book = client.post(
        f"{API}/cargo/{cargo['id']}/book",
        json={"capacity_id": truck["id"]},
        headers={**shipper, "Idempotency-Key": "route-1"},
    )
    assert book.status_code == 201, book.text
    booked = client.get(url, headers=shipper).json()
    assert booked["booked"] is True and booked["with_cargo"] == route["with_cargo"]
    missing = client.get(f"{API}/cargo/{cargo['id']}/matches/999999/route", headers=shipper)
    assert missing.status_code == 404
    assert client.get(f"{API}/cargo/999999/matches/1/route", headers=shipper).status_code == 404


def test_a_firm_sees_its_own_postings_and_the_bookings_on_its_trucks(
    client: TestClient, login: Login
) -> None:
    firm, shipper = login("zto"), login("dayao")
    truck = _truck(client, firm)
    cargo = _cargo(client, shipper)
    other = _truck(client, shipper)  # the hub's own truck
    assert _ids(client.get(f"{API}/capacity?mine=true", headers=firm).json()) == {truck["id"]}
    assert _ids(client.get(f"{API}/capacity", headers=firm).json()) == {truck["id"], other["id"]}
    assert _ids(client.get(f"{API}/cargo?mine=true", headers=firm).json()) == set()
    assert _ids(client.get(f"{API}/cargo?mine=true", headers=shipper).json()) == {cargo["id"]}
    r = client.post(
        f"{API}/cargo/{cargo['id']}/book",
        json={"capacity_id": truck["id"]},
        headers={**shipper, "Idempotency-Key": "side-1"},
    )
    assert r.status_code == 201, r.text
    booking = r.json()["id"]

    def seen(headers: dict[str, str], query: str = "") -> set[int]:
        return _ids(client.get(f"{API}/freight-bookings{query}", headers=headers).json())

    assert seen(firm) == {booking} and seen(firm, "?side=carrier") == {booking}
    assert seen(firm, "?side=shipper") == set()
    assert seen(shipper) == {booking} and seen(shipper, "?side=carrier") == set()
    assert seen(firm, f"?capacity_id={truck['id']}") == {booking}
    assert seen(firm, f"?cargo_id={cargo['id']}") == {booking}
    assert seen(login("yongren")) == set()
    # the firm makes its truck public, and only the firm may
    r = client.patch(f"{API}/capacity/{truck['id']}", json={"public": True}, headers=firm)
    assert r.status_code == 200 and r.json()["public"] is True
    r = client.patch(f"{API}/capacity/{truck['id']}", json={"public": False}, headers=shipper)
    assert r.status_code == 404


def test_the_statement_as_json_and_xlsx_adds_up_to_the_csv(
    client: TestClient, login: Login
) -> None:
    firm, shipper = login("zto"), login("dayao")
    for n in range(2):
        truck = _truck(client, firm)
        cargo = _cargo(client, shipper, kg=200 + n)
        r = client.post(
            f"{API}/cargo/{cargo['id']}/book",
            json={"capacity_id": truck["id"]},
            headers={**shipper, "Idempotency-Key": f"statement-{n}"},
        )
        assert r.status_code == 201, r.text
    account = client.get(f"{API}/accounts", headers=firm).json()["items"][0]["id"]
    url = f"{API}/accounts/{account}/statement?year=2026&month=9"
    data = client.get(url + "&format=json", headers=firm).json()
    totals = data["totals"]
    entries = client.get(f"{API}/ledger/entries?account_id={account}", headers=firm).json()
    assert totals["entries"] == entries["total"] == 2
    assert totals["credit_fen"] == sum(e["amount_fen"] for e in entries["items"]) > 0
    assert totals["debit_fen"] == 0 and totals["opening_fen"] == 0
    assert totals["closing_fen"] == totals["credit_fen"]
    assert {r["ref_type"] for r in data["rows"] if r["entry_id"]} == {"freight_booking"}

    raw = client.get(url, headers=firm)
    assert raw.headers["content-type"].startswith("text/csv") and raw.content[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(raw.content.decode("utf-8-sig"))))
    assert sum(int(r["credit_fen"]) for r in rows if r["entry_id"]) == totals["credit_fen"]
    assert int(rows[-1]["balance_fen"]) == totals["closing_fen"]

    xlsx = client.get(url + "&format=xlsx", headers=firm)
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    assert 'filename="statement-' in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header = values.index([*rows[0].keys()])
    body = [v for v in values[header + 1 :] if v[2] is not None and v[0] != "total"]
    assert sum(v[7] for v in body) == totals["credit_fen"]
    total = next(v for v in values if v[0] == "total")
    assert (total[6], total[7], total[9]) == (0, totals["credit_fen"], totals["closing_fen"])
    assert client.get(url + "&format=pdf", headers=firm).status_code == 422
    other = client.get(f"{API}/accounts/{account}/statement?format=json", headers=login("yongren"))
    assert other.status_code == 404


def _signed_in(client: TestClient, username: str) -> TestClient:
    browser = TestClient(client.app)
    page = browser.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    r = browser.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return browser


def test_the_trading_pages_open_for_traders_and_the_board_for_everyone(
    client: TestClient,
) -> None:
    anonymous = TestClient(client.app)
    r = anonymous.get("/trade", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/trade/market"
    board = anonymous.get("/trade/market")
    assert board.status_code == 200 and "物流信息发布" in board.text
    assert 'src="/static/js/trading-market.js"' in board.text
    assert "default-src 'self'" in board.headers["content-security-policy"]
    r = anonymous.get("/trade/cargo", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/trade/cargo"
    assert anonymous.get("/trade/nowhere").status_code == 404

    firm = _signed_in(client, "zto")
    r = firm.get("/trade", follow_redirects=False)
    assert r.headers["location"] == "/trade/capacity"  # a carrier's trucks
    for page in ("cargo", "capacity", "leasing", "accounts", "market"):
        r = firm.get(f"/trade/{page}")
        assert r.status_code == 200, page
        assert f'src="/static/js/trading-{page}.js"' in r.text
        assert 'href="/trade"' in r.text and 'data-trade="leasing"' in r.text
    firm.cookies.set("codist_lang", "en")
    english = firm.get("/trade/cargo")
    assert "Cargo &amp; matching" in english.text and "Trading" in english.text

    dispatcher = _signed_in(client, "dayao").get("/console/board")
    assert 'href="/trade"' in dispatcher.text  # the console links the trading centre
    courier = _signed_in(client, "courier1")
    r = courier.get("/trade/cargo", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app"
    r = courier.get("/trade/market")
    assert r.status_code == 200 and 'data-trade="cargo"' not in r.text
    assert 'href="/trade"' not in courier.get("/me").text
