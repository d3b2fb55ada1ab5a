"""Is the service alive, and ready: each dependency checked with a short timeout.

``/livez`` answers as long as the process serves requests. ``/readyz`` checks the
database (a fresh connection, not one from the pool, so an exhausted pool or a locked
table cannot hold the check) and Redis when one is configured, each within
``CHECK_TIMEOUT_S``, and names each with "ok" or what went wrong; the router answers 503
with ``Retry-After`` when one is not ready.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from api.core.config import Settings
from api.errors import DB_RETRY_AFTER_S

__all__ = ["CHECK_TIMEOUT_S", "RETRY_AFTER_S", "readiness"]

CHECK_TIMEOUT_S = 2.0  # each dependency answers within this, or is not ready
RETRY_AFTER_S = DB_RETRY_AFTER_S  # what a 503 asks the caller to wait (as api.errors)

# checks run in daemon-like worker threads: one that hangs past its timeout is abandoned,
# never waited for (its connection has its own timeouts and ends on its own)
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _database(url: str) -> None:
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": CHECK_TIMEOUT_S})
    else:
        ms = int(CHECK_TIMEOUT_S * 1000)
        engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": max(1, int(CHECK_TIMEOUT_S)),
                "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
            },
        )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _redis(url: str) -> None:
    from redis import Redis

    client = Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    future = _POOL.submit(check)
    try:
        future.result(timeout=CHECK_TIMEOUT_S + 0.5)
        status = "ok"
    except concurrent.futures.TimeoutError:
        status = f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as e:  # a dependency's failure is the answer, not a crash
        first = str(e).splitlines()[0][:200] if str(e) else ""
        status = f"{type(e).__name__}: {first}" if first else type(e).__name__
    return {"status": status, "ms": round(1000 * (time.perf_counter() - started))}


def readiness(settings: Settings) -> tuple[bool, dict[str, Any]]:
    """(ready, the answer): each dependency's status and time, and how jobs run."""
    checks: dict[str, Any] = {"database": _timed(lambda: _database(settings.database_url))}
    if settings.redis_url:
        redis_url = settings.redis_url
        checks["redis"] = _timed(lambda: _redis(redis_url))
    ready = all(c["status"] == "ok" for c in checks.values())
    return ready, {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "jobs": "rq" if settings.redis_url else "in-process",
    }
