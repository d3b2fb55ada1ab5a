"""Request dependencies: the database session, the signed-in user, roles, paging."""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import func
from sqlmodel import Session, select

from api.core.config import Settings
from api.core.db import engine_for_settings
from api.core.security import TokenError, read_token
from api.models import User
from api.services.idempotency import perhaps_once, request_hash, scope_of
from api.services.throttle import Throttle

# database ids in paths: positive 32-bit integers (a larger number can name nothing)
Id = Annotated[int, Path(ge=1, le=2**31 - 1, description="numeric id")]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

#: The web pages' sign-in: the access token in an HttpOnly cookie, and a double-submit
#: CSRF token (a readable cookie the pages echo in ``X-CSRF-Token`` on every change).
SESSION_COOKIE = "codist_session"
CSRF_COOKIE = "codist_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's database session, on the pool of :func:`engine_for_settings` (its
    size, checkout timeout and PostgreSQL's statement and lock timeouts come from the
    settings; an exhausted pool or a timeout answers 503, see :mod:`api.errors`).

    Opened on the event loop (no I/O: a connection is taken at the first query, in the
    thread that runs it) and closed in a worker thread (closing returns the connection
    to the pool, a round trip to the server): one thread hop a request, not two."""
    session = Session(engine_for_settings(request.app.state.settings))
    try:
        yield session
    finally:
        await anyio.to_thread.run_sync(session.close)


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings_of)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether ``sent`` (a form field or the ``X-CSRF-Token`` header) matches the CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    return bool(cookie) and bool(sent) and hmac.compare_digest(cookie, sent or "")


def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> User:
    """The signed-in user: a bearer token (programs) or the web pages' session cookie; a
    change made with the cookie must carry the CSRF token (403 otherwise)."""
    if not token:
        token = request.cookies.get(SESSION_COOKIE)
        unsafe = bool(token) and request.method not in SAFE_METHODS
        if unsafe and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"missing or wrong {CSRF_HEADER}: reload the page and try again",
            )
    if not token:
        raise _unauthorized("not signed in: send 'Authorization: Bearer <token>'")
    return user_of_token(session, settings, token, request.url.path)


#: What an account that must change its password (after an admin's reset) may still do.
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/me", "/api/v1/me/password"})


def user_of_token(
    session: Session, settings: Settings, token: str, path: str | None = None
) -> User:
    """The active account a token names, if the token is still of its current version
    (a password change, a reset, a deactivation or a role change revokes older ones).
    With ``path``: an account that must change its password reaches only that change."""
    try:
        claims = read_token(token, settings.secret_key)
    except TokenError as e:
        raise _unauthorized(str(e)) from None
    try:
        user_id = int(claims["sub"])
        version = int(claims.get("ver", 0))
    except (TypeError, ValueError):
        raise _unauthorized("invalid token") from None
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise _unauthorized("the account no longer exists or is disabled")
    if version != user.token_version:
        raise _unauthorized("token revoked (the password or the account changed): sign in again")
    if path is not None and user.must_change_password and path not in PASSWORD_CHANGE_PATHS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="choose a new password first: POST /api/v1/me/password",
        )
    return user


def throttle_of(request: Request) -> Throttle:
    """The app's sign-in throttle (made with the app: Redis when configured)."""
    throttle: Throttle = request.app.state.throttle
    return throttle


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: uvicorn's ``--forwarded-allow-ips`` makes it
    the forwarded one)."""
    return request.client.host if request.client is not None else "unknown"


ThrottleDep = Annotated[Throttle, Depends(throttle_of)]


UserDep = Annotated[User, Depends(current_user)]


def require(*roles: str) -> Any:
    """A dependency that lets only these roles through (403 otherwise)."""

    def check(user: UserDep) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the role {' or '.join(roles)}; you are {user.role}",
            )
        return user

    return Depends(check)


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int
    sort: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="items to skip")] = 0,
    sort: Annotated[
        str | None, Query(description="a field to sort by; prefix '-' for descending")
    ] = None,
) -> PageParams:
    return PageParams(limit, offset, sort)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(
    session: Session, query: Any, model: Any, page: PageParams, sortable: Sequence[str]
) -> tuple[list[Any], int]:
    """Apply sorting (checked against ``sortable``) and paging; return (items, total).
    The total is counted only when the page does not tell it: a page that is not full and
    not past the end holds the last items (``total = offset + len(items)``)."""
    if page.sort:
        field = page.sort.lstrip("-")
        if field not in sortable:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[
                    {
                        "loc": ["query", "sort"],
                        "msg": f"cannot sort by {field!r}; one of {', '.join(sortable)}",
                        "type": "value_error",
                    }
                ],
            )
        column = getattr(model, field)
        query = query.order_by(column.desc() if page.sort.startswith("-") else column)
    else:
        query = query.order_by(model.id)
    items = list(session.exec(query.offset(page.offset).limit(page.limit)).all())
    if len(items) < page.limit and (items or page.offset == 0):
        return items, page.offset + len(items)
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    return items, int(total)


def page_body(items: list[Any], total: int, page: PageParams) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


OptionalKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="optional: a retry with the same key returns the record it created",
    ),
]


def invalid(loc: Sequence[str | int], msg: str, **extra: Any) -> HTTPException:
    """A 422 in FastAPI's shape: ``{"detail": [{"loc", "msg", "type", ...}]}``."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": list(loc), "msg": msg, "type": "value_error", **extra}],
    )


