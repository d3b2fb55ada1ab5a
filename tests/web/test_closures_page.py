"""The closures and replanning page: close a road a published plan drives by clicking its
two ends on the map, see the plan flagged, replan it from 10:00 on the demo day from the
page, and read the comparison of the replan with the plan it replaces."""

from __future__ import annotations

import itertools
from typing import Any

from browser_support import Demo, OpenPage, shot

DAYAO = "532326"


def _road_used(demo: Demo, plan_id: int) -> tuple[str, str, str]:
    """Two consecutive stops (distinct located places) of a 大姚 county route of the plan."""
    with demo.client("admin") as admin:
        board = admin.get(f"/plans/{plan_id}/board").json()
        shown = {
            f["properties"]["id"]
            for f in admin.get("/basemap").json()["features"]
            if f["properties"]["layer"] == "place"
        }
    for route in board["routes"]:
        if route["county_code"] != DAYAO:
            continue
        stops = route["timeline"]
        for a, b in itertools.pairwise(stops):
            if (
                a["place_id"] in shown
                and b["place_id"] in shown
                and (a["lon"], a["lat"]) != (b["lon"], b["lat"])
            ):
                return route["route_id"], a["place_id"], b["place_id"]
    raise AssertionError("no 大姚 route with two located consecutive stops")


def _publish(demo: Demo, plan_id: int) -> None:
    with demo.client("admin") as admin:
        sheets = admin.get(f"/plans/{plan_id}/sheets").json()
        route = next(s["route_id"] for s in sheets if s["county_code"] == DAYAO)
        r = admin.post(
            f"/plans/{plan_id}/publish",
            json={"assignments": {route: demo.user_id("dayao-3")}},
        )
        assert r.status_code == 200, r.text


def _click_place(page: Any, place_id: str) -> None:
    """Click a place's marker (markers of nearby places may overlap it on the screen, so
    the click goes to the marker's element itself, as Leaflet receives it)."""
    marker = page.locator(f'path[data-place="{place_id}"]')
    marker.scroll_into_view_if_needed()
    marker.dispatch_event("click")


def test_close_a_used_road_and_replan_from_the_page(demo: Demo, open_page: OpenPage) -> None:
    plan_id = demo.clone_plan()
    _publish(demo, plan_id)
    route_id, a, b = _road_used(demo, plan_id)
    page = open_page("admin", f"/console/closures?plan={plan_id}")
    page.wait_for_selector("body[data-closures-ready]", timeout=60_000)
    assert page.locator(f'#plans tr[data-plan="{plan_id}"][data-flagged="0"]').count() == 1
    # pick the road on the map: its two ends, in turn
    page.evaluate("window.scrollTo(0, 0)")
    _click_place(page, a)
    _click_place(page, b)
    assert page.get_attribute("#from-name", "data-place") == a
    assert page.get_attribute("#to-name", "data-place") == b
    page.fill("input[name=starts_at]", "2026-09-15T06:00")
    page.fill("input[name=ends_at]", "2026-09-15T20:00")
    page.fill("input[name=reason]", "塌方 landslide")
    page.click("#close-road")
    flagged = page.locator(f'#plans tr[data-plan="{plan_id}"][data-flagged="1"]')
    flagged.wait_for(timeout=30_000)
    assert route_id in flagged.inner_text()
    row = page.locator("#closures tbody tr").first
    assert "塌方" in row.inner_text() and f"#{plan_id}" in row.inner_text()
    assert page.locator("path.closure-path").count() >= 1
    with demo.client("admin") as admin:
        closures = admin.get("/closures", params={"active_on": "2026-09-15"}).json()["items"]
        mine = next(c for c in closures if (c["from_place"], c["to_place"]) == (a, b))
        assert mine["starts_at"] == "2026-09-15T06:00:00+08:00"
        assert plan_id in mine["flagged_plans"]
    # replan from 10:00 on the demo day
    flagged.locator("input.replan-at").fill("2026-09-15T10:00")
    flagged.locator("button.replan-go").click()
    page.wait_for_selector("#compare-vehicles tbody tr", timeout=180_000)
    assert page.locator("#job [role=progressbar][aria-valuenow='100']").count() == 1
    assert page.locator("#compare-totals tbody tr").count() == 6
    new_id = int(page.get_attribute("#open-board", "href").split("plan=")[1])
    with demo.client("admin") as admin:
        new = admin.get(f"/plans/{new_id}").json()
        assert new["status"] == "succeeded"
        assert new["summary"]["replan_of"] == plan_id
        assert new["summary"]["at"] == "2026-09-15T10:00:00+08:00"
        compared = admin.get(f"/plans/{new_id}/compare").json()
    assert compared["old"]["id"] == plan_id
    rows = page.locator("#compare-vehicles tbody tr")
    assert rows.count() == len(compared["vehicles"])
    if compared["vehicles_changed"]:
        assert "changed" in (rows.first.get_attribute("class") or "")
    assert page.locator("path.new-path").count() >= 1
    assert page.locator("path.old-path").count() >= 1
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "closures-desktop")
    tablet = open_page("admin", f"/console/closures?compare={new_id}", "tablet")
    tablet.wait_for_selector("body[data-closures-ready]", timeout=60_000)
    tablet.wait_for_selector("#compare-vehicles tbody tr")
    tablet.evaluate("window.scrollTo(0, 0)")
    shot(tablet, "closures-tablet")


def test_a_refused_closure_shows_why_next_to_the_form(demo: Demo, open_page: OpenPage) -> None:
    # (the browser logs the 422 answer as a failed resource: this page expects errors)
    page = open_page("dayao", "/console/closures", expect_errors=True)
    page.wait_for_selector("body[data-closures-ready]", timeout=60_000)
    page.click("#close-road")
    page.wait_for_selector("#closure-errors .alert.error")
    assert "from_place" in page.inner_text("#closure-errors")
    page.fill("#place-find", "HUB-532326")
    page.dispatch_event("#place-find", "change")
    assert page.get_attribute("#from-name", "data-place") == "HUB-532326"
    page.click("#clear-pair")
    assert page.get_attribute("#from-name", "data-place") == ""
