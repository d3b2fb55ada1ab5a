"""The monitoring centre page: a dispatcher watches their county's vehicles; events a
courier posts through the API show up within seconds, without reloading the page."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import Demo, OpenPage, shot
from playwright.sync_api import expect
from sqlmodel import select

from api.models import Plan, RouteSheet

DAYAO, YONGREN = "532326", "532327"


def _picture(width: int = 96, height: int = 72) -> bytes:
    """A small PNG (a colour gradient) standing in for a proof-of-delivery photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(
        b"\x00" + b"".join(bytes((40 + x * 2, 90 + y, 160 - x)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pick(admin: Any, plan_id: int, county: str, *, needs: bool) -> dict[str, Any]:
    """A county route of the plan; ``needs``: one whose stop 2 only has parcels to drop
    (delivering them completes it) and that has a stop 4 to fail."""
    sheets = admin.get(f"/plans/{plan_id}/sheets").json()
    for item in sheets:
        if item["county_code"] != county:
            continue
        sheet = admin.get(f"/route-sheets/{item['id']}").json()
        stops = {s["seq"]: s for s in sheet["stops"]}
        if not needs:
            return dict(sheet)
        two = stops.get(2)
        if two and two["drop"] and not two["pickup"] and 4 in stops:
            return dict(sheet)
    raise AssertionError(f"no suitable route of {county} in plan {plan_id}")


@pytest.fixture
def published(demo: Demo) -> Iterator[dict[str, Any]]:
    """A fresh copy of the demo plan, published with dayao-2 on a 大姚 route and yongren-2
    on a 永仁 route; withdrawn afterwards so that other tests may give them routes of the day."""
    plan_id = demo.clone_plan()
    with demo.client("admin") as admin:
        dayao = _pick(admin, plan_id, DAYAO, needs=True)
        yongren = _pick(admin, plan_id, YONGREN, needs=False)
        body = {
            "assignments": {
                dayao["route_id"]: demo.user_id("dayao-2"),
                yongren["route_id"]: demo.user_id("yongren-2"),
            }
        }
        r = admin.post(f"/plans/{plan_id}/publish", json=body)
        assert r.status_code == 200, r.text
    yield {"plan_id": plan_id, "dayao": dayao, "yongren": yongren}
    with demo.session() as s:
        plan = s.get(Plan, plan_id)
        assert plan is not None
        plan.status = "superseded"
        s.add(plan)
        for sheet in s.exec(select(RouteSheet).where(RouteSheet.plan_id == plan_id)).all():
            sheet.status = "superseded"
            s.add(sheet)
        s.commit()


def test_monitor_follows_the_couriers_reports_live(
    demo: Demo, open_page: OpenPage, published: dict[str, Any]
) -> None:
    plan_id = published["plan_id"]
    sheet, other = published["dayao"], published["yongren"]
    total = len(sheet["stops"])
    page = open_page("dayao", f"/console/monitor?plan_id={plan_id}")
    page.wait_for_selector("body[data-monitor-ready]")
    row = page.locator(f'#vehicles tr[data-sheet="{sheet["id"]}"]')
    expect(row.locator(".progress-text")).to_have_text(f"0/{total}")
    # the dispatcher of 大姚 sees no route of 永仁
    expect(page.locator(f'#vehicles tr[data-sheet="{other["id"]}"]')).to_have_count(0)
    assert other["route_id"] not in page.locator("#vehicles").inner_text()
    counties = page.eval_on_selector_all(
        "#vehicles tr[data-sheet] .badge.county", "ns => ns.map(n => n.textContent)"
    )
    assert counties and set(counties) == {"大姚县"}, counties
    page.evaluate("window.__marker = 'not reloaded'")

    day = sheet["plan_date"]
    events = [
        {"seq": 2, "type": "arrived", "occurred_at": f"{day}T10:20:00+08:00"},
        {"seq": 2, "type": "delivered", "occurred_at": f"{day}T10:26:00+08:00"},
        {"seq": 4, "type": "failed", "reason": "收件人不在家 nobody home",
         "occurred_at": f"{day}T13:40:00+08:00"},
    ]  # fmt: skip
    with demo.client("dayao-2") as courier:
        for n, event in enumerate(events):
            body = {"client_event_id": f"monitor-page-{plan_id}-{n}", **event}
            r = courier.post(f"/route-sheets/{sheet['id']}/events", json=body)
            assert r.status_code == 201, r.text
        photo = {"file": ("签收.png", _picture(), "image/png")}
        cid = {"client_event_id": f"monitor-page-{plan_id}-1"}
        r = courier.post(f"/route-sheets/{sheet['id']}/stops/2/photo", files=photo, data=cid)
        assert r.status_code == 201, r.text

    expect(row.locator(".progress-text")).to_have_text(f"2/{total}", timeout=5000)
    failed = page.locator(f'#failed tr[data-sheet="{sheet["id"]}"][data-seq="4"]')
    expect(failed).to_have_count(1, timeout=5000)
    expect(failed.locator("td.reason")).to_have_text("收件人不在家 nobody home", timeout=5000)
    expect(failed).to_contain_text("dayao-2")
    expect(row.locator("td.report")).to_contain_text("13:40")
    assert page.evaluate("window.__marker") == "not reloaded"
    expect(page.locator("#updated")).to_contain_text("更新于")
    expect(page.locator('[data-kpi="failed"] .v')).to_have_text("1")
    expect(page.locator(f'#photos figure[data-sheet="{sheet["id"]}"] img')).to_have_count(1)
    # the vehicle's marker stands where it last reported
    expect(page.locator(f'.veh[data-sheet="{sheet["id"]}"]')).to_have_count(1)
    shot(page, "monitor-desktop")

    tablet = open_page("dayao", f"/console/monitor?plan_id={plan_id}", viewport="tablet")
    tablet.wait_for_selector("body[data-monitor-ready]")
    expect(tablet.locator(f'#vehicles tr[data-sheet="{sheet["id"]}"] .progress-text')).to_have_text(
        f"2/{total}"
    )
    shot(tablet, "monitor-tablet")
