"""Every page, for every kind of user that opens it, on a desktop and a tablet: it loads
without a console error or an outside request, and its screenshot is not blank."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import VIEWPORTS, Demo, OpenPage, shot

CONSOLE = ("board", "orders", "closures", "monitor", "places")
TRADE = ("cargo", "capacity", "leasing", "accounts", "market")


def _ready(page: Any, name: str) -> None:
    page.wait_for_selector(f"body[data-{name}-ready]", timeout=30_000)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("name", CONSOLE)
def test_console_page(demo: Demo, open_page: OpenPage, name: str, viewport: str) -> None:
    page = open_page("admin", f"/console/{name}", viewport=viewport)
    _ready(page, name)
    assert page.locator(f"nav a[data-page={name}]").get_attribute("aria-current") == "page"
    assert page.locator("#main").inner_text().strip()
    shot(page, f"page-{name}-{viewport}")


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_a_dispatcher_console_and_the_courier_page(
    demo: Demo, open_page: OpenPage, viewport: str
) -> None:
    page = open_page("yongren", "/console/monitor", viewport=viewport)
    _ready(page, "monitor")
    assert page.locator("nav a").count() == len(CONSOLE) + 1  # and the trading centre
    shot(page, f"page-monitor-dispatcher-{viewport}")
    courier = open_page("yongren-1", "/me", viewport=viewport)
    courier.wait_for_selector("#my-sheets li")
    assert courier.locator("nav a").count() == 0  # no console for couriers
    shot(courier, f"page-me-{viewport}")


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("name", TRADE)
def test_trading_page(demo: Demo, open_page: OpenPage, name: str, viewport: str) -> None:
    page = open_page("sf", f"/trade/{name}", viewport=viewport)
    page.wait_for_selector("body[data-trade-ready]", timeout=60_000)
    assert page.locator("nav a[data-page=trade]").get_attribute("aria-current") == "page"
    assert page.locator(f"a[data-trade={name}]").get_attribute("aria-current") == "page"
    assert page.locator("nav a").count() == 1 + len(TRADE)  # a carrier: no console
    shot(page, f"page-trade-{name}-{viewport}")


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_sign_in_page(demo: Demo, browser: Any, viewport: str) -> None:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
    page = context.new_page()
    page.goto(f"{demo.url}/")
    page.wait_for_selector("form[action='/login']")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, f"page-login-{viewport}")
    context.close()
