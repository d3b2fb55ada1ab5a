"""The web pages without a browser: sign-in with the session cookie, CSRF, role-aware
redirects, the security headers, languages, and the couriers list the board uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.web.pages import CONSOLE_PAGES

PASSWORD = "correct horse battery"
STRINGS = Path(__file__).resolve().parents[2] / "api" / "web" / "strings"


def _csrf(client: TestClient) -> str:
    r = client.get("/login")
    assert r.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert match, r.text
    return match.group(1)


def _sign_in(client: TestClient, username: str, next_path: str = "") -> object:
    token = _csrf(client)
    return client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": token, "next": next_path},
        follow_redirects=False,
    )


def test_sign_in_sets_an_httponly_cookie_and_sends_each_role_home(client: TestClient) -> None:
    r = _sign_in(client, "dayao")
    assert r.status_code == 303 and r.headers["location"] == "/console/board"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("codist_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = client.get("/api/v1/me")  # the cookie signs the JSON API in too
    assert me.status_code == 200 and me.json()["username"] == "dayao"
    page = client.get("/console/board")
    assert page.status_code == 200
    assert "计划看板" in page.text and "监控中心" in page.text

    courier = TestClient(client.app)
    with courier:
        r = _sign_in(courier, "courier1")
        assert r.headers["location"] == "/app"
        r = courier.get("/console/board", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/app"


def test_wrong_password_and_expired_form_are_refused_with_a_message(client: TestClient) -> None:
    token = _csrf(client)
    r = client.post("/login", data={"username": "admin", "password": "nope", "csrf": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert "codist_session" not in client.cookies
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 401 and "页面已过期" in r.text


def test_cookie_changes_need_the_csrf_header(client: TestClient) -> None:
    _sign_in(client, "admin")
    body = {"plan_date": "2026-09-16", "counties": ["532327"]}
    r = client.post("/api/v1/plans", json=body)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = client.post("/api/v1/plans", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    token = client.cookies["codist_csrf"]
    r = client.get("/api/v1/couriers", headers={"X-CSRF-Token": token})
    assert r.status_code == 200  # reads need no token


def test_pages_redirect_to_sign_in_and_refuse_outside_redirects(client: TestClient) -> None:
    r = client.get("/console/monitor?plan_id=3", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/console/monitor%3Fplan_id%3D3"
    r = _sign_in(client, "admin", next_path="//evil.example/x")
    assert r.headers["location"] == "/console/board"
    r = client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"
    assert client.get("/console/nothing").status_code == 404


def test_pages_forbid_outside_hosts_and_switch_language(client: TestClient) -> None:
    _sign_in(client, "admin")
    for name, _roles in CONSOLE_PAGES:
        r = client.get(f"/console/{name}")
        assert r.status_code == 200, name
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "http://" not in r.text.replace("http://www.w3.org", "")
        assert "https://" not in r.text
        assert '<html lang="zh-CN">' in r.text
    client.get("/lang/en")
    r = client.get("/console/board")
    assert '<html lang="en">' in r.text and "Plan board" in r.text


@pytest.mark.parametrize("path", sorted(STRINGS.glob("*.json")), ids=lambda p: p.stem)
def test_every_word_is_in_chinese_and_english(path: Path) -> None:
    table = json.loads(path.read_text("utf-8"))
    assert set(table) == {"zh", "en"}
    assert set(table["zh"]) == set(table["en"]), set(table["zh"]) ^ set(table["en"])
    for lang in ("zh", "en"):
        for key, text in table[lang].items():
            assert text.strip(), f"{path.name}: {lang}.{key} is empty"


def test_couriers_a_dispatcher_may_choose(client: TestClient, login) -> None:
    mine = client.get("/api/v1/couriers", headers=login("dayao")).json()
    assert [c["username"] for c in mine] == ["courier1", "courier2"]
    assert {c["county_code"] for c in mine} == {"532326"}
    every = client.get("/api/v1/couriers", headers=login("admin")).json()
    assert {c["username"] for c in every} == {"courier1", "courier2", "courier3", "driver"}
    county = client.get("/api/v1/couriers?county=532327", headers=login("admin")).json()
    assert {c["username"] for c in county} == {"courier3", "driver"}
    assert client.get("/api/v1/couriers", headers=login("courier1")).status_code == 403


def test_the_base_map_is_bundled_geojson(client: TestClient, login) -> None:
    r = client.get("/api/v1/basemap", headers=login("dayao"))
    assert r.status_code == 200
    layers = {f["properties"]["layer"] for f in r.json()["features"]}
    assert layers == {"county", "road", "place"}
    assert client.get("/api/v1/basemap").status_code == 401
