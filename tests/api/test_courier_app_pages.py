"""The courier app's pages without a browser: who reaches /app, the service worker and
the manifest, and the app's words in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.web.pages import APP_SHELL

PASSWORD = "correct horse battery"
WEB = Path(__file__).resolve().parents[2] / "api" / "web"


def _sign_in(client: TestClient, username: str, next_path: str = "") -> object:
    r = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert match, r.text
    return client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf": match.group(1),
            "next": next_path,
        },
        follow_redirects=False,
    )


def test_couriers_go_to_the_app_and_others_home(client: TestClient) -> None:
    r = client.get("/app", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/app"

    courier = TestClient(client.app)
    with courier:
        r = _sign_in(courier, "courier1")
        assert r.headers["location"] == "/app"  # home of a courier
        page = courier.get("/app")
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
        assert 'id="outbox-count"' in page.text and "/static/js/app.js" in page.text
        assert '<link rel="manifest" href="/app/manifest.webmanifest">' in page.text
        assert "<script>" not in page.text  # no inline script under the CSP
        assert courier.get("/").headers.get("location") is None  # followed to /app
        assert courier.get("/me").status_code == 200  # still there

    for who, home in (("dayao", "/console/board"), ("admin", "/console/board"), ("zto", "/me")):
        other = TestClient(client.app)
        with other:
            _sign_in(other, who)
            r = other.get("/app", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == home, who


def test_service_worker_and_manifest(client: TestClient) -> None:
    sw = client.get("/app/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache"
    assert sw.headers["service-worker-allowed"] == "/app"
    assert "/* APP_SHELL */" not in sw.text  # the route filled in the shell's addresses
    for url in APP_SHELL:
        assert f'"{url}"' in sw.text

    r = client.get("/app/manifest.webmanifest")
    assert r.status_code == 200 and "manifest+json" in r.headers["content-type"]
    manifest = r.json()
    assert manifest["name"] == "楚雄共配·配送员"
    assert manifest["start_url"] == "/app" and manifest["display"] == "standalone"
    assert {i["src"] for i in manifest["icons"]} == {"/static/img/icon.svg"}
    for url in APP_SHELL[1:5]:
        assert client.get(url).status_code == 200, url


def test_app_words_in_both_languages() -> None:
    words = json.loads((WEB / "strings" / "app.json").read_text("utf-8"))
    assert set(words["zh"]) == set(words["en"])
    assert all(words["zh"].values()) and all(words["en"].values())
    script = (WEB / "static" / "js" / "app.js").read_text("utf-8")
    used = set(re.findall(r'\bt\("([a-z_0-9]*[a-z0-9])"', script))
    common = json.loads((WEB / "strings" / "common.json").read_text("utf-8"))["zh"]
    assert used - set(words["zh"]) - set(common) == set()
