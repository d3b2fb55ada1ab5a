"""Independent checker (and plan mode): recompute routes from scratch and list violations.

Given a problem and ordered routes, it rebuilds each route's earliest-start schedule (like
VROOM), its on-board loads, travel, cost and every broken constraint. It uses nothing but
``routing.model`` (routes come as ``routing.model.RoutePlan``, which ``routing.solution``
re-exports), so a solver's answer can be verified by it.

Decisions beyond the semantics fixed in ``routing.model``:

- every route report has a start and an end step; their ``location`` is None when the
  vehicle has no start/end. A vehicle without a start appears at its first step exactly
  when that step can begin (no waiting there); without an end it ends where it last was;
- a route with no task step is an unused vehicle: start and end at the shift start, all
  figures 0, no violation (break steps in it are ignored);
- a break happens where the vehicle is (no travel, location None) and keeps that location,
  so the next task at the same place has no setup; route ``service`` includes breaks;
- a step's ``service_at`` / ``service_after`` / ``service_before`` come from the plan step,
  or else from the vehicle's fixed step of the same kind and task/break (``Vehicle.steps``);
  a plan may begin with a "start" and end with an "end" step to bound those too. The
  vehicle waits for ``service_at`` / ``service_after``, so "lead_time" is never emitted;
  starting after ``service_at`` / ``service_before`` is a "delay";
- malformed input (unknown vehicle or task index, a step whose kind is not its task's,
  two routes for one vehicle) raises ``InputError``: it is not a violation of a plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from routing.errors import InputError
from routing.model import (
    TASK_KINDS,
    Amount,
    Problem,
    RoutePlan,
    Step,
    Task,
    TimeWindow,
    Vehicle,
)

VIOLATIONS = (
    "delay",  # a step starts after its last time window / planned time, or the shift ends late
    "lead_time",  # kept for VROOM compatibility; never emitted (the vehicle always waits)
    "load",  # on-board load above capacity after a step
    "max_tasks",
    "skills",
    "precedence",  # shipment delivery before its pickup, or the pair not on one route
    "missing_break",
    "max_travel_time",
    "max_load",  # load above a break's max_load during that break
    "max_distance",
    "missing_task",  # task neither routed nor declared unassigned
    "duplicate_task",  # task routed twice, or routed and declared unassigned
)


@dataclass(frozen=True)
class StepReport:
    """One step of a recomputed route; times in s, distances in m."""

    kind: str  # "start" | "job" | "pickup" | "delivery" | "break" | "end"
    ref: int  # task index / break position / -1
    location: int | None  # matrix index (None for a break, or a start/end the vehicle lacks)
    arrival: int  # s, when the vehicle reaches the step (break: when it starts waiting for it)
    waiting_s: int  # s, between arrival and the start of setup/service
    setup_s: int  # s, 0 if the previous stop was at the same location
    service_s: int  # s
    duration: int  # s, cumulative travel up to this step
    distance: int  # m, cumulative travel up to this step
    load: Amount  # on-board load after this step (at "start": the initial load)
    violations: tuple[str, ...]


@dataclass(frozen=True)
class RouteReport:
    """One recomputed route; times in s, distances in m, cost in cost units."""

    vehicle: int  # index into Problem.vehicles
    steps: tuple[StepReport, ...]  # start, task/break steps, end
    cost: int
    setup: int  # s
    service: int  # s, tasks and breaks
    duration: int  # s, travel
    waiting_time: int  # s
    distance: int  # m
    priority: int  # sum of the route's task priorities
    delivery: Amount  # total delivered (job deliveries + shipment amounts dropped)
    pickup: Amount  # total picked up (job pickups + shipment amounts collected)
    violations: tuple[str, ...]  # step violations and route-level ones, in VIOLATIONS order
    notes: tuple[str, ...] = ()  # one sentence per violation

    def messages(self) -> list[str]:
        """One sentence per violation, naming the vehicle and task ids."""
        return list(self.notes)


@dataclass(frozen=True)
class CheckReport:
    """All routes of a solution checked together; totals in s, m and cost units."""

    routes: tuple[RouteReport, ...]
    unassigned: tuple[int, ...]  # task indices in no route
    violations: tuple[str, ...]  # problem-level: missing_task, duplicate_task, precedence
    feasible: bool  # no violation anywhere
    cost: int
    distance: int  # m
    duration: int  # s, travel
    waiting_time: int  # s
    service: int  # s
    setup: int  # s
    priority: int  # sum of routed task priorities
    notes: tuple[str, ...] = ()  # one sentence per violation

    def messages(self) -> list[str]:
        """One sentence per violation, naming vehicle ids and task ids."""
        return list(self.notes)


def _ordered(names: Iterable[str]) -> tuple[str, ...]:
    """The distinct violation names, in VIOLATIONS order."""
    found = set(names)
    return tuple(name for name in VIOLATIONS if name in found)


def _bounds(step: Step, fixed: Mapping[tuple[str, int], Step]) -> tuple[int | None, int | None]:
    """(earliest, latest) start in s set by the plan step, else by the vehicle's fixed step."""
    for s in (step, fixed.get((step.kind, step.ref))):
        if s is None or (s.service_at, s.service_after, s.service_before) == (None, None, None):
            continue
        if s.service_at is not None:
            return s.service_at, s.service_at
        return s.service_after, s.service_before
    return None, None


