"""Service points proposed from the field or the console and their review: who may
propose and review, bad input, retries by client id, accept (also moved) writing the place
correction, reject, photos, and an accepted village point served by the next plan.

The points below are TEST FIXTURES: made-up positions inside the township areas of the
bundled network's unlocated places, never real survey data (real villages are never given
invented coordinates outside tests)."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.core.config import Settings
from api.models import Order
from api.services.convert import utc

API = "/api/v1"
URL = f"{API}/place-proposals"
DAY = date(2026, 9, 15)
Login = Callable[[str], dict[str, str]]

YINGTA = "532326101002"  # 映塔社区, 金碧镇, 大姚县: unlocated village
BEICHENG = "532326101001"  # 北城社区, 大姚县: located village
WANBI = "532326206"  # 湾碧傣族傈僳族乡, 大姚县: unlocated township
YONGXING = "532327204"  # 永兴傣族乡, 永仁县: unlocated township
#: FIXTURE point for 映塔 (test data): ~1 km from the 金碧镇 station (101.3239, 25.7357).
AT_YINGTA = {"lon": 101.3300, "lat": 25.7420}
#: FIXTURE point for 湾碧 (test data), inside 大姚县.
AT_WANBI = {"lon": 101.33, "lat": 25.74}


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _propose(client: TestClient, who: dict[str, str], place: str = YINGTA, **extra: Any) -> Any:
    return client.post(URL, json={"place_id": place, **AT_YINGTA, **extra}, headers=who)


def test_who_proposes_what(client: TestClient, login: Login, accounts: dict[str, int]) -> None:
    courier = login("courier1")
    r = _propose(client, courier, accuracy_m=12.5, note="村委会门口", client_id="c-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "proposed" and body["source"] == "field"
    assert body["proposed_by"] == accounts["courier1"]
    assert body["proposed_by_username"] == "courier1" and body["proposed_at"].endswith("+08:00")
    assert (body["lon"], body["lat"], body["accuracy_m"]) == (101.33, 25.742, 12.5)
    assert body["place"]["name_zh"] == "映塔社区居民委员会"
    assert body["place"]["township_zh"] == "金碧镇" and body["place"]["located"] is False
    assert body["county_code"] == "532326" and body["photo_url"] is None
    assert body["reviewed_by"] is None and body["correction_id"] is None

    # a retry with the same client id: the first proposal, nothing new
    again = _propose(client, courier, accuracy_m=30, client_id="c-1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["accuracy_m"] == 12.5
    # the same client id for another place: 409; another user's same id is theirs
    assert _propose(client, courier, place=WANBI, client_id="c-1").status_code == 409
    other = _propose(client, login("courier2"), client_id="c-1")
    assert other.status_code == 201 and other.json()["id"] != body["id"]

    # the county's dispatcher and an admin propose from the console
    r = _propose(client, login("dayao"), place=WANBI)
    assert r.status_code == 201 and r.json()["source"] == "console"
    assert _propose(client, login("admin")).json()["source"] == "console"

    # another county's courier or dispatcher: 403; carriers never
    for who in ("courier3", "driver", "yongren", "zto"):
        r = _propose(client, login(who))
        assert r.status_code == 403, (who, r.text)
    assert "532326" in _propose(client, login("courier3")).json()["detail"]

    # a located place: 409; a hub: 422; unknown place: 422; outside Chuxiong: 422 (lon, lat)
    r = _propose(client, courier, place=BEICHENG)
    assert r.status_code == 409 and "located already" in r.json()["detail"]
    r = _propose(client, login("admin"), place="HUB-532326")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["place_id"]
    assert "hub" in r.json()["detail"][0]["msg"]
    assert _propose(client, courier, place="nowhere").status_code == 422
    kunming = {"place_id": YINGTA, "lon": 102.71, "lat": 25.04}
    r = client.post(URL, json=kunming, headers=courier)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "lon"], ["body", "lat"]]
    for bad, field in (
        ({"lon": 500}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"client_id": "has space"}, "client_id"),
        ({"note": "x" * 501}, "note"),
        ({"colour": "red"}, "colour"),
    ):
        r = client.post(URL, json={"place_id": YINGTA, **AT_YINGTA, **bad}, headers=courier)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field, (bad, r.text)


def test_listing_scope(client: TestClient, login: Login) -> None:
    mine = _propose(client, login("courier1")).json()["id"]
    _propose(client, login("courier2"))
    yx = {"place_id": YONGXING, "lon": 101.60, "lat": 26.0}
    theirs = client.post(URL, json=yx, headers=login("courier3"))
    assert theirs.status_code == 201, theirs.text

    dayao = client.get(URL, headers=login("dayao")).json()
    assert dayao["total"] == 2 and {i["county_code"] for i in dayao["items"]} == {"532326"}
    assert dayao["items"][0]["id"] > dayao["items"][1]["id"]  # newest first
    assert client.get(f"{URL}?county=532327", headers=login("dayao")).status_code == 403
    assert client.get(URL, headers=login("admin")).json()["total"] == 3
    one = client.get(f"{URL}?county=532327", headers=login("admin")).json()
    assert [i["place"]["id"] for i in one["items"]] == [YONGXING]
    own = client.get(URL, headers=login("courier1")).json()
    assert [i["id"] for i in own["items"]] == [mine]
    assert client.get(f"{URL}?status=accepted", headers=login("admin")).json()["total"] == 0
    assert client.get(URL, headers=login("zto")).status_code == 403
    assert client.get(f"{URL}?status=maybe", headers=login("admin")).status_code == 422
    assert client.get(f"{URL}?county=53", headers=login("admin")).status_code == 422


def test_couriers_list_places_of_their_county(client: TestClient, login: Login) -> None:
    """A county's courier lists that county's places (the default); another county and a
    trunk courier (no county) are 403 with a reason."""
    courier = login("courier1")
    places = f"{API}/places"
    r = client.get(f"{places}?county=532326&located=false&limit=500", headers=courier)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and {p["county_code"] for p in items} == {"532326"}
    assert YINGTA in {p["id"] for p in items} and BEICHENG not in {p["id"] for p in items}
    assert all(not p["located"] for p in items)
    villages = client.get(f"{places}?kind=village&q=映塔", headers=courier).json()["items"]
    assert [p["id"] for p in villages] == [YINGTA] and villages[0]["township_zh"]
    mine = client.get(f"{places}?limit=500", headers=courier).json()  # default: own county
    assert mine["total"] > 0 and {p["county_code"] for p in mine["items"]} == {"532326"}
    other = client.get(f"{places}?county=532327", headers=courier)
    assert other.status_code == 403 and "532327" in other.json()["detail"]
    trunk = client.get(places, headers=login("driver"))
    assert trunk.status_code == 403 and "trunk" in trunk.json()["detail"]
    assert client.get(f"{places}?county=532327", headers=login("courier3")).status_code == 200


def test_accept_move_reject(client: TestClient, login: Login, accounts: dict[str, int]) -> None:
    dayao = login("dayao")
    first = _propose(client, login("courier1"), note="小卖部").json()
    second = _propose(client, login("courier2")).json()
    township = client.post(
        URL, json={"place_id": WANBI, **AT_WANBI}, headers=login("courier1")
    ).json()

    # only the county's dispatcher or an admin reviews
    for who in ("yongren", "courier1", "zto"):
        r = client.post(f"{URL}/{first['id']}/accept", json={}, headers=login(who))
        assert r.status_code in (403, 404), (who, r.status_code)
    assert client.post(f"{URL}/999/accept", json={}, headers=dayao).status_code == 404
    r = client.post(f"{URL}/{first['id']}/accept", json={"lon": 101.3}, headers=dayao)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["lat"]
    r = client.post(
        f"{URL}/{first['id']}/accept", json={"lon": 102.71, "lat": 25.04}, headers=dayao
    )
    assert r.status_code == 422 and r.json()["detail"][1]["loc"] == ["body", "lat"]

    # moved: accepted at the reviewer's point, the place is located with a correction
    moved = {"lon": 101.3310, "lat": 25.7415, "note": "移到路口"}
    r = client.post(f"{URL}/{first['id']}/accept", json=moved, headers=dayao)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["reviewed_by"] == accounts["dayao"]
    assert body["reviewed_by_username"] == "dayao" and body["reviewed_at"].endswith("+08:00")
    assert body["review_note"] == "移到路口" and body["correction_id"] is not None
    assert (body["lon"], body["lat"]) == (101.33, 25.742)  # the proposal keeps its point
    assert body["place"]["located"] is True
    assert (body["place"]["lon"], body["place"]["lat"]) == (101.331, 25.7415)
    place = client.get(f"{API}/places/{YINGTA}", headers=dayao).json()
    assert place["located"] and place["corrected"]
    assert place["correction"]["corrected_by_username"] == "dayao"
    assert place["correction"]["source"].startswith(f"现场采集 proposal #{first['id']}")
    assert "moved" in place["correction"]["source"]

    # a second accept, a reject of an accepted one: 409, nothing written
    assert client.post(f"{URL}/{first['id']}/accept", json={}, headers=dayao).status_code == 409
    r = client.post(f"{URL}/{first['id']}/reject", json={"note": "no"}, headers=dayao)
    assert r.status_code == 409 and "accepted" in r.json()["detail"]
    fixes = client.get(f"{API}/places/corrections", headers=dayao).json()
    assert fixes["total"] == 1
    # the other proposal of the place is superseded; new ones are refused (located)
    waiting = client.get(f"{URL}?status=proposed", headers=dayao).json()["items"]
    assert [i["id"] for i in waiting] == [township["id"]]
    [gone] = client.get(f"{URL}?status=superseded", headers=dayao).json()["items"]
    assert gone["id"] == second["id"] and f"#{first['id']}" in gone["review_note"]
    assert _propose(client, login("courier2")).status_code == 409

    # reject with a note (a note is needed)
    other = client.post(URL, json={"place_id": WANBI, **AT_WANBI}, headers=login("courier2")).json()
    url = f"{URL}/{other['id']}/reject"
    assert client.post(url, json={}, headers=dayao).status_code == 422
    assert client.post(url, json={"note": "  "}, headers=dayao).status_code == 422
    r = client.post(url, json={"note": "重复"}, headers=dayao)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["review_note"] == "重复" and r.json()["correction_id"] is None
    assert client.post(f"{URL}/{other['id']}/accept", json={}, headers=dayao).status_code == 409

    # an admin accepts at the proposed point
    r = client.post(f"{URL}/{township['id']}/accept", json={}, headers=login("admin"))
    assert r.status_code == 200 and r.json()["place"]["located"]
    got = client.get(f"{API}/places/{WANBI}", headers=dayao).json()
    assert (got["lon"], got["lat"]) == (101.33, 25.74)
    assert got["correction"]["corrected_by_username"] == "admin"
    assert "moved" not in got["correction"]["source"]
    # a rejected proposal of the place stays rejected (only waiting ones are superseded)
    mine = client.get(URL, headers=login("courier2")).json()["items"]
    assert {p["id"]: p["status"] for p in mine} == {
        second["id"]: "superseded",
        other["id"]: "rejected",
    }


def test_photo(client: TestClient, login: Login, settings: Settings) -> None:
    courier = login("courier1")
    pid = _propose(client, courier).json()["id"]
    url = f"{URL}/{pid}/photo"
    png = tiny_png()
    assert client.get(url, headers=courier).status_code == 404  # none yet
    r = client.post(url, files={"file": ("点.png", png, "image/png")}, headers=courier)
    assert r.status_code == 201, r.text
    assert r.json()["photo_url"] == f"/api/v1/place-proposals/{pid}/photo"
    for who in ("courier1", "dayao", "admin"):
        got = client.get(url, headers=login(who))
        assert got.status_code == 200 and got.content == png, who
        assert got.headers["content-type"] == "image/png"
    for who in ("courier2", "yongren"):
        assert client.get(url, headers=login(who)).status_code == 404, who
    # only the proposer uploads; the same checks as stop photos
    r = client.post(url, files={"file": ("a.png", png, "image/png")}, headers=login("dayao"))
    assert r.status_code == 403
    r = client.post(url, files={"file": ("a.png", png, "image/png")}, headers=login("courier2"))
    assert r.status_code == 404
    for name, data, kind in (
        ("n.txt", b"not an image", "text/plain"),
        ("p.png", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/png"),
    ):
        r = client.post(url, files={"file": (name, data, kind)}, headers=courier)
        assert r.status_code == 415, name
    assert (
        client.post(url, files={"file": ("a.png", b"", "image/png")}, headers=courier).status_code
        == 422
    )
    app: Any = client.app
    app.state.settings = replace(settings, photo_max_bytes=len(png) - 1)
    r = client.post(url, files={"file": ("a.png", png, "image/png")}, headers=courier)
    assert r.status_code == 413
    app.state.settings = settings
    # a new photo replaces the old one (one file kept)
    r = client.post(url, files={"file": ("b.png", png, "image/png")}, headers=courier)
    assert r.status_code == 201
    assert len(list((settings.photo_dir / "proposals").iterdir())) == 1


def _plan(client: TestClient, who: dict[str, str]) -> dict[str, Any]:
    r = client.post(f"{API}/plans", json={"plan_date": DAY.isoformat()}, headers=who)
    assert r.status_code == 202, r.text
    plan = r.json()
    deadline = time.monotonic() + 60
    while plan["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        plan = client.get(f"{API}/plans/{plan['id']}", headers=who).json()
    assert plan["status"] == "succeeded", plan
    return plan


def test_accepted_village_is_served_by_the_next_plan(
    client: TestClient, login: Login, session: Session
) -> None:
    """The issue's done-when with a FIXTURE village: 映塔 is unlocated in the bundled
    network, so its order is held at the 金碧镇 station; a courier proposes a (test) point,
    the dispatcher accepts it, and the next plan's county route stops at the village."""
    from api.worker.jobs import _network

    assert not _network(session, DAY)[0].place(YINGTA).located
    session.add(
        Order(
            order_id="T-VILLAGE-1",
            party="EMS",
            direction="down",
            origin="WH-CX",
            destination=YINGTA,
            county_code="532326",
            plan_date=DAY,
            weight_kg=5.0,
            volume_m3=0.02,
            pieces=1,
            ready_at=utc(datetime.fromisoformat("2026-09-15T06:00:00+08:00")),
            due_at=utc(datetime.fromisoformat("2026-09-15T18:00:00+08:00")),
        )
    )
    session.commit()
    pid = _propose(client, login("courier1"), accuracy_m=8, client_id="field-1").json()["id"]
    dayao = login("dayao")
    assert client.post(f"{URL}/{pid}/accept", json={}, headers=dayao).status_code == 200
    place = _network(session, DAY)[0].place(YINGTA)
    assert place.located and place.node >= 0 and place.snap_m < 5_000, place

    plan = _plan(client, dayao)
    summary = plan["summary"]
    assert summary["orders"] == 1 and summary["assigned"] == 1, summary
    assert summary["villages_served"] == 1, summary
    visited = []
    for sheet in client.get(f"{API}/plans/{plan['id']}/sheets", headers=dayao).json():
        got = client.get(f"{API}/route-sheets/{sheet['id']}", headers=login("admin")).json()
        visited += [(sheet["echelon"], (s.get("place") or {}).get("id")) for s in got["stops"]]
    assert ("county", YINGTA) in visited, visited
    assert ("county", "532326101") not in visited  # not held at the township station


