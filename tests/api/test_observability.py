"""Structured logs with a request id, and the Prometheus metrics at /metrics: request
histogram by route template, planning jobs read from the database, the optional token,
multiprocess mode, and the job log lines of the queue."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine
from sqlmodel import Session

import api.services.queue
from api.core.config import Settings
from api.main import create_app
from api.models import Plan, now
from api.services.observability import (
    JsonFormatter,
    PlanJobCollector,
    configure_logging,
    route_template,
)

REPO = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client: TestClient, **headers: str) -> Samples:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def request_count(found: Samples, method: str, route: str, status: str) -> float:
    key = (
        "codist_http_request_duration_seconds_count",
        (("method", method), ("route", route), ("status", status)),
    )
    return found.get(key, 0.0)


class Lines(logging.Handler):
    """Formats each record with JsonFormatter as it is emitted (inside the request)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(n) for n in ("codist.access", "codist.api", "codist.probe")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


# ---- the request id --------------------------------------------------------------------------
def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    r = client.get("/livez", headers={"X-Request-ID": "lb-7f3a.2_b-9"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "lb-7f3a.2_b-9"
    made = client.get("/livez").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert client.get("/livez").headers["X-Request-ID"] != made  # one per request
    # an id that is too long or not a plain token is replaced, never echoed
    for bad in ("x" * 65, "a b", "<script>", "id;drop", ""):
        got = client.get("/livez", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert got != bad and len(got) == 32, bad
    # also on answers the app refuses, and on its own 404
    assert client.get("/api/v1/me", headers={"X-Request-ID": "r1"}).headers["X-Request-ID"] == "r1"
    assert client.get("/no/such/page", headers={"X-Request-ID": "r2"}).headers["X-Request-ID"] == (
        "r2"
    )


def test_logs_are_json_lines_with_the_request_id(
    settings: Settings, accounts: dict[str, int], lines: Lines, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/probe/{item_id}")
    def probe(item_id: int) -> dict[str, int]:  # sync: runs in the thread pool
        logging.getLogger("codist.probe").info("probing %s", item_id, extra={"county": "532326"})
        return {"item": item_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("the probe broke")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.INFO):
        r = c.get("/probe/7", headers={"X-Request-ID": "probe-1"})
        assert r.status_code == 200
        failed = c.get("/broken")
    assert failed.status_code == 500 and failed.json() == {
        "detail": "internal error; it has been logged"
    }
    broken_id = failed.headers["X-Request-ID"]

    probe_line = next(x for x in lines.lines if x["logger"] == "codist.probe")
    assert probe_line["msg"] == "probing 7" and probe_line["level"] == "INFO"
    assert probe_line["request_id"] == "probe-1" and probe_line["county"] == "532326"
    ts = datetime.fromisoformat(probe_line["ts"])
    assert probe_line["ts"].endswith("+08:00") and ts.utcoffset() == timedelta(hours=8)
    assert abs((ts - now()).total_seconds()) < 600

    access = [x for x in lines.lines if x["logger"] == "codist.access"]
    first = next(x for x in access if x["path"] == "/probe/7")
    assert first["request_id"] == "probe-1" and first["route"] == "/probe/{item_id}"
    assert first["method"] == "GET" and first["status"] == 200 and first["client"] == "testclient"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    # an unhandled error: its log line has the request id and the traceback, the 500
    # answer carries the id, and the access line says 500
    error = next(x for x in lines.lines if x["logger"] == "codist.api")
    assert error["level"] == "ERROR" and error["request_id"] == broken_id
    assert "RuntimeError: the probe broke" in error["exc_info"]
    assert next(x for x in access if x["path"] == "/broken")["status"] == 500
    # the records themselves carry the fields (caplog sees them as any handler does)
    record = next(r for r in caplog.records if r.name == "codist.access")
    assert record.request_id == "probe-1" and record.route == "/probe/{item_id}"  # type: ignore[attr-defined]


def test_route_template_of_unmatched_and_mounted() -> None:
    assert route_template({"type": "http", "path": "/x", "root_path": ""}) == "unmatched"
    assert route_template({"root_path": "/static"}, "") == "/static/{path}"


def test_configure_logging_is_usable_by_uvicorn(tmp_path: Path) -> None:
    """Applied as uvicorn applies it: root and uvicorn.error write JSON lines to stderr,
    uvicorn.access writes nothing (our middleware logs access)."""
    script = textwrap.dedent(
        """
        import logging, uvicorn
        from api.services.observability import configure_logging
        uvicorn.Config("api.main:create_app", log_config=configure_logging("info"),
                       access_log=False).configure_logging()
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
        logging.getLogger("uvicorn.access").info("GET / 200")
        logging.getLogger("codist.jobs").warning("plan 3 lost", extra={"plan_id": 3})
        logging.getLogger("codist.jobs").debug("not at info")
        try:
            1 / 0
        except ZeroDivisionError:
            logging.getLogger("codist.api").exception("unhandled error")
        """
    )
    done = _python(script, {})
    rows = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["logger"] for r in rows] == ["uvicorn.error", "codist.jobs", "codist.api"]
    assert rows[0]["msg"] == "Started server process [1]" and "color_message" not in rows[0]
    assert rows[1]["plan_id"] == 3 and rows[1]["level"] == "WARNING"
    assert "ZeroDivisionError" in rows[2]["exc_info"]
    assert "request_id" not in rows[0]  # outside a request
    config = configure_logging("warning", json_logs=False)
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["codist"]["()"].endswith("TextFormatter")
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud")


# ---- request metrics -------------------------------------------------------------------------
def test_request_histogram_labels_the_route_template(
    client: TestClient, login: Callable[[str], dict[str, str]]
) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=login("admin")).status_code == 200
    sheet = client.get("/api/v1/route-sheets/987654", headers=login("admin"))
    assert sheet.status_code == 404
    assert client.get("/no/such/987654").status_code == 404
    r = client.get("/metrics")
    after = samples(r.text)

    assert request_count(after, "GET", "/api/v1/me", "200") - request_count(
        before, "GET", "/api/v1/me", "200"
    ) == pytest.approx(3)
    assert request_count(after, "GET", "/api/v1/route-sheets/{sheet_id}", "404") >= 1
    assert request_count(after, "GET", "unmatched", "404") >= 1
    assert "987654" not in r.text  # never the raw path
    bucket = (
        "codist_http_request_duration_seconds_bucket",
        (("le", "0.005"), ("method", "GET"), ("route", "/api/v1/me"), ("status", "200")),
    )
    assert bucket in after
    assert after[("codist_http_requests_in_flight", ())] >= 1  # the scrape itself


# ---- planning-job metrics --------------------------------------------------------------------
def _plans(session: Session) -> None:
    """Jobs of every kind: durations 3 s, 41 s and 19.5 s that succeeded (one published
    since, one superseded), 8 s that failed, one failed before it started, two queued, one
    running."""
    base = now() - timedelta(hours=2)

    def plan(status: str, seconds: float | None = None, started: bool = True) -> Plan:
        return Plan(
            plan_date=date(2026, 9, 15),
            counties=["532327"],
            status=status,
            created_at=base,
            started_at=base if started else None,
            finished_at=base + timedelta(seconds=seconds) if seconds is not None else None,
        )

    session.add_all(
        [
            plan("succeeded", 3),
            plan("published", 41),
            plan("superseded", 19.5),
            plan("failed", 8),
            plan("failed", 0, started=False),
            plan("queued", started=False),
            plan("queued", started=False),
            plan("running"),
        ]
    )
    session.commit()


def _check_job_metrics(found: Samples) -> None:
    def jobs(status: str) -> float:
        return found[("codist_plan_jobs", (("status", status),))]

    assert (jobs("queued"), jobs("running"), jobs("succeeded"), jobs("failed")) == (2, 1, 1, 2)
    assert (jobs("published"), jobs("superseded"), jobs("completed")) == (1, 1, 0)
    assert found[("codist_plan_queue_depth", ())] == 2
    assert found[("codist_database_up", ())] == 1

    def histogram(outcome: str, suffix: str, le: str | None = None) -> float:
        labels = (("le", le), ("outcome", outcome)) if le else (("outcome", outcome),)
        return found[(f"codist_plan_job_duration_seconds_{suffix}", labels)]

    assert histogram("succeeded", "count") == 3
    assert histogram("succeeded", "sum") == pytest.approx(63.5, abs=0.01)
    assert [histogram("succeeded", "bucket", le) for le in ("1.0", "5.0", "20.0", "45.0")] == [
        0,
        1,
        2,
        3,
    ]
    assert histogram("succeeded", "bucket", "+Inf") == 3
    assert histogram("failed", "count") == 1 and histogram("failed", "sum") == pytest.approx(8)
    assert histogram("failed", "bucket", "5.0") == 0 and histogram("failed", "bucket", "10.0") == 1


def test_job_metrics_from_the_plans_table(client: TestClient, session: Session) -> None:
    _plans(session)
    _check_job_metrics(scrape(client))


def test_job_metrics_on_postgresql(settings: Settings, pg: Engine, pg_url: str) -> None:
    with Session(pg) as session:
        _plans(session)
    collector = PlanJobCollector(replace(settings, database_url=pg_url))
    found: Samples = {}
    for family in collector.collect():
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    _check_job_metrics(found)


def test_metrics_answer_when_redis_does_not(settings: Settings, accounts: dict[str, int]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broken = replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")
    with TestClient(create_app(broken, run_migrations=False)) as c:
        found = scrape(c)
    assert found[("codist_redis_up", ())] == 0
    assert found[("codist_database_up", ())] == 1 and ("codist_plan_queue_depth", ()) in found


def test_rq_queue_length(settings: Settings, accounts: dict[str, int]) -> None:
    url = os.environ.get("CODIST_TEST_REDIS", "redis://127.0.0.1:6379/0")
    try:
        from redis import Redis

        Redis.from_url(url, socket_timeout=3).ping()
    except Exception as e:
        if os.environ.get("CODIST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis needed and not reachable: {e}")
        pytest.skip(f"Redis not reachable: {e}")
    from rq import Queue

    name = f"test-metrics-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, connection=Redis.from_url(url))
    try:
        for plan_id in (1, 2):
            queue.enqueue(api.services.queue.RUNNER, plan_id, "sqlite://")
        on_queue = replace(settings, redis_url=url, queue=name)
        with TestClient(create_app(on_queue, run_migrations=False)) as c:
            found = scrape(c)
    finally:
        queue.delete(delete_jobs=True)
    assert found[("codist_redis_up", ())] == 1
    assert found[("codist_rq_queue_length", (("queue", name),))] == 2


def test_metrics_token(settings: Settings, accounts: dict[str, int]) -> None:
    guarded = replace(settings, metrics_token="metrics-token-0123456789")
    with TestClient(create_app(guarded)) as c:
        r = c.get("/metrics")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert "codist_" not in r.text
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get(
            "/metrics", headers={"Authorization": "metrics-token-0123456789"}
        ).status_code == (401)
        ok = c.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
        assert ok.status_code == 200 and "codist_http_request_duration_seconds" in ok.text
        assert c.get("/livez").status_code == 200  # nothing else needs it


# ---- several worker processes ----------------------------------------------------------------
def _python(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


WORKER = textwrap.dedent(
    """
    import os, sys
    from fastapi.testclient import TestClient
    from api.core.config import load_settings
    from api.main import create_app

    client = TestClient(create_app(load_settings(), run_migrations=False))
    for _ in range(int(sys.argv[1])):
        assert client.get("/livez").status_code == 200
    print(os.getpid())
    if sys.argv[2] == "scrape":
        sys.stdout.write(client.get("/metrics").text)
    """
)


def test_multiprocess_mode_sums_every_worker(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    """Two processes (as two uvicorn workers) share PROMETHEUS_MULTIPROC_DIR: a scrape of
    the second counts the requests of both, and the first, gone, is marked dead."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": settings.database_url,
        "CODIST_HOME": str(settings.home),
        "CODIST_METRICS_TOKEN": "",
        "REDIS_URL": "",
    }
    first = _python(WORKER, env, "3", "no")
    first_pid = int(first.stdout.strip())
    assert (metrics_dir / f"gauge_livesum_{first_pid}.db").exists()
    second = _python(WORKER, env, "2", "scrape")
    pid, text = second.stdout.split("\n", 1)
    found = samples(text)
    assert request_count(found, "GET", "/livez", "200") == 5  # 3 + 2: both workers
    assert found[("codist_http_requests_in_flight", ())] == 1  # the scrape; the first is dead
    assert not (metrics_dir / f"gauge_livesum_{first_pid}.db").exists()
    assert (metrics_dir / f"histogram_{pid}.db").exists()
    assert found[("codist_plan_queue_depth", ())] == 0  # the database part is there too


# ---- job log lines ---------------------------------------------------------------------------
def test_job_start_and_end_are_logged(
    settings: Settings, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    # a replan of a plan that does not exist fails at once
    plan = Plan(plan_date=date(2026, 9, 15), counties=["532327"], options={"replan_of": 999})
    session.add(plan)
    session.commit()
    assert plan.id is not None
    with caplog.at_level(logging.INFO, logger="codist.jobs"):
        with pytest.raises(Exception, match=rf"plan {plan.id} failed"):
            api.services.queue.run_job(plan.id, settings.database_url, settings)
        # the row says failed now: a second copy of the job is skipped, and says so
        assert api.services.queue.run_job(plan.id, settings.database_url, settings) == "skipped"
    events = [
        (r.event, r.plan_id)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "codist.jobs" and hasattr(r, "event")
    ]
    assert events == [
        ("job_started", plan.id),
        ("job_failed", plan.id),
        ("job_started", plan.id),
        ("job_finished", plan.id),
    ]
    failed = next(r for r in caplog.records if getattr(r, "event", None) == "job_failed")
    doc = json.loads(JsonFormatter().format(failed))
    assert doc["plan_id"] == plan.id and doc["outcome"] == "failed" and doc["level"] == "ERROR"
    assert doc["duration_s"] >= 0 and "PlanFailed" in doc["error"]
    finished = next(r for r in caplog.records if getattr(r, "event", None) == "job_finished")
    assert finished.outcome == "skipped"  # type: ignore[attr-defined]


def test_reaped_jobs_are_logged(
    settings: Settings,
    session: Session,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api.services.queue, "enqueue_plan", lambda _s, _plan_id: None)
    long_ago = now() - timedelta(hours=1)
    plans = [
        Plan(
            plan_date=date(2026, 9, 15),
            counties=[county],
            status="running",
            attempts=attempts,
            created_at=long_ago,
            started_at=long_ago,
            heartbeat_at=long_ago,
        )
        for county, attempts in (("532327", 1), ("532326", settings.max_attempts))
    ]
    session.add_all(plans)
    session.commit()
    with caplog.at_level(logging.INFO, logger="codist.jobs"):
        api.services.queue.reap_stale(settings)
    events = {
        r.plan_id: (r.event, r.levelname)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "codist.jobs"
    }
    assert events == {
        plans[0].id: ("job_requeued", "WARNING"),
        plans[1].id: ("job_failed", "ERROR"),
    }
    lost = next(r for r in caplog.records if getattr(r, "event", None) == "job_failed")
    assert lost.duration_s == pytest.approx(3600, abs=60)  # type: ignore[attr-defined]
