"""Order uploads the database cannot store or the server should not unpack, and vehicle
owners the planner would refuse: 422s naming the field, never a 500 or a long request."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.core.config import Settings
from api.main import create_app
from api.services.users import create_organisation, create_user
from dispatch.io.orders import COLUMNS, MAX_ORDER_ROWS, MAX_XLSX_UNPACKED_BYTES

API = "/api/v1"
PASSWORD = "correct horse battery"
DAYAO_VILLAGE = "532326101001"
GOOD = f"U-1,EMS,down,HUB-532326,{DAYAO_VILLAGE},3.5,0.02,1,ambient,07:00,18:00,false,T1,包裹"
Login = Callable[[str], dict[str, str]]


def csv_file(*lines: str) -> bytes:
    return (",".join(COLUMNS) + "\n" + "".join(line + "\n" for line in lines)).encode("utf-8")


@pytest.fixture
def pg_client(settings: Settings, pg: Engine, pg_url: str) -> Iterator[TestClient]:
    """The API on a fresh PostgreSQL schema, with an admin and the 大姚 dispatcher."""
    with Session(pg) as session:
        office = create_organisation(session, name="楚雄州物流办", kind="prefecture")
        dayao = create_organisation(
            session, name="大姚县物流中心", kind="county_hub", county_code="532326"
        )
        create_user(session, username="admin", password=PASSWORD, role="admin", org_id=office.id)
        create_user(
            session,
            username="dayao",
            password=PASSWORD,
            role="dispatcher",
            org_id=dayao.id,
            county_code="532326",
        )
    with TestClient(create_app(replace(settings, database_url=pg_url))) as c:
        yield c


def _headers(client: TestClient, username: str) -> dict[str, str]:
    r = client.post(f"{API}/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **form: str
) -> Any:
    return client.post(
        f"{API}/orders/upload",
        files={"file": (name, data, "application/octet-stream")},
        data={"plan_date": "2026-09-15", **form},
        headers=headers,
    )


# ---- control characters (PostgreSQL text holds no NUL) ----------------------------------


def test_nul_byte_in_a_cell_is_a_422_on_postgresql(pg_client: TestClient) -> None:
    h = _headers(pg_client, "dayao")
    bad = GOOD.replace("U-1", "U-2").replace("T1", "T2").replace("包裹", "包\x00裹")
    r = _upload(pg_client, h, "orders.csv", csv_file(GOOD, bad))
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert (err["line"], err["column"], err["value"]) == (3, "goods", "包\\x00裹")
    assert err["msg"].startswith("line 3, column goods: ")
    assert "control character" in err["reason"]
    assert pg_client.get(f"{API}/orders", headers=h).json()["total"] == 0

    # skip_bad imports the good row and reports the bad one
    r = _upload(pg_client, h, "orders.csv", csv_file(GOOD, bad), skip_bad="true")
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 1
    assert [(e["line"], e["column"]) for e in r.json()["errors"]] == [(3, "goods")]

    # a NUL in the id that is looked up in the database
    r = _upload(pg_client, h, "orders.csv", csv_file(GOOD.replace("U-1", "U-\x003")))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["column"] == "order_id"


def test_control_character_in_an_xlsx_cell_is_a_422(pg_client: TestClient) -> None:
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(GOOD.replace("U-1", "U-\t1").split(","))  # XML 1.0 holds no NUL
    data = BytesIO()
    book.save(data)
    r = _upload(pg_client, _headers(pg_client, "dayao"), "orders.xlsx", data.getvalue())
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert (err["line"], err["column"], err["value"]) == (2, "order_id", "U-\\t1")


def test_other_control_characters_are_refused(client: TestClient, login: Login) -> None:
    h = login("dayao")
    for cell in ("a\x1bb", "a\x07", "a\x7f"):
        r = _upload(client, h, "orders.csv", csv_file(GOOD.replace("包裹", cell)))
        assert r.status_code == 422, (cell, r.text)
        assert r.json()["detail"][0]["column"] == "goods"
    r = _upload(client, h, "orders.csv", csv_file(GOOD.replace("包裹", '"包\t裹\n两行"')))
    assert r.status_code == 201, r.text
    assert client.get(f"{API}/orders/U-1", headers=h).json()["goods"] == "包\t裹\n两行"


# ---- sizes ----------------------------------------------------------------------------


def _bomb(unpacked: int) -> bytes:
    path_like = __import__("io").BytesIO()
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000
    with zipfile.ZipFile(path_like, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            for _ in range(unpacked // len(row) + 1):
                f.write(row)
    return path_like.getvalue()


def test_xlsx_bomb_is_refused_fast(client: TestClient, login: Login) -> None:
    data = _bomb(MAX_XLSX_UNPACKED_BYTES + 1024)
    assert len(data) < 1024 * 1024
    start = time.perf_counter()
    r = _upload(client, login("dayao"), "orders.xlsx", data)
    assert time.perf_counter() - start < 1.0
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "file"]
    assert f"{MAX_XLSX_UNPACKED_BYTES // 2**20} MB" in err["msg"]


def test_too_many_rows_is_refused(client: TestClient, login: Login, tmp_path: Path) -> None:
    data = csv_file(*[GOOD] * (MAX_ORDER_ROWS + 1))
    r = _upload(client, login("dayao"), "orders.csv", data)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "file"]
    assert f"{MAX_ORDER_ROWS:,}" in err["msg"]


# ---- vehicle owners -----------------------------------------------------------------------


def _vehicle(**changes: Any) -> dict[str, Any]:
    return {
        "id": "HUB-532326-T98",
        "owner": "HUB",
        "depot": "HUB-532326",
        "kind": "van",
        "profile": "van",
        "capacity_kg": 1500,
        "capacity_m3": 9.0,
        **changes,
    }


@pytest.mark.parametrize("owner", ["coop-dayao-walnut", "NOBODY", "hub", "zto"])
def test_vehicle_owner_the_planner_refuses_is_a_422(
    client: TestClient, login: Login, owner: str
) -> None:
    from dispatch.io.fleet import load_parties, owner_problem

    assert owner_problem(owner, load_parties()) is not None  # the planner's own rule
    admin = login("admin")
    r = client.post(f"{API}/vehicles", json=_vehicle(owner=owner), headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "owner"
    assert client.post(f"{API}/vehicles", json=_vehicle(), headers=admin).status_code == 201
    r = client.patch(f"{API}/vehicles/HUB-532326-T98", json={"owner": owner}, headers=admin)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"][-1] == "owner" and owner_problem(owner, load_parties()) == err["msg"]
    assert client.get(f"{API}/vehicles/HUB-532326-T98", headers=admin).json()["owner"] == "HUB"


@pytest.mark.parametrize("owner", ["ZTO", "PLATFORM", " EMS "])
def test_vehicle_owner_the_planner_accepts(client: TestClient, login: Login, owner: str) -> None:
    admin = login("admin")
    assert client.post(f"{API}/vehicles", json=_vehicle(), headers=admin).status_code == 201
    r = client.patch(f"{API}/vehicles/HUB-532326-T98", json={"owner": owner}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == owner.strip()