# ---- one waiting proposal per user and place; superseded ones ------------------------------
def test_one_waiting_proposal_per_user_and_place(client: TestClient, login: Login) -> None:
    courier, dayao = login("courier1"), login("dayao")
    first = _propose(client, courier, client_id="w-1")
    assert first.status_code == 201, first.text
    pid = first.json()["id"]
    # another proposal of the same place while the first waits: 409 naming it
    for extra in ({"client_id": "w-2"}, {}):
        r = _propose(client, courier, note="第二次", **extra)
        assert r.status_code == 409, r.text
        assert f"proposal {pid}" in r.json()["detail"] and "waiting" in r.json()["detail"]
    # a retry of the first (its client id) still answers it
    again = _propose(client, courier, client_id="w-1")
    assert again.status_code == 200 and again.json()["id"] == pid
    # other users, and other places, are not held up
    assert _propose(client, login("courier2"), client_id="w-2").status_code == 201
    assert _propose(client, dayao).status_code == 201
    assert _propose(client, courier, place=WANBI, client_id="w-3").status_code == 201
    mine = client.get(f"{URL}?status=proposed", headers=courier).json()["items"]
    assert sorted(p["place"]["id"] for p in mine) == sorted([YINGTA, WANBI])
    # once the first is reviewed (rejected), the courier may propose the place again
    r = client.post(f"{URL}/{pid}/reject", json={"note": "不在这里"}, headers=dayao)
    assert r.status_code == 200
    r = _propose(client, courier, client_id="w-4")
    assert r.status_code == 201 and r.json()["id"] != pid


