"""The plan board in a real browser, on the demo day (the whole prefecture)."""

from __future__ import annotations

from typing import Any

from browser_support import Demo, OpenPage, shot

DAYAO = "532326"


def _board(demo: Demo, plan_id: int, username: str = "admin") -> dict[str, Any]:
    with demo.client(username) as c:
        r = c.get(f"/plans/{plan_id}/board")
        assert r.status_code == 200, r.text
        return dict(r.json())


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-board-ready]", timeout=30_000)


def test_one_coloured_path_per_route_and_the_unassigned_with_reasons(
    demo: Demo, open_page: OpenPage
) -> None:
    board = _board(demo, demo.plan_id)
    summary = board["summary"]
    page = open_page("admin", f"/console/board?plan={demo.plan_id}")
    _ready(page)
    paths = page.locator("path.route-path")
    assert paths.count() == summary["routes"] == len(board["routes"])
    colours = paths.evaluate_all("ps => ps.map(p => p.getAttribute('stroke'))")
    assert len(set(colours)) == len(colours), "two routes share a colour"
    assert page.locator("path.route-path.trunk").count() == sum(
        r["echelon"] == "trunk" for r in board["routes"]
    )
    assert page.locator("#vehicles tbody tr").count() == summary["routes"]
    assert page.locator(".timeline .lane").count() == summary["routes"]
    kpi = page.locator("[data-kpi=unassigned] .v").inner_text()
    assert int(kpi.replace(",", "")) == summary["unassigned"]
    shot(page, "board-desktop")

    page.click("[data-tab=unassigned]")
    assert page.locator("tr.unassigned-row").count() == summary["unassigned"]
    first = board["unassigned"][0]
    row = page.locator("tr.unassigned-row").first
    assert first["order_id"] in row.inner_text()
    assert first["detail"] in row.inner_text()
    page.select_option("#reason-filter", "no_vehicle")
    assert page.locator("tr.unassigned-row").count() == summary["unassigned_reasons"].get(
        "no_vehicle", 0
    )
    page.click("[data-tab=costs]")
    assert page.locator("#shares tbody tr").count() == len(summary["parties"])
    shot(page, "board-costs-desktop")


def test_clicking_a_vehicle_singles_out_its_route_and_timeline(
    demo: Demo, open_page: OpenPage
) -> None:
    board = _board(demo, demo.plan_id)
    route = next(r for r in board["routes"] if r["county_code"] == DAYAO)
    sid = route["sheet_id"]
    page = open_page("admin", f"/console/board?plan={demo.plan_id}", viewport="tablet")
    _ready(page)
    page.click(f"#vehicles tr[data-route='{sid}']")
    assert page.locator("path.route-path.selected").count() == 1
    assert "selected" in (
        page.locator(f"path.route-path[data-route='{sid}']").get_attribute("class") or ""
    )
    assert "selected" in (
        page.locator(f".timeline .lane[data-route='{sid}']").get_attribute("class") or ""
    )
    others = page.locator("path.route-path:not(.selected)").first.get_attribute("stroke-opacity")
    assert float(others or 1) < 0.5
    shot(page, "board-selected-tablet")
    page.click(f".timeline .lane[data-route='{sid}']")  # again: everything back
    assert page.locator("path.route-path.selected").count() == 0


def test_publishing_from_the_page_gives_the_courier_their_sheet(
    demo: Demo, open_page: OpenPage
) -> None:
    plan_id = demo.clone_plan()
    board = _board(demo, plan_id)
    route = next(r for r in board["routes"] if r["county_code"] == DAYAO)
    courier = demo.user_id("dayao-1")
    page = open_page("admin", f"/console/board?plan={plan_id}")
    _ready(page)
    page.select_option(f"select.courier[data-route-id='{route['route_id']}']", str(courier))
    page.click("#publish")
    page.wait_for_selector(".alert.ok", timeout=15_000)
    with demo.client("dayao-1") as c:
        sheets = c.get("/route-sheets?limit=100").json()["items"]
        mine = [s for s in sheets if s["id"] == route["sheet_id"]]
        assert mine and mine[0]["status"] == "assigned", sheets
    with demo.client("admin") as c:
        assert c.get(f"/plans/{plan_id}").json()["status"] == "published"
    # after publishing: reassign the sheet to another courier of the county
    page.wait_for_selector("body[data-board-ready]")
    page.wait_for_selector("button.reassign")
    other = demo.user_id("dayao-4")
    page.select_option(f"select.courier[data-route-id='{route['route_id']}']", str(other))
    page.click(f"tr[data-route='{route['sheet_id']}'] button.reassign")
    page.wait_for_selector(".alert.ok >> text=" + route["route_id"], timeout=15_000)
    with demo.client("admin") as c:
        sheet = c.get(f"/route-sheets/{route['sheet_id']}").json()
        assert sheet["courier_id"] == other
    # the courier reports: the timeline shows the actual time under the planned one
    with demo.client("dayao-4") as c:
        stops = c.get(f"/route-sheets/{route['sheet_id']}").json()["stops"]
        stop = next(st for st in stops[1:] if st["needs_drop"] or st["needs_pickup"])
        done = "delivered" if stop["needs_drop"] else "picked_up"
        for kind, moment in (("arrived", "09:05"), (done, "09:20")):
            r = c.post(
                f"/route-sheets/{route['sheet_id']}/events",
                json={
                    "client_event_id": f"board-{kind}",
                    "seq": stop["seq"],
                    "type": kind,
                    "occurred_at": f"2026-09-15T{moment}:00+08:00",
                },
            )
            assert r.status_code in (200, 201), r.text
    page.reload()
    _ready(page)
    lane = page.locator(f".timeline .lane[data-route='{route['sheet_id']}']")
    assert lane.locator(".actual").count() == 1
    assert "09:05" in (lane.locator(".actual").get_attribute("title") or "")
    shot(page, "board-published-desktop")


