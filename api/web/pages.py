"""The web pages: sign-in, the dispatch console and the monitoring centre.

Server-rendered shells (Jinja2) with small page scripts under ``static/js``. The scripts
read and change everything through the same JSON API as any program (``/api/v1``), signed
in by the session cookie this module sets; no business rule lives in a template or a
script. Chinese first, English switchable (``/lang/en``), times in Asia/Shanghai.
"""

from __future__ import annotations

import functools
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select

from api.core.config import Settings
from api.core.security import TokenError, issue_token, read_token, totp_uri
from api.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    client_address,
    csrf_ok,
    throttle_of,
    user_of_token,
)
from api.models import ROLES, User
from api.schemas.common import TZ as SHANGHAI
from api.schemas.users import PasswordChange
from api.services import audit, plans, qrcode
from api.services import users as accounts
from api.services.basemap import counties
from api.services.passwords import MIN_LENGTH
from api.web import trading
from api.web.i18n import LANG_COOKIE, LANGS, lang_of, strings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

#: The console's pages, in the navigation's order: (path name, roles that may open it).
CONSOLE_PAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("board", ("admin", "dispatcher")),
    ("orders", ("admin", "dispatcher")),
    ("closures", ("admin", "dispatcher")),
    ("monitor", ("admin", "dispatcher")),
    ("places", ("admin", "dispatcher")),
    ("users", ("admin",)),
    ("audit", ("admin",)),
)
_CONSOLE = dict(CONSOLE_PAGES)

#: No outside host: scripts, styles, images and requests come from this service only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def signed_in(request: Request, session: Session, settings: Settings) -> User | None:
    """The user of the session cookie, or None (never raises: pages redirect instead)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return user_of_token(session, settings, token)
    except HTTPException:
        return None


def _home(user: User) -> str:
    if user.role in ("admin", "dispatcher"):
        return "/console/board"
    return "/app" if user.role == "courier" else "/me"


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def render(
    request: Request,
    template: str,
    *,
    settings: Settings,
    user: User | None,
    page: str,
    boot: dict[str, Any] | None = None,
    status_code: int = 200,
    words_of: str | None = None,
    **context: Any,
) -> Response:
    """A page with the shared context: language and strings (of ``words_of``, else of
    ``page``), the user, the navigation, the CSRF token and the page script's boot data
    (JSON in the page, read by the script)."""
    lang = lang_of(request)
    words = strings(lang, words_of or page)
    token = _csrf(request)
    data = {
        "lang": lang,
        "page": page,
        "strings": words,
        "user": None
        if user is None
        else {
            "id": user.id,
            "username": user.username,
            "role": user.role,
            "county_code": user.county_code,
        },
        "counties": list(counties()),
        "timezone": "Asia/Shanghai",
        **(boot or {}),
    }
    nav = [
        {"page": name, "href": f"/console/{name}", "label": words.get(f"nav_{name}", name)}
        for name, roles in CONSOLE_PAGES
        if user is not None and user.role in roles and not user.must_change_password
    ]
    if user is not None and user.role in trading.ROLES and not user.must_change_password:
        label = strings(lang, trading.STRINGS)["nav_trade"]
        nav.append({"page": "trade", "href": "/trade", "label": label})
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": words,
            "lang": lang,
            "langs": LANGS,
            "user": user,
            "page": page,
            "nav": nav,
            "csrf": token,
            "boot": json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
            "next": quote(
                str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
            ),
            **context,
        },
        status_code=status_code,
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, samesite="strict", secure=not settings.development, path="/"
        )
    return _secure_headers(response)


def _safe_next(target: str | None, fallback: str) -> str:
    """Only a path of this site (no scheme, no host, no '//')."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


