"""The courier app on a phone (390 x 844), offline: record 3 events and a photo without a
connection, reload (the sheet still shows, the outbox holds them), go back online (the
server gets exactly those events, once, and the photo), then a conflict is shown; a
village's service point proposed offline and located on the server meanwhile is a
conflict too.

Demo couriers used here (no other test file uses them): mouding-1, yaoan-2, yaoan-3."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from browser_support import PASSWORD, SHOTS, Demo, Watch, shot

MOUDING = "532323"
PHONE = {"width": 390, "height": 844}
OUTBOX_IDS = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("codist-courier", 1);
  req.onsuccess = () => {
    const get = req.result.transaction("outbox").objectStore("outbox").getAll();
    get.onsuccess = () => resolve(get.result.filter((i) => i.kind === "event")
      .map((i) => i.body.client_event_id));
    get.onerror = () => reject(get.error);
  };
  req.onerror = () => reject(req.error);
})"""


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xcc\x22\x22" * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _usable(stops: list[dict[str, Any]]) -> bool:
    """At least one stop with orders followed by two more stops."""
    return any(s["drop"] or s["pickup"] for s in stops[:-2])


def _publish(demo: Demo) -> tuple[int, list[dict[str, Any]]]:
    """A fresh plan with one 牟定 route given to mouding-1: its sheet id and stops."""
    plan = demo.clone_plan()
    with demo.client("admin") as admin:
        sheets = admin.get(f"/plans/{plan}/sheets").json()
        route = next(
            s["route_id"]
            for s in sheets
            if s["echelon"] == "county"
            and s["county_code"] == MOUDING
            and _usable(admin.get(f"/route-sheets/{s['id']}").json()["stops"])
        )
        r = admin.post(
            f"/plans/{plan}/publish",
            json={"assignments": {route: demo.user_id("mouding-1")}},
        )
        assert r.status_code == 200, r.text
    with demo.client("mouding-1") as courier:
        mine = courier.get("/route-sheets", params={"plan_id": plan}).json()["items"]
        [sheet_id] = [s["id"] for s in mine]
        stops = courier.get(f"/route-sheets/{sheet_id}").json()["stops"]
    return sheet_id, stops


def _count(page: Any) -> str:
    return str(page.text_content("#outbox-count")).strip()


def _wait_count(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => document.getElementById('outbox-count').textContent.trim() === n",
        arg=str(n),
        timeout=30000,
    )


def _tap(page: Any, seq: int, act: str) -> None:
    page.click(f'.stop[data-seq="{seq}"] button[data-act="{act}"]')


