"""The account pages in a browser, on a phone (390 x 844) and a desktop, in Chinese and
English: an admin creates an account on /console/users (the policy's refusal shown next
to the password), resets its password (the temporary one shown once, with a copy
button); the account signs in, is sent to /me and must change the password there, then
reaches its home; the admin deactivates it and its open page is signed out at its next
API call; the audit log lists what happened. An admin turns the second factor on from
/me (the QR code and the key), signs in again with a code, and turns it off. A locked
account is shown as locked and unlocked.

Only accounts these tests create are used (acct-*, totp-*, locked-*): no demo account's
password, second factor or state is changed, and no demo courier is used."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pyotp
import pytest
from browser_support import PASSWORD, VIEWPORTS, Demo, Watch, shot

PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": VIEWPORTS["desktop"], "phone": PHONE}
MOMENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
SignIn = Callable[..., Any]


@pytest.fixture
def sign_in(browser: Any, demo: Demo) -> Iterator[SignIn]:
    """``sign_in(username, password, viewport=, lang=, refused=)``: a new browser (its own
    cookies) signed in through the form; the page is wherever the sign-in sent it. Every
    page is checked at the end for console errors and outside requests."""
    opened: list[tuple[Any, Watch]] = []

    def _open(
        username: str,
        password: str = PASSWORD,
        *,
        viewport: str = "desktop",
        lang: str = "zh",
        refused: tuple[int, ...] = (),
    ) -> Any:
        context = browser.new_context(
            viewport=SIZES[viewport],
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = context.new_page()
        watch = Watch(demo.url, refused)
        watch.attach(page)
        opened.append((context, watch))
        page.goto(f"{demo.url}/lang/{lang}?next=/login")
        _fill_sign_in(page, username, password)
        return page

    yield _open
    for context, watch in opened:
        context.close()
        watch.check()


def _fill_sign_in(page: Any, username: str, password: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _ready(page: Any, name: str) -> None:
    page.wait_for_selector(f"body[data-{name}-ready]", timeout=30_000)


def _confirm(page: Any) -> None:
    page.click("dialog.confirm button[data-confirm=yes]")
    page.wait_for_selector("dialog.confirm", state="detached")


def _row(page: Any, username: str) -> Any:
    return page.locator(f'#users tr[data-user="{username}"]')


# ---- create, reset, must change, deactivate, audit ------------------------------------------
@pytest.mark.parametrize(("viewport", "lang"), [("desktop", "zh"), ("phone", "en")])
def test_an_account_from_creation_to_deactivation(
    demo: Demo, sign_in: SignIn, viewport: str, lang: str
) -> None:
    name = f"acct-{viewport}"
    first = "lantern-river-8841"
    own = "a pear tree in yao'an 2026"
    admin = sign_in("admin", viewport=viewport, lang=lang, refused=(422,))
    admin.goto(f"{demo.url}/console/users")
    _ready(admin, "users")
    assert admin.locator("nav a[data-page=users]").get_attribute("aria-current") == "page"

    # create: the policy's refusal next to the field, then the account
    admin.click("#new-user")
    form = admin.locator("#create")
    form.locator("input[name=username]").fill(name)
    form.locator("input[name=password]").fill("password123")
    form.locator("input[name=display_name]").fill("测试调度员")
    form.locator("input[name=phone]").fill("13812345678")
    form.locator("select[name=role]").select_option("dispatcher")
    form.locator("select[name=county_code]").select_option("532322")
    form.locator("button[type=submit]").click()
    error = admin.locator("#err-create-password")
    error.wait_for()
    assert error.inner_text().strip()
    assert form.locator("input[name=password]").get_attribute("aria-invalid") == "true"
    shot(admin, f"users-create-refused-{viewport}-{lang}")
    form.locator("input[name=password]").fill(first)
    form.locator("button[type=submit]").click()
    _row(admin, name).wait_for()
    assert admin.locator("#create-card").is_hidden()
    row = _row(admin, name)
    user_id = int(row.get_attribute("data-id"))
    assert "测试调度员" in row.inner_text() and "13812345678" in row.inner_text()

    # reset: the temporary password shown once, copied
    row.locator("button[data-act=reset]").click()
    _confirm(admin)
    dialog = admin.locator("#temporary")
    dialog.wait_for()
    temporary = admin.locator("#temporary-password").inner_text().strip()
    assert len(temporary) >= 10
    admin.click("#copy-password")
    admin.wait_for_function("() => document.getElementById('copied').textContent !== ''")
    if admin.evaluate("() => navigator.clipboard !== undefined"):
        assert admin.evaluate("() => navigator.clipboard.readText()") == temporary
    shot(admin, f"users-temporary-{viewport}-{lang}")
    admin.click("#temporary-close")
    assert dialog.is_hidden() and admin.locator("#temporary-password").inner_text() == ""
    assert _row(admin, name).locator(".badge.up").count() == 1  # must change its password

    # the account signs in: sent to /me, where only the password can be changed
    user = sign_in(name, temporary, viewport=viewport, lang=lang, refused=(401, 422))
    assert user.url == f"{demo.url}/me"
    _ready(user, "me")
    assert user.locator("#must-change").is_visible()
    assert user.locator("#profile").count() == 0 and user.locator("#totp-card").count() == 0
    user.goto(f"{demo.url}/console/board")
    assert user.url == f"{demo.url}/me"  # every other page sends it back
    _ready(user, "me")
    password = user.locator("#password")
    password.locator("input[name=current_password]").fill(temporary)
    password.locator("input[name=new_password]").fill(own)
    password.locator("input[name=repeat_password]").fill(own + "x")
    password.locator("button[type=submit]").click()
    assert user.locator("#err-repeat_password").inner_text().strip()
    password.locator("input[name=new_password]").fill("qwertyuiop123")
    password.locator("input[name=repeat_password]").fill("qwertyuiop123")
    password.locator("button[type=submit]").click()
    refusal = user.locator("#err-new_password")
    refusal.wait_for()
    assert refusal.inner_text().strip()
    shot(user, f"me-must-change-{viewport}-{lang}")
    password.locator("input[name=new_password]").fill(own)
    password.locator("input[name=repeat_password]").fill(own)
    password.locator("button[type=submit]").click()
    user.wait_for_url(f"{demo.url}/console/board*")
    _ready(user, "board")

    # deactivated: its open page is signed out at its next call
    admin.reload()
    _ready(admin, "users")
    _row(admin, name).locator("button[data-act=deactivate]").click()
    admin.wait_for_selector("dialog.confirm")
    shot(admin, f"users-deactivate-confirm-{viewport}-{lang}")
    _confirm(admin)
    admin.wait_for_selector(f'#users tr[data-user="{name}"].inactive')
    assert _row(admin, name).locator("button[data-act=reactivate]").count() == 1
    user.evaluate("() => { C.api('/me').catch(() => null); }")
    user.wait_for_url(f"{demo.url}/login?next=*")
    assert user.locator("form[action='/login']").is_visible()

    # the audit log: what happened to the account, newest first
    admin.goto(f"{demo.url}/console/audit")
    _ready(admin, "audit")
    admin.select_option("#f-entity", "user")
    admin.fill("#f-entity-id", str(user_id))
    admin.click("#filters button[type=submit]")
    admin.wait_for_function(
        "id => [...document.querySelectorAll('#audit tbody tr')].every("
        "r => r.dataset.entityId === id)",
        arg=str(user_id),
    )
    admin.wait_for_selector("#audit tbody tr[data-action='user.deactivate']")
    rows = admin.locator("#audit tbody tr")
    actions = [rows.nth(i).get_attribute("data-action") for i in range(rows.count())]
    assert actions == [
        "user.deactivate",
        "user.password_change",
        "user.password_reset",
        "user.create",
    ], actions
    assert f"entity_id={user_id}" in admin.url
    change = admin.locator("#audit tbody tr[data-action='user.password_change']")
    assert name in change.locator("td").nth(1).inner_text()  # done by the account itself
    moment = change.locator("time")
    assert MOMENT.match(moment.inner_text().strip())
    assert str(moment.get_attribute("datetime")).endswith("+08:00")
    deactivation = admin.locator("#audit tbody tr[data-action='user.deactivate']")
    assert deactivation.locator("del").count() == 1 and deactivation.locator("ins").count() == 1
    label = deactivation.locator(".badge.action").inner_text()
    assert label == {"zh": "停用账号", "en": "account deactivated"}[lang]
    shot(admin, f"audit-account-{viewport}-{lang}")


# ---- the second factor ------------------------------------------------------------------------
class Codes:
    """One-time codes of a secret, each of a later 30 s step than the last (a code works
    once); waits for the clock when the next step is not yet accepted (now + 1 at most)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last: int | None = None

    def next(self) -> str:
        now = int(time.time() // 30)
        step = now if self.last is None else max(now, self.last + 1)
        while step > int(time.time() // 30) + 1:
            time.sleep(1)
        self.last = step
        return str(self.totp.at(step * 30))


@pytest.mark.parametrize(("viewport", "lang"), [("desktop", "en"), ("phone", "zh")])
def test_an_admin_turns_the_second_factor_on_signs_in_with_it_and_off(
    demo: Demo, sign_in: SignIn, viewport: str, lang: str
) -> None:
    name, password = f"totp-{viewport}", "mountain-tea-house-7312"
    with demo.client("admin") as office:
        r = office.post("/users", json={"username": name, "password": password, "role": "admin"})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
    page = sign_in(name, password, viewport=viewport, lang=lang, refused=(401, 422))
    page.goto(f"{demo.url}/me")
    _ready(page, "me")
    assert page.locator("#totp-admin").is_visible()
    page.click("#totp-start")
    page.wait_for_selector("#totp-setup:not([hidden])")
    page.wait_for_function("() => document.getElementById('totp-qr').naturalWidth > 100")
    assert str(page.locator("#totp-qr").get_attribute("src")).startswith("/me/totp.svg")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    shot(page, f"me-totp-setup-{viewport}-{lang}")
    codes = Codes(secret)
    confirm = page.locator("#totp-confirm")
    wrong = str(pyotp.TOTP(secret).at(time.time() - 3600))
    confirm.locator("input[name=code]").fill(wrong)
    confirm.locator("button[type=submit]").click()
    page.locator("#err-totp-confirm-code").wait_for()
    confirm.locator("input[name=code]").fill(codes.next())
    confirm.locator("button[type=submit]").click()
    page.wait_for_selector("#totp-state.ok")
    assert page.locator("#totp-disable").is_visible() and page.locator("#totp-setup").is_hidden()
    shot(page, f"me-totp-on-{viewport}-{lang}")

    # sign out, sign in again: the code is asked on a second step
    page.click("form[action='/logout'] button")
    page.wait_for_url(f"{demo.url}/login*")
    _fill_sign_in(page, name, password)
    totp = page.locator("input[name=totp]")
    assert totp.is_visible() and page.locator("input[name=password]").count() == 0
    totp.fill(codes.next())
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/console/board*")

    # and off again, with a code
    page.goto(f"{demo.url}/me")
    _ready(page, "me")
    off = page.locator("#totp-disable")
    off.locator("input[name=code]").fill(codes.next())
    off.locator("button[type=submit]").click()
    page.wait_for_selector("#totp-off:not([hidden])")
    assert page.locator("#totp-state").inner_text() == {"zh": "未开启", "en": "off"}[lang]
    with demo.client("admin") as office:
        account = office.get(f"/users/{user_id}").json()
        assert account["totp_enabled"] is False
        log = office.get("/audit", params={"entity": "user", "entity_id": user_id}).json()
        assert [e["action"] for e in log["items"]][:2] == ["user.totp_disable", "user.totp_enable"]


# ---- a locked account -------------------------------------------------------------------------
def test_a_locked_account_is_shown_locked_and_unlocked(demo: Demo, sign_in: SignIn) -> None:
    """Wrong passwords lock an account (the demo of these tests locks after three:
    CODIST_LOGIN_ACCOUNT_FAILURES in conftest's demo; five in production)."""
    name, password = "locked-1", "quiet-bamboo-valley-5150"
    with demo.client("admin") as office:
        r = office.post("/users", json={"username": name, "password": password, "role": "courier"})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]

    def wrong() -> int:
        return httpx.post(
            f"{demo.url}/api/v1/auth/token",
            data={"username": name, "password": "not the password"},
            timeout=30,
        ).status_code

    for _ in range(3):
        assert wrong() == 401
    assert wrong() == 429  # locked now

    admin = sign_in("admin")
    admin.goto(f"{demo.url}/console/users?role=courier")
    _ready(admin, "users")
    row = _row(admin, name)
    assert row.locator(".badge.locked").is_visible()
    shot(admin, "users-locked-desktop-zh")
    row.locator("button[data-act=unlock]").click()
    admin.wait_for_selector(f'#users tr[data-user="{name}"] .badge.locked', state="detached")
    assert _row(admin, name).locator(".badge.ok").is_visible()  # active, not locked
    assert _row(admin, name).locator("button[data-act=unlock]").count() == 0
    r = httpx.post(
        f"{demo.url}/api/v1/auth/token", data={"username": name, "password": password}, timeout=30
    )
    assert r.status_code == 200
    with demo.client("admin") as office:
        log = office.get("/audit", params={"entity": "user", "entity_id": user_id}).json()
        assert [e["action"] for e in log["items"]][:2] == ["user.unlock", "user.lockout"]


# ---- every account page, phone and desktop, Chinese and English -------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_account_pages_on_a_phone_and_a_desktop(
    demo: Demo, sign_in: SignIn, viewport: str, lang: str
) -> None:
    admin = sign_in("admin", viewport=viewport, lang=lang)
    assert admin.locator("html").get_attribute("lang") == {"zh": "zh-CN", "en": "en"}[lang]
    for page in ("users", "audit"):
        admin.goto(f"{demo.url}/console/{page}")
        _ready(admin, page)
        assert admin.locator("#main").inner_text().strip()
        width = admin.evaluate("() => document.documentElement.scrollWidth")
        assert width <= SIZES[viewport]["width"], f"{page} is wider than the screen: {width}"
        shot(admin, f"{page}-{viewport}-{lang}")
    admin.goto(f"{demo.url}/me")
    _ready(admin, "me")
    assert admin.locator("#totp-state").inner_text().strip()
    shot(admin, f"me-admin-{viewport}-{lang}")
