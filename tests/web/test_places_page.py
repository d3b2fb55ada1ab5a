"""The places page: 双柏's dispatcher places the unlocated township 鄂嘉镇 on the map; the
correction is kept with who placed it, the place leaves the unlocated list and shows
among the recently placed."""

from __future__ import annotations

import re
from typing import Any

from browser_support import Demo, OpenPage, shot

EJIA = "532322104"  # 鄂嘉镇, 双柏县: unlocated, the demo day has orders for it
POINT = (101.298, 24.452)  # lon, lat: inside 双柏县


def _click_map(page: Any, lon: float, lat: float) -> None:
    """Click the map where the page's Leaflet map draws (lon, lat)."""
    page.locator("#map").scroll_into_view_if_needed()
    x, y, inside = page.evaluate(
        """([lat, lon]) => {
            const p = placesMap.latLngToContainerPoint([lat, lon]);
            const box = placesMap.getContainer();
            const r = box.getBoundingClientRect();
            const inside = p.x > 0 && p.y > 0 && p.x < box.clientWidth && p.y < box.clientHeight;
            return [r.left + box.clientLeft + p.x, r.top + box.clientTop + p.y, inside];
        }""",
        [lat, lon],
    )
    assert inside, (lon, lat, x, y)
    page.mouse.click(x, y)


def test_dispatcher_places_a_township(demo: Demo, open_page: OpenPage) -> None:
    shuangbai = demo.user_id("shuangbai")
    page = open_page("shuangbai", "/console/places")
    page.wait_for_selector("body[data-places-ready]")
    assert page.locator("#county").is_disabled()
    assert page.locator("#county").input_value() == "532322"
    rows = page.locator("#unlocated tbody tr")
    assert rows.count() > 10
    # busiest first: the township's orders of the demo day put it near the top
    first_orders = rows.first.locator("td.num").inner_text()
    assert first_orders.isdigit() and int(first_orders) > 0
    assert page.locator("#recent-title").is_visible()
    shot(page, "places-desktop")

    # the kind filter narrows to townships
    page.select_option("#kind", "township")
    page.wait_for_selector("#unlocated tbody:not([aria-busy])")
    assert 1 <= rows.count() <= 3  # 双柏 has two unlocated townships
    row = page.locator(f'#unlocated tbody tr[data-place="{EJIA}"]')
    assert row.count() == 1 and "鄂嘉镇" in row.inner_text()
    row.click()
    assert page.locator("#confirm").is_visible() and page.locator("#save").is_disabled()

    _click_map(page, *POINT)
    page.wait_for_selector(".place-pin")
    assert page.locator("#save").is_enabled()
    shown = page.locator("#chosen-where").inner_text()  # "位置 101.29800, 24.45200（…）"
    lon, lat = (float(v) for v in re.findall(r"\d+\.\d+", shown)[:2])
    assert abs(lon - POINT[0]) < 0.005 and abs(lat - POINT[1]) < 0.005, shown
    page.fill("#source", "现场核实")
    page.click("#save")
    page.wait_for_selector(f'#recent tbody tr[data-place="{EJIA}"]')
    assert page.locator(f'#unlocated tbody tr[data-place="{EJIA}"]').count() == 0
    recent = page.locator(f'#recent tbody tr[data-place="{EJIA}"]').first.inner_text()
    assert "shuangbai" in recent and "现场核实" in recent
    assert page.locator("#flash .alert.ok").count() == 1
    shot(page, "places-desktop-placed")

    with demo.client("admin") as admin:
        placed = admin.get(f"/places/{EJIA}").json()
    assert placed["located"] and placed["corrected"]
    assert abs(placed["lon"] - POINT[0]) < 0.005 and abs(placed["lat"] - POINT[1]) < 0.005
    assert placed["correction"]["corrected_by"] == shuangbai
    assert placed["correction"]["source"] == "现场核实"


def test_places_page_errors_inline_and_tablet(demo: Demo, open_page: OpenPage) -> None:
    """A point outside the prefecture is refused inline; the page at tablet width."""
    page = open_page("shuangbai", "/console/places", viewport="tablet", expect_errors=True)
    errors: list[str] = []  # the refused PATCH is a logged 422, and nothing else may be
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.wait_for_selector("body[data-places-ready]")
    page.locator("#unlocated tbody tr").first.click()
    # a point outside the prefecture (west of 双柏, in 普洱/大理 country)
    page.evaluate("() => { placesMap.setView([24.45, 100.6], 9, {animate: false}); }")
    _click_map(page, 100.6, 24.45)
    page.click("#save")
    error = page.locator("#place-error .alert.error")
    error.wait_for()
    assert "outside Chuxiong" in error.inner_text()
    assert page.locator("#save").is_enabled()
    shot(page, "places-tablet")
    assert errors and all("422" in e for e in errors), errors


