"""The planning queue: hand a queued plan to a worker, and keep rows and queue in step.

A job's life is written on its ``plans`` row (see ``api.worker.jobs``); the queue only
carries plan ids. Two things can make them disagree, and both are mended here:

- a worker dies while running a plan: it stops beating; :func:`reap_stale` puts the plan
  back to ``queued`` and enqueues it again, or fails it after ``max_attempts``;
- a queued plan's job vanishes (Redis flushed or restarted without persistence, a job
  deleted, the service restarted while its in-process job waited): :func:`reconcile`
  enqueues such a plan again. Enqueueing twice is harmless: a worker *claims* the row
  with a conditional UPDATE, so a plan runs once whichever copy comes first.

Both run when the API starts, when a worker starts and whenever plans are read. A plan
that ends (succeeded or failed) releases its date and county claims (``plan_claims``) in
the same transaction (:func:`release_claims`).

The job body is named, not imported (``JOB``), as RQ itself names jobs: the service layer
does not depend on the worker. Both queues run it through :func:`run_job`, which logs each
job's start, end (with its outcome) or failure, with ``plan_id`` and ``duration_s``, on
``codist.jobs`` (structured: the fields are ``extra=``, so the JSON log lines carry them);
the reaper logs there too when it requeues or fails a job whose worker died.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from api.core.config import Settings
from api.core.db import engine_for
from api.models import Plan, PlanClaim, aware, now

log = logging.getLogger("codist.queue")
jobs_log = logging.getLogger("codist.jobs")

#: The job body (``api.worker.jobs.run_plan_job``), as RQ names it.
JOB = "api.worker.jobs.run_plan_job"
#: What a worker runs: :func:`run_job`, the job body with its start and end logged.
RUNNER = "api.services.queue.run_job"
#: A queued job older than this without a trace in the queue is enqueued again.
LOST_AFTER = timedelta(seconds=30)

_local: ProcessPoolExecutor | None = None
_local_lock = threading.Lock()
_submitted: set[int] = set()  # plans this process handed to its in-process worker
#: How often a process looks for lost jobs (the first reap of a process always does).
RECONCILE_EVERY_S = 10.0
_last_reconcile = -RECONCILE_EVERY_S


def _run_named(name: str, *args: Any) -> Any:
    module, func = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), func)(*args)


def run_job(
    plan_id: int,
    database_url: str | None = None,
    service: Settings | None = None,
    log_setup: tuple[str, bool] | None = None,
) -> Any:
    """Run the job body ``JOB`` for a plan (what RQ and the in-process queue run): its
    start, its end with the outcome (``succeeded``, or ``skipped`` when another copy had
    claimed it) and its failure are logged on ``codist.jobs`` with the plan id and the
    duration. Returns what the body returns and raises what it raises. ``log_setup``
    (level, JSON or not): how the service logs, for its child process to do the same."""
    if log_setup is not None:
        _adopt_logging(*log_setup)
    fields: dict[str, Any] = {"plan_id": plan_id}
    jobs_log.info("plan %s: job started", plan_id, extra={**fields, "event": "job_started"})
    started = time.monotonic()
    try:
        outcome = _run_named(JOB, plan_id, database_url, service)
    except Exception as e:
        duration = round(time.monotonic() - started, 3)
        jobs_log.error(
            "plan %s: job failed after %.1f s",
            plan_id,
            duration,
            # the body logged the traceback of a plan that failed (PlanFailed) already
            exc_info=type(e).__name__ != "PlanFailed",
            extra={
                **fields,
                "event": "job_failed",
                "outcome": "failed",
                "duration_s": duration,
                "error": f"{type(e).__name__}: {e}"[:500],
            },
        )
        raise
    duration = round(time.monotonic() - started, 3)
    jobs_log.info(
        "plan %s: job %s after %.1f s",
        plan_id,
        outcome,
        duration,
        extra={**fields, "event": "job_finished", "outcome": str(outcome), "duration_s": duration},
    )
    return outcome


def _log_setup() -> tuple[str, bool] | None:
    """How this process logs (root level, JSON lines or not) when its logging is the
    service's (``configure_logging``); None otherwise."""
    from api.services.observability import JsonFormatter, TextFormatter

    root = logging.getLogger()
    formats = [type(h.formatter) for h in root.handlers]
    if JsonFormatter not in formats and TextFormatter not in formats:
        return None
    return logging.getLevelName(root.getEffectiveLevel()).lower(), JsonFormatter in formats


def _adopt_logging(level: str, json_logs: bool) -> None:
    """In the service's child process: log as the service does, once."""
    if logging.getLogger().handlers:
        return
    from logging.config import dictConfig

    from api.services.observability import configure_logging

    try:
        dictConfig(configure_logging(level, json_logs))
    except ValueError:  # a level of the service's own making: the job runs all the same
        dictConfig(configure_logging("info", json_logs))


def enqueue_plan(settings: Settings, plan_id: int) -> str | None:
    """Hand a queued plan to a worker; returns the RQ job id (None when in-process).
    Raises when the queue cannot be reached."""
    if settings.redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(settings.queue, connection=Redis.from_url(settings.redis_url))
        job = queue.enqueue(
            RUNNER,
            plan_id,
            settings.database_url,
            job_timeout=max(600, int(settings.plan_time_limit * 20)),
            result_ttl=86400,
            failure_ttl=7 * 86400,
            description=f"plan {plan_id}",
        )
        return str(job.id)
    # in-process mode: one job at a time in a child process of the service, so that the
    # search neither slows the API's requests nor is slowed by them (and a crash of the
    # search cannot take the API down; the heartbeat notices it)
    global _local
    with _local_lock:
        if _local is None:
            import multiprocessing

            # the child stops with the service, even one killed (no orphan holding a
            # database connection after a restart)
            _local = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        try:
            _local.submit(run_job, plan_id, settings.database_url, settings, _log_setup())
        except BrokenProcessPool:  # the child died: start a fresh one
            _local = None
            return enqueue_plan(settings, plan_id)
        _submitted.add(plan_id)
    return None