def test_offline_outbox_sync_photo_and_conflict(browser: Any, demo: Demo) -> None:
    sheet_id, stops = _publish(demo)
    # a stop with something to hand over or collect, and two stops after it
    i = next(k for k, s in enumerate(stops[:-2]) if s["needs_drop"] or s["needs_pickup"])
    first, second, third = stops[i], stops[i + 1], stops[i + 2]
    action = "delivered" if first["needs_drop"] else "picked_up"
    place = first["place"]

    context = browser.new_context(
        viewport=PHONE,
        service_workers="allow",
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": place["lon"], "latitude": place["lat"], "accuracy": 20},
        permissions=["geolocation"],
    )
    watch = Watch(demo.url, refused=(409,))
    page = context.new_page()
    watch.attach(page)
    try:
        page.goto(f"{demo.url}/login?next=/app")
        page.fill("input[name=username]", "mouding-1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.url}/app*")
        page.wait_for_selector("body[data-app-ready]")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.wait_for_selector("body[data-app-ready]")
        assert page.evaluate("navigator.serviceWorker.controller !== null")

        page.click(f'[data-sheet="{sheet_id}"]')
        page.wait_for_selector(f'.stop[data-seq="{first["seq"]}"] button[data-act="arrived"]')
        assert page.locator(".stop").count() == len(stops)
        shot(page, "app-phone-sheet")

        # ---- offline: three events ----
        context.set_offline(True)
        page.wait_for_selector('#net[data-online="0"]')
        _tap(page, first["seq"], "arrived")
        _wait_count(page, 1)
        _tap(page, first["seq"], action)
        _wait_count(page, 2)
        _tap(page, second["seq"], "arrived")
        _wait_count(page, 3)
        ids = page.evaluate(OUTBOX_IDS)
        assert len(set(ids)) == 3

        page.reload()  # no connection: the service worker serves the app and the sheet
        page.wait_for_selector("body[data-app-ready]")
        page.wait_for_selector(f'.stop[data-seq="{first["seq"]}"]')
        assert _count(page) == "3"
        assert "待发送" in str(page.text_content(f'.stop[data-seq="{second["seq"]}"] .state'))
        page.set_input_files(
            f'.stop[data-seq="{first["seq"]}"] input.photo-input',
            files=[{"name": "proof.png", "mimeType": "image/png", "buffer": _png()}],
        )
        _wait_count(page, 4)
        shot(page, "app-phone-offline")
        page.screenshot(path=str(SHOTS / "app-phone-offline-view.png"))

        # ---- online again: the outbox goes out, once ----
        context.set_offline(False)
        _wait_count(page, 0)
        with demo.client("mouding-1") as courier:
            events = courier.get(f"/route-sheets/{sheet_id}/events").json()["items"]
            assert sorted(e["client_event_id"] for e in events) == sorted(ids)
            assert {(e["seq"], e["type"]) for e in events} == {
                (first["seq"], "arrived"),
                (first["seq"], action),
                (second["seq"], "arrived"),
            }
            assert all(e["lon"] is not None and e["off_point"] is False for e in events)
            assert (
                courier.get(f"/route-sheets/{sheet_id}/stops/{first['seq']}/photo").status_code
                == 200
            )

            page.reload()  # another sync: nothing more
            page.wait_for_selector("body[data-app-ready]")
            page.wait_for_timeout(1000)
            assert _count(page) == "0"
            assert courier.get(f"/route-sheets/{sheet_id}/events").json()["total"] == 3

            # ---- a conflict: the stop failed meanwhile (reported elsewhere) ----
            page.wait_for_selector(f'.stop[data-seq="{third["seq"]}"] button[data-act="arrived"]')
            r = courier.post(
                f"/route-sheets/{sheet_id}/events",
                json={
                    "client_event_id": "elsewhere-1",
                    "seq": third["seq"],
                    "type": "failed",
                    "reason": "道路不通",
                },
            )
            assert r.status_code == 201, r.text
        _tap(page, third["seq"], "arrived")
        conflict = page.wait_for_selector(f'.stop[data-seq="{third["seq"]}"] .conflict')
        assert "冲突" in str(conflict.text_content()) and "failed" in str(conflict.text_content())
        _wait_count(page, 0)
        assert page.is_visible("#conflicts")
        shot(page, "app-phone-conflict")
        page.locator(f'.stop[data-seq="{third["seq"]}"]').scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "app-phone-conflict-view.png"))
    finally:
        context.close()
    watch.check()


YAOAN = "532325"


def _fixture_village(demo: Demo) -> tuple[dict[str, Any], dict[str, float]]:
    """An unlocated 姚安 village whose township station is located, and a TEST FIXTURE
    point for it: ~500 m north of that station. Made-up test data, not a surveyed point."""
    with demo.client("admin") as admin:
        villages = admin.get(
            "/places",
            params={"county": YAOAN, "kind": "village", "located": "false", "limit": 500},
        ).json()["items"]
        for village in villages:
            town = admin.get(f"/places/{village['township_code']}")
            if town.status_code == 200 and town.json()["located"]:
                station = town.json()
                break
        else:
            raise AssertionError("no unlocated 姚安 village under a located township")
    fixture = {  # TEST FIXTURE (not real data): 0.0045° of latitude ≈ 500 m north
        "longitude": round(station["lon"], 6),
        "latitude": round(station["lat"] + 0.0045, 6),
        "accuracy": 25,
    }
    return village, fixture