def _begin(
    arrival: int, windows: Sequence[TimeWindow], bounds: tuple[int | None, int | None]
) -> tuple[int, int | None]:
    """(start, latest allowed start) in s: earliest time >= arrival and bounds in a window."""
    earliest, latest = bounds
    begin = arrival if earliest is None else max(arrival, earliest)
    for w in windows:
        if begin <= w.end:
            begin = max(begin, w.start)
            break
    if windows:
        latest = windows[-1].end if latest is None else min(latest, windows[-1].end)
    return begin, latest


def _split(problem: Problem, vehicle: Vehicle, plan: RoutePlan) -> tuple[Step, list[Step], Step]:
    """(start step, task and break steps, end step) of a plan; validates the references."""
    first, last, middle = Step("start"), Step("end"), []
    for k, step in enumerate(plan.steps):
        where = f"vehicle {vehicle.id} step {k}"
        if step.kind == "start" and k == 0:
            first = step
        elif step.kind == "end" and k == len(plan.steps) - 1:
            last = step
        elif step.kind in TASK_KINDS:
            if not 0 <= step.ref < len(problem.tasks):
                raise InputError(where, f"task index {step.ref} is not in the problem")
            if problem.tasks[step.ref].kind != step.kind:
                label = problem.task_label(step.ref)
                raise InputError(where, f"is a {step.kind} step but task {step.ref} is {label}")
            middle.append(step)
        elif step.kind == "break":
            if not 0 <= step.ref < len(vehicle.breaks):
                raise InputError(where, f"break position {step.ref} is not one of the vehicle's")
            middle.append(step)
        else:
            raise InputError(where, f"unexpected {step.kind!r} step")
    return first, middle, last


def _unused(problem: Problem, vehicle: Vehicle) -> RouteReport:
    """Report of a vehicle with no task: it stays put, costs nothing, breaks nothing."""
    zero = (0,) * problem.n_dims
    t = vehicle.time_window.start
    steps = (
        StepReport("start", -1, vehicle.start, t, 0, 0, 0, 0, 0, zero, ()),
        StepReport("end", -1, vehicle.end, t, 0, 0, 0, 0, 0, zero, ()),
    )
    return RouteReport(vehicle.index, steps, 0, 0, 0, 0, 0, 0, 0, zero, zero, ())


def _add(a: Amount, b: Sequence[int]) -> Amount:
    """Element-wise sum of two amounts."""
    return tuple(int(x) + int(y) for x, y in zip(a, b, strict=True))


def _change(task: Task, amounts: Sequence[Amount]) -> Amount:
    """Change of on-board load at a task (recomputed here, not taken from the model)."""
    if task.kind == "job":
        return tuple(p - d for p, d in zip(task.pickup, task.delivery, strict=True))
    amount = amounts[task.shipment]
    return amount if task.kind == "pickup" else tuple(-a for a in amount)


def _over(load: Amount, limit: Amount) -> bool:
    """True if the load exceeds the limit in some dimension."""
    return any(q > c for q, c in zip(load, limit, strict=True))


