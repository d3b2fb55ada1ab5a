"""What the browser tests share (fixtures are in conftest.py): the demo service, the
page watcher, screenshots.

Where Chromium or Playwright is missing the tests skip, saying so; under ``CI=true`` they
fail instead. Each page fixture fails its test on a console error, an uncaught page error
or a request to any host but the service. Screenshots go to ``test-output/screenshots``.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from api.models import Plan, RouteSheet, now

CHROMIUM = os.environ.get("CODIST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "chuxiong-demo-2026"
SHOTS = Path(os.environ.get("CODIST_TEST_OUTPUT", "test-output")) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "tablet": {"width": 820, "height": 1180}}
ROOT = Path(__file__).resolve().parents[2]


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    """The running demo service."""

    url: str
    database_url: str
    plan_id: int
    log: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def client(self, username: str) -> httpx.Client:
        """An API client signed in as ``username`` (a bearer token, as a program would)."""
        if username not in self._tokens:
            r = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": username, "password": PASSWORD},
                timeout=30,
            )
            r.raise_for_status()
            self._tokens[username] = r.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self._tokens[username]}"},
            timeout=60,
        )

    def session(self) -> Session:
        return Session(create_engine(self.database_url))

    def user_id(self, username: str) -> int:
        with self.client(username) as c:
            return int(c.get("/me").json()["id"])

    def clone_plan(self, plan_id: int | None = None) -> int:
        """A copy of a finished plan (status succeeded, its sheets as drafts): each test
        that publishes or replans gets its own, so tests do not depend on their order."""
        with self.session() as s:
            source = s.get(Plan, plan_id or self.plan_id)
            assert source is not None and source.summary is not None
            copy = Plan(
                plan_date=source.plan_date,
                counties=source.counties,
                status="succeeded",
                progress=1.0,
                message=source.message,
                options=source.options,
                summary=source.summary,
                created_by=source.created_by,
                created_at=now(),
                started_at=source.started_at,
                finished_at=source.finished_at,
            )
            s.add(copy)
            s.flush()
            sheets = s.exec(select(RouteSheet).where(RouteSheet.plan_id == source.id)).all()
            for sheet in sheets:
                s.add(
                    RouteSheet(
                        plan_id=copy.id or 0,
                        route_id=sheet.route_id,
                        echelon=sheet.echelon,
                        county_code=sheet.county_code,
                        vehicle_id=sheet.vehicle_id,
                        status="draft",
                        content=sheet.content,
                        created_at=now(),
                    )
                )
            s.commit()
            return int(copy.id or 0)


def _wait_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"codist serve --demo exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"codist serve --demo did not start: {log.read_text()}")


@dataclass
class Watch:
    """What a page did that it must not: console errors, page errors, outside requests."""

    origin: str
    refused: tuple[int, ...] = ()  # answers the test provokes (Chromium logs them as errors)
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("request", self._request)

    def _console(self, msg: Any) -> None:
        expected = any(f"status of {code} " in msg.text for code in self.refused)
        if msg.type == "error" and not (expected and "Failed to load resource" in msg.text):
            self.errors.append(f"console: {msg.text}")

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.outside.append(request.url)

    def check(self) -> None:
        assert not self.outside, f"requests to other hosts: {self.outside}"
        assert not self.errors, f"browser errors: {self.errors}"


OpenPage = Callable[..., Any]


def png_is_blank(data: bytes) -> bool:
    """Whether a PNG (8-bit RGB or RGBA, as Chromium writes them) is one flat colour or
    nearly so: fewer than 1 % of its rows differ from the first row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            channels = {2: 3, 6: 4}.get(body[9], 4)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    rows = {raw[i * stride + 1 : (i + 1) * stride] for i in range(0, height, max(1, height // 200))}
    colours = {raw[i : i + channels] for i in range(1, min(len(raw), stride * 50), channels * 7)}
    return len(rows) < 3 or len(colours) < 4


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots and check it is not blank."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    data = page.screenshot(path=str(path), full_page=True)
    assert not png_is_blank(data), f"screenshot {path} is blank"
    return path
