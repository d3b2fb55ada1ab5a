"""Sign-in, tokens and accounts."""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
from fastapi.testclient import TestClient

from api.core.config import Settings
from api.core.security import ALGORITHM
from api.models import now


def test_sign_in_and_me(client: TestClient, login) -> None:
    r = client.get("/api/v1/me", headers=login("dayao"))
    assert r.status_code == 200
    assert r.json()["role"] == "dispatcher" and r.json()["county_code"] == "532326"


def test_wrong_password_is_401(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope-nope"})
    assert r.status_code == 401 and r.json() == {"detail": "wrong username or password"}


def test_expired_and_forged_tokens_are_401(client: TestClient, settings: Settings) -> None:
    past = now() - timedelta(hours=2)
    expired = jwt.encode(
        {"sub": "1", "iat": int(past.timestamp()), "exp": int(past.timestamp()) + 60},
        settings.secret_key,
        algorithm=ALGORITHM,
    )
    forged = jwt.encode(
        {"sub": "1", "exp": int((now() + timedelta(hours=1)).timestamp())},
        "not-the-secret-" * 4,
        algorithm=ALGORITHM,
    )
    for token, detail in (
        (expired, "token expired"),
        (forged, "invalid token"),
        ("x.y.z", "invalid token"),
    ):
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.json()["detail"] == detail
    assert client.get("/api/v1/me").status_code == 401


def test_only_admins_manage_accounts(client: TestClient, login, accounts: dict[str, int]) -> None:
    body = {"username": "newcourier", "password": "long enough", "role": "courier"}
    assert client.post("/api/v1/users", json=body, headers=login("dayao")).status_code == 403
    r = client.post("/api/v1/users", json=body, headers=login("admin"))
    assert r.status_code == 201 and r.json()["username"] == "newcourier"
    r = client.post("/api/v1/users", json=body, headers=login("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["username"]
    bad = {**body, "username": "x1", "role": "dispatcher", "county_code": "999999"}
    r = client.post("/api/v1/users", json=bad, headers=login("admin"))
    assert r.status_code == 422
    r = client.get("/api/v1/users?sort=-username&limit=2", headers=login("admin"))
    everyone = len(accounts) + 1  # the fixture's users and the new courier
    assert r.status_code == 200 and r.json()["total"] == everyone and len(r.json()["items"]) == 2
    r = client.get("/api/v1/users?sort=password_hash", headers=login("admin"))
    assert r.status_code == 422


def test_placeholder_secret_refused_in_production(monkeypatch) -> None:
    import pytest

    from api.core.config import PLACEHOLDER_SECRET, SettingsError, load_settings

    monkeypatch.setenv("CODIST_ENV", "production")
    monkeypatch.setenv("CODIST_SECRET_KEY", PLACEHOLDER_SECRET)
    with pytest.raises(SettingsError):
        load_settings()
    monkeypatch.delenv("CODIST_SECRET_KEY")
    with pytest.raises(SettingsError):
        load_settings()
    for weak in ("s" * 40, "ab" * 20, "0123" * 10, "short-but-random-3f9a"):
        monkeypatch.setenv("CODIST_SECRET_KEY", weak)
        with pytest.raises(SettingsError, match="CODIST_SECRET_KEY"):
            load_settings()
    monkeypatch.setenv("CODIST_SECRET_KEY", secrets.token_hex(32))
    assert load_settings().env == "production"
