"""Running a scenario over a range of days: fan-out, resume, sensitivity, progress.

``run_scenario`` writes under ``OUT/<scenario>/``:

* ``days/YYYY-MM-DD.json``: one record a finished day (``simulations.day``), written
  atomically. A run that is stopped (Ctrl-C, a killed machine) and started again skips
  the days whose record is there with the same scenario digest: nothing is redone.
* ``sensitivity/<parameter>=<value>/YYYY-MM-DD.json`` and ``sensitivity.json``: the
  scenario's re-solved variants on a few sample days (the report's savings band).
* ``run.json``: the scenario, the range, when it ran, how many days are done.

Days fan out over local processes (``workers``), or, when ``REDIS_URL`` is set, as RQ
jobs on the ``simulations`` queue that any number of ``codist worker`` machines take
(the records come back through Redis: the workers need no shared disk).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from dispatch.domain import TZ
from routing.errors import InputError
from simulations.scenario import Scenario, scenario_from_dict

__all__ = ["QUEUE", "Task", "day_job", "run_scenario", "sample_days"]

QUEUE = "simulations"
Progress = Callable[[int, int, str], None]  # done, total, label


@dataclass(frozen=True)
class Task:
    """One day to simulate, maybe with overrides (a sensitivity variant)."""

    day: date
    path: Path
    overrides: tuple[tuple[str, float], ...] = ()


def day_job(
    scenario: Mapping[str, Any], day: str, overrides: Mapping[str, float]
) -> dict[str, Any]:
    """An RQ job (``codist worker``): one day's record."""
    from simulations.day import simulate_day

    return simulate_day(
        scenario_from_dict(dict(scenario)),
        date.fromisoformat(day),
        overrides=dict(overrides) or None,
    )