class _RouteWalk:
    """Walks one route's steps in order, recomputing its schedule like VROOM.

    It carries the clock (s), the location (matrix index), the cumulative travel (s, m),
    the on-board load, the step reports built so far and the route's violation sentences.
    One walk per :func:`evaluate_route` call; nothing outlives it.
    """

    def __init__(self, problem: Problem, vehicle: Vehicle, tasks: Sequence[Task]) -> None:
        self.problem = problem
        self.v = vehicle
        self.fixed = {(s.kind, s.ref): s for s in vehicle.steps}
        self.dur, self.dist = problem.travel(vehicle)
        self.amounts = problem.shipment_amounts()
        self.name = f"vehicle {vehicle.id}"
        self.notes: list[str] = []
        self.steps: list[StepReport] = []
        self.load = _initial_load(tasks, problem.n_dims)
        self.time = vehicle.time_window.start  # s
        self.loc = vehicle.start
        self.travel_s = 0  # s, cumulative
        self.travel_m = 0  # m, cumulative
        self.in_route = {t.index for t in tasks}
        self.seen: set[int] = set()  # tasks already served, for shipment precedence

    def flag(self, violations: list[str], violation: str, sentence: str) -> None:
        """Record a violation and its sentence (prefixed with the vehicle's name)."""
        violations.append(violation)
        self.notes.append(f"{self.name}: {sentence}")

    def check_load(self, violations: list[str], where: str) -> None:
        """Flag "load" when the current on-board load exceeds the vehicle's capacity."""
        if _over(self.load, self.v.capacity):
            sentence = f"load {list(self.load)} {where} exceeds capacity {list(self.v.capacity)}"
            self.flag(violations, "load", sentence)

    def leg(self, a: int | None, b: int | None) -> tuple[int, int]:
        """(s, m) driven from location a to b; nothing when either is missing."""
        if a is None or b is None:
            return 0, 0
        return int(self.dur[a, b]), int(self.dist[a, b])

    def start(self, first: Step) -> None:
        """The start step: loaded with every job delivery, leaves at its shift start."""
        v, time, load = self.v, self.time, self.load
        viol: list[str] = []
        begin, latest = _begin(time, (v.time_window,), _bounds(first, self.fixed))
        if latest is not None and begin > latest:
            self.flag(viol, "delay", f"leaves at {begin} s, after the latest allowed {latest} s")
        self.check_load(viol, "at the start")
        self.steps.append(
            StepReport("start", -1, v.start, time, begin - time, 0, 0, 0, 0, load, tuple(viol))
        )
        self.time = begin

    def visit(self, k: int, step: Step) -> None:
        """Task or break step number k (0 = first after the start): arrive, wait, serve."""
        viol: list[str] = []
        bounds = _bounds(step, self.fixed)
        if step.kind == "break":
            what, location, setup, service, arrival, begin, latest = self._break(step, bounds, viol)
        else:
            what, location, setup, service, arrival, begin, latest = self._task(step, bounds, viol)
        if k == 0 and self.v.start is None:
            arrival = begin  # no start location: the vehicle appears when the step can begin
        if latest is not None and begin > latest:
            sentence = f"{what} starts at {begin} s, after the latest allowed {latest} s"
            self.flag(viol, "delay", sentence)
        self.check_load(viol, f"after {what}")
        self.steps.append(
            StepReport(
                kind=step.kind,
                ref=step.ref,
                location=location,
                arrival=arrival,
                waiting_s=begin - arrival,
                setup_s=setup,
                service_s=service,
                duration=self.travel_s,
                distance=self.travel_m,
                load=self.load,
                violations=tuple(viol),
            )
        )
        self.time = begin + setup + service

    def _break(
        self, step: Step, bounds: tuple[int | None, int | None], viol: list[str]
    ) -> tuple[str, None, int, int, int, int, int | None]:
        """A break where the vehicle is: (label, location None, setup 0, service s,
        arrival s, begin s, latest allowed begin s); flags "max_load"."""
        brk = self.v.breaks[step.ref]
        what = f"break {brk.id}"
        arrival = self.time
        begin, latest = _begin(arrival, brk.time_windows, bounds)
        if brk.max_load is not None and _over(self.load, brk.max_load):
            sentence = f"load {list(self.load)} during {what} exceeds its max_load"
            self.flag(viol, "max_load", f"{sentence} {list(brk.max_load)}")
        return what, None, 0, brk.service_s, arrival, begin, latest

    def _task(
        self, step: Step, bounds: tuple[int | None, int | None], viol: list[str]
    ) -> tuple[str, int, int, int, int, int, int | None]:
        """Drive to a task and serve it: (label, location, setup s, service s, arrival s,
        begin s, latest allowed begin s); updates travel and load, flags "skills" and
        "precedence"."""
        problem, task = self.problem, self.problem.tasks[step.ref]
        what = problem.task_label(task.index)
        drive_s, drive_m = self.leg(self.loc, task.location)
        self.travel_s, self.travel_m = self.travel_s + drive_s, self.travel_m + drive_m
        arrival = self.time + drive_s
        setup = 0 if self.loc == task.location else task.setup_s
        begin, latest = _begin(arrival, task.time_windows, bounds)
        self.load = _add(self.load, _change(task, self.amounts))
        self.loc = task.location
        if not self.v.can_serve(task):
            missing = sorted(task.skills - self.v.skills)
            self.flag(viol, "skills", f"lacks skill(s) {missing} needed by {what}")
        if task.shipment >= 0:
            shipment = problem.shipments[task.shipment]
            other = shipment.delivery if task.kind == "pickup" else shipment.pickup
            other_what = problem.task_label(other)
            if other not in self.in_route:
                self.flag(viol, "precedence", f"{what} is routed without {other_what}")
            elif task.kind == "delivery" and other not in self.seen:
                self.flag(viol, "precedence", f"{what} comes before {other_what}")
        self.seen.add(task.index)
        return what, task.location, setup, task.service_s, arrival, begin, latest

    def end(self, last: Step) -> None:
        """The end step: drive to the end location, if any, within the shift."""
        v = self.v
        viol: list[str] = []
        drive_s, drive_m = self.leg(self.loc, v.end)
        self.travel_s, self.travel_m = self.travel_s + drive_s, self.travel_m + drive_m
        arrival = self.time + drive_s
        begin, latest = _begin(arrival, (v.time_window,), _bounds(last, self.fixed))
        if latest is not None and begin > latest:
            self.flag(viol, "delay", f"ends at {begin} s, after the latest allowed {latest} s")
        self.check_load(viol, "at the end")
        wait, travel_s, travel_m, load = begin - arrival, self.travel_s, self.travel_m, self.load
        self.steps.append(
            StepReport("end", -1, v.end, arrival, wait, 0, 0, travel_s, travel_m, load, tuple(viol))
        )
        if v.start is None:  # the route starts at the first step, when it begins
            self.steps[0] = replace(self.steps[0], arrival=self.steps[1].arrival, waiting_s=0)

    def route_limits(self, tasks: Sequence[Task], middle: Sequence[Step]) -> list[str]:
        """Route-level violations: max_tasks, max_travel_time (s), max_distance (m) and
        breaks missing from the route."""
        v = self.v
        viol: list[str] = []
        if v.max_tasks is not None and len(tasks) > v.max_tasks:
            self.flag(viol, "max_tasks", f"serves {len(tasks)} tasks, max_tasks is {v.max_tasks}")
        if v.max_travel_time is not None and self.travel_s > v.max_travel_time:
            sentence = f"travels {self.travel_s} s, max_travel_time is {v.max_travel_time} s"
            self.flag(viol, "max_travel_time", sentence)
        if v.max_distance is not None and self.travel_m > v.max_distance:
            sentence = f"travels {self.travel_m} m, max_distance is {v.max_distance} m"
            self.flag(viol, "max_distance", sentence)
        taken = {s.ref for s in middle if s.kind == "break"}
        for b, brk in enumerate(v.breaks):
            if b not in taken:
                self.flag(viol, "missing_break", f"break {brk.id} is not in the route")
        return viol