# ---- sign-in --------------------------------------------------------------------------
@router.get("/")
def root(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in(request, session, settings)
    return RedirectResponse(_home(user) if user else "/login", status.HTTP_303_SEE_OTHER)


@router.get("/login")
def login_page(
    request: Request, session: SessionDep, settings: SettingsDep, next: str | None = None
) -> Response:
    user = signed_in(request, session, settings)
    if user is not None:
        return RedirectResponse(_safe_next(next, _home(user)), status.HTTP_303_SEE_OTHER)
    return render(
        request, "login.html", settings=settings, user=None, page="login", next_path=next or ""
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    totp: Annotated[str, Form(max_length=16)] = "",
    pending: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The same sign-in as the API's (throttling, lockout, the second factor)."""
    words = strings(lang_of(request), "login")
    error = None
    user = None
    ask_totp = False
    status_code = status.HTTP_401_UNAUTHORIZED
    headers: dict[str, str] = {}
    if not csrf_ok(request, csrf):
        error = words["login_expired"]
    else:
        try:
            half = _pending_user(session, settings, pending) if pending else None
            if half is not None:
                user = accounts.second_factor(
                    session,
                    throttle_of(request),
                    user=half,
                    code=totp,
                    address=client_address(request),
                )
            else:
                user = accounts.sign_in(
                    session,
                    throttle_of(request),
                    username=username.strip(),
                    password=password,
                    address=client_address(request),
                    totp=totp or None,
                )
        except accounts.SignInRefused as e:
            error = words[f"login_{e.reason}"].format(seconds=e.retry_after, minutes=e.minutes)
            ask_totp = e.reason in ("totp_required", "totp_wrong")
            status_code = e.status_code
            headers = e.headers
    if user is None:
        response = render(
            request,
            "login.html",
            settings=settings,
            user=None,
            page="login",
            status_code=status_code,
            error=error,
            username=username,
            next_path=next,
            ask_totp=ask_totp,
            pending=_pending_token(session, settings, username.strip(), pending)
            if ask_totp
            else "",
        )
        response.headers.update(headers)
        return response
    target = "/me" if user.must_change_password else _safe_next(next, _home(user))
    return _start_session(RedirectResponse(target, status.HTTP_303_SEE_OTHER), user, settings)


def _start_session(response: Response, user: User, settings: Settings) -> Response:
    """Set the session cookie of ``user`` on ``response`` (HttpOnly, SameSite=Lax, Secure
    outside development)."""
    response.set_cookie(
        SESSION_COOKIE,
        accounts.access_token(user, settings),
        max_age=settings.token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=not settings.development,
        path="/",
    )
    return response


PENDING_MINUTES = 5


def _pending_token(session: Session, settings: Settings, username: str, pending: str) -> str:
    """A short-lived signed proof that the password step passed (for the code's page),
    so the password is never written back into the page."""
    if pending:
        return pending
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        return ""
    return issue_token(
        str(user.id), settings.secret_key, PENDING_MINUTES, purpose="totp", ver=user.token_version
    )


def _pending_user(session: Session, settings: Settings, pending: str) -> User | None:
    try:
        claims = read_token(pending, settings.secret_key)
        user = session.get(User, int(claims["sub"]))
    except (TokenError, TypeError, ValueError):
        raise accounts.SignInRefused("wrong") from None
    if claims.get("purpose") != "totp" or user is None or claims.get("ver") != user.token_version:
        raise accounts.SignInRefused("wrong")
    return user


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    if csrf_ok(request, csrf):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> Response:
    response = RedirectResponse(_safe_next(next, "/"), status.HTTP_303_SEE_OTHER)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


# ---- the console ----------------------------------------------------------------------
def _sign_in_first(request: Request) -> Response:
    target = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status.HTTP_303_SEE_OTHER)


@router.get("/console/{page}")
def console(page: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    if page not in _CONSOLE:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    user = signed_in(request, session, settings)
    if user is None:
        return _sign_in_first(request)
    if user.must_change_password:
        return _change_password_first()
    if user.role not in _CONSOLE[page]:
        return RedirectResponse(_home(user), status.HTTP_303_SEE_OTHER)
    boot: dict[str, Any] = {"today": datetime.now(SHANGHAI).date().isoformat()}
    if page == "users":
        boot.update(password_min=MIN_LENGTH, roles=list(ROLES))
    elif page == "audit":
        boot.update(actions=list(audit.ACTIONS), entities=list(audit.ENTITIES))
    else:
        latest = plans.latest_visible(session, user)
        boot.update(
            plan_id=latest.id if latest else None,
            plan_date=latest.plan_date.isoformat() if latest else None,
            poll_ms=2000,
        )
    return render(
        request,
        f"{page}.html",
        settings=settings,
        user=user,
        page=page,
        boot=boot,
        password_min=MIN_LENGTH,
    )


# ---- the trading centre (交易中心) ----------------------------------------------------
@router.get("/trade")
def trade_home(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in(request, session, settings)
    if user is None:
        return RedirectResponse("/trade/market", status.HTTP_303_SEE_OTHER)
    if user.role not in trading.ROLES:
        return RedirectResponse(_home(user), status.HTTP_303_SEE_OTHER)
    return RedirectResponse(trading.home(session, user), status.HTTP_303_SEE_OTHER)


@router.get("/trade/{page}")
def trade(page: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The trading pages (admins, dispatchers, carrier and cooperative users); the
    information board also without signing in (what the posting firms made public)."""
    if page not in trading.PAGES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    user = signed_in(request, session, settings)
    if user is None and page not in trading.OPEN_PAGES:
        return _sign_in_first(request)
    if user is not None and user.must_change_password:
        return _change_password_first()
    if user is not None and user.role not in trading.ROLES and page not in trading.OPEN_PAGES:
        return RedirectResponse(_home(user), status.HTTP_303_SEE_OTHER)
    return render(
        request,
        f"trading-{page}.html",
        settings=settings,
        user=user,
        page=f"trade-{page}",
        words_of=trading.STRINGS,
        boot=trading.boot(session, user, page),
        trade_pages=trading.PAGES,
        trade_page=page,
        trader=user is not None and user.role in trading.ROLES,
    )


def _change_password_first() -> Response:
    """An account an admin reset reaches only its own page until it chose a password
    (the API answers 403 to everything else)."""
    return RedirectResponse("/me", status.HTTP_303_SEE_OTHER)


# ---- the account's own page -------------------------------------------------------------
@router.get("/me")
def my_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Every role: the profile, the password, the second factor; couriers also their
    route sheets. An account that must change its password sees only that form."""
    user = signed_in(request, session, settings)
    if user is None:
        return _sign_in_first(request)
    boot = {
        "must_change_password": user.must_change_password,
        "home": _home(user),
        "password_min": MIN_LENGTH,
    }
    return render(
        request,
        "me.html",
        settings=settings,
        user=user,
        page="me",
        boot=boot,
        must_change=user.must_change_password,
        home=_home(user),
        password_min=MIN_LENGTH,
    )


@router.post("/me/password")
def change_my_password(
    request: Request, body: PasswordChange, session: SessionDep, settings: SettingsDep
) -> Response:
    """The page's password change (JSON with the ``X-CSRF-Token`` header): the same rule
    as ``POST /api/v1/me/password`` (``api.services.users.change_password``), and the
    session cookie replaced by a token of the new version, as a sign-in sets it: every
    other session of the account ends, this one goes on."""
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"missing or wrong {CSRF_HEADER}: reload the page and try again",
        )
    user = signed_in(request, session, settings)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="not signed in: sign in again")
    try:
        user = accounts.change_password(
            session,
            throttle_of(request),
            user=user,
            current=body.current_password,
            new=body.new_password,
            address=client_address(request),
        )
    except accounts.SignInRefused as e:
        raise HTTPException(e.status_code, detail=e.detail, headers=e.headers or None) from None
    response = JSONResponse({"home": _home(user), "must_change_password": False})
    return _secure_headers(_start_session(response, user, settings))


@router.get("/me/totp.svg")
def my_totp_qr(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The QR code of the second factor being set up (after ``POST /api/v1/me/totp``,
    before it is confirmed), for the authenticator app; 404 at any other time."""
    user = signed_in(request, session, settings)
    if user is None or user.must_change_password:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="not signed in")
    if user.totp_enabled or not user.totp_secret:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no second factor being set up")
    uri = totp_uri(user.totp_secret, user.username)
    response = Response(qrcode.svg(uri, title=user.username), media_type="image/svg+xml")
    return _secure_headers(response)


# ---- the courier app ------------------------------------------------------------------
#: The app's offline shell: what the service worker keeps for a start without signal.
APP_SHELL = (
    "/app",
    "/static/js/console.js",
    "/static/js/app.js",
    "/static/css/app.css",
    "/static/img/icon.svg",
    "/app/manifest.webmanifest",
)


@router.get("/app")
def courier_app(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The courier app (a phone web app that works offline): couriers only."""
    user = signed_in(request, session, settings)
    if user is None:
        return _sign_in_first(request)
    if user.must_change_password:
        return _change_password_first()
    if user.role != "courier":
        return RedirectResponse(_home(user), status.HTTP_303_SEE_OTHER)
    boot = {
        "today": datetime.now(SHANGHAI).date().isoformat(),
        "sync_ms": 20_000,
    }
    return render(request, "app.html", settings=settings, user=user, page="app", boot=boot)


@functools.cache
def _service_worker() -> str:
    """app-sw.js with the shell's addresses (``APP_SHELL``, the one list of them) filled in."""
    text = (HERE / "static" / "js" / "app-sw.js").read_text("utf-8")
    return text.replace("/* APP_SHELL */ []", json.dumps(list(APP_SHELL)))


@router.get("/app/sw.js")
def app_service_worker() -> Response:
    """The app's service worker, served under /app so that its scope may cover it."""
    response = Response(_service_worker(), media_type="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/app"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/app/manifest.webmanifest")
def app_manifest(request: Request) -> Response:
    words = strings(lang_of(request), "app")
    manifest = {
        "name": "楚雄共配·配送员",
        "short_name": words.get("app_manifest_short", "配送员"),
        "lang": "zh-CN",
        "start_url": "/app",
        "scope": "/app",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#8a1c1c",
        "icons": [
            {"src": "/static/img/icon.svg", "sizes": "any", "type": "image/svg+xml"},
            {
                "src": "/static/img/icon.svg",
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "maskable",
            },
        ],
    }
    return JSONResponse(
        manifest,
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
