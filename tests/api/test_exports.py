"""Downloads of a plan (api/routers/exports.py): the unassigned orders as CSV for Chinese
Excel and as XLSX, the route sheets as one workbook and one printable page; each as the
caller may see the plan (a dispatcher: their county's part; another county's: 404)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import date
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from api.services.convert import order_row
from api.services.users import create_organisation, create_user
from dispatch.io.day import sample_orders_path, served_counties
from dispatch.io.fleet import load_parties
from dispatch.io.orders import read_orders
from routing.network import load_network

DAY = date(2026, 9, 15)
DAYAO, YONGREN = "532326", "532327"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Login = Callable[[str], dict[str, str]]


def _load_orders(session: Session, county: str, located: int, unreachable: int) -> None:
    """Orders of the sample day in ``county``: ``located`` at distinct located places and
    ``unreachable`` where neither the place nor its township has coordinates."""
    network = load_network()
    result = read_orders(
        sample_orders_path(DAY),
        places={p.id: p for p in network.places},
        parties=load_parties(),
        served_counties=served_counties(),
    )
    seen: set[str] = set()
    want = {True: located, False: unreachable}
    for o in result.orders:
        place = network.place(o.destination if o.direction == "down" else o.origin)
        if place.county_code != county or place.id in seen:
            continue
        township = next((p for p in network.places if p.id == place.township_code), None)
        reachable = place.located or (township is not None and township.located)
        if want[reachable] <= 0:
            continue
        want[reachable] -= 1
        seen.add(place.id)
        session.add(order_row(o, county, DAY, None))
        if not any(want.values()):
            break
    session.commit()


@pytest.fixture
def plan_id(client: TestClient, login: Login, session: Session) -> int:
    """A finished plan of 大姚 and 永仁, each with orders it cannot reach."""
    _load_orders(session, DAYAO, 12, 3)
    _load_orders(session, YONGREN, 12, 2)
    admin = login("admin")
    r = client.post(
        "/api/v1/plans",
        json={"plan_date": DAY.isoformat(), "counties": [DAYAO, YONGREN], "time_limit": 1},
        headers=admin,
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while True:
        plan = client.get(f"/api/v1/plans/{r.json()['id']}", headers=admin).json()
        if plan["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert plan["status"] == "succeeded", plan
    return int(plan["id"])


def _board(client: TestClient, login: Login, user: str, plan_id: int) -> dict:
    r = client.get(f"/api/v1/plans/{plan_id}/board", headers=login(user))
    assert r.status_code == 200, r.text
    return r.json()


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark for Excel"
    text = body[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_unassigned_csv_and_xlsx(client: TestClient, login: Login, plan_id: int) -> None:
    admin_board = _board(client, login, "admin", plan_id)
    assert len(admin_board["unassigned"]) >= 5
    r = client.get(f"/api/v1/plans/{plan_id}/unassigned.csv", headers=login("admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="plan-')
    assert disposition.split("filename=")[1].split(";")[0].isascii()
    assert "未分配" in unquote(disposition.split("filename*=UTF-8''")[1])
    rows = _csv_rows(r.content)
    assert rows[0][0] == "订单 order_id" and rows[0][-1] == "重量 weight_kg" and len(rows[0]) == 8
    assert len(rows) - 1 == len(admin_board["unassigned"])
    assert {row[0] for row in rows[1:]} == {u["order_id"] for u in admin_board["unassigned"]}
    assert all(row[5] and row[6] for row in rows[1:])  # reason and detail
    assert any("大姚" in row[3] for row in rows[1:]) and any("永仁" in row[3] for row in rows[1:])

    r = client.get(f"/api/v1/plans/{plan_id}/unassigned.xlsx", headers=login("admin"))
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    assert sheet["A1"].value == "订单 order_id" and sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row - 1 == len(admin_board["unassigned"])
    assert sheet.column_dimensions["G"].width > sheet.column_dimensions["A"].width


def test_a_dispatcher_gets_their_county_only(
    client: TestClient, login: Login, plan_id: int, session: Session
) -> None:
    dayao_board = _board(client, login, "dayao", plan_id)
    r = client.get(f"/api/v1/plans/{plan_id}/unassigned.csv", headers=login("dayao"))
    assert r.status_code == 200
    assert f"-{DAYAO}-" in r.headers["content-disposition"]
    rows = _csv_rows(r.content)[1:]
    assert rows and len(rows) == len(dayao_board["unassigned"])
    assert all(row[3].endswith(DAYAO) for row in rows)

    r = client.get(f"/api/v1/plans/{plan_id}/sheets.xlsx", headers=login("dayao"))
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(r.content))
    routes = [route["route_id"] for route in dayao_board["routes"]]
    assert book.sheetnames[1:] == routes
    assert all(rid.startswith("T-") or rid.startswith(f"C-{DAYAO}-") for rid in routes)

    # a dispatcher of a county the plan does not cover sees nothing of it
    org = create_organisation(
        session, name="武定县物流中心", kind="county_hub", county_code="532329"
    )
    create_user(
        session,
        username="wuding",
        password="correct horse battery",
        role="dispatcher",
        org_id=org.id,
        county_code="532329",
    )
    for suffix in ("unassigned.csv", "unassigned.xlsx", "sheets.xlsx", "sheets.html"):
        r = client.get(f"/api/v1/plans/{plan_id}/{suffix}", headers=login("wuding"))
        assert r.status_code == 404, (suffix, r.text)
        r = client.get(f"/api/v1/plans/{plan_id}/{suffix}", headers=login("courier1"))
        assert r.status_code == 403, suffix
    assert client.get("/api/v1/plans/99999/sheets.xlsx", headers=login("admin")).status_code == 404


def test_route_sheets_workbook_and_page(client: TestClient, login: Login, plan_id: int) -> None:
    board = _board(client, login, "admin", plan_id)
    routes = board["routes"]
    assert routes
    r = client.get(f"/api/v1/plans/{plan_id}/sheets.xlsx", headers=login("admin"))
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert len(book.sheetnames) == len(routes) + 1
    overview = book[book.sheetnames[0]]
    assert overview["A3"].value == "线路 route" and overview["A3"].font.bold
    assert [overview.cell(row=4 + i, column=1).value for i in range(len(routes))] == [
        route["route_id"] for route in routes
    ]
    first = routes[0]
    sheet = book[first["route_id"]]
    assert sheet["A3"].value == "序号 seq" and sheet.freeze_panes == "A4"
    # a start row, one row per stop, an end row
    assert sheet.max_row == 3 + 1 + first["stops"] + 1
    assert sheet.cell(row=5, column=3).value == first["timeline"][0]["arrival"][11:16]

    r = client.get(f"/api/v1/plans/{plan_id}/sheets.html", headers=login("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert page.count('<section class="sheet"') == len(routes)
    assert all(f'id="{route["route_id"]}"' in page for route in routes)


def test_the_order_template_reads_back_through_the_upload(client: TestClient, login) -> None:
    r = client.get("/api/v1/orders/template.csv", headers=login("dayao"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert (
        r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["content-disposition"]
    )
    header = r.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("order_id,party,direction,origin,destination")
    up = client.post(
        "/api/v1/orders/upload",
        files={"file": ("template.csv", r.content, "text/csv")},
        headers=login("dayao"),
    )
    assert up.status_code in (200, 201), up.text
    assert client.get("/api/v1/orders/template.csv", headers=login("courier1")).status_code == 403
