"""Planning jobs on a real RQ worker and Redis: a failed plan is a failed job (defect 3 of
issue 11: RQ logged it as successfully completed)."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import Session

from api.core.config import Settings
from api.core.db import engine_for
from api.models import Plan
from api.services.queue import enqueue_plan

REDIS_URL = os.environ.get("CODIST_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except Exception as e:
        if os.environ.get("CODIST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis needed and not reachable: {e}")
        pytest.skip(f"Redis not reachable: {e}")
    return REDIS_URL


def test_failed_plan_is_a_failed_rq_job(
    settings: Settings, session: Session, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis import Redis
    from rq import Queue, Worker
    from rq.job import Job

    queue_name = f"test-plans-{uuid.uuid4().hex[:8]}"
    on_queue = replace(settings, redis_url=redis_url, queue=queue_name)
    # a replan of a plan that does not exist cannot be made
    plan = Plan(plan_date=date(2026, 9, 15), counties=["532327"], options={"replan_of": 999})
    session.add(plan)
    session.commit()
    assert plan.id is not None
    job_id = enqueue_plan(on_queue, plan.id)
    assert job_id
    connection = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    monkeypatch.setenv("CODIST_HOME", str(settings.home))
    try:
        Worker([queue], connection=connection).work(burst=True, with_scheduler=False)
        job = Job.fetch(job_id, connection=connection)
        assert job.get_status() == "failed"
        assert "PlanFailed" in (job.latest_result().exc_string or "")  # type: ignore[union-attr]
    finally:
        queue.delete(delete_jobs=True)
    with Session(engine_for(settings.database_url)) as s:
        row = s.get(Plan, plan.id)
        assert row is not None and row.status == "failed" and row.error