def _tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x2e\x7d\x32" * 4 for _ in range(3))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_dispatcher_reviews_a_field_proposal(demo: Demo, open_page: OpenPage) -> None:
    """武定's courier proposes a service point for an unlocated village (a TEST FIXTURE
    point: ~400 m from its township's station, never a real survey); 武定's dispatcher sees
    it on the Places page with its marker, accepts it; the place is located by wuding."""
    with demo.client("wuding") as wuding:
        items = wuding.get("/places?county=532329&kind=village&located=false&limit=500").json()
        village = next(  # not in the county seat's township, whose station is the hub's
            p
            for p in items["items"]
            if not p["township_code"].endswith("101")
            and wuding.get(f"/places/{p['township_code']}").json()["located"]
        )
        town = wuding.get(f"/places/{village['township_code']}").json()
    fixture = {"lon": round(town["lon"] + 0.004, 6), "lat": round(town["lat"] + 0.002, 6)}
    with demo.client("wuding-2") as courier:
        r = courier.post(
            "/place-proposals",
            json={
                "place_id": village["id"],
                **fixture,
                "accuracy_m": 35,
                "note": "测试夹具：村委会门口（非真实位置）",
                "client_id": "web-test-wuding-1",
            },
        )
        assert r.status_code == 201, r.text
        proposal = r.json()
        assert proposal["source"] == "field"
        photo = courier.post(
            f"/place-proposals/{proposal['id']}/photo",
            files={"file": ("point.png", _tiny_png(), "image/png")},
        )
        assert photo.status_code == 201, photo.text

    page = open_page("wuding", "/console/places")
    page.wait_for_selector("body[data-places-ready]")
    row = page.locator(f'#proposals tbody tr[data-proposal="{proposal["id"]}"]')
    assert row.count() == 1
    text = row.inner_text()
    assert village["name_zh"] in text and "wuding-2" in text and "35" in text
    assert row.locator("img.thumb").count() == 1
    assert page.locator(".proposal-pin").count() >= 1
    row.locator("button.show").click()
    shot(page, "places-proposals-desktop")

    row.locator("button.accept").click()
    page.wait_for_selector(
        f'#reviewed tbody tr[data-proposal="{proposal["id"]}"]', state="attached"
    )
    assert row.count() == 0
    assert page.locator("#flash .alert.ok").count() == 1
    page.locator("#reviewed-box summary").click()
    reviewed = page.locator(f'#reviewed tbody tr[data-proposal="{proposal["id"]}"]').inner_text()
    assert "wuding" in reviewed
    page.wait_for_selector(f'#recent tbody tr[data-place="{village["id"]}"]')
    shot(page, "places-proposals-accepted")

    with demo.client("wuding") as wuding:
        placed = wuding.get(f"/places/{village['id']}").json()
        after = wuding.get("/place-proposals?county=532329").json()["items"]
    assert placed["located"] and placed["corrected"]
    assert (placed["lon"], placed["lat"]) == (fixture["lon"], fixture["lat"])
    assert placed["correction"]["corrected_by"] == demo.user_id("wuding")
    assert f"proposal #{proposal['id']}" in placed["correction"]["source"]
    mine = next(p for p in after if p["id"] == proposal["id"])
    assert mine["status"] == "accepted" and mine["reviewed_by_username"] == "wuding"


def test_proposals_tablet_move_and_reject(demo: Demo, open_page: OpenPage) -> None:
    """At tablet width: one proposal moved then accepted, another rejected with a note."""
    with demo.client("wuding") as wuding:
        items = wuding.get("/places?county=532329&kind=village&located=false&limit=500").json()
        located = [
            p
            for p in items["items"]
            if wuding.get(f"/places/{p['township_code']}").json()["located"]
        ]
        first, second = located[-1], located[-2]
        town = wuding.get(f"/places/{first['township_code']}").json()
    ids = []
    with demo.client("wuding-3") as courier:
        for n, village in enumerate((first, second)):
            fixture = {"lon": round(town["lon"] - 0.003, 6), "lat": round(town["lat"] - 0.002, 6)}
            r = courier.post(
                "/place-proposals",
                json={"place_id": village["id"], **fixture, "client_id": f"web-tablet-{n}"},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

    page = open_page("wuding", "/console/places", viewport="tablet")
    page.wait_for_selector("body[data-places-ready]")
    moving = page.locator(f'#proposals tbody tr[data-proposal="{ids[0]}"]')
    moving.locator("button.move").click()
    assert page.locator("#move-hint").is_visible()
    # drag the orange marker ~40 px east
    pin = page.locator(".leaflet-marker-draggable .proposal-pin").first
    box = pin.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 10, steps=8)
    page.mouse.up()
    assert "," in moving.locator(".moved").inner_text()
    shot(page, "places-proposals-tablet")
    moving.locator("button.accept").click()
    page.wait_for_selector(f'#reviewed tbody tr[data-proposal="{ids[0]}"]', state="attached")

    rejecting = page.locator(f'#proposals tbody tr[data-proposal="{ids[1]}"]')
    rejecting.locator("button.reject").click()
    rejecting.locator("input[name=note]").fill("测试：位置在河对岸")
    rejecting.locator(".reject-form button").click()
    page.wait_for_selector(
        f'#reviewed tbody tr[data-proposal="{ids[1]}"][data-status="rejected"]', state="attached"
    )

    with demo.client("wuding") as wuding:
        moved = wuding.get(f"/places/{first['id']}").json()
        still = wuding.get(f"/places/{second['id']}").json()
    assert moved["located"] and "moved" in moved["correction"]["source"]
    assert moved["lon"] > town["lon"] - 0.003  # dragged east of the proposed point
    assert not still["located"]
