"""Freight marketplace over HTTP, and no oversold truck under concurrent bookings."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlmodel import Session, select

WH = {"place": "WH-CX", "lon": 101.565456, "lat": 25.036751}
DAYAO = {"place": "HUB-532326", "lon": 101.323792, "lat": 25.729307}


def capacity_body(kg: int = 1000) -> dict:
    return {
        "vehicle_type": "4.2 m box truck",
        "capacity_kg": kg,
        "capacity_m3": 8,
        "price_per_km_fen": 250,
        "stops": [
            {**WH, "time": "2026-09-15T08:00:00+08:00"},
            {**DAYAO, "time": "2026-09-15T11:00:00+08:00"},
        ],
    }


def cargo_body(kg: float = 100, cold: bool = False) -> dict:
    return {
        "origin": "WH-CX",
        "origin_lon": WH["lon"],
        "origin_lat": WH["lat"],
        "destination": "HUB-532326",
        "destination_lon": DAYAO["lon"],
        "destination_lat": DAYAO["lat"],
        "weight_kg": kg,
        "volume_m3": 0.2,
        "temperature": "chilled" if cold else "ambient",
        "pickup_start": "2026-09-15T07:00:00+08:00",
        "pickup_end": "2026-09-15T12:00:00+08:00",
        "deliver_by": "2026-09-15T20:00:00+08:00",
        "offered_price_fen": 20000,
    }


def test_post_match_book(client: TestClient, login) -> None:
    truck_firm = login("zto")
    zto = login("dayao")  # the shipper: 大姚县物流中心 sends produce on 中通's truck
    cap = client.post("/api/v1/capacity", json=capacity_body(), headers=truck_firm)
    assert cap.status_code == 201, cap.text
    assert [leg["remaining_kg"] for leg in cap.json()["legs"]] == [1000]
    cargo = client.post("/api/v1/cargo", json=cargo_body(300), headers=zto)
    assert cargo.status_code == 201, cargo.text
    cold = client.post("/api/v1/cargo", json=cargo_body(10, cold=True), headers=zto).json()
    ranked = client.get(f"/api/v1/cargo/{cargo.json()['id']}/matches", headers=zto).json()
    assert ranked and ranked[0]["capacity_id"] == cap.json()["id"]
    assert ranked[0]["detour_km"] < 5 and ranked[0]["suggested_price_fen"] >= 0
    assert client.get(f"/api/v1/cargo/{cold['id']}/matches", headers=zto).json() == []

    url = f"/api/v1/cargo/{cargo.json()['id']}/book"
    body = {"capacity_id": cap.json()["id"]}
    first = client.post(url, json=body, headers={**zto, "Idempotency-Key": "b-1"})
    assert first.status_code == 201, first.text
    again = client.post(url, json=body, headers={**zto, "Idempotency-Key": "b-1"})
    assert again.status_code == 201, again.text  # the first answer, replayed (defect 6)
    assert again.json() == first.json()
    other = client.post(url, json=body, headers={**zto, "Idempotency-Key": "b-2"})
    assert other.status_code == 409  # the cargo is booked already
    left = client.get(f"/api/v1/capacity/{cap.json()['id']}", headers=truck_firm).json()
    assert left["legs"][0]["remaining_kg"] == 700

    big = client.post("/api/v1/cargo", json=cargo_body(800), headers=zto).json()
    r = client.post(
        f"/api/v1/cargo/{big['id']}/book", json=body, headers={**zto, "Idempotency-Key": "b-3"}
    )
    assert r.status_code == 409  # 800 kg do not fit in the 700 kg left
    assert client.post(url, json=body, headers=zto).status_code == 422  # no key
    # a firm edits only its own postings
    cap_url = f"/api/v1/capacity/{cap.json()['id']}"
    patch = {"price_per_km_fen": 300}
    assert client.patch(cap_url, json=patch, headers=zto).status_code == 404
    assert client.patch(cap_url, json=patch, headers=truck_firm).json()["price_per_km_fen"] == 300
    assert client.post(f"/api/v1/cargo/{big['id']}/cancel", headers=truck_firm).status_code == 404
    assert client.post(f"/api/v1/cargo/{big['id']}/cancel", headers=zto).status_code == 200
    # the settlement record: the shipper pays the truck's firm the booked price, once
    entries = client.get(
        "/api/v1/ledger/entries?kind=freight_booking", headers=login("admin")
    ).json()
    assert entries["total"] == 1
    entry = entries["items"][0]
    assert entry["amount_fen"] == first.json()["price_fen"]
    assert entry["ref_id"] == str(first.json()["id"])
    assert (
        client.post("/api/v1/capacity", json=capacity_body(), headers=login("courier1")).status_code
        == 403
    )


# ---- concurrency on PostgreSQL ------------------------------------------------------------
def test_fifty_bookings_of_the_last_room_one_wins(pg_url: str) -> None:
    from datetime import datetime

    from api.core.db import engine_for, migrate
    from api.errors import Conflict
    from api.models import CapacityLeg, CargoPosting, FreightBooking, Organisation, now
    from api.services.freight import book, create_capacity, travel

    migrate(pg_url)
    engine = engine_for(pg_url)
    with Session(engine) as s:
        org = Organisation(name="firm", kind="carrier", party_id="ZTO", created_at=now())
        s.add(org)
        s.commit()
        s.refresh(org)
        body = capacity_body(1000)
        stops = [{**st, "time": datetime.fromisoformat(st["time"])} for st in body.pop("stops")]
        posting = create_capacity(
            s, org_id=org.id, created_by=None, fields={**body, "stops": stops}
        )
        leg = s.exec(select(CapacityLeg).where(CapacityLeg.posting_id == posting.id)).one()
        leg.remaining_kg = 100  # 900 kg booked already: room for one more 100 kg cargo
        s.add(leg)
        cargo_ids = []
        for _ in range(50):
            fields = cargo_body(100)
            for name in ("pickup_start", "pickup_end", "deliver_by"):
                fields[name] = datetime.fromisoformat(fields[name])
            c = CargoPosting(org_id=org.id, created_at=now(), **fields)
            s.add(c)
            s.flush()
            cargo_ids.append(c.id)
        s.commit()
        posting_id = posting.id
    travel()  # load the road network once, before the threads
    wins: list[int] = []
    losses: list[str] = []
    barrier = threading.Barrier(len(cargo_ids))

    def attempt(cargo_id: int) -> None:
        with Session(engine) as s:
            barrier.wait()
            try:
                book(s, cargo_id=cargo_id, capacity_id=posting_id,
                     idempotency_key=f"k-{cargo_id}", created_by=None)  # fmt: skip
                wins.append(cargo_id)
            except Conflict as e:
                losses.append(str(e))

    threads = [threading.Thread(target=attempt, args=(c,)) for c in cargo_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(wins) == 1, (wins, losses[:3])
    assert len(losses) == 49
    with Session(engine) as s:
        leg = s.exec(select(CapacityLeg).where(CapacityLeg.posting_id == posting_id)).one()
        assert leg.remaining_kg == 0
        assert len(s.exec(select(FreightBooking)).all()) == 1
        booked = s.exec(select(CargoPosting).where(CargoPosting.status == "booked")).all()
        assert [c.id for c in booked] == wins
    engine.dispose()


def test_creating_requests_are_idempotent(client: TestClient, login) -> None:
    """Postings and listings: a retry with the same Idempotency-Key creates nothing new and
    answers as the first attempt did; keys are each user's own."""
    firm = {**login("zto"), "Idempotency-Key": "cap-1"}
    first = client.post("/api/v1/capacity", json=capacity_body(), headers=firm)
    again = client.post("/api/v1/capacity", json=capacity_body(), headers=firm)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/capacity", headers=login("zto")).json()["total"] == 1
    changed = client.post("/api/v1/capacity", json=capacity_body(kg=900), headers=firm)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.text
    other_user = client.post(
        "/api/v1/capacity",
        json=capacity_body(),
        headers={**login("dayao"), "Idempotency-Key": "cap-1"},
    )
    assert other_user.status_code == 201 and other_user.json()["id"] != first.json()["id"]

    shipper = {**login("dayao"), "Idempotency-Key": "cargo-1"}
    a = client.post("/api/v1/cargo", json=cargo_body(), headers=shipper)
    b = client.post("/api/v1/cargo", json=cargo_body(), headers=shipper)
    assert (a.status_code, b.status_code) == (201, 201) and a.json() == b.json()

    listing = {
        "kind": "warehouse", "place_id": "HUB-532326", "name": "冷库 A", "temperature": "chilled",
        "capacity": 100, "price_per_unit_day_fen": 150, "available_from": "2026-09-15",
        "available_to": "2026-09-20",
    }  # fmt: skip
    h = {**login("dayao"), "Idempotency-Key": "listing-1"}
    x = client.post("/api/v1/listings", json=listing, headers=h)
    y = client.post("/api/v1/listings", json=listing, headers=h)
    assert (x.status_code, y.status_code) == (201, 201), (x.text, y.text)
    assert x.json()["id"] == y.json()["id"] and y.headers["Location"] == x.headers["Location"]


