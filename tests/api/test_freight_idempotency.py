"""Defect 6: a cargo booking's Idempotency-Key under retries, sequential (SQLite) and all at
once (PostgreSQL): the key is recorded first, so every retry replays the first answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from api.core.config import Settings
from api.models import FreightBooking, LedgerEntry

PASSWORD = "correct horse battery"  # the conftest's users
RETRIES = 30
WH = {"place": "WH-CX", "lon": 101.565456, "lat": 25.036751}
DAYAO = {"place": "HUB-532326", "lon": 101.323792, "lat": 25.729307}


def capacity_body(kg: int = 1000) -> dict[str, Any]:
    return {
        "vehicle_type": "4.2 m box truck", "capacity_kg": kg, "capacity_m3": 8,
        "price_per_km_fen": 250,
        "stops": [
            {**WH, "time": "2026-09-15T08:00:00+08:00"},
            {**DAYAO, "time": "2026-09-15T11:00:00+08:00"},
        ],
    }  # fmt: skip


def cargo_body(kg: float = 100) -> dict[str, Any]:
    return {
        "origin": "WH-CX", "origin_lon": WH["lon"], "origin_lat": WH["lat"],
        "destination": "HUB-532326", "destination_lon": DAYAO["lon"],
        "destination_lat": DAYAO["lat"], "weight_kg": kg, "volume_m3": 0.2,
        "pickup_start": "2026-09-15T07:00:00+08:00", "pickup_end": "2026-09-15T12:00:00+08:00",
        "deliver_by": "2026-09-15T20:00:00+08:00", "offered_price_fen": 20000,
    }  # fmt: skip


# ---- sequential retries over HTTP (SQLite) -----------------------------------------------------
def _post_capacity_and_cargo(client: TestClient, firm: dict, shipper: dict) -> tuple[int, int]:
    cap = client.post("/api/v1/capacity", json=capacity_body(), headers=firm)
    cargo = client.post("/api/v1/cargo", json=cargo_body(300), headers=shipper)
    assert cap.status_code == cargo.status_code == 201, (cap.text, cargo.text)
    return cap.json()["id"], cargo.json()["id"]


def test_a_retry_replays_the_first_answer(client: TestClient, login, session: Session) -> None:
    firm, shipper = login("zto"), login("dayao")
    cap_id, cargo_id = _post_capacity_and_cargo(client, firm, shipper)
    url = f"/api/v1/cargo/{cargo_id}/book"
    keyed = {**shipper, "Idempotency-Key": "retry-1"}
    first = client.post(url, json={"capacity_id": cap_id}, headers=keyed)
    assert first.status_code == 201, first.text
    for _ in range(3):
        again = client.post(url, json={"capacity_id": cap_id}, headers=keyed)
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert session.exec(select(func.count()).select_from(FreightBooking)).one() == 1
    assert (
        session.exec(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == "freight_booking")
        ).one()
        == 1
    )
    left = client.get(f"/api/v1/capacity/{cap_id}", headers=firm).json()
    assert left["legs"][0]["remaining_kg"] == 700  # reserved once


def test_the_key_with_another_request_is_refused(client: TestClient, login) -> None:
    firm, shipper = login("zto"), login("dayao")
    cap_id, cargo_id = _post_capacity_and_cargo(client, firm, shipper)
    other_cap = client.post("/api/v1/capacity", json=capacity_body(), headers=firm).json()["id"]
    keyed = {**shipper, "Idempotency-Key": "retry-2"}
    first = client.post(
        f"/api/v1/cargo/{cargo_id}/book", json={"capacity_id": cap_id}, headers=keyed
    )
    assert first.status_code == 201, first.text
    # another body, then another path (another cargo), under the same key
    other_cargo = client.post("/api/v1/cargo", json=cargo_body(100), headers=shipper).json()["id"]
    for url, body in (
        (f"/api/v1/cargo/{cargo_id}/book", {"capacity_id": other_cap}),
        (f"/api/v1/cargo/{other_cargo}/book", {"capacity_id": cap_id}),
    ):
        r = client.post(url, json=body, headers=keyed)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][-1] == "Idempotency-Key", r.json()
    # nothing was booked by the refused requests
    listed = client.get("/api/v1/freight-bookings", headers=shipper).json()
    assert [b["id"] for b in listed["items"]] == [first.json()["id"]]
    assert client.get("/api/v1/cargo?status=open", headers=shipper).json()["total"] == 1


def test_another_users_key_never_replays_someone_elses_answer(client: TestClient, login) -> None:
    firm, shipper = login("zto"), login("dayao")
    cap_id, cargo_id = _post_capacity_and_cargo(client, firm, shipper)
    url = f"/api/v1/cargo/{cargo_id}/book"
    first = client.post(
        url, json={"capacity_id": cap_id}, headers={**shipper, "Idempotency-Key": "shared"}
    )
    assert first.status_code == 201, first.text
    # the admin may book any cargo: with the same key it is a request of their own
    theirs = client.post(
        url, json={"capacity_id": cap_id}, headers={**login("admin"), "Idempotency-Key": "shared"}
    )
    assert theirs.status_code == 409, theirs.text  # the cargo is booked already
    assert "Idempotent-Replayed" not in theirs.headers
    assert isinstance(theirs.json()["detail"], str)  # a sentence, not the shipper's booking


def test_a_failed_attempt_leaves_the_key_free(client: TestClient, login, session: Session) -> None:
    firm, shipper = login("zto"), login("dayao")
    cap_id, _ = _post_capacity_and_cargo(client, firm, shipper)
    big = client.post("/api/v1/cargo", json=cargo_body(1200), headers=shipper).json()["id"]
    keyed = {**shipper, "Idempotency-Key": "retry-3"}
    r = client.post(f"/api/v1/cargo/{big}/book", json={"capacity_id": cap_id}, headers=keyed)
    assert r.status_code == 409, r.text  # 1200 kg do not fit in 1000 kg
    from api.models import IdempotencyRecord

    assert session.exec(select(IdempotencyRecord)).all() == []


# ---- concurrent retries on PostgreSQL -------------------------------------------------------
def _pg_marketplace(engine: Engine) -> tuple[int, int, int]:
    """A carrier's truck, a shipper's cargo and the shipper's user: (capacity, cargo, user)."""
    from api.models import CargoPosting, Organisation, now
    from api.services.freight import create_capacity
    from api.services.users import create_user

    with Session(engine) as s:
        carrier = Organisation(name="firm", kind="carrier", party_id="ZTO", created_at=now())
        shipper = Organisation(name="hub", kind="county_hub", county_code="532326")
        s.add(carrier)
        s.add(shipper)
        s.commit()
        s.refresh(carrier)
        s.refresh(shipper)
        body = capacity_body(1000)
        stops = [{**st, "time": datetime.fromisoformat(st["time"])} for st in body.pop("stops")]
        posting = create_capacity(
            s, org_id=carrier.id, created_by=None, fields={**body, "stops": stops}
        )
        fields: dict[str, Any] = cargo_body(300)
        for name in ("pickup_start", "pickup_end", "deliver_by"):
            fields[name] = datetime.fromisoformat(fields[name])
        cargo = CargoPosting(org_id=shipper.id, created_at=now(), **fields)
        s.add(cargo)
        s.commit()
        user = create_user(
            s, username="shipper", password=PASSWORD, role="dispatcher", org_id=shipper.id,
            county_code="532326",
        )  # fmt: skip
        assert posting.id and cargo.id and user.id
        return posting.id, cargo.id, user.id


