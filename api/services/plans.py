"""Plans: start a planning job, replan, publish, and who drives each route sheet.

Invariants, each held by the database or checked in the transaction that changes it:

- **one job in flight per date and county**: a queued plan claims its date and counties in
  ``plan_claims`` (primary key date + county) in the transaction that creates it; a second
  request for any of them, however many race, fails on the key and answers
  :class:`Conflict` naming the plan in flight. The job releases the claims when it ends.
- **nothing half-started**: when the queue cannot take the job, the plan row and its claims
  are deleted again and the caller gets :class:`Unavailable` (503).
- **a courier drives one route at a time**: a courier's routes of one day (published,
  not completed or withdrawn) never overlap in time; a county route goes only to a courier
  of that county's hub, a trunk route to one of an organisation without a county (the
  prefecture warehouse, a carrier).
- **a replan keeps the couriers**: a replanned route of a vehicle goes to the courier who
  drove that vehicle's route in the plan it replaces, unless the dispatcher says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from api.core.config import Settings
from api.errors import Conflict, Forbidden, NotFound, Unavailable
from api.models import Plan, PlanClaim, RouteSheet, User, Vehicle, now
from api.services import audit
from api.services.queue import enqueue_plan
from api.services.users import courier_county
from dispatch.io.day import served_counties
from routing.errors import InputError

__all__ = [
    "ACTIVE",
    "assign_courier",
    "counties_for",
    "get_plan",
    "publish",
    "replan",
    "start_plan",
    "visible",
]

#: Plan states of a job in flight.
ACTIVE = ("queued", "running")
#: Sheet states a courier is busy with.
_DRIVING = ("assigned", "in_progress")


# ---- who sees what ----------------------------------------------------------------------------
def counties_for(user: User, asked: Iterable[str] | None) -> list[str]:
    """The counties a plan of ``user`` covers: a dispatcher's own county only; an admin's
    choice among the served counties (default: all)."""
    served = served_counties()
    asked = list(asked) if asked is not None else None
    if user.role == "dispatcher":
        own = user.county_code or ""
        if asked and set(asked) != {own}:
            raise Forbidden(f"a dispatcher of {own} plans only that county's orders")
        return [own]
    counties = sorted(set(asked or served))
    unknown = [c for c in counties if c not in served]
    if unknown:
        raise InputError("counties", f"not served counties: {', '.join(unknown)}")
    return counties


def visible(user: User, plan: Plan) -> bool:
    """An admin sees every plan; a dispatcher the plans that cover their county (a plan of
    the whole prefecture included: its board shows them their county's part)."""
    if user.role == "admin":
        return True
    return user.role == "dispatcher" and user.county_code in (plan.counties or ())


def check_owner(user: User, plan: Plan) -> None:
    """Publishing and replanning change every county of the plan: a dispatcher may do it
    only to a plan of their own county alone."""
    if user.role != "admin" and set(plan.counties or ()) != {user.county_code}:
        raise Forbidden(
            f"plan {plan.id} covers {len(plan.counties or ())} counties: the prefecture office "
            "(an admin) publishes and replans it; a dispatcher assigns couriers to their "
            "county's sheets"
        )


def latest_visible(session: Session, user: User) -> Plan | None:
    """The newest plan ``user`` may see that has (or is computing) route sheets: the
    console's default (a running one shows its progress, then its board)."""
    rows = session.exec(
        select(Plan)
        .where(col(Plan.status).in_(("queued", "running", "succeeded", "published", "completed")))
        .order_by(col(Plan.id).desc())
        .limit(500)
    ).all()
    return next((p for p in rows if visible(user, p)), None)


def get_plan(session: Session, *, user: User, plan_id: int, change: bool = False) -> Plan:
    """A plan ``user`` may see (404 otherwise); ``change``: one they may also publish and
    replan (403 otherwise)."""
    plan = session.get(Plan, plan_id)
    if plan is None or not visible(user, plan):
        raise NotFound(f"no plan {plan_id}")
    if change:
        check_owner(user, plan)
    return plan


# ---- jobs -------------------------------------------------------------------------------------
def start_plan(
    session: Session,
    settings: Settings,
    *,
    plan_date: date,
    counties: list[str],
    options: dict[str, Any],
    created_by: int | None,
    message: str = "queued",
    before_commit: Callable[[Plan], object] | None = None,
) -> Plan:
    """Queue a planning job for ``counties`` on ``plan_date`` (see the module's rules);
    ``before_commit`` adds to the transaction that creates it (an audit row)."""
    # claims of jobs that ended without releasing them (a crash between two commits)
    # must not block the day: free them first
    ended = select(col(Plan.id)).where(col(Plan.status).not_in(ACTIVE))
    session.exec(
        delete(PlanClaim).where(
            col(PlanClaim.plan_date) == plan_date, col(PlanClaim.plan_id).in_(ended)
        )
    )
    plan = Plan(
        plan_date=plan_date,
        counties=counties,
        status="queued",
        message=message,
        options=options,
        created_by=created_by,
        created_at=now(),
    )
    session.add(plan)
    try:
        session.flush()
        assert plan.id is not None
        for county in counties:
            session.add(PlanClaim(plan_date=plan_date, county_code=county, plan_id=plan.id))
        if before_commit is not None:
            before_commit(plan)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(_in_flight(session, plan_date, counties)) from None
    session.refresh(plan)
    plan_id = plan.id
    assert plan_id is not None
    try:
        job = enqueue_plan(settings, plan_id)
    except Exception as e:  # the queue is unreachable: keep nothing half-started
        session.rollback()
        session.exec(delete(PlanClaim).where(col(PlanClaim.plan_id) == plan_id))
        session.exec(delete(Plan).where(col(Plan.id) == plan_id))
        session.commit()
        raise Unavailable(f"the job queue is unreachable ({type(e).__name__}); plan again") from e
    if job:
        plan.job_id = job
        session.add(plan)
        session.commit()
        session.refresh(plan)
    return plan


def _in_flight(session: Session, plan_date: date, counties: Iterable[str]) -> str:
    held = session.exec(
        select(PlanClaim).where(
            col(PlanClaim.plan_date) == plan_date, col(PlanClaim.county_code).in_(list(counties))
        )
    ).all()
    which = ", ".join(f"plan {c.plan_id} ({c.county_code})" for c in held) or "another plan"
    return f"a plan for {plan_date} and these counties is already queued or running: {which}"


def replan(
    session: Session,
    settings: Settings,
    *,
    parent: Plan,
    at: datetime,
    time_limit: float | None,
    created_by: int | None,
    actor: User | None = None,
) -> Plan:
    """Queue a replan of a published plan from the moment ``at`` (tz-aware)."""
    if parent.status != "published":
        raise Conflict(f"only a published plan can be replanned; this one is {parent.status}")
    if at.tzinfo is None:
        raise InputError("at", "needs a time zone")
    options: dict[str, Any] = {"replan_of": parent.id, "at": at.isoformat()}
    if time_limit is not None:
        options["time_limit"] = time_limit
    return start_plan(
        session,
        settings,
        plan_date=parent.plan_date,
        counties=list(parent.counties or ()),
        options=options,
        created_by=created_by,
        message=f"queued: replan of plan {parent.id}",
        before_commit=lambda plan: audit.record(
            session,
            actor=actor,
            action="plan.replan",
            entity="plan",
            entity_id=parent.id,
            after={"replan": plan.id, "at": at.isoformat()},
        ),
    )


# ---- publishing and couriers ------------------------------------------------------------------
def publish(
    session: Session,
    *,
    plan: Plan,
    assignments: Mapping[str, int],
    actor: User | None = None,
) -> Plan:
    """Publish a finished plan: each route sheet goes to its courier (``assignments``:
    route id -> courier user id; other routes take the courier of the same vehicle in
    the plan this one replans, else the vehicle's own courier, else none). A replan
    withdraws the open sheets of the plan it replaces."""
    from api.services.sheets import init_stops

    if plan.status != "succeeded":
        raise Conflict(f"only a succeeded plan can be published; this one is {plan.status}")
    sheets = session.exec(select(RouteSheet).where(RouteSheet.plan_id == plan.id)).all()
    unknown = sorted(set(assignments) - {s.route_id for s in sheets})
    if unknown:
        raise InputError("assignments", f"not routes of this plan: {', '.join(unknown)}")
    parent_id = (plan.options or {}).get("replan_of")
    parent = session.get(Plan, int(parent_id)) if parent_id else None
    carried = _couriers_by_vehicle(session, parent.id if parent else None)
    chosen: dict[int, int | None] = {}
    for sheet in sheets:
        assert sheet.id is not None
        courier = assignments.get(sheet.route_id) or carried.get(sheet.vehicle_id)
        chosen[sheet.id] = courier
        if courier is not None:
            _check_courier(session, courier, sheet)
    _check_no_overlap(session, plan.plan_date, sheets, chosen, ignore_plan=parent_id)
    for sheet in sheets:
        sheet.courier_id = chosen[sheet.id or 0]
        sheet.status = "assigned" if sheet.courier_id else "draft"
        session.add(sheet)
        init_stops(session, sheet)
        if sheet.courier_id is not None:
            audit.record(
                session,
                actor=actor,
                action="route_sheet.assign",
                entity="route_sheet",
                entity_id=sheet.id,
                before={"courier_id": None},
                after={"courier_id": sheet.courier_id, "route_id": sheet.route_id},
            )
    if parent is not None and parent.status == "published":  # the replan takes over
        parent.status = "superseded"
        session.add(parent)
        for old in session.exec(
            select(RouteSheet).where(
                RouteSheet.plan_id == parent.id, RouteSheet.status != "completed"
            )
        ).all():
            old.status = "superseded"
            session.add(old)
    audit.record(
        session,
        actor=actor,
        action="plan.publish",
        entity="plan",
        entity_id=plan.id,
        before={"status": plan.status},
        after={
            "status": "published",
            "sheets": len(sheets),
            "assigned": sum(1 for c in chosen.values() if c is not None),
            "supersedes": parent.id if parent is not None else None,
        },
    )
    plan.status = "published"
    plan.published_at = now()
    session.add(plan)
    session.commit()
    session.refresh(plan)
    return plan


def assign_courier(
    session: Session, *, sheet: RouteSheet, courier_id: int | None, actor: User | None = None
) -> RouteSheet:
    """Give a published route sheet to a courier, hand it to another, or (before any stop
    was reported) take it back (``courier_id`` None)."""
    plan = session.get(Plan, sheet.plan_id)
    if plan is None or plan.status != "published":
        state = plan.status if plan else "missing"
        raise Conflict(
            f"couriers are given the sheets of a published plan (this plan is {state}); "
            "a finished plan's sheets go out with POST /plans/{id}/publish"
        )
    if sheet.status not in ("draft", *_DRIVING):
        raise Conflict(f"route sheet {sheet.route_id} is {sheet.status}")
    before = {"courier_id": sheet.courier_id, "status": sheet.status}
    if courier_id is None:
        if sheet.status == "in_progress":
            raise Conflict(f"route sheet {sheet.route_id} is under way: hand it to a courier")
        sheet.courier_id, sheet.status = None, "draft"
    else:
        _check_courier(session, courier_id, sheet)
        assert sheet.id is not None
        _check_no_overlap(session, plan.plan_date, [sheet], {sheet.id: courier_id})
        sheet.courier_id = courier_id
        if sheet.status == "draft":
            sheet.status = "assigned"
    audit.record_change(
        session,
        actor=actor,
        action="route_sheet.assign",
        entity="route_sheet",
        entity_id=sheet.id,
        before=before,
        after={"courier_id": sheet.courier_id, "status": sheet.status},
        context={"route_id": sheet.route_id},
    )
    session.add(sheet)
    session.commit()
    session.refresh(sheet)
    return sheet


def _couriers_by_vehicle(session: Session, parent_id: int | None) -> dict[str, int]:
    """Vehicle id -> courier: the vehicles' own couriers, overridden by who drove each
    vehicle's route in the plan being replanned."""
    out = {
        v.id: v.courier_id
        for v in session.exec(select(Vehicle).where(col(Vehicle.courier_id).is_not(None))).all()
        if v.courier_id is not None
    }
    if parent_id is not None:
        for s in session.exec(select(RouteSheet).where(RouteSheet.plan_id == parent_id)).all():
            if s.courier_id is not None:
                out[s.vehicle_id] = s.courier_id
    return out


def _check_courier(session: Session, courier_id: int, sheet: RouteSheet) -> None:
    user = session.get(User, courier_id)
    if user is None or user.role != "courier" or not user.active:
        raise InputError("courier_id", f"{courier_id} is not an active courier user")
    county = courier_county(session, user)
    if sheet.county_code and county != sheet.county_code:
        raise InputError(
            "courier_id",
            f"{user.username} is not a courier of county {sheet.county_code}, whose route "
            f"{sheet.route_id} is",
        )
    if not sheet.county_code and county:
        raise InputError(
            "courier_id",
            f"{user.username} is a courier of county {county}; trunk route {sheet.route_id} "
            "goes to a courier of the warehouse or a carrier",
        )


def _span(sheet: RouteSheet) -> tuple[datetime, datetime] | None:
    content = sheet.content or {}
    try:
        return (
            datetime.fromisoformat(content["start"]["time"]),
            datetime.fromisoformat(content["end"]["time"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _check_no_overlap(
    session: Session,
    plan_date: date,
    sheets: Iterable[RouteSheet],
    chosen: Mapping[int, int | None],
    *,
    ignore_plan: Any = None,
) -> None:
    """No courier gets two routes of ``plan_date`` that overlap in time, counting the
    routes they already drive (other than ``sheets`` and those of ``ignore_plan``)."""
    mine = {s.id: s for s in sheets}
    couriers = {c for c in chosen.values() if c is not None}
    if not couriers:
        return
    busy = session.exec(
        select(RouteSheet)
        .join(Plan, col(Plan.id) == col(RouteSheet.plan_id))
        .where(
            col(Plan.plan_date) == plan_date,
            col(Plan.status).in_(("published",)),
            col(RouteSheet.courier_id).in_(list(couriers)),
            col(RouteSheet.status).in_(_DRIVING),
        )
    ).all()
    routes: dict[int, list[tuple[datetime, datetime, str]]] = {}
    for s in busy:
        if s.id in mine or (ignore_plan is not None and s.plan_id == int(ignore_plan)):
            continue
        span = _span(s)
        if span and s.courier_id is not None:
            routes.setdefault(s.courier_id, []).append((*span, s.route_id))
    for sheet_id, courier in chosen.items():
        span = _span(mine[sheet_id])
        if courier is not None and span:
            routes.setdefault(courier, []).append((*span, mine[sheet_id].route_id))
    for courier, spans in routes.items():
        spans.sort()
        _, end_a, a = spans[0]
        for start_b, end_b, b in spans[1:]:
            if start_b < end_a:
                raise Conflict(
                    f"courier {courier} cannot drive {a} (until {end_a:%H:%M}) and {b} "
                    f"(from {start_b:%H:%M}) at once"
                )
            if end_b > end_a:
                end_a, a = end_b, b
