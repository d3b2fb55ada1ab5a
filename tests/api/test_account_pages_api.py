"""The account pages without a browser: /console/users and /console/audit for admins only,
an account an admin reset sent to /me from every page, the page's password change
(``POST /me/password``: CSRF, the policy's 422 naming the field, this session kept with a
new cookie, every other session ended) and the TOTP enrolment's QR code (an SVG drawn on
the server from the pending secret)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.core.security import totp_uri
from api.services import qrcode
from api.services.audit import ACTIONS

PASSWORD = "correct horse battery"
NEW = "a pear tree in yao'an 2026"


def _csrf(client: TestClient) -> str:
    r = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert match, r.text
    return match.group(1)


def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the page's form; the answer's redirect target."""
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": _csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _header(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["codist_csrf"]}


def _boot(html: str) -> dict[str, object]:
    match = re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.S)
    assert match
    data: dict[str, object] = json.loads(match.group(1))
    return data


def _browser(client: TestClient) -> TestClient:
    return TestClient(client.app)


def test_accounts_and_audit_pages_are_for_admins_only(client: TestClient) -> None:
    r = client.get("/console/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/console/users"
    _sign_in(client, "admin")
    for page, title in (("users", "账号管理"), ("audit", "审计日志")):
        r = client.get(f"/console/{page}")
        assert r.status_code == 200 and title in r.text
        assert f'<script src="/static/js/{page}.js">' in r.text
        assert 'href="/console/users"' in r.text and 'href="/console/audit"' in r.text
    boot = _boot(client.get("/console/audit").text)
    assert boot["actions"] == list(ACTIONS) and "user" in boot["entities"]  # type: ignore[operator]
    assert _boot(client.get("/console/users").text)["roles"] == [
        "admin",
        "dispatcher",
        "courier",
        "carrier",
    ]
    for username, home in (("dayao", "/console/board"), ("courier1", "/app"), ("zto", "/me")):
        other = _browser(client)
        with other:
            _sign_in(other, username)
            for page in ("users", "audit"):
                r = other.get(f"/console/{page}", follow_redirects=False)
                assert r.status_code == 303 and r.headers["location"] == home, (username, page)
            if username == "dayao":
                board = other.get("/console/board").text
                assert "/console/users" not in board and "/console/audit" not in board


def test_a_reset_account_reaches_only_its_page_until_it_changes_the_password(
    client: TestClient, login: Callable[[str], dict[str, str]], accounts: dict[str, int]
) -> None:
    r = client.post(
        f"/api/v1/users/{accounts['courier1']}/password-reset", json={}, headers=login("admin")
    )
    temporary = r.json()["temporary_password"]
    assert r.status_code == 200 and temporary
    assert _sign_in(client, "courier1", temporary) == "/me"
    for path in ("/app", "/console/board", "/console/users"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/me", path
    page = client.get("/me")
    assert page.status_code == 200 and 'id="must-change"' in page.text
    assert 'id="password"' in page.text
    for hidden in ('id="profile"', 'id="totp-card"', 'id="my-sheets"'):
        assert hidden not in page.text  # nothing else to do yet
    assert _boot(page.text)["must_change_password"] is True
    assert client.get("/api/v1/route-sheets").status_code == 403

    old_cookie = client.cookies["codist_session"]
    body = {"current_password": temporary, "new_password": NEW}
    r = client.post("/me/password", json=body)  # no CSRF header
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = client.post(
        "/me/password", json={**body, "new_password": "password123"}, headers=_header(client)
    )
    assert r.status_code == 422
    assert [e["loc"][-1] for e in r.json()["detail"]] == ["new_password"]
    r = client.post("/me/password", json={**body, "new_password": "short"}, headers=_header(client))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "new_password"]
    r = client.post(
        "/me/password", json={**body, "current_password": "not it at all"}, headers=_header(client)
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["current_password"]

    r = client.post("/me/password", json=body, headers=_header(client))
    assert r.status_code == 200, r.text
    assert r.json() == {"home": "/app", "must_change_password": False}
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("codist_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.cookies["codist_session"] != old_cookie
    assert client.get("/app", follow_redirects=False).status_code == 200
    assert client.get("/api/v1/route-sheets").status_code == 200
    me = client.get("/api/v1/me").json()
    assert me["must_change_password"] is False
    stale = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old_cookie}"})
    assert stale.status_code == 401
    log = client.get(
        f"/api/v1/audit?entity=user&entity_id={accounts['courier1']}", headers=login("admin")
    ).json()
    assert [e["action"] for e in log["items"]][:2] == [
        "user.password_change",
        "user.password_reset",
    ]


def test_changing_the_password_keeps_this_session_and_ends_the_others(client: TestClient) -> None:
    _sign_in(client, "dayao")
    other = _browser(client)
    with other:
        _sign_in(other, "dayao")
        assert other.get("/api/v1/me").status_code == 200
        r = client.post(
            "/me/password",
            json={"current_password": PASSWORD, "new_password": NEW},
            headers=_header(client),
        )
        assert r.status_code == 200 and r.json()["home"] == "/console/board"
        assert client.get("/api/v1/me").status_code == 200
        assert client.get("/console/board").status_code == 200
        assert other.get("/api/v1/me").status_code == 401
        r = other.get("/console/board", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    signed_out = _browser(client)
    with signed_out:
        _csrf(signed_out)
        r = signed_out.post(
            "/me/password",
            json={"current_password": NEW, "new_password": NEW + "!"},
            headers=_header(signed_out),
        )
        assert r.status_code == 401


@pytest.mark.parametrize("username", ["admin", "courier1"])
def test_the_totp_qr_code_is_an_svg_of_the_pending_secret(
    client: TestClient, username: str
) -> None:
    assert client.get("/me/totp.svg").status_code == 401
    _sign_in(client, username)
    assert client.get("/me/totp.svg").status_code == 404  # nothing being set up
    r = client.post("/api/v1/me/totp", headers=_header(client))
    assert r.status_code == 200
    secret = r.json()["secret"]
    r = client.get("/me/totp.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert r.text == qrcode.svg(totp_uri(secret, username), title=username)
    assert r.text.startswith("<svg") and secret not in r.text  # drawn, not written
    code = pyotp.TOTP(secret).at(time.time())
    r = client.post("/api/v1/me/totp/confirm", json={"code": code}, headers=_header(client))
    assert r.status_code == 200 and r.json()["totp_enabled"] is True
    assert client.get("/me/totp.svg").status_code == 404  # on: the secret is not shown again


def test_the_qr_helper_draws_a_standalone_svg() -> None:
    svg = qrcode.svg("otpauth://totp/x:bob?secret=JBSWY3DPEHPK3PXP", title="a<b")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>a&lt;b</title>" in svg and svg.endswith("</svg>")
    assert qrcode.svg("a") != qrcode.svg("b")


def test_the_me_page_of_each_role(client: TestClient) -> None:
    for username, present, absent in (
        ("admin", ('id="totp-admin"', 'id="profile"', 'id="totp-card"'), ('id="my-sheets"',)),
        ("courier1", ('id="my-sheets"', 'href="/app"', 'id="totp-card"'), ('id="totp-admin"',)),
        ("zto", ("承运企业的交易页面", 'id="profile"'), ('id="my-sheets"', 'id="must-change"')),
    ):
        browser = _browser(client)
        with browser:
            _sign_in(browser, username)
            r = browser.get("/me")
            assert r.status_code == 200
            for text in present:
                assert text in r.text, (username, text)
            for text in absent:
                assert text not in r.text, (username, text)
            assert _boot(r.text)["must_change_password"] is False
