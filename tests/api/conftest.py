"""API test fixtures: a fresh SQLite database per test, users of every role, tokens; and
for the races that only a real server shows, a fresh PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.core.config import Settings, load_settings
from api.core.db import engine_for, migrate
from api.main import create_app
from api.services.users import create_organisation, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("REDIS_URL", "DATABASE_URL", "CODIST_ENV", "CODIST_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    base = load_settings()
    return replace(
        base,
        home=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'var' / 'codist.db'}",
        plan_time_limit=2.0,
        plan_workers=1,
    )


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    migrate(settings.database_url)
    with Session(engine_for(settings.database_url)) as s:
        yield s


@pytest.fixture
def accounts(session: Session) -> dict[str, int]:
    """Users of every role: admin, two county dispatchers, couriers of 大姚 (two), of 永仁
    and of the prefecture's warehouse (trunk routes), a carrier."""
    office = create_organisation(session, name="楚雄州物流办", kind="prefecture")
    dayao = create_organisation(
        session, name="大姚县物流中心", kind="county_hub", county_code="532326"
    )
    yongren = create_organisation(
        session, name="永仁县物流中心", kind="county_hub", county_code="532327"
    )
    zto = create_organisation(session, name="中通快递", kind="carrier", party_id="ZTO")
    ids = {}
    for username, role, org, county in (
        ("admin", "admin", office.id, None),
        ("dayao", "dispatcher", dayao.id, "532326"),
        ("yongren", "dispatcher", yongren.id, "532327"),
        ("courier1", "courier", dayao.id, None),
        ("courier2", "courier", dayao.id, None),
        ("zto", "carrier", zto.id, None),
        ("courier3", "courier", yongren.id, None),  # 永仁's hub
        ("driver", "courier", office.id, None),  # trunk routes from the warehouse
    ):
        user = create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            org_id=org,
            county_code=county,
        )
        assert user.id is not None
        ids[username] = user.id
    return ids


@pytest.fixture
def client(settings: Settings, accounts: dict[str, int]) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(client: TestClient) -> Callable[[str], dict[str, str]]:
    """Headers with a bearer token for a user of the `accounts` fixture."""
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[username]

    return headers


# ---- PostgreSQL ------------------------------------------------------------------------------
PG_URL = os.environ.get("CODIST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True, connect_timeout=3) as c:
        c.execute(sql)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema of this test's own (dropped after).
    Skips where PostgreSQL is not reachable, and fails then under
    ``CODIST_REQUIRE_SERVICES=1`` (CI)."""
    try:
        _pg_admin("SELECT 1")
    except Exception as e:
        if os.environ.get("CODIST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL needed and not reachable: {e}")
        pytest.skip(f"PostgreSQL not reachable: {e}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        _pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL schema of this test's own."""
    from api.core.db import make_engine

    migrate(pg_url)
    engine_for(pg_url).dispose()  # the migration's engine: no idle connections left
    engine = make_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()
        engine_for(pg_url).dispose()