def test_accept_supersedes_the_other_waiting_proposals(
    client: TestClient, login: Login, accounts: dict[str, int]
) -> None:
    dayao = login("dayao")
    one = _propose(client, login("courier1")).json()
    two = _propose(client, login("courier2")).json()
    three = _propose(client, dayao).json()
    refused = _propose(client, login("admin")).json()
    elsewhere = client.post(
        URL, json={"place_id": WANBI, **AT_WANBI}, headers=login("courier1")
    ).json()
    r = client.post(f"{URL}/{refused['id']}/reject", json={"note": "重复"}, headers=dayao)
    assert r.status_code == 200

    r = client.post(f"{URL}/{two['id']}/accept", json={}, headers=dayao)
    assert r.status_code == 200, r.text
    accepted = r.json()
    items = {p["id"]: p for p in client.get(URL, headers=login("admin")).json()["items"]}
    assert items[two["id"]]["status"] == "accepted"
    for pid in (one["id"], three["id"]):  # the same transaction, the same reviewer and time
        p = items[pid]
        assert p["status"] == "superseded", p
        assert p["reviewed_by"] == accounts["dayao"] and p["reviewed_at"] == accepted["reviewed_at"]
        assert f"#{two['id']}" in p["review_note"] and p["correction_id"] is None
        assert p["place"]["located"] is True
    assert items[refused["id"]]["status"] == "rejected"  # reviewed already: as it was
    assert items[refused["id"]]["review_note"] == "重复"
    assert items[elsewhere["id"]]["status"] == "proposed"  # another place
    listed = client.get(f"{URL}?status=superseded", headers=dayao).json()
    assert sorted(p["id"] for p in listed["items"]) == sorted([one["id"], three["id"]])
    # the courier sees theirs superseded
    own = client.get(URL, headers=login("courier1")).json()["items"]
    assert {p["id"]: p["status"] for p in own}[one["id"]] == "superseded"

    # a superseded proposal is not accepted (nor rejected) later: the place stays put
    for action, body in (("accept", {}), ("accept", {"lon": 101.34, "lat": 25.75})):
        r = client.post(f"{URL}/{one['id']}/{action}", json=body, headers=login("admin"))
        assert r.status_code == 409 and "superseded" in r.json()["detail"], r.text
    r = client.post(f"{URL}/{three['id']}/reject", json={"note": "晚了"}, headers=dayao)
    assert r.status_code == 409 and "superseded" in r.json()["detail"]
    fixes = client.get(f"{API}/places/corrections", headers=dayao).json()
    assert fixes["total"] == 1 and fixes["items"][0]["id"] == accepted["correction_id"]
    place = client.get(f"{API}/places/{YINGTA}", headers=dayao).json()
    assert (place["lon"], place["lat"]) == (two["lon"], two["lat"])