def test_postings_do_not_show_idempotency_keys(client: TestClient, login) -> None:
    """Defect 13: listings showed other firms' Idempotency-Keys (a key lets its holder replay
    or block the poster's retries)."""
    client.post("/api/v1/capacity", json=capacity_body(),
                headers={**login("zto"), "Idempotency-Key": "secret-cap"})  # fmt: skip
    client.post("/api/v1/cargo", json=cargo_body(),
                headers={**login("dayao"), "Idempotency-Key": "secret-cargo"})  # fmt: skip
    for who in ("zto", "dayao"):
        for url in ("/api/v1/capacity", "/api/v1/cargo"):
            body = client.get(url, headers=login(who)).json()
            assert body["items"], (who, url)
            assert "secret" not in str(body), (who, url)


# ---- defect 4: a booking reserves only the legs the cargo rides ----------------------------
SHUANGBAI = {"place": "HUB-532322", "lon": 101.638317, "lat": 24.690619}
FABIAO = {"place": "532322103", "lon": 101.847158, "lat": 24.603122}


def _cargo_between(a: dict, b: dict, kg: float) -> dict:
    return {
        **cargo_body(kg),
        "origin": a["place"], "origin_lon": a["lon"], "origin_lat": a["lat"],
        "destination": b["place"], "destination_lon": b["lon"], "destination_lat": b["lat"],
    }  # fmt: skip


