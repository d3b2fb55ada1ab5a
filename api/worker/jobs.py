"""Planning jobs: the body a worker runs (an RQ worker with ``REDIS_URL``, otherwise a
child process of the service; queueing is ``api.services.queue``).

A job's life is written on its ``plans`` row, never only in the queue:

- ``queued`` -> ``running``: a worker *claims* the row with one conditional UPDATE (only a
  queued row can be claimed, so two workers never run the same plan) and from then on
  beats a heartbeat every few seconds;
- ``running`` -> ``succeeded``: the summary, the route sheets and the orders' new status are
  written in **one transaction** with the status, so a plan is never half-written;
- ``running`` -> ``failed``: the error in one sentence, and the job raises
  :class:`PlanFailed` so that the queue records a failed job too;
- both release the plan's date and county claims in the same transaction;
- a worker that dies (killed, machine lost) stops beating: ``reap_stale`` (run when the
  API starts, when a worker starts, and whenever a plan is read) puts a job whose heartbeat
  is older than ``stale_after_s`` back to ``queued`` and enqueues it again, or marks it
  ``failed`` after ``max_attempts``, so no plan stays "running" forever.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from api.core.config import Settings, get_settings
from api.core.db import engine_for
from api.models import Order, PlaceCorrection, Plan, RouteSheet, Vehicle, now
from api.services.queue import release_claims

if TYPE_CHECKING:
    from dispatch.domain import Day
    from routing.network import RoadNetwork

log = logging.getLogger("codist.jobs")


# ---- running ----------------------------------------------------------------------------
class PlanFailed(RuntimeError):
    """Raised by a job whose plan failed, after the plan's row says why."""


def run_plan_job(
    plan_id: int, database_url: str | None = None, service: Settings | None = None
) -> str:
    """The job body: claim, plan, save in one transaction. Returns the final status, or
    raises :class:`PlanFailed` once the failure is written on the plan's row.
    An RQ worker passes the database only (its settings come from its environment); the
    service's own child process gets the service's settings."""
    settings = service or get_settings()
    if database_url:
        settings = replace(settings, database_url=database_url)
    engine = engine_for(settings.database_url)
    with Session(engine) as session:
        claimed = session.exec(
            update(Plan)
            .where(col(Plan.id) == plan_id, col(Plan.status) == "queued")
            .values(
                status="running",
                attempts=Plan.attempts + 1,
                started_at=now(),
                heartbeat_at=now(),
                message="starting",
                progress=0.0,
                error=None,
            )
        )
        session.commit()
        if claimed.rowcount != 1:
            return "skipped"
    beat = _Heartbeat(settings, plan_id)
    beat.start()
    try:
        with Session(engine) as session:
            plan = session.get(Plan, plan_id)
            replan_of = (plan.options or {}).get("replan_of") if plan else None
        if replan_of:
            status = _replan_and_save(settings, plan_id, int(replan_of), beat)
        else:
            status = _plan_and_save(settings, plan_id, beat)
    except Exception as e:
        log.exception("plan %s failed", plan_id)
        with Session(engine) as session:
            failed = session.exec(
                update(Plan)
                .where(col(Plan.id) == plan_id, col(Plan.status) == "running")
                .values(
                    status="failed",
                    error=f"{type(e).__name__}: {e}"[:2000],
                    finished_at=now(),
                    message="failed",
                )
            )
            if failed.rowcount == 1:  # (a reaped and requeued plan keeps its claims)
                release_claims(session, plan_id)
            session.commit()
        # the row says why; the queue must say it failed too (RQ keeps the job in its
        # failed registry with the traceback instead of logging it as a success)
        raise PlanFailed(f"plan {plan_id} failed: {type(e).__name__}: {e}") from e
    finally:
        beat.stop()
    return status


