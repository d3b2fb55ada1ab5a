"""The HTTP service: ``create_app()`` builds the FastAPI application (``codist serve``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp

from api.core.config import Settings, get_settings
from api.core.db import migrate
from api.deps import known_query
from api.errors import install
from api.services.observability import MetricsEndpoint, RequestObservability
from api.services.throttle import Throttle

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


class _App(FastAPI):
    """FastAPI with the request id, access log and request metrics outermost: around
    Starlette's error middleware too, so that a 500 it answers carries ``X-Request-ID``,
    is counted as a 500, and its "unhandled error" log line has the request id."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObservability(super().build_middleware_stack())


def _web(app: FastAPI) -> None:
    """The web pages and their static files (Leaflet from the xstatic-leaflet package)."""
    import xstatic.pkg.leaflet as leaflet
    from fastapi.staticfiles import StaticFiles

    from api.web import pages

    app.mount("/static/vendor/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    app.include_router(pages.router)


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            migrate(settings.database_url)
        settings.photo_dir.mkdir(parents=True, exist_ok=True)
        from api.services.queue import reap_stale

        reap_stale(settings)
        yield

    app = _App(
        title="Chuxiong co-distribution platform",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.throttle = Throttle(settings)  # sign-in counters, shared by its requests
    install(app)

    from api.routers import ROUTERS

    for router in ROUTERS:
        app.include_router(router, prefix=API, dependencies=[Depends(known_query)])
    _web(app)

    @app.get("/livez", tags=["service"], summary="the process answers")
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    def ready() -> JSONResponse:
        from api.services.health import RETRY_AFTER_S, readiness

        ok, doc = readiness(settings)
        if ok:
            return JSONResponse(doc)
        return JSONResponse(doc, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})

    for path, summary in (
        ("/readyz", "ready: the database and Redis each answer within 2 s (else 503, named)"),
        ("/healthz", "the same as /readyz (kept for existing monitors)"),
    ):
        app.add_api_route(
            path,
            ready,
            methods=["GET"],
            tags=["service"],
            summary=summary,
            responses={503: {"description": "a dependency is not ready; Retry-After says when"}},
        )

    metrics = MetricsEndpoint(settings)

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics: requests, planning jobs, queue depth (text exposition)",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {}}, "description": "the metrics"},
            401: {"description": "CODIST_METRICS_TOKEN is set: send it as a Bearer token"},
        },
    )
    def prometheus_metrics(request: Request) -> Response:
        return metrics(request.headers.get("authorization"))

    return app
