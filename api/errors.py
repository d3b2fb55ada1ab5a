"""One tree of domain errors and the one set of handlers that turns them into HTTP answers.

Services raise these; routers let them pass; :func:`install` maps them:

- :class:`routing.errors.InputError` (the one "invalid" error of every layer, services
  included) -> 422, ``{"detail": [{"loc": [field], "msg": reason, "type": "value_error"}]}``;
- :class:`NotFound` -> 404, :class:`Forbidden` -> 403, :class:`Conflict` -> 409,
  :class:`Unavailable` -> 503, each ``{"detail": sentence}``;
- a database integrity error that no service anticipated -> 409; anything else -> 500,
  logged, with no internals in the answer.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            content={"detail": "internal error; it has been logged"},
        )
