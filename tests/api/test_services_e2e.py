"""End to end over HTTP against the real PostgreSQL and Redis of this machine.

`codist serve` and `codist worker` run as separate processes, as in production. Needs
PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth) and Redis on 127.0.0.1:6379;
without them the tests are skipped, unless CODIST_REQUIRE_SERVICES=1 (set by .ci/run),
when they fail.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx2")

PG_URL = os.environ.get("CODIST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CODIST_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
CODIST = [sys.executable, "-m", "api.cli"]
PASSWORD = "e2e passphrase 123"
COUNTY = "532327"  # 永仁县: a small county, quick to plan


def _services_up() -> str | None:
    try:
        import psycopg
        from redis import Redis

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            pass
        Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


@pytest.fixture(scope="module")
def services() -> None:
    problem = _services_up()
    if problem:
        if os.environ.get("CODIST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL/Redis needed and not reachable: {problem}")
        pytest.skip(f"PostgreSQL/Redis not reachable: {problem}")


def _schema(name: str, *, drop: bool = False) -> None:
    """Each test gets its own PostgreSQL schema (runs side by side never collide)."""
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        if not drop:
            conn.execute(f"CREATE SCHEMA {name}")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """A database, an API server and workers, each a real process."""

    def __init__(self, home: Path, schema: str) -> None:
        self.home = home
        self.schema = schema
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
            "REDIS_URL": REDIS_URL,
            "CODIST_QUEUE": f"plans-{schema}",
            "CODIST_HOME": str(home),
            "CODIST_PLAN_TIME_LIMIT": "3",
            "CODIST_STALE_AFTER_S": "6",
            "CODIST_PLAN_WORKERS": "1",
            "PYTHONPATH": str(ROOT),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.home / f"{args[0]}-{len(self.procs)}.log").open("wb")
        self.logs.append(log)
        proc = subprocess.Popen(
            [*CODIST, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killable as a whole
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CODIST, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        logs = "\n".join(p.read_text(errors="replace") for p in self.home.glob("*.log"))
        raise AssertionError(f"the API did not come up:\n{logs[-3000:]}")

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL a process and all its descendants (an RQ worker runs each job in a
        forked work horse that leaves the process group): a machine dying, in short."""
        for pid in [*_descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(proc)
        for log in self.logs:
            log.close()


@pytest.fixture
def stack(services: None, tmp_path: Path) -> Iterator[Stack]:
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    _schema(schema)
    s = Stack(tmp_path, schema)
    out = s.run("db", "upgrade")
    assert out.returncode == 0, out.stderr
    s.start("serve", "--dev", "--port", str(s.port), "--log-level", "warning")
    s.wait_healthy()
    try:
        yield s
    finally:
        s.stop()
        _schema(schema, drop=True)


def token(client: httpx.Client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sample_orders(path: Path, county: str, limit: int = 120) -> Path:
    """Orders of the bundled sample day for one county (down parcels and produce up)."""
    src = ROOT / "data" / "sample" / "orders-2026-09-15.csv"
    with src.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    def in_county(row: dict[str, str]) -> bool:
        place = row["destination"] if row["direction"] == "down" else row["origin"]
        return place.startswith(county) or place == f"HUB-{county}"

    picked = [r for r in rows if in_county(r)][:limit]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(picked)
    return path


def wait_plan(client: httpx.Client, headers: dict[str, str], plan_id: int, until: set[str],
              timeout: float = 180) -> dict:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/plans/{plan_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in until or time.monotonic() > deadline:
            return r.json()
        time.sleep(0.5)


def setup_accounts(stack: Stack, client: httpx.Client) -> dict[str, dict[str, str]]:
    out = stack.run(
        "users", "create", "--username", "admin", "--password", PASSWORD, "--role", "admin",
        "--org", "楚雄州物流办",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    admin = token(client, "admin")
    org = client.post(
        "/api/v1/organisations",
        json={"name": "永仁县物流中心", "kind": "county_hub", "county_code": COUNTY},
        headers=admin,
    )
    assert org.status_code == 201, org.text
    for body in (
        {"username": "yongren", "role": "dispatcher", "county_code": COUNTY},
        {"username": "courier", "role": "courier"},
    ):
        r = client.post(
            "/api/v1/users",
            json={**body, "password": PASSWORD, "org_id": org.json()["id"]},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    return {name: token(client, name) for name in ("admin", "yongren", "courier")}


def test_orders_to_plan_to_courier_to_completed(stack: Stack, tmp_path: Path) -> None:
    stack.start("worker")  # a separate RQ worker process runs the plan
    with httpx.Client(base_url=stack.base, timeout=30) as client:
        h = setup_accounts(stack, client)
        orders = sample_orders(tmp_path / "orders.csv", COUNTY)
        with orders.open("rb") as f:
            r = client.post(
                "/api/v1/orders/upload",
                files={"file": ("orders.csv", f, "text/csv")},
                headers=h["yongren"],
            )
        assert r.status_code in (200, 201), r.text
        assert r.json()["imported"] > 50

        r = client.post("/api/v1/plans", json={"plan_date": "2026-09-15"}, headers=h["yongren"])
        assert r.status_code == 202, r.text
        plan_id = r.json()["id"]
        plan = wait_plan(client, h["yongren"], plan_id, {"succeeded", "failed"})
        assert plan["status"] == "succeeded", plan
        assert plan["summary"]["assigned"] > 0 and plan["summary"]["routes"] > 0
        assert plan["attempts"] == 1

        sheets = client.get(f"/api/v1/plans/{plan_id}/sheets", headers=h["admin"]).json()
        # one courier per route: the hub's for county routes, the warehouse's for trunk ones
        office = client.get("/api/v1/me", headers=h["admin"]).json()["org_id"]
        hub = client.get("/api/v1/me", headers=h["courier"]).json()["org_id"]
        drivers: dict[str, tuple[int, dict[str, str]]] = {}
        for k, s in enumerate(sheets):
            body = {
                "username": f"driver{k}",
                "role": "courier",
                "password": PASSWORD,
                "org_id": hub if s["county_code"] else office,
            }
            r = client.post("/api/v1/users", json=body, headers=h["admin"])
            assert r.status_code == 201, r.text
            drivers[s["route_id"]] = (r.json()["id"], token(client, f"driver{k}"))
        r = client.post(
            f"/api/v1/plans/{plan_id}/publish",
            json={"assignments": {rid: d[0] for rid, d in drivers.items()}},
            headers=h["admin"],
        )
        assert r.status_code == 200 and r.json()["status"] == "published", r.text

        sent_twice = False
        for _rid, (_courier, courier) in sorted(drivers.items()):
            mine = client.get("/api/v1/route-sheets", headers=courier).json()
            assert mine["total"] == 1
            item = mine["items"][0]
            sheet = client.get(f"/api/v1/route-sheets/{item['id']}", headers=courier)
            assert sheet.status_code == 200
            for stop in sheet.json()["stops"]:
                events = ["arrived"]
                if any(g["orders"] for g in stop["drop"]):
                    events.append("delivered")
                if any(g["orders"] for g in stop["pickup"]):
                    events.append("picked_up")
                for kind in events:
                    body = {
                        "client_event_id": f"{item['id']}-{stop['seq']}-{kind}",
                        "seq": stop["seq"],
                        "type": kind,
                        "signer_name": "王站长",
                    }
                    url = f"/api/v1/route-sheets/{item['id']}/events"
                    r = client.post(url, json=body, headers=courier)
                    assert r.status_code == 201, r.text
                    if not sent_twice:  # a retry after a lost answer is applied once
                        again = client.post(url, json=body, headers=courier)
                        assert again.status_code == 200, again.text
                        assert again.json()["event"]["id"] == r.json()["event"]["id"]
                        sent_twice = True
        assert sent_twice
        done = client.get(f"/api/v1/plans/{plan_id}", headers=h["yongren"]).json()
        assert done["status"] == "completed"


def test_killed_worker_leaves_the_plan_retried_not_running(stack: Stack, tmp_path: Path) -> None:
    with httpx.Client(base_url=stack.base, timeout=30) as client:
        h = setup_accounts(stack, client)
        orders = sample_orders(tmp_path / "orders.csv", COUNTY, limit=400)
        with orders.open("rb") as f:
            r = client.post(
                "/api/v1/orders/upload",
                files={"file": ("orders.csv", f, "text/csv")},
                headers=h["admin"],
            )
        assert r.status_code in (200, 201), r.text
        r = client.post(
            "/api/v1/plans",
            json={"plan_date": "2026-09-15", "counties": [COUNTY], "time_limit": 15},
            headers=h["admin"],
        )
        assert r.status_code == 202
        plan_id = r.json()["id"]
        # a long time limit keeps the job running while the worker is killed
        worker = stack.start("worker")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = client.get(f"/api/v1/plans/{plan_id}", headers=h["admin"]).json()
            if status["status"] == "running":
                break
            time.sleep(0.2)
        stack.kill(worker)
        # the heartbeat stops; once it is stale the plan is queued again, never left running
        time.sleep(9)
        plan = client.get(f"/api/v1/plans/{plan_id}", headers=h["admin"]).json()
        assert plan["status"] == "queued", plan
        assert "worker stopped" in plan["message"]
        sheets = client.get(f"/api/v1/plans/{plan_id}/sheets", headers=h["admin"]).json()
        assert sheets == []  # nothing half-written
        stack.start("worker")
        plan = wait_plan(client, h["admin"], plan_id, {"succeeded", "failed"})
        assert plan["status"] == "succeeded" and plan["attempts"] == 2, plan