def test_the_database_refuses_a_second_waiting_row(
    session: Session, accounts: dict[str, int]
) -> None:
    """Written straight to the database (SQLite), past the service's checks."""
    from sqlalchemy.exc import IntegrityError

    from api.models import PointProposal, now

    def row(status: str, who: str = "courier1", place: str = YINGTA) -> PointProposal:
        return PointProposal(
            place_id=place,
            county_code="532326",
            lon=101.33,
            lat=25.742,
            source="field",
            status=status,
            proposed_by=accounts[who],
            proposed_at=now(),
        )

    # reviewed ones, another user's, another place's: allowed next to a waiting one
    for status, who, place in (
        ("proposed", "courier1", YINGTA),
        ("rejected", "courier1", YINGTA),
        ("superseded", "courier1", YINGTA),
        ("superseded", "courier1", YINGTA),
        ("proposed", "courier2", YINGTA),
        ("proposed", "courier1", WANBI),
    ):
        session.add(row(status, who, place))
        session.commit()
    for bad in (row("proposed"), row("maybe", place=WANBI)):
        session.add(bad)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        else:
            raise AssertionError(f"stored {bad.status} twice")


def test_a_concurrent_second_proposal_is_caught_by_the_index(
    client: TestClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request stored the user's waiting proposal between our look-up and insert:
    the index refuses ours, and the answer names theirs (409)."""
    import api.services.proposals as service

    courier = login("courier1")
    stored = _propose(client, courier, client_id="race-a").json()["id"]
    real = service._waiting
    calls = {"n": 0}

    def late(s: Session, user: Any, place_id: str) -> Any:
        calls["n"] += 1  # not there at the look-up, there after the insert failed
        return None if calls["n"] == 1 else real(s, user, place_id)

    monkeypatch.setattr(service, "_waiting", late)
    r = _propose(client, courier, client_id="race-b")
    assert r.status_code == 409 and f"proposal {stored}" in r.json()["detail"], r.text
    assert calls["n"] == 2
    assert client.get(URL, headers=courier).json()["total"] == 1


def test_migration_0007_tidies_the_waiting_rows(tmp_path: Path) -> None:
    """Rows from before 0007: a user's older waiting duplicates and the waiting rows of a
    place with an accepted proposal are superseded; down again, superseded reads rejected."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from api.core.db import MIGRATIONS, engine_for

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0006")
    engine = engine_for(url)
    rows = [  # id, place, user, status
        (1, YINGTA, 1, "proposed"),
        (2, YINGTA, 1, "proposed"),
        (3, YINGTA, 2, "proposed"),
        (4, WANBI, 1, "accepted"),
        (5, WANBI, 2, "proposed"),
        (6, WANBI, 1, "proposed"),
        (7, YONGXING, 1, "rejected"),
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, active) VALUES "
                "(1, 'a', 'x', 'courier', 1), (2, 'b', 'x', 'courier', 1)"
            )
        )
        for pid, place, who, status in rows:
            conn.execute(
                text(
                    "INSERT INTO point_proposals (id, place_id, county_code, lon, lat, note, "
                    "source, status, proposed_by, review_note) VALUES "
                    "(:id, :place, '532326', 101.33, 25.74, '', 'field', :status, :who, '')"
                ),
                {"id": pid, "place": place, "status": status, "who": who},
            )
    command.upgrade(cfg, "head")

    def states() -> dict[int, tuple[str, str]]:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT id, status, review_note FROM point_proposals"))
            return {pid: (status, note) for pid, status, note in got}

    after = states()
    assert {k: v[0] for k, v in after.items()} == {
        1: "superseded",
        2: "proposed",
        3: "proposed",
        4: "accepted",
        5: "superseded",
        6: "superseded",
        7: "rejected",
    }
    assert "#2" in after[1][1] and "#4" in after[5][1] and "#4" in after[6][1]
    command.downgrade(cfg, "0006")
    assert {k: v[0] for k, v in states().items()}[1] == "rejected"
    engine.dispose()


