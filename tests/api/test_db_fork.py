"""A forked job process (an RQ work horse) never uses its parent's database connections
(defect 3 of issue 11: ``DuplicatePreparedStatement "_pg3_0"`` on a worker that already ran
plans)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from api.core.db import engine_for


def _queries(url: str, n: int = 12) -> int:
    """Run ``n`` queries on one pooled connection; the server process serving it."""
    # psycopg prepares a statement on the server after its 5th execution on a connection
    with engine_for(url).connect() as conn:
        for k in range(n):
            assert conn.execute(text("SELECT :k"), {"k": k}).scalar() == k
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _in_child(url: str) -> int:
    """Run queries in a forked child, as an RQ work horse runs a job; the server process
    that served it (0 when it failed)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        backend = 0
        try:
            backend = _queries(url)
        except BaseException:
            import traceback

            traceback.print_exc()
        os.write(write, str(backend).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        answer = f.read()
    os.waitpid(pid, 0)
    return int(answer or 0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_jobs_get_connections_of_their_own(pg_url: str) -> None:
    parent = _queries(pg_url, n=1)  # the worker touched the database (migrating, reaping)
    first, second = _in_child(pg_url), _in_child(pg_url)  # two jobs, one after the other
    assert first and second, "a job's queries failed"
    assert parent not in (first, second) and first != second
    assert _queries(pg_url) == parent  # the worker's own connection is intact
    engine_for(pg_url).dispose()
