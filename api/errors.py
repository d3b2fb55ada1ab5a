"""One tree of domain errors and the one set of handlers that turns them into HTTP answers.

Services raise these; routers let them pass; :func:`install` maps them:

- :class:`routing.errors.InputError` (the one "invalid" error of every layer, services
  included) -> 422, ``{"detail": [{"loc": [field], "msg": reason, "type": "value_error"}]}``;
- :class:`NotFound` -> 404, :class:`Forbidden` -> 403, :class:`Conflict` -> 409,
  :class:`Unavailable` -> 503, each ``{"detail": sentence}``;
- a database integrity error that no service anticipated -> 409;
- the database unable to serve the request now -> 503 with ``Retry-After`` and a
  ``detail`` naming the cause, logged at WARNING (:func:`database_unavailable`): no
  connection free in the pool within ``CODIST_DB_POOL_TIMEOUT``, the server unreachable
  (or going away), a lock held elsewhere past ``lock_timeout``, a statement cut off by
  ``statement_timeout``, SQLite's "database is locked";
- anything else -> 500, logged, with no internals in the answer.

The handlers apply wherever the error is raised: an endpoint, a dependency (the session
of :func:`api.deps.get_session` included), the web pages.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError

from routing.errors import InputError

log = logging.getLogger("codist.api")


class DomainError(Exception):
    """A request the platform's rules refuse; ``detail`` is the sentence users read."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """No such resource, or not one the caller may see (the two are not told apart)."""

    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(DomainError):
    """The caller is known but their role or organisation may not do this."""

    status_code = status.HTTP_403_FORBIDDEN


class Conflict(DomainError):
    """The request contradicts the current state: a reused idempotency key with other
    content, a transition the lifecycle does not allow, a booking that would oversell."""

    status_code = status.HTTP_409_CONFLICT


class Unavailable(DomainError):
    """A dependency (the job queue, the database) cannot serve the request now."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


#: What a 503 about the database asks the caller to wait, seconds.
DB_RETRY_AFTER_S = 5

#: PostgreSQL's SQLSTATEs of a server that cannot take the request now: admin_shutdown,
#: crash_shutdown, cannot_connect_now (starting up), too_many_connections.
_PG_GOING_AWAY = frozenset({"57P01", "57P02", "57P03", "53300"})
_PG_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout (or NOWAIT)
_PG_QUERY_CANCELED = "57014"  # statement_timeout (or a cancel request)


def database_unavailable(exc: BaseException) -> str | None:
    """The sentence of a 503 when ``exc`` means the database cannot serve the request now
    (a caller may retry), else None (a bug or bad data: a 500)."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's checkout timeout
        return "the database is busy: no connection became free in time; try again in a few seconds"
    if not isinstance(exc, sa_exc.DBAPIError) or isinstance(exc, IntegrityError):
        return None
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):
        if "database is locked" in str(orig):
            return "the database is busy (locked by another change); try again in a few seconds"
        return None
    state = getattr(orig, "sqlstate", None)
    if state == _PG_LOCK_NOT_AVAILABLE:
        return (
            "the data is locked by another change that did not finish in time "
            "(lock_timeout); try again in a few seconds"
        )
    if state == _PG_QUERY_CANCELED:
        return "the database did not answer in time (statement_timeout); try again in a few seconds"
    unreachable = exc.connection_invalidated or (
        isinstance(exc, sa_exc.OperationalError)
        and (state is None or state.startswith("08") or state in _PG_GOING_AWAY)
    )
    if unreachable:
        return "the database cannot be reached now; try again in a few seconds"
    return None


def _internal(exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error; it has been logged"},
    )


def _unavailable(request: Request, exc: Exception, detail: str) -> JSONResponse:
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0][:300]
    log.warning(
        "database unavailable, answered 503: %s (%s: %s) on %s %s",
        detail.split(";")[0],
        type(orig).__name__,
        first,
        request.method,
        request.url.path,
    )
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": detail},
        headers={"Retry-After": str(DB_RETRY_AFTER_S)},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (once, in :func:`api.main.create_app`)."""

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field; the offending input is not echoed back (it may not
        even be representable as JSON, e.g. NaN or a lone surrogate)."""
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": errors}
        )

    @app.exception_handler(DomainError)
    async def domain(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": "30"} if isinstance(exc, Unavailable) else None
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=headers
        )

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": [{"loc": [exc.field], "msg": exc.reason, "type": "value_error"}]},
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={"detail": "conflicts with existing data (a duplicate or a missing reference)"},
        )

    @app.exception_handler(sa_exc.TimeoutError)
    @app.exception_handler(sa_exc.DBAPIError)
    async def database(request: Request, exc: Exception) -> JSONResponse:
        detail = database_unavailable(exc)
        if detail is None:
            return _internal(exc)
        return _unavailable(request, exc, detail)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        detail = database_unavailable(exc)  # e.g. raised again by a dependency's teardown
        if detail is not None:
            return _unavailable(request, exc, detail)
        return _internal(exc)
