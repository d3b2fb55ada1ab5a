"""Structured logs with a request id, and Prometheus metrics (``GET /metrics``).

**Logs.** :class:`RequestObservability` (a pure ASGI middleware, outermost in the app)
gives every HTTP request an id: the client's ``X-Request-ID`` when it is a sane token (at
most 64 characters of ``[A-Za-z0-9._-]``), otherwise a fresh ``uuid4`` hex. The id is in
the context variable :data:`REQUEST_ID` for everything the request runs (sync endpoints
too: the thread pool copies the context), is sent back as ``X-Request-ID``, and each
request ends with one access line at INFO on ``codist.access`` (fields ``request_id``,
``method``, ``path``, ``route`` (the template), ``status``, ``duration_ms``, ``client``).
:class:`JsonFormatter` writes any record as one JSON line: ``ts`` (ISO 8601 in
Asia/Shanghai, ``+08:00``), ``level``, ``logger``, ``msg``, the current ``request_id``,
every ``extra=`` field and ``exc_info`` (the traceback) when there is one.
:func:`configure_logging` returns the ``logging.config.dictConfig`` that routes root,
``uvicorn`` and ``uvicorn.error`` through it to stderr and silences ``uvicorn.access``
(the middleware logs access); it is also uvicorn's ``log_config=``. Nothing here
configures logging at import or in ``create_app``: the process entry point does
(``codist serve`` passes ``log_config=configure_logging(level)`` and ``access_log=False``
to uvicorn; a worker process applies it with ``logging.config.dictConfig``).

**Request metrics**, made once per process (module-level, so ``create_app`` may run many
times): ``codist_http_request_duration_seconds`` (histogram; labels ``method``,
``route`` (the route template, ``unmatched`` when no route matched, never the raw path)
and ``status``) and ``codist_http_requests_in_flight`` (gauge).

**Planning-job metrics** are read from the ``plans`` table at scrape time
(:class:`PlanJobCollector`), since jobs run in other processes (RQ workers, possibly on
other machines, or the service's own child process): ``codist_plan_jobs{status}`` (every
plan by status), ``codist_plan_queue_depth`` (plans queued),
``codist_plan_job_duration_seconds{outcome}`` (a histogram of finished jobs,
``finished_at - started_at`` of the last attempt; outcome ``failed``, or ``succeeded``
for a plan succeeded, published, completed or superseded since), and
``codist_database_up``. The histogram is **cumulative over the whole table**, its
buckets counted in SQL, so it only grows (``rate()`` and ``histogram_quantile()`` work
on it); it is one ``GROUP BY status`` over ``plans``, a few thousand rows a year. With
``REDIS_URL``: ``codist_rq_queue_length{queue}`` and ``codist_redis_up`` (0 when Redis
does not answer within 0.5 s; the scrape still answers).

**Several worker processes** (``uvicorn --workers N``): set ``PROMETHEUS_MULTIPROC_DIR``
to a fresh, empty directory *before* the workers start (prometheus_client reads it when
it is first imported). Each worker then writes its request metrics to files there, and
``/metrics``, whichever worker answers, merges them all (``MultiProcessCollector``): one
scrape sums every worker. Workers that died are marked dead at each scrape (their
in-flight gauge is dropped; their counts stay, as counters should). Without the variable,
the process's default registry is served (with the process and Python collectors).
"""

from __future__ import annotations

import glob
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.config import Settings

__all__ = [
    "HTTP_BUCKETS",
    "JOB_BUCKETS",
    "REQUEST_ID",
    "JsonFormatter",
    "MetricsEndpoint",
    "PlanJobCollector",
    "RequestObservability",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "multiprocess_dir",
    "route_template",
]

TZ = ZoneInfo("Asia/Shanghai")

#: The request id of the request being served (None outside a request).
REQUEST_ID: ContextVar[str | None] = ContextVar("codist_request_id", default=None)

access_log = logging.getLogger("codist.access")
log = logging.getLogger("codist.metrics")


#: The client's address of the current request (for the audit log).
CLIENT: ContextVar[str | None] = ContextVar("codist_client", default=None)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def current_client() -> str | None:
    return CLIENT.get()


# ---- logging ---------------------------------------------------------------------------------
#: Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(
    [
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "color_message",  # uvicorn's coloured copy of the message
        "taskName",
    ]
)


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, TZ).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id (inside a request),
    the record's ``extra=`` fields, and exc_info / stack_info as text when present."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            doc["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            doc["exc_info"] = record.exc_text
        elif record.exc_text:
            doc["exc_info"] = record.exc_text
        if record.stack_info:
            doc["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a terminal (``json_logs=False``), with the request id appended."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return f"{line} [{request_id}]" if request_id else line

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record.created)


