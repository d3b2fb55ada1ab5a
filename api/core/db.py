"""The database: engine, sessions, and the schema owned by Alembic migrations."""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def make_engine(url: str) -> Engine:
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
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    _ENGINES.add(engine)
    return engine


@functools.cache
def engine_for(url: str) -> Engine:
    """The process's shared engine for ``url`` (its pool is never used across a fork)."""
    return make_engine(url)


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