# ---- races on PostgreSQL ---------------------------------------------------------------------
def _pg_people(engine: Engine) -> tuple[int, list[int]]:
    """A 大姚 dispatcher and eight couriers on the PostgreSQL schema: their ids."""
    from api.services.users import create_organisation, create_user

    with Session(engine) as s:
        hub = create_organisation(s, name="大姚县物流中心", kind="county_hub", county_code="532326")
        boss = create_user(
            s, username="dayao", password="not used here", role="dispatcher", org_id=hub.id,
            county_code="532326",
        )  # fmt: skip
        couriers = [
            create_user(
                s, username=f"c{n}", password="not used here", role="courier", org_id=hub.id
            )
            for n in range(8)
        ]
        return boss.id or 0, [c.id or 0 for c in couriers]


def _race(engine: Engine, work: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each piece of work in its own thread and session, all at once: each result
    or the exception it raised."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        with Session(engine) as s:
            barrier.wait()
            try:
                results[i] = work[i](s)
            except Exception as e:  # kept for the test to look at
                results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_proposals_of_one_user_one_wins_on_postgresql(pg: Engine) -> None:
    from api.errors import Conflict
    from api.models import PointProposal, User
    from api.schemas.proposals import ProposalIn
    from api.services.proposals import propose
    from api.services.reference import places_by_id

    _, couriers = _pg_people(pg)
    me = couriers[0]

    def attempt(n: int) -> Callable[[Session], Any]:
        def go(s: Session) -> Any:
            user = s.get(User, me)
            assert user is not None
            body = ProposalIn.model_validate(
                {"place_id": YINGTA, "client_id": f"pg-{n}", **AT_YINGTA}
            )
            return propose(s, user, body)

        return go

    places_by_id()  # load the network once, before the threads
    results = _race(pg, [attempt(n) for n in range(12)])
    wins = [r for r in results if isinstance(r, tuple)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 11, results
    out, created = wins[0]
    assert created is True
    assert all(f"proposal {out.id}" in e.detail for e in losses)
    with Session(pg) as s:
        rows = s.exec(select(PointProposal)).all()
    assert [r.id for r in rows] == [out.id]


def test_concurrent_accepts_of_one_place_one_wins_on_postgresql(pg: Engine) -> None:
    """Eight couriers' proposals of one place accepted at once by two reviewers each:
    one acceptance, one correction, the other seven superseded by it."""
    from api.errors import Conflict
    from api.models import PlaceCorrection, PointProposal, User
    from api.schemas.proposals import AcceptIn, ProposalIn
    from api.services.proposals import accept, propose

    boss, couriers = _pg_people(pg)
    ids = []
    with Session(pg) as s:
        for n, who in enumerate(couriers):
            user = s.get(User, who)
            assert user is not None
            lon = AT_YINGTA["lon"] + n / 10_000
            out, _ = propose(s, user, ProposalIn(place_id=YINGTA, lon=lon, lat=AT_YINGTA["lat"]))
            ids.append(out.id)

    def attempt(pid: int) -> Callable[[Session], Any]:
        def go(s: Session) -> Any:
            user = s.get(User, boss)
            assert user is not None
            return accept(s, user, pid, AcceptIn())

        return go

    results = _race(pg, [attempt(pid) for pid in ids + ids])
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r is not wins[0]), results
    with Session(pg) as s:
        rows = {r.id: r for r in s.exec(select(PointProposal)).all()}
        [fix] = s.exec(select(PlaceCorrection)).all()
    winner = rows[wins[0].id]
    assert winner.status == "accepted" and winner.correction_id == fix.id
    assert (fix.lon, fix.lat) == (winner.lon, winner.lat)
    others = [r for r in rows.values() if r.id != winner.id]
    assert {r.status for r in others} == {"superseded"}
    assert all(f"#{winner.id}" in r.review_note for r in others)