def test_village_service_point_from_the_app(browser: Any, demo: Demo) -> None:
    """A courier of 姚安 proposes an unlocated village's service point offline; back
    online the same outbox sends it (and its photo); the dispatcher accepts it."""
    village, fixture = _fixture_village(demo)
    context = browser.new_context(
        viewport=PHONE,
        service_workers="allow",
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation=fixture,
        permissions=["geolocation"],
    )
    context.set_geolocation(fixture)
    watch = Watch(demo.url)
    page = context.new_page()
    watch.attach(page)
    item = f'.point[data-place="{village["id"]}"]'
    try:
        page.goto(f"{demo.url}/login?next=/app")
        page.fill("input[name=username]", "yaoan-2")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.url}/app*")
        page.wait_for_selector("body[data-app-ready]")
        page.wait_for_selector("#sheets .sheet-card, #sheets li.muted")
        page.screenshot(path=str(SHOTS / "app-phone-home-view.png"))
        page.click("#points-open")
        page.wait_for_selector(item)
        listed = page.locator("#points-list .point").count()
        assert listed > 1
        page.fill("#points-q", village["name_zh"])
        page.wait_for_function(
            "n => document.querySelectorAll('#points-list .point').length < n", arg=listed
        )
        assert village["township_zh"] in str(page.text_content(item))

        # ---- offline: record the point ----
        context.set_offline(True)
        page.wait_for_selector('#net[data-online="0"]')
        page.click(f'{item} button[data-act="here"]')
        fix = page.wait_for_selector(f"{item} .fix.ok")
        assert "±25 米" in str(fix.text_content())
        page.fill(f"{item} .point-note", "村委会旁的小卖部（测试）")
        page.set_input_files(
            f"{item} input.point-photo",
            files=[{"name": "point.png", "mimeType": "image/png", "buffer": _png()}],
        )
        page.screenshot(path=str(SHOTS / "app-phone-village-point-form.png"))
        page.click(f'{item} button[data-act="point-save"]')
        _wait_count(page, 1)
        page.wait_for_selector('.proposal[data-status="waiting"]')
        shot(page, "app-phone-village-point")
        page.screenshot(path=str(SHOTS / "app-phone-village-point-view.png"))

        # ---- online: the same loop sends it, then its photo ----
        context.set_offline(False)
        _wait_count(page, 0)
        page.wait_for_selector('.proposal[data-status="proposed"]')
        with demo.client("yaoan-2") as courier:
            mine = courier.get("/place-proposals").json()["items"]
        [sent] = [p for p in mine if p["place"]["id"] == village["id"]]
        assert (sent["lon"], sent["lat"]) == (fixture["longitude"], fixture["latitude"])
        assert sent["accuracy_m"] == 25 and sent["source"] == "field"
        assert sent["client_id"] and sent["photo_url"] and sent["status"] == "proposed"
        assert sent["note"] == "村委会旁的小卖部（测试）"

        with demo.client("yaoan") as dispatcher:
            r = dispatcher.post(f"/place-proposals/{sent['id']}/accept", json={})
            assert r.status_code == 200, r.text
            place = dispatcher.get(f"/places/{village['id']}").json()
        assert place["located"] is True
        assert (place["lon"], place["lat"]) == (fixture["longitude"], fixture["latitude"])

        page.reload()
        page.wait_for_selector("body[data-app-ready]")
        page.wait_for_selector('.proposal[data-status="accepted"]')
        assert page.locator(item).count() == 0  # located now: no longer listed

        # a courier who refuses location gets a readable reason, nothing is queued
        context.clear_permissions()
        page.reload()
        page.wait_for_selector("body[data-app-ready]")
        page.click('#points-list .point button[data-act="here"]')
        refused = page.wait_for_selector("#points-list .fix.error")
        assert "拒绝了定位权限" in str(refused.text_content())
        assert _count(page) == "0"
    finally:
        context.close()
    watch.check()


