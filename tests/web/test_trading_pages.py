"""The trading centre (交易中心) in the browser, on a phone (390 x 844) and a desktop: a firm
posts a truck's route from the capacity page (stops from the list and the map), a shipper
posts a cargo from the cargo page, the matches list the firm's truck with the detour and
price ``GET /cargo/{id}/matches`` gives, a double click on Book books once (counted through
the API) and the legs the cargo rides lose its weight; a booking that lost the race says
so and offers the next match; a lease over capacity shows the refusal; the statement
downloads (CSV with a BOM, XLSX) and adds up to the ledger; the information board is open
without signing in, showing only what firms made public.

Accounts (demo, see conftest): sf-2 (the firm), hetao-2 (the cooperative), ems (the
lessor); admin for a competing booking. Each test posts its own trucks and cargo.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import Demo, OpenPage, shot
from openpyxl import load_workbook

PHONE = {"width": 390, "height": 844}
SIZES = ("phone", "desktop")
TZ = ZoneInfo("Asia/Shanghai")
#: A truck route of the tests: the public warehouse, 牟定's hub, 大姚's hub.
ROUTE = (("WH-CX", "08:00"), ("HUB-532323", "09:30"), ("HUB-532326", "11:30"))
#: A cargo along it: from 新桥镇 (牟定) to 大姚's hub (about 31 km of detour).
ORIGIN, DESTINATION = "532323102", "HUB-532326"


def _tomorrow() -> date:
    return datetime.now(TZ).date() + timedelta(days=1)


def _open(
    open_page: OpenPage, user: str, path: str, size: str, refused: tuple[int, ...] = ()
) -> Any:
    page = open_page(user, path, viewport="desktop", refused=refused)
    if size == "phone":
        page.set_viewport_size(PHONE)
        page.reload()
    page.wait_for_selector("body[data-trade-ready]", timeout=60_000)
    return page


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page scrolls sideways: {width}"


def _points(demo: Demo) -> dict[str, tuple[float, float]]:
    with demo.client("sf-2") as c:
        features = c.get("/basemap").json()["features"]
    return {
        f["properties"]["id"]: tuple(f["geometry"]["coordinates"])
        for f in features
        if f["properties"]["layer"] == "place"
    }


def _truck_via_api(demo: Demo, capacity_kg: int) -> int:
    day = _tomorrow().isoformat()
    points = _points(demo)
    stops = [
        {"place": p, "lon": points[p][0], "lat": points[p][1], "time": f"{day}T{t}:00+08:00"}
        for p, t in ROUTE
    ]
    body = {"vehicle_type": "box_4_2m", "capacity_kg": capacity_kg, "capacity_m3": 10,
            "price_per_km_fen": 280, "stops": stops}  # fmt: skip
    with demo.client("sf-2") as c:
        r = c.post("/capacity", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _cargo_via_api(demo: Demo, user: str, weight: float) -> int:
    day = _tomorrow().isoformat()
    points = _points(demo)
    body = {
        "origin": ORIGIN, "origin_lon": points[ORIGIN][0], "origin_lat": points[ORIGIN][1],
        "destination": DESTINATION, "destination_lon": points[DESTINATION][0],
        "destination_lat": points[DESTINATION][1], "weight_kg": weight, "volume_m3": 1.0,
        "pickup_start": f"{day}T06:00:00+08:00", "pickup_end": f"{day}T12:00:00+08:00",
        "deliver_by": f"{day}T20:00:00+08:00", "offered_price_fen": 20000,
    }  # fmt: skip
    with demo.client(user) as c:
        r = c.post("/cargo", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _unfold(page: Any, box: str) -> None:
    """Open a form folded away (the pages fold them on a phone once there are postings)."""
    if page.locator(box).get_attribute("open") is None:
        page.click(f"{box} > summary")


def _click_place(page: Any, place_id: str) -> None:
    marker = page.locator(f'#map path[data-place="{place_id}"]')
    marker.dispatch_event("click")


def _post_route_from_the_page(page: Any) -> int:
    """Fill the capacity form: the first and last stop from the list, the middle one from
    the map; a time per stop; post it; answer the new posting's id."""
    day = _tomorrow().isoformat()
    form = page.locator("#capacity-form")
    form.locator("select[name=vehicle_type]").select_option("box_4_2m")
    form.locator("input[name=capacity_kg]").fill("1500")
    form.locator("input[name=capacity_m3]").fill("8")
    form.locator("input[name=price_per_km]").fill("2.60")
    page.fill("#stop-find", ROUTE[0][0])
    page.click("#add-stop")
    _click_place(page, ROUTE[1][0])
    page.fill("#stop-find", ROUTE[2][0])
    page.click("#add-stop")
    assert page.locator("#stops li[data-place]").count() == 3
    for i, (_, hhmm) in enumerate(ROUTE):
        page.locator(f'#stops [data-field="stops.{i}.time"] input').fill(f"{day}T{hhmm}")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/capacity") and r.request.method == "POST"
    ) as posted:
        page.click("#post-capacity")
    assert posted.value.status == 201, posted.value.text()
    capacity_id = int(posted.value.json()["id"])
    page.wait_for_selector(f'#my-capacity .item[data-capacity="{capacity_id}"]')
    return capacity_id