def _initial_load(tasks: Sequence[Task], n_dims: int) -> Amount:
    """On-board load at the start: the sum of the route's job deliveries."""
    load: Amount = (0,) * n_dims
    for t in tasks:
        if t.kind == "job":
            load = _add(load, t.delivery)
    return load


def _route_amounts(
    tasks: Sequence[Task], amounts: Sequence[Amount], n_dims: int
) -> tuple[Amount, Amount]:
    """(delivered, picked up) in a route: job amounts plus shipment amounts dropped/collected."""
    delivery: Amount = (0,) * n_dims
    pickup: Amount = (0,) * n_dims
    for t in tasks:
        if t.kind == "job":
            delivery, pickup = _add(delivery, t.delivery), _add(pickup, t.pickup)
        elif t.kind == "pickup":
            pickup = _add(pickup, amounts[t.shipment])
        else:
            delivery = _add(delivery, amounts[t.shipment])
    return delivery, pickup


def evaluate_route(problem: Problem, plan: RoutePlan) -> RouteReport:
    """Recompute one route's schedule (s), loads, travel (s, m) and cost; list its violations."""
    if not 0 <= plan.vehicle < len(problem.vehicles):
        raise InputError("routes", f"vehicle index {plan.vehicle} is not in the problem")
    v = problem.vehicles[plan.vehicle]
    first, middle, last = _split(problem, v, plan)
    tasks = [problem.tasks[s.ref] for s in middle if s.kind in TASK_KINDS]
    if not tasks:
        return _unused(problem, v)
    walk = _RouteWalk(problem, v, tasks)
    walk.start(first)
    for k, step in enumerate(middle):
        walk.visit(k, step)
    walk.end(last)
    route_viol = walk.route_limits(tasks, middle)
    steps = walk.steps
    delivery, pickup = _route_amounts(tasks, walk.amounts, problem.n_dims)
    return RouteReport(
        vehicle=v.index,
        steps=tuple(steps),
        cost=problem.route_cost(v, walk.travel_s, walk.travel_m),
        setup=sum(s.setup_s for s in steps),
        service=sum(s.service_s for s in steps),
        duration=walk.travel_s,
        waiting_time=sum(s.waiting_s for s in steps),
        distance=walk.travel_m,
        priority=sum(t.priority for t in tasks),
        delivery=delivery,
        pickup=pickup,
        violations=_ordered([*route_viol, *(x for s in steps for x in s.violations)]),
        notes=tuple(walk.notes),
    )


