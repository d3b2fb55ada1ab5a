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