def _watch_parent(parent: int, every_s: float = 1.0) -> None:
    """In the in-process job child: exit once the service that started it is gone. A
    thread polls the parent id (the kernel's parent-death signal would follow the thread
    that forked, one of the service's short-lived worker threads, not the process)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)  # the job, if any, is reaped by the heartbeat check and queued again

    threading.Thread(target=watch, name="codist-parent-watch", daemon=True).start()


def _log_reaped(plan: Plan, status: str) -> None:
    """A running job whose worker stopped beating was queued again or failed."""
    started = aware(plan.started_at)
    fields: dict[str, Any] = {"plan_id": plan.id, "attempts": plan.attempts}
    if status == "failed":
        duration = round((now() - started).total_seconds(), 3) if started else None
        jobs_log.error(
            "plan %s: its worker stopped %s times; the job failed",
            plan.id,
            plan.attempts,
            extra={
                **fields,
                "event": "job_failed",
                "outcome": "failed",
                "duration_s": duration,
                "error": "the worker stopped beating (killed or lost)",
            },
        )
    else:
        jobs_log.warning(
            "plan %s: its worker stopped during attempt %s; queued again",
            plan.id,
            plan.attempts,
            extra={**fields, "event": "job_requeued"},
        )


def release_claims(session: Session, plan_id: int) -> None:
    """The plan's job is over: its date and counties are free for the next job (in the
    caller's transaction)."""
    session.exec(delete(PlanClaim).where(col(PlanClaim.plan_id) == plan_id))


def reap_stale(settings: Settings) -> int:
    """Requeue (or fail, after ``max_attempts``) running plans whose worker stopped beating,
    then :func:`reconcile` the queued ones. Returns how many plans it touched."""
    cutoff = now() - timedelta(seconds=settings.stale_after_s)
    touched = 0
    requeue: list[int] = []
    with Session(engine_for(settings.database_url)) as session:
        stale = session.exec(select(Plan).where(Plan.status == "running")).all()
        for plan in stale:
            beat = aware(plan.heartbeat_at) or aware(plan.started_at)
            if beat is not None and beat > cutoff:
                continue
            if plan.attempts < settings.max_attempts:
                values: dict[str, Any] = {
                    "status": "queued",
                    "message": f"the planning worker stopped during attempt {plan.attempts}; "
                    "queued again",
                }
            else:
                values = {
                    "status": "failed",
                    "error": f"the planning worker stopped {plan.attempts} times (killed or "
                    "lost); nothing was saved; plan again",
                    "finished_at": now(),
                }
            # conditional: only if nobody else moved it meanwhile
            result = session.exec(
                update(Plan)
                .where(col(Plan.id) == plan.id, col(Plan.status) == "running")
                .where(col(Plan.heartbeat_at) == plan.heartbeat_at)
                .values(**values)
            )
            if result.rowcount and values["status"] == "failed":
                release_claims(session, plan.id or 0)
            elif result.rowcount:
                requeue.append(plan.id or 0)
            if result.rowcount:
                _log_reaped(plan, values["status"])
            touched += result.rowcount
        session.commit()
    for plan_id in requeue:
        try:
            enqueue_plan(settings, plan_id)
        except Exception:  # the queue is down: the row says queued, the next reap retries
            log.exception("could not enqueue plan %s again", plan_id)
    # plans are read (polled) many times a second; looking the queue up for lost jobs
    # that often would only repeat the same answer
    global _last_reconcile
    if time.monotonic() - _last_reconcile < RECONCILE_EVERY_S:
        return touched
    _last_reconcile = time.monotonic()
    return touched + reconcile(settings, skip=set(requeue))


def reconcile(settings: Settings, *, skip: set[int] | None = None) -> int:
    """Enqueue again the queued plans whose job is lost; returns how many."""
    cutoff = now() - LOST_AFTER
    with Session(engine_for(settings.database_url)) as session:
        queued = session.exec(select(Plan).where(Plan.status == "queued")).all()
        waiting = [
            (p.id or 0, p.job_id)
            for p in queued
            if (p.id or 0) not in (skip or set()) and (aware(p.created_at) or cutoff) <= cutoff
        ]
    lost = [pid for pid, job in waiting if _lost(settings, pid, job)]
    again = 0
    for plan_id in lost:
        try:
            job_id = enqueue_plan(settings, plan_id)
        except Exception:
            log.exception("could not enqueue lost plan %s again", plan_id)
            continue
        with Session(engine_for(settings.database_url)) as session:
            session.exec(
                update(Plan)
                .where(col(Plan.id) == plan_id, col(Plan.status) == "queued")
                .values(job_id=job_id, message="queued again: its job had been lost")
            )
            session.commit()
        again += 1
    return again


def _lost(settings: Settings, plan_id: int, job_id: str | None) -> bool:
    """Is a queued plan's job gone from the queue (or over without running it)?"""
    if not settings.redis_url:
        return plan_id not in _submitted  # the in-process queue lives in this process
    if not job_id:
        return True
    try:
        from redis import Redis
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(job_id, connection=Redis.from_url(settings.redis_url))
        except NoSuchJobError:
            return True
        return job.get_status(refresh=True) in (
            JobStatus.FINISHED,
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
            None,
        )
    except Exception:  # the queue is unreachable: nothing can be said (or done) now
        log.warning("could not look up job %s of plan %s", job_id, plan_id, exc_info=True)
        return False
