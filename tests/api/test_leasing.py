"""Leasing warehouse space and equipment: listings, the day calendar, bookings.

The HTTP tests run on the per-test SQLite database of conftest.py. The concurrency tests
run on this machine's PostgreSQL (a private schema per test): many threads, each with its
own connection, book the last free room of a day at once and the database lets exactly
one through. Without PostgreSQL they are skipped, unless CODIST_REQUIRE_SERVICES=1, when
they fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.errors import Conflict
from api.models import LeaseBooking, ListingDay, Organisation
from api.services import leasing
from api.services.users import create_organisation

Login = Callable[[str], dict[str, str]]
URL = "/api/v1"
D0 = date(2026, 10, 1)


def day(n: int) -> str:
    return (D0 + timedelta(days=n)).isoformat()


COLD_ROOM: dict[str, Any] = {
    "kind": "warehouse",
    "place_id": "HUB-532326",
    "name": "大姚县物流中心 冷库 A",
    "temperature": "chilled",
    "capacity": 100,
    "price_per_unit_day_fen": 150,
    "available_from": day(0),
    "available_to": day(9),
}
FORKLIFTS: dict[str, Any] = {
    "kind": "equipment",
    "place_id": "HUB-532326",
    "name": "电动叉车 1.5 t",
    "equipment_type": "forklift",
    "capacity": 3,
    "price_per_unit_day_fen": 8000,
    "available_from": day(0),
    "available_to": day(29),
}


def org_id(session: Session, name: str) -> int:
    org = session.exec(select(Organisation).where(Organisation.name == name)).one()
    assert org.id is not None
    return org.id


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def new_listing(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    r = client.post(f"{URL}/listings", json={**COLD_ROOM, **changes}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def calendar(client: TestClient, headers: dict[str, str], listing_id: int) -> dict[str, int]:
    r = client.get(f"{URL}/listings/{listing_id}/availability", headers=headers)
    assert r.status_code == 200, r.text
    return {d["day"]: d["booked"] for d in r.json()["days"]}


def book(
    client: TestClient,
    headers: dict[str, str],
    listing_id: int,
    first: int,
    last: int,
    quantity: int,
    idem: dict[str, str] | None = None,
) -> Any:
    body = {"start_day": day(first), "end_day": day(last), "quantity": quantity}
    return client.post(
        f"{URL}/listings/{listing_id}/bookings",
        json=body,
        headers={**headers, **(idem or key())},
    )


# ---- listings ---------------------------------------------------------------------------
def test_a_listing_creates_one_day_per_available_day(
    client: TestClient, login: Login, session: Session
) -> None:
    listing = new_listing(client, login("dayao"))
    assert listing["unit"] == "m2" and listing["status"] == "active"
    assert listing["county_code"] == "532326" and listing["org_name"] == "大姚县物流中心"
    assert client.get(f"{URL}/listings/{listing['id']}", headers=login("zto")).json() == listing

    r = client.get(f"{URL}/listings/{listing['id']}/availability", headers=login("zto"))
    assert r.status_code == 200, r.text
    days = r.json()["days"]
    assert [d["day"] for d in days] == [day(i) for i in range(10)]
    assert all(d == {**d, "capacity": 100, "booked": 0, "free": 100} for d in days)
    stored = session.exec(select(func.count()).where(ListingDay.listing_id == listing["id"])).one()
    assert stored == 10

    part = client.get(
        f"{URL}/listings/{listing['id']}/availability",
        params={"start": day(8), "end": day(20)},
        headers=login("zto"),
    )
    assert [d["day"] for d in part.json()["days"]] == [day(8), day(9)]

    # a carrier lists its own equipment, counted in units
    forklifts = new_listing(client, login("zto"), **{**FORKLIFTS, "temperature": None})
    assert forklifts["unit"] == "unit" and forklifts["equipment_type"] == "forklift"
    assert forklifts["org_name"] == "中通快递"


def test_listing_filters(client: TestClient, login: Login, session: Session) -> None:
    cold = new_listing(client, login("dayao"))
    office = org_id(session, "楚雄州物流办")
    frozen = new_listing(client, login("admin"), temperature="frozen", place_id="WH-CX",
                         org_id=office)  # fmt: skip
    forklifts = new_listing(client, login("zto"), **FORKLIFTS)
    h = login("yongren")

    def ids(**params: Any) -> list[int]:
        r = client.get(f"{URL}/listings", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids() == [cold["id"], frozen["id"], forklifts["id"]]
    assert ids(kind="equipment") == [forklifts["id"]]
    assert ids(equipment_type="forklift") == [forklifts["id"]]
    assert ids(temperature="frozen") == [frozen["id"]]
    assert ids(county="532326") == [cold["id"], forklifts["id"]]
    assert ids(place="WH-CX") == [frozen["id"]]
    assert ids(sort="-price_per_unit_day_fen")[0] == forklifts["id"]
    assert ids(available_on=day(20)) == [forklifts["id"]]  # the rooms end on day 9

    assert book(client, login("zto"), cold["id"], 3, 3, 100).status_code == 201
    assert cold["id"] not in ids(available_on=day(3))
    assert cold["id"] in ids(available_on=day(4))
    assert ids(available_on=day(4), min_free=101) == []
    assert client.get(f"{URL}/listings", params={"sort": "owner"}, headers=h).status_code == 422


def test_patch_and_withdraw(client: TestClient, login: Login) -> None:
    listing = new_listing(client, login("dayao"))
    url = f"{URL}/listings/{listing['id']}"
    r = client.patch(url, json={"price_per_unit_day_fen": 120, "name": "冷库 A"},
                     headers=login("dayao"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["price_per_unit_day_fen"] == 120 and r.json()["name"] == "冷库 A"
    assert book(client, login("zto"), listing["id"], 0, 1, 10).json()["price_fen"] == 2400

    assert client.patch(url, json={"name": "x"}, headers=login("zto")).status_code == 403
    assert client.patch(url, json={"name": "x"}, headers=login("yongren")).status_code == 403
    assert client.patch(url, json={"capacity": 5}, headers=login("dayao")).status_code == 422

    r = client.patch(url, json={"status": "withdrawn"}, headers=login("admin"))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    # hidden from others, still there for its owner, and takes no bookings
    assert client.get(url, headers=login("zto")).status_code == 404
    assert client.get(f"{URL}/listings", headers=login("zto")).json()["total"] == 0
    assert client.get(url, headers=login("dayao")).status_code == 200
    assert book(client, login("zto"), listing["id"], 2, 2, 1).status_code == 404
    r = book(client, login("dayao"), listing["id"], 2, 2, 1)
    assert r.status_code == 409 and "withdrawn" in r.json()["detail"]


# ---- bookings ---------------------------------------------------------------------------
def test_booking_within_capacity(client: TestClient, login: Login) -> None:
    listing = new_listing(client, login("dayao"))
    r = book(client, login("zto"), listing["id"], 2, 4, 20)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["quantity"], b["days"], b["unit"], b["status"]) == (20, 3, "m2", "confirmed")
    assert b["price_fen"] == 20 * 3 * 150
    assert r.headers["Location"] == f"/api/v1/bookings/{b['id']}"
    booked = calendar(client, login("zto"), listing["id"])
    assert booked == {day(i): 20 if 2 <= i <= 4 else 0 for i in range(10)}
    # up to the capacity exactly
    assert book(client, login("yongren"), listing["id"], 4, 4, 80).status_code == 201
    assert calendar(client, login("zto"), listing["id"])[day(4)] == 100
    # the lessor sees who booked, never the bookers' Idempotency-Keys (defect 13)
    seen = client.get(f"{URL}/bookings", headers=login("dayao"))
    assert seen.status_code == 200 and seen.json()["total"] == 2
    assert all("idempotency_key" not in item for item in seen.json()["items"])


def test_overbooking_one_day_books_nothing(client: TestClient, login: Login) -> None:
    listing = new_listing(client, login("dayao"))
    assert book(client, login("yongren"), listing["id"], 5, 5, 90).status_code == 201
    r = book(client, login("zto"), listing["id"], 3, 7, 20)
    assert r.status_code == 409, r.text
    assert day(5) in r.json()["detail"] and "10 m2 free" in r.json()["detail"]
    for other in (3, 4, 6, 7):
        assert day(other) not in r.json()["detail"]
    booked = calendar(client, login("zto"), listing["id"])
    assert booked == {day(i): 90 if i == 5 else 0 for i in range(10)}  # all or nothing
    assert book(client, login("zto"), listing["id"], 3, 7, 10).status_code == 201


def test_a_retry_with_the_same_key_books_once(
    client: TestClient, login: Login, session: Session
) -> None:
    listing = new_listing(client, login("dayao"))
    idem = key()
    first = book(client, login("zto"), listing["id"], 1, 2, 30, idem)
    again = book(client, login("zto"), listing["id"], 1, 2, 30, idem)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert calendar(client, login("zto"), listing["id"])[day(1)] == 30
    assert session.exec(select(func.count()).select_from(LeaseBooking)).one() == 1

    other = book(client, login("zto"), listing["id"], 1, 2, 31, idem)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    stolen = book(client, login("yongren"), listing["id"], 1, 2, 30, idem)
    assert stolen.status_code == 409
    assert calendar(client, login("zto"), listing["id"])[day(1)] == 30


def test_cancel_frees_the_days(client: TestClient, login: Login) -> None:
    listing = new_listing(client, login("dayao"))
    b = book(client, login("zto"), listing["id"], 0, 9, 100).json()
    assert book(client, login("yongren"), listing["id"], 5, 5, 1).status_code == 409

    assert (
        client.post(f"{URL}/bookings/{b['id']}/cancel", headers=login("dayao")).status_code == 403
    )
    r = client.post(f"{URL}/bookings/{b['id']}/cancel", headers=login("zto"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert set(calendar(client, login("zto"), listing["id"]).values()) == {0}
    twice = client.post(f"{URL}/bookings/{b['id']}/cancel", headers=login("zto"))
    assert twice.status_code == 409
    assert set(calendar(client, login("zto"), listing["id"]).values()) == {0}
    assert book(client, login("yongren"), listing["id"], 5, 5, 100).status_code == 201


def test_scope(client: TestClient, login: Login, session: Session) -> None:
    zto, yongren = org_id(session, "中通快递"), org_id(session, "永仁县物流中心")
    for courier in ("courier1", "courier2"):
        h = login(courier)
        assert client.get(f"{URL}/listings", headers=h).status_code == 403
        assert client.post(f"{URL}/listings", json=COLD_ROOM, headers=h).status_code == 403
        assert client.get(f"{URL}/bookings", headers=h).status_code == 403
    assert client.get(f"{URL}/listings").status_code == 401

    listing = new_listing(client, login("dayao"))
    # non-admins list for their own organisation only
    r = client.post(f"{URL}/listings", json={**COLD_ROOM, "org_id": zto}, headers=login("dayao"))
    assert r.status_code == 403
    zto_booking = book(client, login("zto"), listing["id"], 0, 0, 5).json()
    yongren_booking = book(client, login("yongren"), listing["id"], 1, 1, 5).json()
    admin_for_zto = client.post(
        f"{URL}/listings/{listing['id']}/bookings",
        json={"start_day": day(3), "end_day": day(3), "quantity": 1, "org_id": zto},
        headers={**login("admin"), **key()},
    )
    assert admin_for_zto.status_code == 201 and admin_for_zto.json()["org_id"] == zto
    not_for_others = client.post(
        f"{URL}/listings/{listing['id']}/bookings",
        json={"start_day": day(3), "end_day": day(3), "quantity": 1, "org_id": yongren},
        headers={**login("zto"), **key()},
    )
    assert not_for_others.status_code == 403

    def seen(user: str, **params: Any) -> set[int]:
        r = client.get(f"{URL}/bookings", params=params, headers=login(user))
        assert r.status_code == 200, r.text
        return {b["id"] for b in r.json()["items"]}

    zto_ids = {zto_booking["id"], admin_for_zto.json()["id"]}
    assert seen("zto") == zto_ids
    assert seen("yongren") == {yongren_booking["id"]}
    assert seen("dayao") == zto_ids | {yongren_booking["id"]}  # the lessor
    assert seen("dayao", side="lessee") == set()
    assert seen("admin") == zto_ids | {yongren_booking["id"]}
    assert seen("admin", status="cancelled") == set()

    url = f"{URL}/bookings/{zto_booking['id']}"
    assert client.get(url, headers=login("yongren")).status_code == 404
    assert client.get(url, headers=login("dayao")).status_code == 200
    assert client.post(f"{url}/cancel", headers=login("yongren")).status_code == 404
    assert client.post(f"{url}/cancel", headers=login("admin")).status_code == 200
    assert client.get(f"{URL}/bookings/999", headers=login("admin")).status_code == 404
    assert client.get(f"{URL}/listings/999", headers=login("admin")).status_code == 404


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"available_to": day(-1)}, "available_to"),
        ({"available_to": (D0 + timedelta(days=366)).isoformat()}, "available_to"),
        ({"available_from": "9999-12-31", "available_to": "9999-12-31"}, "available_from"),
        ({"temperature": None}, "temperature"),
        ({"temperature": "warm"}, "temperature"),
        ({"unit": "unit"}, "unit"),
        ({"equipment_type": "forklift"}, "equipment_type"),
        ({"kind": "equipment", "equipment_type": None}, "equipment_type"),
        ({"kind": "equipment", "equipment_type": "Fork Lift"}, "equipment_type"),
        ({"kind": "equipment", "equipment_type": "forklift", "unit": "m2"}, "unit"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 2**40}, "capacity"),
        ({"price_per_unit_day_fen": -1}, "price_per_unit_day_fen"),
        ({"place_id": "NOWHERE"}, "place_id"),
        ({"name": "  "}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"kind": "office"}, "kind"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_listing_validation_is_422(
    client: TestClient, login: Login, changes: dict[str, Any], field: str
) -> None:
    r = client.post(f"{URL}/listings", json={**COLD_ROOM, **changes}, headers=login("dayao"))
    assert r.status_code == 422, r.text
    assert any(field in e["loc"] for e in r.json()["detail"]), r.json()


def test_booking_validation_is_422(client: TestClient, login: Login) -> None:
    listing = new_listing(client, login("dayao"), price_per_unit_day_fen=10_000_000)
    url = f"{URL}/listings/{listing['id']}/bookings"
    h = login("zto")

    def post(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        full = {"start_day": day(0), "end_day": day(0), "quantity": 1, **body}
        return client.post(url, json=full, headers={**h, **(key() if headers is None else headers)})

    cases: list[tuple[dict[str, Any], dict[str, str] | None, str]] = [
        ({"end_day": day(-1)}, None, "end_day"),
        ({"end_day": day(10)}, None, "end_day"),  # beyond the listing's days
        ({"start_day": day(-3), "end_day": day(-1)}, None, "start_day"),
        ({"quantity": 0}, None, "quantity"),
        ({"quantity": 101}, None, "quantity"),  # more than the room
        ({"quantity": 100, "end_day": day(9)}, None, "quantity"),  # the price overflows
        ({"start_day": "2026-02-30"}, None, "start_day"),
        ({"start_day": "0001-01-01"}, None, "start_day"),
        ({}, {}, "Idempotency-Key"),
        ({}, {"Idempotency-Key": "k" * 129}, "Idempotency-Key"),
    ]
    for body, headers, field in cases:
        r = post(body, headers)
        assert r.status_code == 422, (body, r.text)
        assert any(field in e["loc"] for e in r.json()["detail"]), (body, r.json())
    assert set(calendar(client, h, listing["id"]).values()) == {0}

    availability = f"{URL}/listings/{listing['id']}/availability"
    for params in ({"start": day(5), "end": day(1)}, {"start": day(0), "end": day(400)},
                   {"start": "2026-13-01"}):  # fmt: skip
        r = client.get(availability, params=params, headers=h)
        assert r.status_code == 422, r.text


def test_domain_errors_name_the_days(session: Session, accounts: dict[str, int]) -> None:
    hub = create_organisation(session, name="测试仓", kind="cooperative")
    assert hub.id is not None
    listing = leasing.create_listing(
        session,
        org_id=hub.id,
        kind="equipment",
        place_id="WH-CX",
        name="托盘",
        temperature=None,
        equipment_type="pallet",
        capacity=10,
        price_per_unit_day_fen=50,
        available_from=D0,
        available_to=D0 + timedelta(days=2),
    )
    assert listing.id is not None and listing.unit == "unit"
    common: dict[str, Any] = {"listing_id": listing.id, "org_id": hub.id, "by_user": None}
    booking, created = leasing.book(
        session, **common, start_day=D0, end_day=D0, quantity=8, idempotency_key="a"
    )
    assert created and booking.price_fen == 400
    with pytest.raises(leasing.Unavailable) as full:
        leasing.book(
            session, **common, start_day=D0, end_day=D0 + timedelta(days=2), quantity=3,
            idempotency_key="b",
        )  # fmt: skip
    assert full.value.full and full.value.days == [D0] and full.value.free == {D0: 2}
    with pytest.raises(leasing.Unavailable) as outside:
        leasing.book(
            session, **common, start_day=D0, end_day=D0 + timedelta(days=4), quantity=1,
            idempotency_key="c",
        )  # fmt: skip
    assert not outside.value.full and outside.value.days == [D0 + timedelta(days=i) for i in (3, 4)]
    assert [
        d["booked"] for d in leasing.availability(session, listing.id, D0, D0 + timedelta(2))
    ] == [8, 0, 0]
    leasing.cancel(session, booking, None)
    with pytest.raises(Conflict):
        leasing.cancel(session, booking, None)
    assert [d["free"] for d in leasing.availability(session, listing.id, D0, D0)] == [10]


# ---- concurrency on the real PostgreSQL -----------------------------------------------------
def _org(engine: Engine, name: str, kind: str = "cooperative") -> int:
    with Session(engine) as s:
        org = create_organisation(s, name=name, kind=kind)
        assert org.id is not None
        return org.id


def _listing(engine: Engine, org_id: int, **fields: Any) -> int:
    with Session(engine) as s:
        listing = leasing.create_listing(s, org_id=org_id, **fields)
        assert listing.id is not None
        return listing.id


def _race(engine: Engine, calls: list[dict[str, Any]]) -> list[Any]:
    """Run every booking at once, each in its own thread and Session (own connection);
    each result is the booking's (id, created) or the exception raised."""
    start = threading.Barrier(len(calls))

    def run(kwargs: dict[str, Any]) -> Any:
        start.wait(timeout=60)
        with Session(engine) as s:
            try:
                booking, created = leasing.book(s, **kwargs)
                return booking.id, created
            except Exception as e:
                return e

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _booked(engine: Engine, listing_id: int) -> dict[date, int]:
    with Session(engine) as s:
        return {
            d["day"]: d["booked"]
            for d in leasing.availability(s, listing_id, D0, D0 + timedelta(60))
        }