def _local(scenario: Scenario, task: Task) -> dict[str, Any]:
    from simulations.day import simulate_day

    return simulate_day(scenario, task.day, overrides=dict(task.overrides) or None)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def sample_days(start: date, end: date, n: int) -> list[date]:
    """``n`` days spread evenly over the range (the first and the middle of each part)."""
    days = _days(start, end)
    if n <= 0 or not days:
        return []
    n = min(n, len(days))
    return [days[(2 * i + 1) * len(days) // (2 * n)] for i in range(n)]


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _done(path: Path, digest: str) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("digest") == digest
    except (OSError, ValueError):
        return False


def _now() -> str:
    return datetime.now(TZ).isoformat(timespec="seconds")


def _tasks(scenario: Scenario, start: date, end: date, folder: Path) -> list[Task]:
    tasks = [Task(d, folder / "days" / f"{d.isoformat()}.json") for d in _days(start, end)]
    for day in sample_days(start, end, scenario.sensitivity_days):
        for key, values in sorted(scenario.sensitivity.items()):
            for value in values:
                sub = folder / "sensitivity" / f"{key}={value:g}"
                tasks.append(Task(day, sub / f"{day.isoformat()}.json", ((key, value),)))
    return tasks


def run_scenario(
    scenario: Scenario,
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    workers: int = 0,
    redis_url: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario`` from ``start`` to ``end`` (default: the scenario's range)
    into ``out/<scenario>/``; resumes a run stopped before. Returns the run info."""
    start, end = start or scenario.start, end or scenario.end
    if end < start:
        raise InputError("--to", "is before --from")
    folder = out / scenario.name
    digest = scenario.digest()
    tasks = _tasks(scenario, start, end, folder)
    todo = [t for t in tasks if not _done(t.path, digest)]
    info = {
        "scenario": scenario.name,
        "title_zh": scenario.title_zh,
        "title_en": scenario.title_en,
        "description_zh": scenario.description_zh,
        "description_en": scenario.description_en,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "seed": scenario.seed,
        "time_limit": scenario.time_limit,
        "iterations_per_lot": scenario.iterations_per_lot,
        "settings": scenario.as_dict(),
        "digest": digest,
        "started_at": _now(),
        "days_total": (end - start).days + 1,
        "resumed_days": len(tasks) - len(todo),
        "workers": workers,
        "fan_out": "rq" if redis_url else "processes",
    }
    _write(folder / "run.json", {**info, "finished_at": None})
    report = progress or (lambda done, total, label: None)
    t0 = time.perf_counter()
    finished = len(tasks) - len(todo)
    report(finished, len(tasks), scenario.name)
    runner = _rq_results if redis_url else _process_results
    for task, record in runner(scenario, todo, workers, redis_url or ""):
        _write(task.path, {**record, "digest": digest, "overrides": dict(task.overrides)})
        finished += 1
        report(finished, len(tasks), scenario.name)
    _sensitivity(scenario, start, end, folder)
    days_done = sum(1 for d in _days(start, end) if (folder / "days" / f"{d}.json").exists())
    info.update(
        finished_at=_now(),
        seconds=round(time.perf_counter() - t0, 1),
        days_done=days_done,
        computed=len(todo),
    )
    _write(folder / "run.json", info)
    return info


def _process_results(
    scenario: Scenario, tasks: Sequence[Task], workers: int, _redis: str
) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Records as local worker processes finish them (one process: here)."""
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, _local(scenario, task)
        return
    from routing.sisr import warm_up
    from simulations.day import world_for

    methods = multiprocessing.get_all_start_methods()
    fork = "fork" in methods
    if fork:  # built once here, inherited by every worker
        world_for(scenario)
        warm_up()
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: dict[Future[dict[str, Any]], Task] = {}
        queue = list(reversed(tasks))
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                task = queue.pop()
                pending[pool.submit(_local, scenario, task)] = task
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()


def _rq_results(
    scenario: Scenario, tasks: Sequence[Task], _workers: int, redis_url: str
) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Records as ``codist worker`` processes finish the jobs (any number of machines)."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job, JobStatus

    connection = Redis.from_url(redis_url)
    queue = Queue(QUEUE, connection=connection)
    doc = scenario.as_dict()
    jobs: dict[str, Task] = {}
    for task in tasks:
        job = queue.enqueue(
            day_job,
            doc,
            task.day.isoformat(),
            dict(task.overrides),
            job_timeout=max(600, int(scenario.time_limit * 20)),
            result_ttl=86_400,
            failure_ttl=86_400,
        )
        jobs[job.id] = task
    try:
        while jobs:
            for found in Job.fetch_many(list(jobs), connection=connection):
                if found is None:
                    continue
                job = found
                status = job.get_status()
                if status == JobStatus.FINISHED:
                    yield jobs.pop(job.id), dict(job.return_value() or {})
                elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                    task = jobs.pop(job.id)
                    print(
                        f"codist: day {task.day} failed on a worker: {job.exc_info or status}",
                        file=sys.stderr,
                    )
            time.sleep(0.5)
    except BaseException:
        for job_id in jobs:  # a stopped run leaves no queued work behind
            with contextlib.suppress(Exception):  # best effort on the way out
                Job.fetch(job_id, connection=connection).cancel()
        raise


def _totals(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for rec in records:
        for name, b in rec["baselines"].items():
            t = out.setdefault(name, {"cost_fen": 0, "orders_served": 0, "fixed_fen": 0})
            for key in t:
                t[key] += int(b[key])
    return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _sensitivity(scenario: Scenario, start: date, end: date, folder: Path) -> None:
    """sensitivity.json: every variant's totals on the sample days, and the central's."""
    days = sample_days(start, end, scenario.sensitivity_days)
    if not days or not scenario.sensitivity:
        return
    central = [_read(folder / "days" / f"{d}.json") for d in days]
    variants = []
    labels = {
        "demand_scale": ("需求量倍数", "demand scale"),
        "sparse_threshold": (
            "少于每日服务的门槛(件/日)",
            "alone: daily service from (parcels/day)",
        ),
    }
    for key, values in sorted(scenario.sensitivity.items()):
        for value in values:
            recs = [_read(folder / "sensitivity" / f"{key}={value:g}" / f"{d}.json") for d in days]
            ok = [r for r in recs if r]
            zh, en = labels.get(key, (key, key))
            variants.append(
                {
                    "parameter": key,
                    "label_zh": zh,
                    "label_en": en,
                    "value": value,
                    "days": len(ok),
                    "totals": _totals(ok),
                }
            )
    _write(
        folder / "sensitivity.json",
        {
            "sample_days": [d.isoformat() for d in days],
            "central": {"totals": _totals([r for r in central if r])},
            "variants": variants,
        },
    )
