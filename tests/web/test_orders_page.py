"""The orders page (/console/orders) in a real browser against ``codist serve --demo``:
an order file's row errors shown inline (line, column, value, reason), the list filtered,
the downloads of the plan answering with the right types; desktop and tablet screenshots."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

from browser_support import Demo, OpenPage, Watch, shot

HEADER = [
    "order_id",
    "party",
    "direction",
    "origin",
    "destination",
    "weight_kg",
    "volume_m3",
    "pieces",
    "ready_time",
    "due_time",
    "goods",
]
DAYAO = "532326"


def _order_file(folder: Path) -> tuple[Path, str]:
    """One good order of 大姚 (on 2026-09-20, away from the demo day) and two bad rows:
    an unknown place id (line 3) and a negative weight (line 4)."""
    tag = uuid.uuid4().hex[:8].upper()
    good = f"20260920-T{tag}"
    ready, due = "2026-09-20T07:30:00+08:00", "2026-09-20T18:00:00+08:00"
    rows = [
        [
            good,
            "ZTO",
            "down",
            "HUB-532326",
            "532326101001",
            "12.5",
            "0.08",
            "2",
            ready,
            due,
            "包裹",
        ],
        [f"{good}-X", "ZTO", "down", "HUB-532326", "532326999999", "3", "", "1", ready, due, ""],
        [f"{good}-Y", "ZTO", "down", "HUB-532326", "532326101001", "-4", "", "1", ready, due, ""],
    ]
    path = folder / "大姚订单.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path, good


def _errors(page: Any) -> list[tuple[str, str]]:
    return [
        (row.query_selector("td.line").inner_text(), row.get_attribute("data-column"))
        for row in page.query_selector_all("tr.row-error")
    ]


def _watched(demo: Demo, open_page: OpenPage, viewport: str) -> tuple[Any, Watch]:
    """Dayao's orders page, watched here: the refused upload is a logged 422 (the browser
    logs every failed request), and nothing else may go wrong."""
    page = open_page("dayao", "/console/orders", viewport=viewport, expect_errors=True)
    watch = Watch(demo.url)
    watch.attach(page)
    return page, watch


def _check(watch: Watch, refused: int) -> None:
    logged_422 = [e for e in watch.errors if "status of 422" in e]
    assert len(logged_422) == refused, watch.errors
    watch.errors = [e for e in watch.errors if e not in logged_422]
    watch.check()


def test_orders_page(demo: Demo, open_page: OpenPage, tmp_path: Path) -> None:
    page, watch = _watched(demo, open_page, "desktop")
    page.wait_for_selector("body[data-orders-ready]")
    path, good = _order_file(tmp_path)

    # all or nothing: both bad rows listed inline with line and column, nothing imported
    page.set_input_files("#upload input[name=file]", str(path))
    page.click("#upload-submit")
    page.wait_for_selector("tr.row-error")
    assert sorted(_errors(page)) == [("3", "destination"), ("4", "weight_kg")]
    summary = page.inner_text("#upload-summary")
    assert "2" in summary and "未导入" in summary
    reasons = page.inner_text("#row-errors")
    assert "532326999999" in reasons and "-4" in reasons
    with demo.client("dayao") as dayao:
        assert dayao.get(f"/orders/{good}").status_code == 404
    shot(page, "orders-desktop")

    # skip_bad: the good row imported, the two bad ones reported
    page.check("#upload input[name=skip_bad]")
    page.click("#upload-submit")
    page.wait_for_selector("#upload-summary.warn")
    assert len(_errors(page)) == 2
    assert "1" in page.inner_text("#upload-summary")
    with demo.client("dayao") as dayao:
        assert dayao.get(f"/orders/{good}").json()["county_code"] == DAYAO

    # the list: dayao's planned orders of the demo day, paged
    page.fill("#filters input[name=plan_date]", "2026-09-15")
    page.select_option("#filters select[name=status]", "planned")
    page.click("#filters button[type=submit]")
    page.wait_for_selector(
        'body[data-orders-query*="status=planned"][data-orders-query*="offset=0"]'
    )
    with demo.client("dayao") as dayao:
        total = dayao.get(
            "/orders", params={"plan_date": "2026-09-15", "status": "planned", "limit": 1}
        ).json()["total"]
    assert total > 50
    rows = page.query_selector_all("tr.order-row")
    assert len(rows) == 50
    assert {r.get_attribute("data-county") for r in rows} == {DAYAO}
    assert {r.get_attribute("data-status") for r in rows} == {"planned"}
    assert str(total) in page.inner_text("#total")
    first = rows[0].get_attribute("data-order-id")
    page.click("#next")
    page.wait_for_selector('body[data-orders-query*="offset=50"]')
    assert page.locator("tr.order-row").first.get_attribute("data-order-id") != first
    assert "51" in page.inner_text("#page-info")

    # the downloads of the selected plan
    plan = page.eval_on_selector("#plan-select", "s => s.value")
    assert plan == str(demo.plan_id) or plan
    types = {
        "#dl-unassigned-csv": "text/csv",
        "#dl-unassigned-xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml",
        "#dl-sheets-xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml",
        "#dl-sheets-html": "text/html",
    }
    for selector, media in types.items():
        href = page.get_attribute(selector, "href")
        assert href and href.startswith(f"/api/v1/plans/{plan}/")
        answer = page.request.get(demo.url + href)
        assert answer.status == 200, (href, answer.text()[:300])
        assert answer.headers["content-type"].startswith(media), href
    assert page.get_attribute("#dl-sheets-html", "target") == "_blank"

    _check(watch, refused=1)

    tablet, watch = _watched(demo, open_page, "tablet")
    tablet.wait_for_selector("body[data-orders-ready]")
    tablet.set_input_files("#upload input[name=file]", str(path))
    tablet.click("#upload-submit")
    tablet.wait_for_selector("tr.row-error")
    shot(tablet, "orders-tablet")
    _check(watch, refused=1)


def test_orders_page_admin_filters_by_county(demo: Demo, open_page: OpenPage) -> None:
    page = open_page("admin", "/console/orders?county=532327")
    page.wait_for_selector("body[data-orders-ready]")
    rows = page.query_selector_all("tr.order-row")
    assert rows and {r.get_attribute("data-county") for r in rows} == {"532327"}
    assert page.eval_on_selector("#filters select[name=county]", "s => s.value") == "532327"