@pytest.mark.parametrize(
    "fields, taken, ask",
    [
        (  # a cold room of 100 m2, 95 booked: 5 m2 left
            {
                "kind": "warehouse",
                "temperature": "frozen",
                "equipment_type": None,
                "capacity": 100,
                "name": "冷库 -18 °C",
            },
            95,
            5,
        ),
        (  # three forklifts, two booked: one left
            {
                "kind": "equipment",
                "temperature": None,
                "equipment_type": "forklift",
                "capacity": 3,
                "name": "叉车",
            },
            2,
            1,
        ),
    ],
    ids=["cold-room", "forklift"],
)
def test_concurrent_bookings_of_the_last_room_on_postgres(
    pg: Engine, fields: dict[str, Any], taken: int, ask: int
) -> None:
    owner = _org(pg, "大姚县冷链合作社")
    renters = [_org(pg, f"租户 {i}", "carrier") for i in range(5)]
    listing_id = _listing(
        pg, owner, place_id="HUB-532326", price_per_unit_day_fen=100,
        available_from=D0, available_to=D0 + timedelta(days=6), **fields,
    )  # fmt: skip
    target = D0 + timedelta(days=3)
    base = {"listing_id": listing_id, "start_day": target, "end_day": target, "by_user": None}
    with Session(pg) as s:
        leasing.book(s, **base, org_id=renters[0], quantity=taken, idempotency_key="seed")

    results = _race(
        pg,
        [
            {**base, "org_id": renters[i % 5], "quantity": ask, "idempotency_key": f"k{i}"}
            for i in range(50)
        ],
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and won[0][1] is True, results
    assert len(lost) == 49
    assert all(isinstance(e, leasing.Unavailable) and e.full for e in lost), lost
    assert all(target in e.days or e.days == [] for e in lost)
    assert _booked(pg, listing_id)[target] == fields["capacity"]
    assert sum(_booked(pg, listing_id).values()) == fields["capacity"]  # no other day touched
    with Session(pg) as s:
        rows = s.exec(select(LeaseBooking).where(LeaseBooking.status == "confirmed")).all()
        assert sorted(b.quantity for b in rows) == sorted([taken, ask])


def test_concurrent_overlapping_ranges_never_oversell_nor_deadlock(pg: Engine) -> None:
    owner = _org(pg, "楚雄州公共仓")
    renter = _org(pg, "顺丰速运", "carrier")
    capacity = 10
    listing_id = _listing(
        pg, owner, kind="warehouse", place_id="WH-CX", name="常温库", temperature="ambient",
        equipment_type=None, capacity=capacity, price_per_unit_day_fen=30,
        available_from=D0, available_to=D0 + timedelta(days=19),
    )  # fmt: skip
    rng = random.Random(7)
    calls = []
    for i in range(40):
        a, b = sorted(rng.sample(range(20), 2))
        calls.append(
            {
                "listing_id": listing_id,
                "org_id": renter,
                "start_day": D0 + timedelta(days=a),
                "end_day": D0 + timedelta(days=b),
                "quantity": rng.randint(1, 4),
                "idempotency_key": f"r{i}",
                "by_user": None,
            }
        )
    results = _race(pg, calls)
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, leasing.Unavailable) and e.full for e in errors), errors
    assert any(isinstance(r, tuple) for r in results) and errors  # some won, some lost
    with Session(pg) as s:
        confirmed = s.exec(
            select(LeaseBooking).where(col(LeaseBooking.status) == "confirmed")
        ).all()
    expected = {D0 + timedelta(days=i): 0 for i in range(20)}
    for b in confirmed:
        for i in range((b.end_day - b.start_day).days + 1):
            expected[b.start_day + timedelta(days=i)] += b.quantity
    booked = _booked(pg, listing_id)
    assert booked == expected
    assert max(booked.values()) <= capacity