def test_a_dispatcher_sees_their_county_and_the_trunk_in_english(
    demo: Demo, open_page: OpenPage
) -> None:
    board = _board(demo, demo.plan_id, "dayao")
    assert {r["county_code"] for r in board["routes"]} <= {DAYAO, None}
    page = open_page("dayao", f"/console/board?plan={demo.plan_id}", viewport="tablet")
    _ready(page)
    assert page.locator("path.route-path").count() == len(board["routes"])
    # the prefecture's plan is published by the office: no publish button, no courier choice
    assert not board["may"]["publish"] and not page.locator("#publish").is_visible()
    assert page.locator("select.courier").count() == 0
    page.click("a.lang")
    _ready(page)
    assert page.locator("nav a[data-page=board]").inner_text() == "Plan board"
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "board-dispatcher-en-tablet")


def test_sign_in_and_courier_pages(demo: Demo, browser: Any, open_page: OpenPage) -> None:
    context = browser.new_context(viewport={"width": 820, "height": 1180}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{demo.url}/console/board")
    page.wait_for_selector("form[action='/login']")
    shot(page, "login-tablet")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.locator(".alert.error").inner_text()
    context.close()
    me = open_page("dayao-1", "/me")
    me.wait_for_selector("#my-sheets li")
    shot(me, "me-courier-desktop")


def test_a_dispatcher_starts_a_plan_and_watches_it_finish(demo: Demo, open_page: OpenPage) -> None:
    """Orders of another day (those of the demo day are on published plans by now),
    entered through the API, then planned from the board."""
    with demo.client("yongren") as c:
        towns = c.get("/places?county=532327&kind=township&located=true&limit=20").json()
        orders = [
            {
                "order_id": f"20260921-BOARD-{k:02d}",
                "party": "ZTO",
                "direction": "down",
                "origin": "WH-CX",
                "destination": place["id"],
                "weight_kg": 20 + k,
                "pieces": 2,
                "ready_time": "2026-09-21T07:00:00+08:00",
                "due_time": "2026-09-21T19:00:00+08:00",
            }
            for k, place in enumerate(towns["items"][:6])
        ]
        r = c.post("/orders/bulk", json=orders)
        assert r.status_code in (200, 201), r.text
    page = open_page("yongren", "/console/board")
    _ready(page)
    page.click("#new-plan-toggle")
    page.fill("#new-plan input[name=plan_date]", "2026-09-21")
    page.fill("#new-plan input[name=time_limit]", "1")
    page.click("#new-plan button[type=submit]")
    page.wait_for_selector("#job .progress", timeout=15_000)
    page.wait_for_url("**/console/board?plan=*", timeout=120_000)
    _ready(page)
    plan_id = int(page.url.rsplit("=", 1)[1])
    with demo.client("yongren") as c:
        plan = c.get(f"/plans/{plan_id}").json()
    assert plan["status"] == "succeeded" and plan["counties"] == ["532327"], plan
    assert plan["summary"]["orders"] == len(orders)
    routes = page.locator("path.route-path")
    assert routes.count() == len(_board(demo, plan_id, "yongren")["routes"]) > 0
    assert page.locator("#publish").is_visible()  # their own county's plan: they publish it


def test_one_courier_on_two_overlapping_routes_is_refused_on_the_page(
    demo: Demo, open_page: OpenPage
) -> None:
    plan_id = demo.clone_plan()
    board = _board(demo, plan_id)
    wuding = [r for r in board["routes"] if r["county_code"] == "532329"]
    a, b = next(
        (a, b)
        for i, a in enumerate(wuding)
        for b in wuding[i + 1 :]
        if a["start"]["time"] < b["end"]["time"] and b["start"]["time"] < a["end"]["time"]
    )
    courier = str(demo.user_id("wuding-3"))
    page = open_page("admin", f"/console/board?plan={plan_id}", refused=(409,))
    _ready(page)
    page.select_option(f"select.courier[data-route-id='{a['route_id']}']", courier)
    page.select_option(f"select.courier[data-route-id='{b['route_id']}']", courier)
    page.click("#publish")
    error = page.wait_for_selector(".alert.error", timeout=15_000)
    assert "at once" in error.inner_text() and a["route_id"] in error.inner_text()
    with demo.client("admin") as c:
        assert c.get(f"/plans/{plan_id}").json()["status"] == "succeeded"  # nothing published