def configure_logging(level: str = "info", json_logs: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (also uvicorn's ``log_config=``): root, ``uvicorn``
    and ``uvicorn.error`` to stderr through :class:`JsonFormatter` (or
    :class:`TextFormatter`), ``uvicorn.access`` silenced. Returns it; applies nothing."""
    name = level.upper()
    if name not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE"):
        raise ValueError(f"unknown log level {level!r}")
    name = "DEBUG" if name == "TRACE" else name  # uvicorn's extra level, below DEBUG
    formatter = "api.services.observability." + ("JsonFormatter" if json_logs else "TextFormatter")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"codist": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "codist",
            },
            "null": {"class": "logging.NullHandler"},
        },
        "root": {"level": name, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": name, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": name, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": ["null"], "propagate": False},
        },
    }


# ---- request metrics (one set per process) -------------------------------------------------
#: Seconds; the service answers in 5-50 ms.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_DURATION = Histogram(
    "codist_http_request_duration_seconds",
    "HTTP requests by method, route template and status, and how long they took",
    ("method", "route", "status"),
    buckets=HTTP_BUCKETS,
)
IN_FLIGHT = Gauge(
    "codist_http_requests_in_flight",
    "HTTP requests being served",
    multiprocess_mode="livesum",
)

_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")
_templates: dict[str, str] = {}
_children: dict[tuple[str, str, int], Any] = {}


def _clean(path: str) -> str:
    """``/x/{name:path}`` -> ``/x/{name}`` (cached: the set of templates is small)."""
    clean = _templates.get(path)
    if clean is None:
        clean = _templates[path] = _CONVERTER.sub(r"{\1}", path)
    return clean


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that served ``scope`` (``/api/v1/plans/{plan_id}``),
    ``<mount>/{path}`` for a mounted app (static files), ``unmatched`` when none did.
    ``root_path`` is the scope's root path before routing."""
    # FastAPI >= 0.16x keeps an included router's route as declared (without the
    # include's prefix) in scope["route"]; its full path is on the effective route
    effective = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(effective, "path", None)
    if isinstance(path, str) and path:
        return _clean(path)
    mounted = str(scope.get("root_path", ""))[len(root_path) :]
    route = scope.get("route")
    if route is not None and not isinstance(route, Mount):
        fmt = getattr(route, "path_format", None)
        if isinstance(fmt, str):
            return _clean(mounted + fmt)
    if mounted:
        return _clean(mounted + "/{path}")
    return "unmatched"


def _observe(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = REQUEST_DURATION.labels(method, route, str(status))
    child.observe(seconds)


class RequestObservability:
    """Pure ASGI middleware: request id (in, out and in the context), the request
    histogram and in-flight gauge, and one ``codist.access`` line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _SANE_ID.fullmatch(value):
                    request_id = value.decode("ascii")
                break
        if request_id is None:
            request_id = uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)
        peer = scope.get("client")
        client_token = CLIENT.set(peer[0] if peer else None)
        root_path = scope.get("root_path", "")
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        IN_FLIGHT.inc()
        failed = False
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            failed = True
            raise
        finally:
            IN_FLIGHT.dec()
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_template(scope, root_path)
            _observe(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "%s %s %s %.1f ms",
                    method,
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": client[0] if client else None,
                    },
                )
            if not failed:  # (after an error, whatever logs it next still has the id)
                REQUEST_ID.reset(token)
                CLIENT.reset(client_token)


# ---- planning-job metrics, from the database -----------------------------------------------
#: Seconds; a planning job takes from a few seconds (a county) to minutes (the prefecture).
JOB_BUCKETS = (1.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0)
_OUTCOMES = {
    "failed": "failed",
    "succeeded": "succeeded",
    "published": "succeeded",
    "completed": "succeeded",
    "superseded": "succeeded",
}
REDIS_TIMEOUT_S = 0.5


def _duration_seconds(dialect: str) -> Any:
    """``finished_at - started_at`` in seconds, as SQL of ``dialect`` (None: unknown)."""
    from sqlalchemy import extract, func
    from sqlmodel import col

    from api.models import Plan

    if dialect == "postgresql":
        return extract("epoch", col(Plan.finished_at) - col(Plan.started_at))
    if dialect == "sqlite":
        return (func.julianday(col(Plan.finished_at)) - func.julianday(col(Plan.started_at))) * (
            86400.0
        )
    return None


class PlanJobCollector(Collector):
    """Planning jobs by status, queue depth and job durations, read from ``plans`` at
    each scrape in one ``GROUP BY status`` (bucket counts summed in SQL, over the whole
    table); the RQ queue's length when Redis is configured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when registered

    def collect(self) -> Iterable[Metric]:
        yield from self._database()
        if self.settings.redis_url:
            yield from self._redis(self.settings.redis_url)

    def _rows(self) -> list[tuple[Any, ...]]:
        from sqlalchemy import and_, case, func, select
        from sqlmodel import Session, col

        from api.core.db import engine_for
        from api.models import Plan

        engine = engine_for(self.settings.database_url)
        duration = _duration_seconds(engine.dialect.name)
        columns: list[Any] = [col(Plan.status), func.count()]
        if duration is not None:
            done = and_(col(Plan.started_at).is_not(None), col(Plan.finished_at).is_not(None))
            columns.append(func.sum(case((done, 1), else_=0)))
            columns.append(func.sum(case((done, duration), else_=0.0)))
            columns += [
                func.sum(case((and_(done, duration <= b), 1), else_=0)) for b in JOB_BUCKETS
            ]
        with Session(engine) as session:
            return [
                tuple(row) for row in session.execute(select(*columns).group_by(col(Plan.status)))
            ]

    def _database(self) -> Iterable[Metric]:
        from api.models import PLAN_STATES

        up = GaugeMetricFamily("codist_database_up", "the plans table could be read (1) or not")
        try:
            rows = self._rows()
        except Exception as e:  # the scrape still answers, and says so
            log.warning("metrics: could not read the plans table: %s: %s", type(e).__name__, e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        counts = dict.fromkeys(PLAN_STATES, 0)
        histograms: dict[str, list[float]] = {}
        for status, count, *rest in rows:
            counts[status] = int(count)
            outcome = _OUTCOMES.get(status)
            if outcome is None or not rest:
                continue
            acc = histograms.setdefault(outcome, [0.0] * len(rest))
            for k, value in enumerate(rest):
                acc[k] += float(value or 0)
        jobs = GaugeMetricFamily("codist_plan_jobs", "planning jobs by status", labels=["status"])
        for status, count in sorted(counts.items()):
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "codist_plan_queue_depth",
            "planning jobs queued (waiting for a worker)",
            counts["queued"],
        )
        durations = HistogramMetricFamily(
            "codist_plan_job_duration_seconds",
            "finished planning jobs (last attempt, started to finished) by outcome",
            labels=["outcome"],
        )
        for outcome in ("failed", "succeeded"):
            acc = histograms.get(outcome) or [0.0] * (2 + len(JOB_BUCKETS))
            n, total, cumulative = int(acc[0]), acc[1], acc[2:]
            buckets = [
                (floatToGoString(b), int(c)) for b, c in zip(JOB_BUCKETS, cumulative, strict=True)
            ]
            durations.add_metric([outcome], [*buckets, ("+Inf", n)], total)
        yield durations

    def _redis(self, url: str) -> Iterable[Metric]:
        up = GaugeMetricFamily("codist_redis_up", "Redis answered the scrape (1) or not")
        length = GaugeMetricFamily(
            "codist_rq_queue_length", "planning jobs waiting in the RQ queue", labels=["queue"]
        )
        try:
            from redis import Redis
            from rq import Queue

            client = Redis.from_url(
                url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
            try:
                count = Queue(self.settings.queue, connection=client).count
            finally:
                client.close()
        except Exception as e:
            log.warning("metrics: Redis did not answer: %s: %s", type(e).__name__, e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        length.add_metric([self.settings.queue], count)
        yield up
        yield length


# ---- the /metrics answer -----------------------------------------------------------------
def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when prometheus_client runs in it (it decides
    when first imported, from ``PROMETHEUS_MULTIPROC_DIR``)."""
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead_workers(path: str) -> list[int]:
    """Mark the processes whose live-gauge files are in ``path`` and which are gone as
    dead (their in-flight gauge no longer counts); returns their ids."""
    from prometheus_client.multiprocess import mark_process_dead

    dead = []
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        try:
            pid = int(os.path.basename(name)[:-3].rsplit("_", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            mark_process_dead(pid, path)
            dead.append(pid)
    return dead


class _Both(Collector):
    def __init__(self, *parts: Collector) -> None:
        self.parts = parts

    def collect(self) -> Iterable[Metric]:
        for part in self.parts:
            yield from part.collect()


class MetricsEndpoint:
    """``GET /metrics`` of one app: the request metrics of this process (or of every
    worker, in multiprocess mode) and the planning jobs, behind the optional token."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = PlanJobCollector(settings)

    def authorised(self, authorization: str | None) -> bool:
        token = self.settings.metrics_token
        if not token:
            return True
        given = (authorization or "").encode()
        return hmac.compare_digest(given, f"Bearer {token}".encode())

    def render(self) -> bytes:
        path = multiprocess_dir()
        if path is None:
            return generate_latest(_Both(REGISTRY, self.jobs))
        from prometheus_client.multiprocess import MultiProcessCollector

        mark_dead_workers(path)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(_Both(registry, self.jobs))

    def __call__(self, authorization: str | None) -> Response:
        if not self.authorised(authorization):
            return JSONResponse(
                {"detail": "metrics need Authorization: Bearer <CODIST_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(self.render(), media_type=CONTENT_TYPE_LATEST)