def test_booking_reserves_only_the_legs_the_cargo_rides(client: TestClient, login) -> None:
    """Defect 4: on WH-CX -> HUB-532322 -> 532322103 a cargo HUB-532322 -> 532322103 took
    room on leg 0 (WH-CX -> HUB-532322) too, which it never rides, hiding that room from
    the next cargo."""
    firm, shipper = login("zto"), login("dayao")
    body = {
        **capacity_body(1000),
        "stops": [
            {**WH, "time": "2026-09-15T08:00:00+08:00"},
            {**SHUANGBAI, "time": "2026-09-15T09:30:00+08:00"},
            {**FABIAO, "time": "2026-09-15T11:30:00+08:00"},
        ],
    }
    cap = client.post("/api/v1/capacity", json=body, headers=firm).json()
    on_leg_1 = client.post(
        "/api/v1/cargo", json=_cargo_between(SHUANGBAI, FABIAO, 600), headers=shipper
    ).json()
    ranked = client.get(f"/api/v1/cargo/{on_leg_1['id']}/matches", headers=shipper).json()
    assert ranked[0]["capacity_id"] == cap["id"] and ranked[0]["legs"] == [1, 1], ranked
    r = client.post(
        f"/api/v1/cargo/{on_leg_1['id']}/book",
        json={"capacity_id": cap["id"]},
        headers={**shipper, "Idempotency-Key": "legs-1"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["first_leg"], r.json()["last_leg"]) == (1, 1), r.json()
    left = client.get(f"/api/v1/capacity/{cap['id']}", headers=firm).json()["legs"]
    assert [leg["remaining_kg"] for leg in left] == [1000, 400]

    # leg 0's full room is still there for a cargo WH-CX -> HUB-532322
    on_leg_0 = client.post(
        "/api/v1/cargo", json=_cargo_between(WH, SHUANGBAI, 1000), headers=shipper
    ).json()
    r = client.post(
        f"/api/v1/cargo/{on_leg_0['id']}/book",
        json={"capacity_id": cap["id"]},
        headers={**shipper, "Idempotency-Key": "legs-2"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["first_leg"], r.json()["last_leg"]) == (0, 0), r.json()
    left = client.get(f"/api/v1/capacity/{cap['id']}", headers=firm).json()["legs"]
    assert [leg["remaining_kg"] for leg in left] == [0, 400]