def test_concurrent_retries_with_one_key_book_once_on_postgres(pg: Engine) -> None:
    owner = _org(pg, "永仁县物流合作社")
    renter = _org(pg, "邮政", "carrier")
    listing_id = _listing(
        pg, owner, kind="equipment", place_id="HUB-532327", name="冷藏箱", temperature="chilled",
        equipment_type="reefer_box", capacity=50, price_per_unit_day_fen=500,
        available_from=D0, available_to=D0 + timedelta(days=9),
    )  # fmt: skip
    call = {
        "listing_id": listing_id, "org_id": renter, "start_day": D0,
        "end_day": D0 + timedelta(days=1), "quantity": 7, "idempotency_key": "same",
        "by_user": None,
    }  # fmt: skip
    results = _race(pg, [dict(call) for _ in range(20)])
    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[0] for r in results}) == 1
    assert sum(1 for r in results if r[1]) == 1
    assert _booked(pg, listing_id)[D0] == 7


def test_lease_is_settled_on_the_ledger_and_reversed_on_cancel(
    client: TestClient, login: Login
) -> None:
    """A booking becomes one settlement record (lessee pays lessor); a cancellation is a
    reversing entry, never a deletion."""
    listing = new_listing(client, login("dayao"))
    b = book(client, login("zto"), listing["id"], 2, 3, 10).json()
    admin = login("admin")
    leases = client.get(f"{URL}/ledger/entries?kind=lease", headers=admin).json()["items"]
    assert [(e["amount_fen"], e["ref_id"]) for e in leases] == [(b["price_fen"], str(b["id"]))]
    assert client.post(f"{URL}/bookings/{b['id']}/cancel", headers=login("zto")).status_code == 200
    reversals = client.get(f"{URL}/ledger/entries?kind=reversal", headers=admin).json()["items"]
    assert len(reversals) == 1 and reversals[0]["reverses_id"] == leases[0]["id"]
    balances = [
        a["balance_fen"] for a in client.get(f"{URL}/accounts", headers=admin).json()["items"]
    ]
    assert sum(balances) == 0 and all(x == 0 for x in balances)