def _post_cargo_from_the_page(page: Any, weight: int) -> int:
    day = _tomorrow().isoformat()
    form = page.locator("#cargo-form")
    _unfold(page, "#cargo-form-box")
    form.locator("input[name=origin]").fill(ORIGIN)
    form.locator("button.pick[data-pick=destination]").click()
    _click_place(page, DESTINATION)
    assert DESTINATION in form.locator("input[name=destination]").input_value()
    form.locator("input[name=weight_kg]").fill(str(weight))
    form.locator("input[name=volume_m3]").fill("1.5")
    form.locator("input[name=pickup_start]").fill(f"{day}T06:00")
    form.locator("input[name=pickup_end]").fill(f"{day}T12:00")
    form.locator("input[name=deliver_by]").fill(f"{day}T20:00")
    form.locator("input[name=offered_price]").fill("200")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/cargo") and r.request.method == "POST"
    ) as posted:
        page.click("#post-cargo")
    assert posted.value.status == 201, posted.value.text()
    return int(posted.value.json()["id"])


@pytest.mark.parametrize("size", SIZES)
def test_post_a_route_and_a_cargo_match_and_book_once(
    demo: Demo, open_page: OpenPage, size: str
) -> None:
    firm = _open(open_page, "sf-2", "/trade/capacity", size, refused=(422,))
    # a form error is shown next to its field (the API's 422)
    _unfold(firm, "#capacity-form-box")
    firm.click("#post-capacity")
    firm.wait_for_selector('#capacity-form [data-field="capacity_kg"] .field-error')
    capacity_id = _post_route_from_the_page(firm)
    _no_sideways_scroll(firm)
    shot(firm, f"trading-capacity-{size}")

    shipper = _open(open_page, "hetao-2", "/trade/cargo", size)
    weight = 437
    cargo_id = _post_cargo_from_the_page(shipper, weight)
    row = shipper.locator(f'#matches li.match[data-capacity="{capacity_id}"]')
    row.wait_for(timeout=60_000)
    with demo.client("hetao-2") as c:
        api_matches = c.get(f"/cargo/{cargo_id}/matches").json()
    ours = next(m for m in api_matches if m["capacity_id"] == capacity_id)
    assert float(row.get_attribute("data-detour-km")) == ours["detour_km"]
    assert int(row.get_attribute("data-price")) == ours["suggested_price_fen"]
    listed = [int(x) for x in shipper.locator("#matches li.match").evaluate_all(
        "ns => ns.map(n => n.dataset.capacity)")]  # fmt: skip
    assert listed == [m["capacity_id"] for m in api_matches]  # the same ranking
    assert f"{ours['detour_km']:.1f}" in row.locator(".detour-km").inner_text()
    assert str(ours["detour_min"]) in row.locator(".detour-min").inner_text()
    assert f"{ours['suggested_price_fen'] / 100:,.2f}" in row.locator(".price-fen").inner_text()
    # the map draws the truck's planned route and the route with the cargo (the detour)
    row.click()
    shipper.wait_for_selector(f'#map[data-shown="{capacity_id}"]', timeout=30_000)
    assert shipper.locator("#map path.route-planned").count() == 1
    assert shipper.locator("#map path.route-detour").count() == 1
    _no_sideways_scroll(shipper)
    shipper.mouse.move(1, 1)  # no tooltip over the map
    shot(shipper, f"trading-matches-{size}")  # docs/screenshots/trading-matches.png

    # a double click books once
    row.locator("button.book").dblclick()
    shipper.wait_for_selector("#book-result .alert.ok", timeout=60_000)
    with demo.client("hetao-2") as c:
        bookings = c.get(f"/freight-bookings?cargo_id={cargo_id}").json()
        capacity = c.get(f"/capacity/{capacity_id}").json()
    assert bookings["total"] == 1, bookings
    booking = bookings["items"][0]
    assert booking["capacity_id"] == capacity_id
    assert booking["price_fen"] == ours["suggested_price_fen"]
    first, last = ours["legs"]
    for leg in capacity["legs"]:
        expected = 1500 - math.ceil(weight) if first <= leg["seq"] <= last else 1500
        assert leg["remaining_kg"] == expected, capacity["legs"]
    shot(shipper, f"trading-booked-{size}")

    # the firm's page shows the room left on each leg
    firm.reload()
    firm.wait_for_selector("body[data-trade-ready]")
    legs = firm.locator(f'#my-capacity .item[data-capacity="{capacity_id}"] li.leg')
    shown = legs.evaluate_all("ns => ns.map(n => Number(n.dataset.remainingKg))")
    assert shown == [leg["remaining_kg"] for leg in capacity["legs"]]
    assert firm.locator(f'#carried tr[data-booking="{booking["id"]}"]').count() == 1


