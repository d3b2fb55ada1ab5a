"""Accounts that resist attack: sign-in throttling and lockout (counted attempts, never the
clock), the same hashing work for unknown users, the password policy, tokens revoked by a
password change, a reset, a deactivation or a role change, user management, and the
optional TOTP second factor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

import api.core.security as security
from api.core.config import Settings
from api.main import create_app
from api.services.passwords import problem

API = "/api/v1"
PASSWORD = "correct horse battery"  # the conftest's users


def _sign_in(client: TestClient, username: str, password: str, **extra: str) -> Any:
    return client.post(
        f"{API}/auth/token", data={"username": username, "password": password, **extra}
    )


def _bearer(r: Any) -> dict[str, str]:
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def strict(settings: Settings, accounts: dict[str, int]) -> Iterator[TestClient]:
    """A service whose long windows are short to reach: 3 failures lock an account, 6
    from one address lock the address."""
    app = create_app(replace(settings, login_account_failures=3, login_address_failures=6))
    with TestClient(app) as c:
        yield c


# ---- throttling and lockout ------------------------------------------------------------
def test_three_failures_make_the_account_wait_even_with_the_right_password(
    client: TestClient,
) -> None:
    for _ in range(3):
        assert _sign_in(client, "dayao", "wrong password!").status_code == 401
    r = _sign_in(client, "dayao", PASSWORD)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "try again in" in r.json()["detail"]
    # another account from the same address is not held up by dayao's failures
    assert _sign_in(client, "yongren", PASSWORD).status_code == 200


def test_lockout_holds_until_an_admin_lifts_it_and_is_audited(
    strict: TestClient, accounts: dict[str, int]
) -> None:
    admin = _bearer(_sign_in(strict, "admin", PASSWORD))
    for _ in range(3):
        assert _sign_in(strict, "courier1", "not the password").status_code == 401
    r = _sign_in(strict, "courier1", PASSWORD)
    assert r.status_code == 429 and "administrator" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 60  # the long window, not the minute's
    user = strict.get(f"{API}/users/{accounts['courier1']}", headers=admin).json()
    assert user["locked_for_s"] > 60
    # refused attempts cost no hashing and add nothing: still locked after more tries
    for _ in range(5):
        assert _sign_in(strict, "courier1", PASSWORD).status_code == 429
    # only admins lift it
    courier2 = _bearer(_sign_in(strict, "courier2", PASSWORD))
    r = strict.post(f"{API}/users/{accounts['courier1']}/unlock", headers=courier2)
    assert r.status_code == 403
    r = strict.post(f"{API}/users/{accounts['courier1']}/unlock", headers=admin)
    assert r.status_code == 200 and r.json()["locked_for_s"] is None
    assert _sign_in(strict, "courier1", PASSWORD).status_code == 200
    rows = strict.get(
        f"{API}/audit", params={"entity": "user", "entity_id": accounts["courier1"]}, headers=admin
    ).json()["items"]
    assert [r["action"] for r in rows][:2] == ["user.unlock", "user.lockout"]
    assert rows[1]["actor"] == "" and rows[1]["after"]["locked_for_s"] > 60


def test_one_address_guessing_many_usernames_is_stopped(strict: TestClient) -> None:
    for n in range(6):
        assert _sign_in(strict, f"nobody{n}", "some password").status_code == 401
    r = _sign_in(strict, "admin", PASSWORD)  # an account without failures, same address
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_a_success_clears_the_account_failures(client: TestClient) -> None:
    for _ in range(2):
        assert _sign_in(client, "dayao", "wrong password!").status_code == 401
    assert _sign_in(client, "dayao", PASSWORD).status_code == 200
    for _ in range(2):  # the count starts again: two more failures do not lock
        assert _sign_in(client, "dayao", "wrong password!").status_code == 401
    assert _sign_in(client, "dayao", PASSWORD).status_code == 200


def test_the_web_sign_in_follows_the_same_rules(client: TestClient) -> None:
    page = client.get("/login")
    csrf = page.cookies.get("codist_csrf") or client.cookies.get("codist_csrf")
    assert csrf
    for _ in range(3):
        r = client.post(
            "/login", data={"username": "dayao", "password": "nope nope nope", "csrf": csrf}
        )
        assert r.status_code == 401
    r = client.post(
        "/login",
        data={"username": "dayao", "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert _sign_in(client, "dayao", PASSWORD).status_code == 429  # one count for both


# ---- unknown usernames cost the same -------------------------------------------------
def test_unknown_and_disabled_users_cost_the_same_hashing_work(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    login: Callable[[str], dict[str, str]],
    accounts: dict[str, int],
) -> None:
    calls: list[str] = []
    real = security._hasher

    class Counting:
        def verify(self, hashed: str, password: str) -> bool:
            calls.append(hashed.split("$")[1])  # the algorithm, "argon2id"
            return real.verify(hashed, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    admin = login("admin")
    client.post(f"{API}/users/{accounts['courier2']}/deactivate", headers=admin)
    monkeypatch.setattr(security, "_hasher", Counting())
    answers = {}
    for username in ("dayao", "no-such-user", "courier2"):
        calls.clear()
        r = _sign_in(client, username, "a wrong password")
        answers[username] = (r.status_code, r.json())
        assert calls == ["argon2id"], username  # one argon2id verification each
    assert len({str(a) for a in answers.values()}) == 1  # and the same answer


# ---- password policy -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "at least 10"),
        ("password", "at least 10"),
        ("        ", "at least 10"),
        (" " * 12, "spaces"),
        ("aaaaaaaaaaaa", "repeat"),
        ("1234567890", "sequence"),
        ("qwertyuiop", "sequence"),
        ("woaini1314", "common"),
        ("5201314520", "common"),
        ("password123", "common"),
        ("Chuxiong2026", "common"),
        ("newcourier-2026", "username"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(
    client: TestClient, login: Callable[[str], dict[str, str]], password: str, why: str
) -> None:
    assert problem(password, username="newcourier") is not None
    body = {"username": "newcourier", "password": password, "role": "courier"}
    r = client.post(f"{API}/users", json=body, headers=login("admin"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == "password"
    assert why in detail["msg"]


def test_good_passwords_pass_chinese_ones_too() -> None:
    for ok in ("correct horse battery", "楚雄的核桃和野生菌很好吃", "Mule-track to 昙华 2026"):
        assert problem(ok, username="someone") is None, ok


# ---- tokens revoked ----------------------------------------------------------------------
def test_a_password_change_revokes_older_tokens(client: TestClient) -> None:
    old = _bearer(_sign_in(client, "courier1", PASSWORD))
    other_device = _bearer(_sign_in(client, "courier1", PASSWORD))
    r = client.post(
        f"{API}/me/password",
        json={"current_password": "not it at all", "new_password": "a new long passphrase"},
        headers=old,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "current_password"
    r = client.post(
        f"{API}/me/password",
        json={"current_password": PASSWORD, "new_password": "woaini1314"},
        headers=old,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "new_password"
    r = client.post(
        f"{API}/me/password",
        json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
        headers=old,
    )
    fresh = _bearer(r)
    for token in (old, other_device):
        r = client.get(f"{API}/me", headers=token)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert client.get(f"{API}/me", headers=fresh).status_code == 200
    assert _sign_in(client, "courier1", PASSWORD).status_code == 401
    assert _sign_in(client, "courier1", "a new long passphrase").status_code == 200
    assert client.get(f"{API}/me", headers=fresh).json()["password_changed_at"].endswith("+08:00")


def test_an_admin_reset_forces_a_new_password_first(
    client: TestClient, login: Callable[[str], dict[str, str]], accounts: dict[str, int]
) -> None:
    before = _bearer(_sign_in(client, "courier2", PASSWORD))
    r = client.post(
        f"{API}/users/{accounts['courier2']}/password-reset", json={}, headers=login("admin")
    )
    assert r.status_code == 200, r.text
    temporary = r.json()["temporary_password"]
    assert temporary and problem(temporary, username="courier2") is None
    assert client.get(f"{API}/me", headers=before).status_code == 401
    r = _sign_in(client, "courier2", temporary)
    assert r.json()["must_change_password"] is True
    token = _bearer(r)
    r = client.get(f"{API}/route-sheets", headers=token)
    assert r.status_code == 403 and "/me/password" in r.json()["detail"]
    assert client.get(f"{API}/me", headers=token).json()["must_change_password"] is True
    r = client.post(
        f"{API}/me/password",
        json={"current_password": temporary, "new_password": "my own passphrase 7"},
        headers=token,
    )
    token = _bearer(r)
    assert r.json()["must_change_password"] is False
    assert client.get(f"{API}/route-sheets", headers=token).status_code == 200


def test_deactivation_revokes_at_once_and_reactivation_needs_a_new_sign_in(
    client: TestClient, login: Callable[[str], dict[str, str]], accounts: dict[str, int]
) -> None:
    admin = login("admin")
    token = _bearer(_sign_in(client, "courier3", PASSWORD))
    r = client.post(f"{API}/users/{accounts['courier3']}/deactivate", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get(f"{API}/me", headers=token).status_code == 401
    assert _sign_in(client, "courier3", PASSWORD).status_code == 401
    r = client.post(f"{API}/users/{accounts['courier3']}/reactivate", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is True
    assert client.get(f"{API}/me", headers=token).status_code == 401  # still revoked
    assert _sign_in(client, "courier3", PASSWORD).status_code == 200
    # no admin locks themselves out, and the last admin stays
    r = client.post(f"{API}/users/{accounts['admin']}/deactivate", headers=admin)
    assert r.status_code == 422
    r = client.patch(f"{API}/users/{accounts['admin']}", json={"role": "courier"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "role"


def test_a_role_change_revokes_tokens_and_profiles_are_checked(
    client: TestClient, login: Callable[[str], dict[str, str]], accounts: dict[str, int]
) -> None:
    admin = login("admin")
    token = _bearer(_sign_in(client, "yongren", PASSWORD))
    r = client.patch(
        f"{API}/users/{accounts['yongren']}",
        json={"display_name": "永仁调度 李", "phone": "13812345678"},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["display_name"] == "永仁调度 李"
    assert client.get(f"{API}/me", headers=token).status_code == 200  # no role change
    r = client.patch(f"{API}/users/{accounts['yongren']}", json={"phone": "12345"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "phone"
    r = client.patch(f"{API}/users/{accounts['yongren']}", json={"role": "courier"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "courier"
    assert r.json()["county_code"] is None
    assert client.get(f"{API}/me", headers=token).status_code == 401
    r = client.patch(f"{API}/me", json={"display_name": "李"}, headers=login("dayao"))
    assert r.status_code == 200 and r.json()["display_name"] == "李"
    r = client.patch(f"{API}/me", json={"role": "admin"}, headers=login("dayao"))
    assert r.status_code == 422  # one's own role is not one's to change
    rows = client.get(
        f"{API}/audit",
        params={"action": "user.update", "entity_id": accounts["yongren"]},
        headers=admin,
    ).json()["items"]
    assert rows[0]["before"] == {"role": "dispatcher", "county_code": "532327"}
    assert rows[0]["after"] == {"role": "courier", "county_code": None}
    assert rows[1]["after"] == {"display_name": "永仁调度 李", "phone": "13812345678"}


# ---- TOTP ------------------------------------------------------------------------------
def test_totp_second_factor_for_an_admin(
    client: TestClient, login: Callable[[str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = login("admin")
    r = client.post(f"{API}/me/totp", headers=admin)
    assert r.status_code == 200 and r.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(r.json()["secret"])
    r = client.post(f"{API}/me/totp/confirm", json={"code": "000000"}, headers=admin)
    assert r.status_code == 422 or totp.now() == "000000"
    clock = [1_800_000_000.0]
    monkeypatch.setattr(security, "time", SimpleNamespace(time=lambda: clock[0]))
    r = client.post(f"{API}/me/totp/confirm", json={"code": totp.at(clock[0])}, headers=admin)
    assert r.status_code == 200 and r.json()["totp_enabled"] is True
    r = _sign_in(client, "admin", PASSWORD)
    assert r.status_code == 401 and "one-time code" in r.json()["detail"]
    clock[0] += 30
    code = totp.at(clock[0])
    assert (
        _sign_in(
            client, "admin", PASSWORD, totp="123 456" if code != "123456" else "654321"
        ).status_code
        == 401
    )
    assert _sign_in(client, "admin", "bad password!", totp=code).status_code == 401
    assert _sign_in(client, "admin", PASSWORD, totp=code).status_code == 200
    r = _sign_in(client, "admin", PASSWORD, totp=code)  # the same code again: refused
    assert r.status_code == 401 and "already used" in r.json()["detail"]
    clock[0] += 30
    r = client.post(f"{API}/me/totp/disable", json={"code": totp.at(clock[0])}, headers=admin)
    assert r.status_code == 200 and r.json()["totp_enabled"] is False
    assert _sign_in(client, "admin", PASSWORD).status_code == 200


# ---- the counters' storage -------------------------------------------------------------
def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=0.5).ping())
    except Exception:
        return False


def test_workers_share_the_counts_through_redis(settings: Settings) -> None:
    import os
    import uuid

    from api.services.throttle import Throttle

    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 is not answering")
        pytest.skip("Redis at 127.0.0.1:6379 is not answering")
    shared = replace(settings, redis_url="redis://127.0.0.1:6379/0")
    prefix = f"codist-login-test-{uuid.uuid4().hex}"
    one, two = Throttle(shared, prefix=prefix), Throttle(shared, prefix=prefix)
    for worker in (one, two, one):
        assert worker.check("dayao", "10.0.0.7") is None
        worker.failed("dayao", "10.0.0.7")
    blocked = two.check("dayao", "10.0.0.7")  # the third failure came through the other
    assert blocked is not None and blocked.scope == "account"
    one.clear("dayao")
    assert two.check("dayao", "10.0.0.7") is None


def test_counts_fall_back_to_memory_when_redis_is_down(settings: Settings) -> None:
    import socket

    from api.services.throttle import Throttle

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    throttle = Throttle(replace(settings, redis_url=f"redis://127.0.0.1:{port}/0"))
    for _ in range(3):
        assert throttle.check("dayao", "10.0.0.8") is None
        throttle.failed("dayao", "10.0.0.8")
    assert throttle.check("dayao", "10.0.0.8") is not None  # still counted, in memory