def test_thirty_concurrent_retries_book_once_and_all_get_the_first_answer(pg: Engine) -> None:
    from api.services.freight import book_once, travel
    from api.services.idempotency import Answer, request_hash, scope_of

    cap_id, cargo_id, user_id = _pg_marketplace(pg)
    fingerprint = request_hash(
        method="POST", path=f"/api/v1/cargo/{cargo_id}/book",
        body={"capacity_id": cap_id}, caller=scope_of(user_id),
    )  # fmt: skip
    travel()  # load the road network once, before the threads
    answers: list[Answer] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(RETRIES)

    def attempt() -> None:
        with Session(pg) as s:
            barrier.wait()
            try:
                answer = book_once(
                    s, cargo_id=cargo_id, capacity_id=cap_id, key="same-key",
                    user_id=user_id, request_hash=fingerprint,
                )  # fmt: skip
            except BaseException as e:
                errors.append(e)
            else:
                answers.append(answer)

    threads = [threading.Thread(target=attempt) for _ in range(RETRIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [], errors[:3]
    assert len(answers) == RETRIES
    assert {(a.status_code, repr(a.body)) for a in answers} == {(201, repr(answers[0].body))}
    assert sum(not a.replayed for a in answers) == 1
    from api.models import IdempotencyRecord

    with Session(pg) as s:
        assert len(s.exec(select(FreightBooking)).all()) == 1
        assert len(s.exec(select(LedgerEntry)).all()) == 1
        assert len(s.exec(select(IdempotencyRecord)).all()) == 1


# ---- concurrent retries over HTTP, a real server on PostgreSQL ------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings, pg: Engine, pg_url: str) -> Iterator[str]:
    """The app served by uvicorn (its thread pool runs requests truly in parallel)."""
    import uvicorn

    from api.main import create_app

    app = create_app(replace(settings, database_url=pg_url), run_migrations=False)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(30)


def test_thirty_parallel_http_retries_all_answer_201(server: str, pg: Engine) -> None:
    """The users' report: 30 parallel POSTs with one key gave one 201 and 29 x 409."""
    import requests

    from api.services.freight import travel

    cap_id, cargo_id, _ = _pg_marketplace(pg)
    token = requests.post(
        f"{server}/api/v1/auth/token",
        data={"username": "shipper", "password": PASSWORD},
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "http-key"}
    travel()  # the server's process is this one: load the road network once, beforehand
    results: list[tuple[int, Any]] = []
    barrier = threading.Barrier(RETRIES)

    def attempt() -> None:
        barrier.wait()
        r = requests.post(
            f"{server}/api/v1/cargo/{cargo_id}/book",
            json={"capacity_id": cap_id},
            headers=headers,
            timeout=120,
        )
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=attempt) for _ in range(RETRIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert len(results) == RETRIES
    statuses = sorted(code for code, _ in results)
    assert statuses == [201] * RETRIES, statuses
    assert all(body == results[0][1] for _, body in results)
    with Session(pg) as s:
        assert len(s.exec(select(FreightBooking)).all()) == 1
