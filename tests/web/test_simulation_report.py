"""The simulation report (simulations.report) in Chromium: served from a folder on the
loopback, every image loads and is not blank, no console error, no request to another
host; a full-page screenshot on a desktop and the A4 print (PDF and a print-emulated
screenshot). The demo service is not needed."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import SHOTS, VIEWPORTS, Watch, png_is_blank, shot

from simulations.report import write_report
from tests.simulations.test_report import write_scenario


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two scenarios with days (one with a sensitivity file) and one without, reported and
    served by a tiny HTTP server on 127.0.0.1."""
    out = tmp_path_factory.mktemp("sim-out")
    write_scenario(out, "baseline-2026")
    write_scenario(out, "no-sensitivity", days=20, with_sensitivity=False)
    write_scenario(out, "not-started", days=0, with_sensitivity=False, total=365)
    generated = datetime(2026, 12, 3, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    html = write_report(out, generated=generated)
    handler = functools.partial(_Quiet, directory=str(html.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _open(browser: Any, url: str) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    watch = Watch(url)
    watch.attach(page)
    page.goto(f"{url}/index.html")
    page.wait_for_load_state("networkidle")
    return context, page, watch


def test_every_image_loads_and_is_not_blank(browser: Any, report_url: str) -> None:
    context, page, watch = _open(browser, report_url)
    images = page.locator("img")
    assert images.count() == 15  # 7 plots for each scenario with days, the comparison
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        assert img.evaluate("e => e.complete && e.naturalWidth") == 1400, img.get_attribute("src")
        assert not png_is_blank(img.screenshot()), f"{img.get_attribute('src')} looks blank"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "情景比较" in page.locator("#comparison h2").inner_text()
    assert page.locator("#comparison tbody tr").count() == 3
    text = page.locator("body").inner_text()
    assert "No finished day yet (0 of 365 days)" in text
    page.set_viewport_size({"width": 1440, "height": 1100})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "simulation-report-first-page.png"))
    shot(page, "simulation-report-desktop")
    context.close()
    watch.check()


def test_the_report_prints_on_a4(browser: Any, report_url: str) -> None:
    context, page, watch = _open(browser, report_url)
    page.emulate_media(media="print")
    SHOTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=str(SHOTS / "simulation-report-a4.pdf"), format="A4", print_background=True)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 10, pages  # sections start on a new page
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    shot(page, "simulation-report-print")
    context.close()
    watch.check()