def test_a_booking_that_lost_the_race_says_so_and_offers_the_next_match(
    demo: Demo, open_page: OpenPage
) -> None:
    contested = _truck_via_api(demo, 800)
    spare = _truck_via_api(demo, 800)
    mine = _cargo_via_api(demo, "hetao-2", 600)
    page = _open(open_page, "hetao-2", "/trade/cargo", "desktop", refused=(409,))
    page.goto(f"{demo.url}/trade/cargo?cargo={mine}")
    page.wait_for_selector("body[data-trade-ready]", timeout=60_000)
    page.wait_for_selector(f'#matches li.match[data-capacity="{contested}"]', timeout=60_000)
    # meanwhile another shipper takes most of the contested truck's room
    theirs = _cargo_via_api(demo, "admin", 600)
    with demo.client("admin") as c:
        r = c.post(f"/cargo/{theirs}/book", json={"capacity_id": contested},
                   headers={"Idempotency-Key": f"race-{theirs}"})  # fmt: skip
    assert r.status_code == 201, r.text
    page.locator(f'#matches li.match[data-capacity="{contested}"] button.book').click()
    message = page.locator("#book-result .alert.lost")
    message.wait_for(timeout=60_000)
    nxt = page.locator("#matches li.match.next")
    nxt.wait_for()
    offered = int(nxt.get_attribute("data-capacity"))
    assert offered != contested
    assert f"#{offered}" in message.inner_text() and f"#{contested}" in message.inner_text()
    assert page.locator(f'#matches li.match[data-capacity="{contested}"]').count() == 0
    with demo.client("hetao-2") as c:
        assert c.get(f"/freight-bookings?cargo_id={mine}").json()["total"] == 0
    shot(page, "trading-lost-race")
    # the next one books
    page.locator(f'#matches li.match[data-capacity="{spare}"] button.book').click()
    page.wait_for_selector("#book-result .alert.ok", timeout=60_000)


@pytest.mark.parametrize("size", SIZES)
def test_a_lease_over_capacity_shows_why_and_one_within_books(
    demo: Demo, open_page: OpenPage, size: str
) -> None:
    first = _tomorrow() + timedelta(days=3)
    body = {"kind": "equipment", "place_id": "HUB-532326", "name": f"测试叉车 {size}",
            "equipment_type": "forklift", "capacity": 4, "price_per_unit_day_fen": 5000,
            "available_from": first.isoformat(),
            "available_to": (first + timedelta(days=20)).isoformat()}  # fmt: skip
    with demo.client("ems") as c:
        listing = c.post("/listings", json=body).json()
    with demo.client("sf-2") as c:
        r = c.post(f"/listings/{listing['id']}/bookings",
                   json={"start_day": (first + timedelta(days=1)).isoformat(),
                         "end_day": (first + timedelta(days=1)).isoformat(), "quantity": 3},
                   headers={"Idempotency-Key": f"lease-test-{size}"})  # fmt: skip
        assert r.status_code == 201, r.text
    page = _open(open_page, "hetao-2", "/trade/leasing", size, refused=(409,))
    page.locator(f'#listings .item[data-listing="{listing["id"]}"] button.open-calendar').click()
    page.wait_for_selector(f'.cal-day[data-day="{first.isoformat()}"]')
    busy_day = (first + timedelta(days=1)).isoformat()
    assert page.locator(f'.cal-day[data-day="{busy_day}"]').get_attribute("data-free") == "1"
    form = page.locator("#lease-form")
    form.locator("input[name=start_day]").fill(first.isoformat())
    form.locator("input[name=end_day]").fill((first + timedelta(days=2)).isoformat())
    form.locator("input[name=quantity]").fill("2")
    page.click("#book-lease")
    refusal = form.locator(".refusal")
    refusal.wait_for(timeout=30_000)
    assert busy_day in refusal.inner_text()
    page.wait_for_selector(f'.cal-day.short[data-day="{busy_day}"]')  # the day it lacks
    _no_sideways_scroll(page)
    shot(page, f"trading-lease-refused-{size}")
    form.locator("input[name=quantity]").fill("1")
    page.click("#book-lease")
    page.wait_for_selector(f'.cal-day[data-day="{busy_day}"][data-free="0"]', timeout=30_000)
    with demo.client("hetao-2") as c:
        mine = c.get(f"/bookings?listing_id={listing['id']}&side=lessee").json()
    assert mine["total"] == 1 and mine["items"][0]["quantity"] == 1