_QUERY_NAMES: dict[int, frozenset[str]] = {}  # id(route) -> names; routes are not hashable


def _query_names(route: Any) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included (computed once)."""
    if (known := _QUERY_NAMES.get(id(route))) is not None:
        return known
    names: set[str] = set()
    stack = [route.dependant]
    while stack:
        current = stack.pop()
        names.update(f.alias for f in current.query_params)
        stack.extend(current.dependencies)
    return _QUERY_NAMES.setdefault(id(route), frozenset(names))


async def known_query(request: Request) -> None:
    """Refuse query parameters the endpoint does not take (a misspelt filter such as
    ``?county=`` for ``?county_code=`` must not silently return everything): 422 naming it.
    Async: no I/O, so it runs on the event loop instead of costing a thread hop."""
    route = request.scope.get("route")
    if getattr(route, "dependant", None) is None:
        return
    allowed = _query_names(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise invalid(
            ["query", unknown[0]], f"unknown query parameter (this endpoint takes: {takes})"
        )


# ---- sorting and safe 422 answers ------------------------------------------------------
def sort_key_check(page: PageParams, sortable: Sequence[str]) -> tuple[str, bool]:
    """(field, descending) of ``page.sort`` (default ``id``); 422 like :func:`paginate`."""
    if not page.sort:
        return "id", False
    field = page.sort.lstrip("-")
    if field not in sortable:
        raise invalid(["query", "sort"], f"cannot sort by {field!r}; one of {', '.join(sortable)}")
    return field, page.sort.startswith("-")


def _json_safe(value: Any) -> Any:
    """A validation error's echo of the input, made JSON-encodable: non-finite floats
    (JSON ``NaN``, ``1e400``) as text, unpaired surrogates replaced."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class SafeRoute(APIRoute):
    """A route whose 422 answers can always be encoded: FastAPI echoes the offending input,
    which may hold values JSON cannot carry (they would turn the 422 into a 500)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                raise RequestValidationError(_json_safe(list(e.errors())), body=None) from None

        return safe


# ---- creating requests, once per Idempotency-Key -------------------------------------------
def answer_once(
    session: Session,
    *,
    user: User,
    request: Request,
    response: Response,
    key: str | None,
    body: Any,
    work: Callable[[], tuple[int, Any]],
) -> Any:
    """Run a creating request once per ``Idempotency-Key`` of ``user`` (when given; see
    ``api.services.idempotency``), set the answer's status (and ``Idempotent-Replayed``
    on a replay) and return its JSON body."""
    scope = scope_of(user.id)
    fingerprint = request_hash(
        method=request.method, path=request.url.path, body=body, caller=scope
    )
    answer = perhaps_once(session, scope=scope, key=key, request_hash=fingerprint, work=work)
    response.status_code = answer.status_code
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer.body
