"""The HTTP service: ``create_app()`` builds the FastAPI application (``codist serve``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from api.db import engine_for, migrate
from api.settings import Settings, get_settings
from routing.errors import InputError

log = logging.getLogger("codist.api")
API = "/api/v1"

DESCRIPTION = """
Public service platform for urban-rural co-distribution of Chuxiong prefecture
(楚雄州城乡高效配送公共服务信息平台): orders, vehicles, daily planning jobs, courier route
sheets with stop-by-stop reporting, and road closures.

Sign in at `POST /api/v1/auth/token` (OAuth2 password flow) and send the token as
`Authorization: Bearer <token>`. Errors are `{"detail": ...}`: a sentence, or for
invalid input a list of `{"loc", "msg", "type"}` naming the field. Money is integer fen,
times ISO 8601 with their zone (Asia/Shanghai), distances metres.
"""


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            migrate(settings.database_url)
        settings.photo_dir.mkdir(parents=True, exist_ok=True)
        from api.jobs import reap_stale

        reap_stale(settings)
        yield

    app = FastAPI(
        title="Chuxiong co-distribution platform",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    _handlers(app)

    from api.routers import auth, closures, orders, places, plans, sheets, users, vehicles

    for module in (auth, users, places, vehicles, orders, plans, sheets, closures):
        app.include_router(module.router, prefix=API)
    from api.routers import market

    app.include_router(market.router, prefix=API)
    from api.routers import settlement

    app.include_router(settlement.router, prefix=API)
    from api.routers import leasing

    app.include_router(leasing.router, prefix=API)

    @app.get("/healthz", tags=["service"], summary="liveness and dependencies")
    def healthz() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        with engine_for(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        if settings.redis_url:
            from redis import Redis

            Redis.from_url(settings.redis_url, socket_timeout=2).ping()
            checks["redis"] = "ok"
        checks["jobs"] = "rq" if settings.redis_url else "in-process"
        return {"status": "ok", **checks}

    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field; the offending input is not echoed back (it may not
        even be representable as JSON, e.g. NaN or a lone surrogate)."""
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": errors}
        )

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": [{"loc": [exc.field], "msg": exc.reason, "type": "value_error"}]},
        )

    @app.exception_handler(IntegrityError)
    async def conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
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