def test_point_of_a_village_located_meanwhile_is_a_readable_conflict(
    browser: Any, demo: Demo
) -> None:
    """yaoan-3 records a village's service point offline; meanwhile the 姚安 dispatcher's
    own proposal of that village is accepted (the village is located). Back online the
    app sends it once, shows the server's 409 as a conflict the courier reads, empties the
    outbox, and the server kept no proposal of theirs."""
    village, fixture = _fixture_village(demo)
    context = browser.new_context(
        viewport=PHONE,
        service_workers="allow",
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation=fixture,
        permissions=["geolocation"],
    )
    watch = Watch(demo.url, refused=(409,))
    page = context.new_page()
    watch.attach(page)
    item = f'.point[data-place="{village["id"]}"]'
    try:
        page.goto(f"{demo.url}/login?next=/app")
        page.fill("input[name=username]", "yaoan-3")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.url}/app*")
        page.wait_for_selector("body[data-app-ready]")
        page.click("#points-open")
        page.fill("#points-q", village["name_zh"])
        page.wait_for_selector(item)

        # ---- offline: the courier records the point ----
        context.set_offline(True)
        page.wait_for_selector('#net[data-online="0"]')
        page.click(f'{item} button[data-act="here"]')
        page.wait_for_selector(f"{item} .fix.ok")
        page.fill(f"{item} .point-note", "村口（测试）")
        page.click(f'{item} button[data-act="point-save"]')
        _wait_count(page, 1)
        page.wait_for_selector('.proposal[data-status="waiting"]')

        # ---- meanwhile: the dispatcher's own proposal of the village is accepted ----
        at = {"lon": fixture["longitude"], "lat": round(fixture["latitude"] + 0.001, 6)}
        with demo.client("yaoan") as dispatcher:
            r = dispatcher.post("/place-proposals", json={"place_id": village["id"], **at})
            assert r.status_code == 201, r.text
            theirs = r.json()["id"]
            r = dispatcher.post(f"/place-proposals/{theirs}/accept", json={})
            assert r.status_code == 200 and r.json()["place"]["located"], r.text

        # ---- online: sent once, refused (409), shown, not retried ----
        context.set_offline(False)
        _wait_count(page, 0)
        conflict = page.wait_for_selector(
            f'#point-conflicts:not([hidden]) li[data-place="{village["id"]}"]'
        )
        words = str(conflict.text_content())
        assert "冲突" in words and village["name_zh"] in words, words
        assert "located already" in words, words  # the server's reason, as it gave it
        assert page.locator('.proposal[data-status="waiting"]').count() == 0
        page.locator("#point-conflicts").scroll_into_view_if_needed()
        shot(page, "app-phone-point-conflict")
        page.screenshot(path=str(SHOTS / "app-phone-point-conflict-view.png"))

        page.wait_for_timeout(1500)  # another pass of the loop: nothing goes out again
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        page.wait_for_timeout(1500)
        assert _count(page) == "0"
        with demo.client("yaoan-3") as courier:
            mine = courier.get("/place-proposals").json()["items"]
        assert [p for p in mine if p["place"]["id"] == village["id"]] == []
        with demo.client("yaoan") as dispatcher:
            rows = dispatcher.get("/place-proposals", params={"county": YAOAN}).json()["items"]
        of_village = [p for p in rows if p["place"]["id"] == village["id"]]
        assert [(p["id"], p["status"]) for p in of_village] == [(theirs, "accepted")]

        # the conflict stays until the courier dismisses it, also after a reload
        page.reload()
        page.wait_for_selector("body[data-app-ready]")
        page.wait_for_selector(f'#point-conflict-list li[data-place="{village["id"]}"]')
        page.click(f'#point-conflict-list li[data-place="{village["id"]}"] button')
        page.wait_for_selector("#point-conflicts", state="hidden")
    finally:
        context.close()
    watch.check()
