"""Liveness and readiness: /livez answers while the process serves; /readyz names each
dependency, each checked within a short timeout, and answers 503 with Retry-After when one
is not ready (never a bare 500, never a minute's wait)."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

from fastapi.testclient import TestClient

from api.core.config import Settings
from api.main import create_app
from api.services.health import CHECK_TIMEOUT_S, readiness


def _closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_and_ready_on_sqlite(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ok" and doc["jobs"] == "in-process"
    assert doc["checks"]["database"]["status"] == "ok" and "redis" not in doc["checks"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_an_unreachable_redis_is_a_named_503_soon(
    settings: Settings, accounts: dict[str, int]
) -> None:
    broken = replace(settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    with TestClient(create_app(broken, run_migrations=False)) as c:
        started = time.monotonic()
        r = c.get("/readyz")
        assert time.monotonic() - started < CHECK_TIMEOUT_S + 2
    assert r.status_code == 503 and r.headers["Retry-After"].isdigit()
    doc = r.json()
    assert doc["status"] == "unavailable"
    assert doc["checks"]["database"]["status"] == "ok"
    assert doc["checks"]["redis"]["status"] != "ok" and "Error" in doc["checks"]["redis"]["status"]
    assert c.get("/livez").status_code == 200


def test_an_unreachable_database_is_named(settings: Settings) -> None:
    ready, doc = readiness(
        replace(settings, database_url=f"postgresql+psycopg://x@127.0.0.1:{_closed_port()}/x")
    )
    assert not ready and doc["checks"]["database"]["status"] != "ok"