def test_the_statement_downloads_and_adds_up_to_the_ledger(
    demo: Demo, open_page: OpenPage, tmp_path: Path
) -> None:
    truck = _truck_via_api(demo, 1000)
    cargo = _cargo_via_api(demo, "hetao-2", 250)
    with demo.client("hetao-2") as c:
        r = c.post(f"/cargo/{cargo}/book", json={"capacity_id": truck},
                   headers={"Idempotency-Key": f"statement-{cargo}"})  # fmt: skip
        assert r.status_code == 201, r.text
    month = _tomorrow().strftime("%Y-%m")
    page = _open(open_page, "sf-2", "/trade/accounts", "desktop")
    page.fill("#month", month)
    page.dispatch_event("#month", "change")
    page.wait_for_selector(f'#download-csv[href*="month={int(month[5:])}&"]')
    page.wait_for_selector("#entries tbody tr[data-entry]")
    account = int(page.locator("#account").input_value())
    with demo.client("sf-2") as c:
        entries = c.get(f"/ledger/entries?account_id={account}&limit=500").json()["items"]
    in_month = [e for e in entries if e["service_date"].startswith(month)]
    owes = sum(e["amount_fen"] for e in in_month if e["debit_account_id"] == account)
    owed = sum(e["amount_fen"] for e in in_month if e["credit_account_id"] == account)
    totals = page.locator("#totals")
    assert int(totals.get_attribute("data-debit-fen")) == owes
    assert int(totals.get_attribute("data-credit-fen")) == owed
    assert page.locator("#entries tbody tr[data-entry]").count() == len(in_month)

    with page.expect_download() as got:
        page.click("#download-csv")
    raw = Path(got.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Chinese Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    body = [row for row in rows if row["entry_id"]]
    assert sum(int(row["debit_fen"]) for row in body) == owes
    assert sum(int(row["credit_fen"]) for row in body) == owed
    assert int(rows[-1]["balance_fen"]) == int(totals.get_attribute("data-closing-fen"))
    with page.expect_download() as got:
        page.click("#download-xlsx")
    assert got.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    total_row = next(v for v in values if v[0] == "total")
    assert (total_row[6], total_row[7]) == (owes, owed)

    # dispute an entry with a reason
    first = page.locator("#entries tbody tr[data-entry] button.dispute").first
    first.click()
    form = page.locator(".dispute-form")
    form.locator("button[type=submit]").click()
    form.locator('[data-field="note"] .field-error').wait_for()
    form.locator("textarea[name=note]").fill("重量与实际不符")
    form.locator("button[type=submit]").click()
    page.wait_for_selector('#entries tr[data-state="disputed"]', timeout=30_000)
    shot(page, "trading-accounts")


@pytest.mark.parametrize("size", SIZES)
def test_the_information_board_is_open_and_filters(
    demo: Demo, browser: Any, open_page: OpenPage, size: str
) -> None:
    context = browser.new_context(
        viewport=PHONE if size == "phone" else {"width": 1440, "height": 900}, locale="zh-CN"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{demo.url}/trade/market")
    page.wait_for_selector("body[data-trade-ready]")
    with demo.client("sf-2") as c:
        public = c.get("/market/capacity?limit=500").json()
    shown = {int(x) for x in page.locator("#market .item").evaluate_all(
        "ns => ns.map(n => n.dataset.capacity)")}  # fmt: skip
    assert shown and all(i["public"] for i in public["items"] if i["id"] in shown)
    private = [i["id"] for i in public["items"] if not i["public"]]
    assert not shown & set(private)  # the tests' API trucks are not public
    page.select_option("#county", "532322")  # 双柏: no demo truck goes there
    page.wait_for_selector("#market .empty")
    _no_sideways_scroll(page)
    shot(page, f"trading-market-{size}")
    context.close()
    assert not errors, errors


def test_the_pages_switch_to_english(demo: Demo, open_page: OpenPage) -> None:
    page = _open(open_page, "hetao-2", "/trade/cargo", "desktop")
    page.click("a.lang")
    page.wait_for_selector("body[data-trade-ready]")
    assert page.locator("nav a[data-page=trade]").inner_text() == "Trading"
    assert page.locator('a[data-trade="leasing"]').inner_text() == "Leasing"
    shot(page, "trading-cargo-en")
    page.click("a.lang")  # back to Chinese for the tests that follow
    page.wait_for_selector("body[data-trade-ready]")
