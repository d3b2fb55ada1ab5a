"""Browser tests of the web pages: the real ``codist serve --demo`` in a child process, driven
by Playwright through Debian's Chromium.

Where Chromium or Playwright is missing the tests skip, saying so; under ``CI=true`` they
fail instead. Each page fixture fails its test on a console error, an uncaught page error
or a request to any host but the service. Screenshots go to ``test-output/screenshots``.

The demo is shared by the whole session, so each test file keeps to demo couriers of its
own (their sheets and proposals must not meet): test_board_page dayao-1, dayao-4,
wuding-3; test_closures_page dayao-3; test_courier_app mouding-1, yaoan-2, yaoan-3;
test_every_page yongren-1; test_monitor_page dayao-2, yongren-2; test_places_page
wuding-2, wuding-3 (proposals only); test_account_pages none (it creates its own
accounts, acct-*, totp-* and locked-1, and changes no demo account); test_trading_pages
no courier (the trading accounts sf-2, hetao-2, ems, and admin for a competing booking;
test_every_page opens the trading pages as sf). Pick an unused one for a new test and add
it here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    CHROMIUM,
    PASSWORD,
    ROOT,
    VIEWPORTS,
    Demo,
    OpenPage,
    Watch,
    _free_port,
    _missing,
    _wait_up,
    png_is_blank,
    shot,
)

__all__ = ["Demo", "OpenPage", "png_is_blank", "shot"]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``codist serve --demo`` on a free port with its own home; waits until the demo day
    is planned (a short time limit keeps the suite quick)."""
    home = tmp_path_factory.mktemp("demo-home")
    port = _free_port()
    log = home / "serve.log"
    env = {
        **os.environ,
        "CODIST_ENV": "development",
        "CODIST_HOME": str(home),
        "CODIST_PLAN_TIME_LIMIT": os.environ.get("CODIST_TEST_PLAN_TIME_LIMIT", "2"),
        "CODIST_LOGIN_ACCOUNT_FAILURES": "3",  # a lockout reached without waiting a minute
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    codist = Path(sys.executable).with_name("codist")
    command = [str(codist), "serve", "--demo", "--port", str(port), "--log-level", "warning"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        demo = Demo(url, f"sqlite:///{home / 'demo.db'}", 1, log)
        _wait_up(proc, url, log)
        with demo.client("admin") as admin:
            plan = admin.get("/plans?limit=1&sort=id").json()["items"][0]
            demo.plan_id = plan["id"]
            deadline = time.monotonic() + 300
            while plan["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(1)
                plan = admin.get(f"/plans/{demo.plan_id}").json()
            assert plan["status"] == "succeeded", (plan, log.read_text())
        yield demo
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any, demo: Demo) -> Iterator[OpenPage]:
    """``open_page(username, path, viewport="desktop", refused=())``: a signed-in page
    (through the sign-in form) at ``path``. At the end of the test, every page opened is
    checked for console errors and requests to other hosts; ``refused`` names the HTTP
    statuses the test provokes on purpose (Chromium logs each as a console error)."""
    opened: list[tuple[Any, Watch]] = []

    def _open(
        username: str,
        path: str,
        viewport: str = "desktop",
        expect_errors: bool = False,
        refused: tuple[int, ...] = (),
    ) -> Any:
        context = browser.new_context(
            viewport=VIEWPORTS[viewport], locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        watch = Watch(demo.url, refused)
        watch.attach(page)
        if not expect_errors:
            opened.append((context, watch))
        page.goto(f"{demo.url}/login?next={path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.url}{path.split('#')[0]}*")
        return page

    yield _open
    for context, watch in opened:
        context.close()
        watch.check()