def check_solution(
    problem: Problem, routes: Sequence[RoutePlan], unassigned: Sequence[int] = ()
) -> CheckReport:
    """Check every route and that each task is served once or declared unassigned."""
    vehicles = [r.vehicle for r in routes]
    if len(set(vehicles)) != len(vehicles):
        raise InputError("routes", "a vehicle has more than one route")
    for i in unassigned:
        if not 0 <= i < len(problem.tasks):
            raise InputError("unassigned", f"task index {i} is not in the problem")
    reports = tuple(evaluate_route(problem, r) for r in routes)

    # where each task is routed: (route number, position among the route's tasks)
    places: dict[int, list[tuple[int, int]]] = {}
    for r, plan in enumerate(routes):
        refs = [s.ref for s in plan.steps if s.kind in TASK_KINDS]
        for position, ref in enumerate(refs):
            places.setdefault(ref, []).append((r, position))

    violations: list[str] = []
    notes = [note for report in reports for note in report.notes]
    declared = set(unassigned)
    for task in problem.tasks:
        found, what = places.get(task.index, []), problem.task_label(task.index)
        if not found and task.index not in declared:
            violations.append("missing_task")
            notes.append(f"{what} is neither routed nor declared unassigned")
        elif len(found) > 1:
            violations.append("duplicate_task")
            notes.append(f"{what} is routed {len(found)} times")
        elif found and task.index in declared:
            violations.append("duplicate_task")
            notes.append(f"{what} is routed and also declared unassigned")
    for shipment in problem.shipments:
        # the routes' notes already explain each case in a sentence
        if _split_or_reversed(places.get(shipment.pickup), places.get(shipment.delivery)):
            violations.append("precedence")

    feasible = not violations and not any(r.violations for r in reports)
    return CheckReport(
        routes=reports,
        unassigned=tuple(t.index for t in problem.tasks if t.index not in places),
        violations=_ordered(violations),
        feasible=feasible,
        cost=sum(r.cost for r in reports),
        distance=sum(r.distance for r in reports),
        duration=sum(r.duration for r in reports),
        waiting_time=sum(r.waiting_time for r in reports),
        service=sum(r.service for r in reports),
        setup=sum(r.setup for r in reports),
        priority=sum(r.priority for r in reports),
        notes=tuple(notes),
    )


def _split_or_reversed(
    pickup: list[tuple[int, int]] | None, delivery: list[tuple[int, int]] | None
) -> bool:
    """True if a shipment's pickup and delivery are not on one route in that order."""
    if not pickup and not delivery:
        return False
    if not pickup or not delivery:
        return True
    (p_route, p_pos), (d_route, d_pos) = pickup[0], delivery[0]
    return p_route != d_route or d_pos < p_pos
