"""The database: engine, sessions, and the schema owned by Alembic migrations."""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from api.core.config import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


#: The pool of :func:`engine_for` called with a URL alone (everything but the requests:
#: migrations, the planning queue and workers, the command line).
POOL_SIZE, MAX_OVERFLOW, POOL_TIMEOUT_S = 10, 20, 30.0


def _pg_options(url: str, statement_timeout_ms: int | None, lock_timeout_ms: int | None) -> str:
    """libpq ``options`` for every connection: the URL's own (e.g. ``-csearch_path=...``)
    followed by the server-side timeouts (0 disables one, as in PostgreSQL)."""
    given = make_url(url).query.get("options")
    parts = [given] if isinstance(given, str) else list(given or ())
    if statement_timeout_ms is not None:
        parts.append(f"-c statement_timeout={int(statement_timeout_ms)}")
    if lock_timeout_ms is not None:
        parts.append(f"-c lock_timeout={int(lock_timeout_ms)}")
    return " ".join(p for p in parts if p)


def make_engine(
    url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
    pool_timeout: float = POOL_TIMEOUT_S,
    statement_timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
    connect_timeout_s: int = 10,
) -> Engine:
    """A new engine. SQLite: one file, WAL, foreign keys on, a 30 s busy timeout (the pool
    options do not apply). PostgreSQL: a pool of ``pool_size`` connections plus
    ``max_overflow``; a checkout waits at most ``pool_timeout`` s, then raises
    :class:`sqlalchemy.exc.TimeoutError` (the API answers 503); every connection sets
    ``statement_timeout`` and ``lock_timeout`` (ms, when given) on the server, so that a
    stuck statement or a lock held elsewhere ends in an error (``QueryCanceled``,
    ``LockNotAvailable``) instead of holding a worker; connecting gives up after
    ``connect_timeout_s``. Connections are pinged when checked out."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        _ENGINES.add(engine)
        return engine
    connect_args: dict[str, Any] = {}
    options = _pg_options(url, statement_timeout_ms, lock_timeout_ms)
    if options:
        connect_args["options"] = options
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = max(1, int(connect_timeout_s))
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_args=connect_args,
    )
    _ENGINES.add(engine)
    return engine


@functools.cache
def engine_for(url: str, **options: Any) -> Engine:
    """The process's shared engine for ``url`` and these :func:`make_engine` options (one
    per distinct combination; its pool is never used across a fork).

    With the URL alone (migrations, the planning queue and workers, the command line):
    the default pool and no server-side timeouts, as before. The API's requests use
    :func:`engine_for_settings`, whose pool and timeouts come from the settings."""
    return make_engine(url, **options)


def engine_for_settings(settings: Settings) -> Engine:
    """The engine of the API's requests: ``settings.database_url`` with the pool size,
    overflow and checkout timeout of the settings, and PostgreSQL's ``statement_timeout``
    and ``lock_timeout`` set on every connection (``CODIST_DB_*``, see
    :mod:`api.core.config`). Shared by every request of the process (cached)."""
    return engine_for(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
    )


def _forget_parent_connections() -> None:
    """In a forked child (an RQ work horse, a forked pool worker): drop the pooled
    connections inherited from the parent without closing them, so that the child opens
    its own. Sharing a server session across processes mixes their state: the second
    job on a worker met the first one's prepared statements (``DuplicatePreparedStatement
    "_pg3_0"``) and transactions could interleave. SQLAlchemy's recipe for forking."""
    for engine in _ENGINES:
        engine.dispose(close=False)


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_connections)


def migrate(url: str) -> None:
    """Bring the schema to the newest migration (``alembic upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = engine_for(url)
    command.upgrade(cfg, "head")


def session_for(url: str) -> Iterator[Session]:
    with Session(engine_for(url)) as session:
        yield session