class _Heartbeat:
    """Keeps a running job's ``heartbeat_at`` fresh, from a process of its own.

    The planning search holds the interpreter lock for seconds at a time (compiled code),
    so a thread could not beat reliably; a separate process can, and it exits as soon as
    the job's process is gone, so a killed worker stops beating. Progress is written by
    the job itself at each step (see :func:`_progress_for`)."""

    def __init__(self, settings: Settings, plan_id: int) -> None:
        self.settings = settings
        self.plan_id = plan_id
        self.proc: Any = None
        self.last = 0.0

    def start(self) -> None:
        import multiprocessing

        # several beats fit in the stale period, so a slow beat never looks like a death
        interval = max(0.5, min(5.0, self.settings.stale_after_s / 6))
        ctx = multiprocessing.get_context("spawn")
        self.proc = ctx.Process(
            target=_beat_loop,
            args=(self.settings.database_url, self.plan_id, interval, os.getpid()),
            daemon=True,
            name=f"codist-heartbeat-{self.plan_id}",
        )
        self.proc.start()

    def progress(self, fraction: float, message: str) -> None:
        if time.monotonic() - self.last < 0.5 and fraction < 1.0:
            return
        self.last = time.monotonic()
        _update_running(
            self.settings.database_url,
            self.plan_id,
            progress=fraction,
            message=message,
            heartbeat_at=now(),
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.join(5)


def _update_running(url: str, plan_id: int, **values: Any) -> None:
    try:
        with Session(engine_for(url)) as session:
            session.exec(
                update(Plan)
                .where(col(Plan.id) == plan_id, col(Plan.status) == "running")
                .values(**values)
            )
            session.commit()
    except Exception:  # a missed beat is not fatal; the next one may pass
        log.warning("updating running plan %s failed", plan_id, exc_info=True)


def _beat_loop(url: str, plan_id: int, interval: float, parent: int) -> None:
    """The heartbeat process: beat until the job's process is gone or says stop."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            return  # the job's process died: stop beating, let the reaper see it
        _update_running(url, plan_id, heartbeat_at=now())


def _progress_for(beat: _Heartbeat) -> Any:
    from dispatch.plan.day import Progress

    phases = ("trunk echelon, down", "county echelons", "trunk echelon, up", "cost allocation")

    class JobProgress(Progress):
        def _draw(self, force: bool = False) -> None:
            k = phases.index(self.label) if self.label in phases else 0
            frac = self.done / self.total if self.total else 1.0
            beat.progress(
                round((k + frac) / len(phases), 3),
                f"{self.label}: {self.done}/{self.total}",
            )

    return JobProgress(enabled=True)


@dataclass
class _ReplanInputs:
    """What a replan starts from, read from the database in one session."""

    options: dict[str, Any]
    network: RoadNetwork
    closures: list[dict[str, Any]]
    day: Day
    order_rows: list[tuple[int, str]]
    county_sheets: list[tuple[str, dict[str, Any], dict[int, str]]]  # vehicle, content, states
    trunk_sheets: list[tuple[dict[str, Any], dict[int, str]]]  # content, stop states


def _replan_and_save(settings: Settings, plan_id: int, parent_id: int, beat: _Heartbeat) -> str:
    """Replan a published plan from the moment asked: completed stops stay as they are,
    vehicles out on their routes start from the last stop their couriers reported."""
    from dispatch.plan.day import PlanOptions
    from dispatch.plan.replan import (
        continued_sheets,
        done_stops,
        kept_sheet,
        replan_counties,
        under_way,
    )
    from dispatch.report.summary import sheets_for

    engine = engine_for(settings.database_url)
    inputs = _replan_inputs(engine, plan_id, parent_id)
    day, options = inputs.day, inputs.options
    at_s = day.seconds(datetime.fromisoformat(options["at"]))
    left = {o.id: o for o in day.orders}
    by_id = {v.id: v for v in day.fleet}
    moving, history = [], {}
    for vehicle, content, state in inputs.county_sheets:
        where = under_way(content, state, by_id[vehicle], left, at_s) if vehicle in by_id else None
        if where is not None:
            moving.append(where)
            history[vehicle] = done_stops(content, state)
    beat.progress(0.2, "replanning the county routes")
    counties = tuple(options["counties"])
    result = replan_counties(
        day,
        inputs.network,
        at_s=at_s,
        under_way=moving,
        counties=counties,
        options=PlanOptions(
            time_limit=float(options.get("time_limit", settings.plan_time_limit)),
            seed=int(options.get("seed", 0)),
            workers=1,
            counties=counties,
        ),
        prefix=f"R{plan_id}",
    )
    new_sheets = continued_sheets(
        sheets_for(result, inputs.network, result.routes()), history, parent_id
    )
    routed = {
        oid for _, r in result.routes() for v in r.visits for oid in result.lots[v.lot].orders
    }
    doc = {
        "date": day.date.isoformat(),
        "replan_of": parent_id,
        "at": options["at"],
        "orders": len(day.orders),
        "assigned": len(routed),
        "unassigned": len(day.orders) - len(routed),
        "routes": len(new_sheets),
        "vehicles_under_way": len(moving),
        "cost_fen": sum(r.cost_fen for _, r in result.routes()),
        "unassigned_orders": [
            {"order_id": oid, "reason": r, "detail": d}
            for oid, (r, d) in sorted(result.unassigned.items())
        ],
        "road_closures": inputs.closures,
    }
    kept = [kept_sheet(content, states) for content, states in inputs.trunk_sheets]
    message = (
        f"replanned {doc['assigned']} of {doc['orders']} open orders on "
        f"{doc['routes']} county routes"
    )
    routed_rows = [row_id for row_id, order_id in inputs.order_rows if order_id in routed]
    return _save(
        engine, plan_id, [*kept, *new_sheets], routed_rows, ("open", "planned"), doc, message
    )


def _replan_inputs(engine: Any, plan_id: int, parent_id: int) -> _ReplanInputs:
    """The replan's inputs: its options, the day's network (corrections, closures), the
    orders still to do (open or planned), the fleet, and the parent plan's sheets with the
    state of each stop."""
    from api.models import StopStatus
    from api.services.convert import order_dataclass

    with Session(engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None and session.get(Plan, parent_id) is not None
        counties = list(plan.counties or ())
        network, closures = _network(session, plan.plan_date)
        sheets = session.exec(select(RouteSheet).where(RouteSheet.plan_id == parent_id)).all()
        states = {
            s.id: {
                row.seq: row.status
                for row in session.exec(select(StopStatus).where(StopStatus.sheet_id == s.id))
            }
            for s in sheets
        }
        rows = session.exec(
            select(Order).where(
                Order.plan_date == plan.plan_date,
                col(Order.county_code).in_(counties),
                col(Order.status).in_(("open", "planned")),
            )
        ).all()
        day = _day_of(session, plan.plan_date, [order_dataclass(r) for r in rows])
        return _ReplanInputs(
            options={**(plan.options or {}), "counties": counties},
            network=network,
            closures=closures,
            day=day,
            order_rows=[(r.id or 0, r.order_id) for r in rows],
            county_sheets=[
                (s.vehicle_id, s.content or {}, states.get(s.id, {}))
                for s in sheets
                if s.echelon == "county" and s.content
            ],
            trunk_sheets=[
                (s.content or {}, states.get(s.id, {})) for s in sheets if s.echelon == "trunk"
            ],
        )


def _plan_and_save(settings: Settings, plan_id: int, beat: _Heartbeat) -> str:
    from dispatch.plan.day import PlanOptions, plan_day
    from dispatch.report.summary import route_sheets, summary, unassigned_rows

    engine = engine_for(settings.database_url)
    with Session(engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        counties = tuple(plan.counties or ())
        options = dict(plan.options or {})
        network, closures = _network(session, plan.plan_date)
        day, order_rows = _day(session, plan)
    opts = PlanOptions(
        time_limit=float(options.get("time_limit", settings.plan_time_limit)),
        seed=int(options.get("seed", 0)),
        workers=settings.plan_workers,
        counties=counties,
    )
    result = plan_day(day, network, opts, progress=_progress_for(beat))
    doc = summary(result, network)
    doc["unassigned_orders"] = unassigned_rows(result)
    doc["road_closures"] = closures
    sheets = route_sheets(result, network)
    routed = {oid for oid, oc in result.outcomes.items() if oc.assigned}
    routed_rows = [row_id for row_id, order_id in order_rows if order_id in routed]
    message = f"{doc['assigned']} of {doc['orders']} orders routed on {doc['routes']} routes"
    return _save(engine, plan_id, sheets, routed_rows, ("open",), doc, message)


def _save(
    engine: Any,
    plan_id: int,
    sheets: list[dict[str, Any]],
    routed_rows: list[int],
    order_states: tuple[str, ...],
    doc: dict[str, Any],
    message: str,
) -> str:
    """Write a finished job in one transaction: its route sheets, its orders marked planned
    and the plan succeeded with its summary, all of it or nothing. A job reaped meanwhile
    (someone else owns the plan now) writes nothing."""
    with Session(engine) as session:
        session.exec(delete(RouteSheet).where(col(RouteSheet.plan_id) == plan_id))
        for sheet in sheets:
            session.add(
                RouteSheet(
                    plan_id=plan_id,
                    route_id=sheet["route_id"],
                    echelon=sheet["echelon"],
                    county_code=sheet["county"]["code"] if sheet.get("county") else None,
                    vehicle_id=sheet["vehicle"]["id"],
                    status="draft",
                    content=sheet,
                    created_at=now(),
                )
            )
        for k in range(0, len(routed_rows), 1000):  # one statement per thousand orders
            session.exec(
                update(Order)
                .where(col(Order.id).in_(routed_rows[k : k + 1000]))
                .where(col(Order.status).in_(order_states))
                .values(status="planned", plan_id=plan_id)
            )
        done = session.exec(
            update(Plan)
            .where(col(Plan.id) == plan_id, col(Plan.status) == "running")
            .values(
                status="succeeded", progress=1.0, message=message, summary=doc, finished_at=now()
            )
        )
        if done.rowcount != 1:
            session.rollback()
            return "abandoned"
        release_claims(session, plan_id)
        session.commit()
    return "succeeded"


def _network(session: Session, day: date) -> tuple[RoadNetwork, list[dict[str, Any]]]:
    """The road network for a plan day: the admins' coordinate corrections applied and
    the roads closed at any time of that day removed (so plans route around them)."""
    from api.services.closures import closures_on, edges_of
    from routing.network import PlaceFix, load_network

    rows = session.exec(select(PlaceCorrection).order_by(col(PlaceCorrection.id))).all()
    latest = {r.place_id: r for r in rows}  # the latest correction of each place
    network = load_network(
        fixes=[
            PlaceFix(r.place_id, r.lon, r.lat, f"correction: {r.source or 'admin'}")
            for r in latest.values()
        ]
    )
    closures = closures_on(session, day)
    closed = sorted({e for c in closures for e in edges_of(c)})
    used = [
        {"id": c.id, "from_place": c.from_place, "to_place": c.to_place, "reason": c.reason}
        for c in closures
    ]
    return network.without_edges(closed), used


def _day(session: Session, plan: Plan) -> tuple[Day, list[tuple[int, str]]]:
    from api.services.convert import order_dataclass

    query = select(Order).where(Order.plan_date == plan.plan_date, Order.status == "open")
    if plan.counties:
        query = query.where(col(Order.county_code).in_(plan.counties))
    rows = session.exec(query.order_by(col(Order.id))).all()
    day = _day_of(session, plan.plan_date, [order_dataclass(r) for r in rows])
    return day, [(r.id or 0, r.order_id) for r in rows]


def _day_of(session: Session, plan_date: date, orders: list[Any]) -> Day:
    """The plan day of ``orders``: the parties, and the active vehicles of the service
    (the bundled fleet while none is registered)."""
    from api.services.convert import vehicle_spec
    from dispatch.domain import Day
    from dispatch.io.fleet import load_fleet, load_parties

    parties = load_parties()
    vehicles = session.exec(select(Vehicle).where(Vehicle.active == True)).all()  # noqa: E712
    fleet = [vehicle_spec(v) for v in vehicles] if vehicles else load_fleet(parties=parties)
    return Day(date=plan_date, parties=parties, orders=orders, fleet=fleet)


def wait_for(settings: Settings, plan_id: int, timeout: float = 600.0) -> Plan:
    """Poll a plan until it is no longer queued or running (for the CLI and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine_for(settings.database_url)) as session:
            plan = session.get(Plan, plan_id)
            assert plan is not None
            if plan.status not in ("queued", "running") or time.monotonic() > deadline:
                return plan
        time.sleep(0.5)
