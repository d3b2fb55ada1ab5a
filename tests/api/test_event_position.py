"""Stop events carry the phone's position: stored with the distance from the stop's planned
point, flagged ``off_point`` past 300 m (beyond the accuracy), and listed on the monitor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import test_sheets_api
from fastapi.testclient import TestClient
from test_sheets_api import LIUJU, SHIYANG, World, url

from api.services.sheets import OFF_POINT_M, distance_from_stop

world = test_sheets_api.world  # the fixture: two 大姚 sheets of a published plan
Login = Callable[[str], dict[str, str]]


def post(client: TestClient, login: Login, sheet: int, cid: str, seq: int, **extra: object):
    body = {"client_event_id": cid, "seq": seq, "type": "arrived", **extra}
    return client.post(url(sheet, "/events"), json=body, headers=login("courier1"))


def test_position_is_stored_with_distance_and_flag(
    client: TestClient, login: Login, world: World
) -> None:
    # about 110 m north of 石羊镇: on the point
    near = post(
        client, login, world.a, "p-1", 1, lon=SHIYANG["lon"], lat=SHIYANG["lat"] + 0.001,
        accuracy_m=15,
    )  # fmt: skip
    assert near.status_code == 201, near.text
    event = near.json()["event"]
    assert event["lon"] == SHIYANG["lon"] and event["accuracy_m"] == 15
    assert 100 < event["distance_m"] < 120 and event["off_point"] is False
    # about 1.1 km away from 六苴镇: flagged
    far = post(client, login, world.a, "p-2", 2, lon=LIUJU["lon"], lat=LIUJU["lat"] + 0.01)
    assert far.status_code == 201, far.text
    assert far.json()["event"]["off_point"] is True
    assert 1000 < far.json()["event"]["distance_m"] < 1200
    # a retry returns the stored event, unchanged
    again = post(client, login, world.a, "p-2", 2, lon=LIUJU["lon"], lat=LIUJU["lat"])
    assert again.status_code == 200 and again.json()["event"]["off_point"] is True
    listed = client.get(url(world.a, "/events"), headers=login("dayao")).json()["items"]
    assert {e["client_event_id"]: e["off_point"] for e in listed} == {"p-1": False, "p-2": True}

    # the dispatcher sees it on the monitor
    mon = client.get("/api/v1/monitor", headers=login("dayao")).json()
    [flagged] = mon["off_point"]
    assert (flagged["sheet_id"], flagged["seq"], flagged["route_id"]) == (world.a, 2, "C-532326-01")
    assert flagged["place"]["name_zh"] == "六苴镇"
    assert flagged["distance_m"] > OFF_POINT_M and flagged["accuracy_m"] is None
    assert flagged["courier"]["username"] == "courier1" and flagged["time"].endswith("+08:00")


def test_event_without_position(client: TestClient, login: Login, world: World) -> None:
    r = post(client, login, world.a, "n-1", 1)
    assert r.status_code == 201
    event = r.json()["event"]
    assert event["lon"] is None and event["distance_m"] is None and event["off_point"] is False


def test_accuracy_is_used_generously() -> None:
    stop = {"place": SHIYANG}
    lat = SHIYANG["lat"] + 0.004  # about 445 m north
    distance, off = distance_from_stop(stop, SHIYANG["lon"], lat, None)
    assert distance is not None and 430 < distance < 460 and off
    assert distance_from_stop(stop, SHIYANG["lon"], lat, 200)[1] is False  # may have been near
    assert distance_from_stop(stop, SHIYANG["lon"], lat, 100)[1] is True
    assert distance_from_stop({"place": {"id": "x"}}, 101.0, 25.0, None) == (None, False)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"lon": 101.1}, "lat"),
        ({"lat": 25.8}, "lon"),
        ({"lon": 181.0, "lat": 25.8}, "lon"),
        ({"lon": 101.1, "lat": -91.0}, "lat"),
        ({"lon": 101.1, "lat": 25.8, "accuracy_m": -1}, "accuracy_m"),
    ],
)
def test_bad_positions_are_422(
    client: TestClient, login: Login, world: World, extra: dict[str, float], field: str
) -> None:
    r = post(client, login, world.a, "bad-1", 1, **extra)
    assert r.status_code == 422, r.text
    assert field in r.text
    # nothing was recorded
    assert client.get(url(world.a, "/events"), headers=login("courier1")).json()["total"] == 0
