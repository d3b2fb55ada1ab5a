"""The independent checker: hand-computed schedules and loads, each violation, a property.

Most tests use one 3-location matrix (0 = the warehouse, 1 and 2 = villages)::

    durations (s)        distances (m)
    0    600  900        0     6000  9000
    600  0    400        6000  0     4000
    900  400  0          9000  4000  0

and two jobs in two dimensions (parcels, produce) for vehicle 7 (warehouse to warehouse,
capacity [10, 10], shift [3600, 36000]); task 0 = job 1, task 1 = job 2:

- job 1 at 1: parcels down 4, produce up 3, setup 60 s, service 300 s, any time;
- job 2 at 2: parcels down 3, produce up 5, service 120 s, window [6000, 8000].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.check import VIOLATIONS, CheckReport, check_solution, evaluate_route
from routing.errors import InputError
from routing.model import Problem, ProblemBuilder, Step
from routing.solution import RoutePlan

DUR = [[0, 600, 900], [600, 0, 400], [900, 400, 0]]
DIST = [[0, 6000, 9000], [6000, 0, 4000], [9000, 4000, 0]]
JOB1: dict[str, Any] = dict(id=1, location=1, delivery=[4, 0], pickup=[0, 3], setup=60, service=300)
JOB2: dict[str, Any] = dict(
    id=2, location=2, delivery=[3, 0], pickup=[0, 5], service=120, time_windows=[[6000, 8000]]
)
VEHICLE: dict[str, Any] = dict(id=7, start=0, end=0, capacity=[10, 10], time_window=[3600, 36000])
# shipment 1: 2 units of produce from village 2 to the warehouse (setup 30 s there)
SHIPMENT: dict[str, Any] = dict(
    amount=[0, 2], pickup={"id": 1, "location": 2}, delivery={"id": 1, "location": 0, "setup": 30}
)


def _problem(
    jobs: Sequence[dict[str, Any]] = (JOB1, JOB2),
    vehicles: Sequence[dict[str, Any]] = ({},),
    shipments: Sequence[dict[str, Any]] = (),
) -> Problem:
    """Jobs, then shipments (pickup, delivery) as tasks; vehicles override VEHICLE."""
    b = ProblemBuilder(n_dims=2)
    b.set_matrix("car", DUR, DIST)
    for k, job in enumerate(jobs):
        b.add_job(where=f"jobs[{k}]", **job)
    for k, shipment in enumerate(shipments):
        b.add_shipment(where=f"shipments[{k}]", **shipment)
    for k, vehicle in enumerate(vehicles):
        b.add_vehicle(where=f"vehicles[{k}]", **{**VEHICLE, **vehicle})
    return b.build()


def _plan(problem: Problem, vehicle: int, *refs: int | str) -> RoutePlan:
    """A route of task indices; "b0" names the vehicle's break at position 0."""
    steps = [
        Step("break", int(r[1:])) if isinstance(r, str) else Step(problem.tasks[r].kind, r)
        for r in refs
    ]
    return RoutePlan(vehicle, tuple(steps))


def _times(route: Any) -> list[tuple[str, int, int, int, int]]:
    """(kind, arrival, waiting, setup, service) of every step."""
    return [(s.kind, s.arrival, s.waiting_s, s.setup_s, s.service_s) for s in route.steps]


def _all_violations(report: CheckReport) -> set[str]:
    found = set(report.violations)
    for route in report.routes:
        found |= set(route.violations)
        for step in route.steps:
            found |= set(step.violations)
    return found


# ---- golden schedules --------------------------------------------------------------------
def test_golden_route_schedule_loads_and_cost() -> None:
    problem = _problem(vehicles=[{"costs": {"fixed": 500, "per_hour": 3600, "per_km": 100}}])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    # start: leaves at 3600 with every job delivery on board: [4 + 3, 0] = [7, 0]
    # job 1: 3600 + 600 = 4200, setup 60 (from 0), service 300 -> leaves 4560
    # job 2: 4560 + 400 = 4960, window opens 6000 -> waits 1040, service 120 -> leaves 6120
    # end:   6120 + 900 = 7020
    assert _times(route) == [
        ("start", 3600, 0, 0, 0),
        ("job", 4200, 0, 60, 300),
        ("job", 4960, 1040, 0, 120),
        ("end", 7020, 0, 0, 0),
    ]
    assert [s.location for s in route.steps] == [0, 1, 2, 0]
    assert [s.duration for s in route.steps] == [0, 600, 1000, 1900]
    assert [s.distance for s in route.steps] == [0, 6000, 10000, 19000]
    # parcels go down, produce comes up: [7,0] -> -[4,0]+[0,3] -> -[3,0]+[0,5]
    assert [s.load for s in route.steps] == [(7, 0), (3, 3), (0, 8), (0, 8)]
    # 500 fixed + 3600 * 1900 / 3600 + 100 * 19000 / 1000 = 500 + 1900 + 1900
    assert route.cost == 4300
    assert (route.duration, route.distance, route.waiting_time) == (1900, 19000, 1040)
    assert (route.setup, route.service, route.priority) == (60, 420, 0)
    assert (route.delivery, route.pickup) == ((7, 0), (0, 8))
    assert route.violations == ()
    assert all(s.violations == () for s in route.steps)


def test_default_cost_is_travel_seconds() -> None:
    problem = _problem()
    assert evaluate_route(problem, _plan(problem, 0, 0, 1)).cost == 1900


def test_pickup_and_delivery_loads_after_every_step_with_a_shipment() -> None:
    problem = _problem(shipments=[SHIPMENT])  # tasks 2 = pickup 1, 3 = delivery 1
    route = evaluate_route(problem, _plan(problem, 0, 0, 1, 2, 3))
    # [7,0] -job1-> [3,3] -job2-> [0,8] -pickup +[0,2]-> [0,10] -delivery -[0,2]-> [0,8];
    # [0,10] equals the capacity: allowed
    assert [s.load for s in route.steps] == [(7, 0), (3, 3), (0, 8), (0, 10), (0, 8), (0, 8)]
    # pickup at 2 right after job 2 at 2: arrival 6120, no travel, no setup;
    # delivery at 0: 6120 + 900 = 7020, setup 30 -> leaves 7050; end at 0: no travel
    assert _times(route)[3:] == [
        ("pickup", 6120, 0, 0, 0),
        ("delivery", 7020, 0, 30, 0),
        ("end", 7050, 0, 0, 0),
    ]
    assert route.duration == 1900
    assert (route.delivery, route.pickup) == ((7, 2), (0, 10))
    assert route.violations == ()


def test_setup_is_skipped_at_the_same_location() -> None:
    # task 2 = job 3, at village 1 like job 1, setup 60; task 3 = job 4 at the warehouse
    job3 = dict(id=3, location=1, setup=60, service=100)
    job4 = dict(id=4, location=0, setup=50, service=10)
    problem = _problem(jobs=[JOB1, JOB2, job3, job4])
    route = evaluate_route(problem, _plan(problem, 0, 3, 0, 2))
    # job 4 at the start location: no setup; 3600 -> leaves 3610
    # job 1: 3610 + 600 = 4210, setup 60, service 300 -> 4570; job 3 at 1 again: setup 0
    assert _times(route) == [
        ("start", 3600, 0, 0, 0),
        ("job", 3600, 0, 0, 10),
        ("job", 4210, 0, 60, 300),
        ("job", 4570, 0, 0, 100),
        ("end", 4670 + 600, 0, 0, 0),
    ]
    assert route.setup == 60


def test_a_break_keeps_the_location_so_setup_is_still_skipped() -> None:
    job3 = dict(id=3, location=1, setup=60)
    breaks = [{"id": 9, "service": 100}]
    problem = _problem(jobs=[JOB1, job3], vehicles=[{"breaks": breaks}])
    route = evaluate_route(problem, _plan(problem, 0, 0, "b0", 1))
    # job 1: 4200 + 60 + 300 -> 4560; break 4560..4660 at village 1; job 3: 4660, setup 0
    assert _times(route)[1:4] == [
        ("job", 4200, 0, 60, 300),
        ("break", 4560, 0, 0, 100),
        ("job", 4660, 0, 0, 0),
    ]
    assert route.steps[2].location is None


def test_multiple_windows_wait_for_the_second() -> None:
    job2 = {**JOB2, "time_windows": [[0, 4000], [6000, 8000]]}
    problem = _problem(jobs=[JOB1, job2])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    # arrival 4960 misses [0, 4000], waits 1040 for 6000
    assert _times(route)[2] == ("job", 4960, 1040, 0, 120)
    assert route.violations == ()


def test_arrival_inside_the_first_window_does_not_wait() -> None:
    job2 = {**JOB2, "time_windows": [[4000, 5000], [6000, 8000]]}
    problem = _problem(jobs=[JOB1, job2])
    assert _times(evaluate_route(problem, _plan(problem, 0, 0, 1)))[2] == ("job", 4960, 0, 0, 120)


def test_arrival_after_the_last_window_is_a_delay_and_starts_at_once() -> None:
    job2 = {**JOB2, "time_windows": [[0, 4000], [4500, 4900]]}
    problem = _problem(jobs=[JOB1, job2])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    assert _times(route)[2] == ("job", 4960, 0, 0, 120)
    assert route.steps[2].violations == ("delay",)
    assert route.violations == ("delay",)
    assert route.notes == ("vehicle 7: job 2 starts at 4960 s, after the latest allowed 4900 s",)


def test_speed_factor_two_halves_travel_not_distance() -> None:
    problem = _problem(vehicles=[{"speed_factor": 2.0}])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    # legs 300, 200, 450: job 1 at 3900 -> leaves 4260; job 2 at 4460 waits 1540 for 6000;
    # leaves 6120; end at 6120 + 450 = 6570
    assert _times(route) == [
        ("start", 3600, 0, 0, 0),
        ("job", 3900, 0, 60, 300),
        ("job", 4460, 1540, 0, 120),
        ("end", 6570, 0, 0, 0),
    ]
    assert (route.duration, route.distance, route.cost) == (950, 19000, 950)


def test_vehicle_without_start_or_end() -> None:
    job1 = {**JOB1, "time_windows": [[2000, 3000]]}
    job2 = {**JOB2, "time_windows": None}
    problem = _problem(
        jobs=[job1, job2], vehicles=[{"start": None, "end": None, "time_window": [1000, 36000]}]
    )
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    # appears at job 1 when it can begin: max(1000, 2000) = 2000, no waiting, setup 60
    # (nothing before it) + 300 -> 2360; job 2: 2360 + 400 = 2760 -> 2880; ends there
    assert _times(route) == [
        ("start", 2000, 0, 0, 0),
        ("job", 2000, 0, 60, 300),
        ("job", 2760, 0, 0, 120),
        ("end", 2880, 0, 0, 0),
    ]
    assert [s.location for s in route.steps] == [None, 1, 2, None]
    assert [s.duration for s in route.steps] == [0, 0, 400, 400]
    assert (route.duration, route.distance, route.cost) == (400, 4000, 400)
    assert route.violations == ()


def test_vehicle_with_start_but_no_end_ends_at_its_last_task() -> None:
    problem = _problem(vehicles=[{"end": None}])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    assert (route.steps[-1].location, route.steps[-1].arrival) == (None, 6120)
    assert route.duration == 1000


def test_empty_route_is_legal_and_free() -> None:
    problem = _problem(vehicles=[{"breaks": [{"id": 1, "service": 600}], "costs": {"fixed": 900}}])
    route = evaluate_route(problem, RoutePlan(0, ()))
    assert (route.cost, route.duration, route.distance, route.violations) == (0, 0, 0, ())
    assert [s.kind for s in route.steps] == ["start", "end"]
    report = check_solution(problem, [RoutePlan(0, ())], unassigned=[0, 1])
    assert report.feasible and report.unassigned == (0, 1)


# ---- breaks ------------------------------------------------------------------------------
def test_break_waits_for_its_window() -> None:
    breaks = [{"id": 3, "time_windows": [[5000, 5500]], "service": 600, "max_load": [3, 10]}]
    problem = _problem(vehicles=[{"breaks": breaks}])
    route = evaluate_route(problem, _plan(problem, 0, 0, "b0", 1))
    # job 1 leaves 4560; break waits 440 until 5000, lasts 600 -> 5600;
    # job 2: 5600 + 400 = 6000, the window opens: no wait -> 6120; end 7020
    assert _times(route) == [
        ("start", 3600, 0, 0, 0),
        ("job", 4200, 0, 60, 300),
        ("break", 4560, 440, 0, 600),
        ("job", 6000, 0, 0, 120),
        ("end", 7020, 0, 0, 0),
    ]
    brk = route.steps[2]
    assert (brk.ref, brk.location, brk.duration, brk.distance, brk.load) == (
        0,
        None,
        600,
        6000,
        (3, 3),
    )
    assert (route.waiting_time, route.service) == (440, 1020)
    assert route.violations == ()  # load [3, 3] is within max_load [3, 10]


def test_late_break_is_a_delay() -> None:
    problem = _problem(
        vehicles=[{"breaks": [{"id": 3, "time_windows": [[0, 4000]], "service": 60}]}]
    )
    route = evaluate_route(problem, _plan(problem, 0, 0, "b0", 1))
    assert (route.steps[2].arrival, route.steps[2].waiting_s) == (4560, 0)
    assert route.steps[2].violations == ("delay",)
    assert "vehicle 7: break 3 starts at 4560 s, after the latest allowed 4000 s" in route.notes


# ---- plan mode ---------------------------------------------------------------------------
def _planned(job1: Step, job2: Step, **vehicle: Any) -> Problem:
    steps = [Step("start"), job1, job2, Step("end")]
    return _problem(
        jobs=[JOB1, {**JOB2, "time_windows": None}], vehicles=[{"steps": steps, **vehicle}]
    )


def test_plan_mode_service_at_waits_and_service_before_is_checked() -> None:
    problem = _planned(Step("job", 0, service_at=5000), Step("job", 1, service_before=5000))
    route = evaluate_route(problem, RoutePlan(0, problem.vehicles[0].steps))
    # job 1: arrival 4200, held until 5000 (waits 800), + 60 + 300 -> 5360;
    # job 2: 5360 + 400 = 5760 > service_before 5000 -> delay
    assert _times(route)[1:3] == [("job", 4200, 800, 60, 300), ("job", 5760, 0, 0, 120)]
    assert route.steps[1].violations == ()
    assert route.steps[2].violations == ("delay",)


def test_plan_mode_service_after_waits_and_is_never_a_lead_time() -> None:
    problem = _planned(Step("job", 0), Step("job", 1, service_after=6500, service_before=7000))
    report = check_solution(problem, [RoutePlan(0, problem.vehicles[0].steps)])
    # job 1 leaves 4200 + 60 + 300 = 4560; job 2: arrival 4960, held until 6500 (waits 1540)
    assert _times(report.routes[0])[2] == ("job", 4960, 1540, 0, 120)
    assert report.feasible
    assert "lead_time" not in _all_violations(report)


def test_plan_mode_late_service_at_is_a_delay() -> None:
    problem = _planned(Step("job", 0, service_at=4000), Step("job", 1))
    route = evaluate_route(problem, RoutePlan(0, problem.vehicles[0].steps))
    assert (route.steps[1].waiting_s, route.steps[1].violations) == (0, ("delay",))


def test_fixed_vehicle_steps_bound_a_plain_route_too() -> None:
    # the route (as a solver returns it) has no times; the vehicle's fixed steps do
    problem = _planned(Step("job", 0, service_at=5000), Step("job", 1, service_before=5000))
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    assert route.steps[1].waiting_s == 800
    assert route.steps[2].violations == ("delay",)


def test_plan_mode_start_and_end_bounds() -> None:
    steps = [Step("start", service_after=4000), Step("job", 0), Step("end", service_before=5000)]
    problem = _problem(jobs=[JOB1], vehicles=[{"steps": steps}])
    route = evaluate_route(problem, RoutePlan(0, tuple(steps)))
    # leaves at 4000 (waits 400), job 1 at 4600 -> 4960, back at 5560 > 5000
    assert _times(route) == [
        ("start", 3600, 400, 0, 0),
        ("job", 4600, 0, 60, 300),
        ("end", 5560, 0, 0, 0),
    ]
    assert route.steps[-1].violations == ("delay",)


def test_shift_end_is_checked_on_the_end_step() -> None:
    problem = _problem(vehicles=[{"time_window": [3600, 7000]}])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    assert route.steps[-1].violations == ("delay",)  # back at 7020
    assert route.notes == ("vehicle 7: ends at 7020 s, after the latest allowed 7000 s",)
    problem = _problem(vehicles=[{"time_window": [3600, 7020]}])
    assert evaluate_route(problem, _plan(problem, 0, 0, 1)).violations == ()


# ---- every violation, with a feasible twin -----------------------------------------------
Case = tuple[Problem, list[RoutePlan], list[int]]


def _case(name: str, bad: bool) -> Case:
    """A minimal problem breaking `name` if bad, else the same problem made feasible."""
    if name == "delay":
        p = _problem(jobs=[JOB1, {**JOB2, "time_windows": [[0, 4000 if bad else 5000]]}])
        return p, [_plan(p, 0, 0, 1)], []
    if name == "load":  # the initial load [7, 0] against capacity
        p = _problem(vehicles=[{"capacity": [6 if bad else 7, 10]}])
        return p, [_plan(p, 0, 0, 1)], []
    if name == "max_tasks":
        p = _problem(vehicles=[{"max_tasks": 1 if bad else 2}])
        return p, [_plan(p, 0, 0, 1)], []
    if name == "skills":
        p = _problem(
            jobs=[{**JOB1, "skills": [5]}, JOB2], vehicles=[{"skills": [] if bad else [5]}]
        )
        return p, [_plan(p, 0, 0, 1)], []
    if name == "precedence":
        p = _problem(shipments=[SHIPMENT])
        return p, [_plan(p, 0, 0, 1, *((3, 2) if bad else (2, 3)))], []
    if name == "missing_break":
        p = _problem(vehicles=[{"breaks": [{"id": 1, "service": 60}]}])
        return p, [_plan(p, 0, 0, 1) if bad else _plan(p, 0, 0, "b0", 1)], []
    if name == "max_travel_time":  # travels 1900 s
        p = _problem(vehicles=[{"max_travel_time": 1899 if bad else 1900}])
        return p, [_plan(p, 0, 0, 1)], []
    if name == "max_load":  # load [3, 3] after job 1
        breaks = [{"id": 1, "service": 60, "max_load": [2 if bad else 3, 3]}]
        p = _problem(vehicles=[{"breaks": breaks}])
        return p, [_plan(p, 0, 0, "b0", 1)], []
    if name == "max_distance":  # travels 19000 m
        p = _problem(vehicles=[{"max_distance": 18999 if bad else 19000}])
        return p, [_plan(p, 0, 0, 1)], []
    if name == "missing_task":
        p = _problem()
        return p, [_plan(p, 0, 0)], [] if bad else [1]
    assert name == "duplicate_task"
    p = _problem()
    return p, [_plan(p, 0, 0, 1)], [0] if bad else []


EMITTED = [v for v in VIOLATIONS if v != "lead_time"]


@pytest.mark.parametrize("name", EMITTED)
def test_each_violation_and_its_feasible_twin(name: str) -> None:
    problem, routes, unassigned = _case(name, bad=True)
    report = check_solution(problem, routes, unassigned)
    assert _all_violations(report) == {name}
    assert not report.feasible
    assert report.messages()
    problem, routes, unassigned = _case(name, bad=False)
    report = check_solution(problem, routes, unassigned)
    assert _all_violations(report) == set()
    assert report.feasible
    assert report.messages() == []


def test_load_over_capacity_is_flagged_on_each_overloaded_step() -> None:
    problem = _problem(vehicles=[{"capacity": [10, 7]}])
    route = evaluate_route(problem, _plan(problem, 0, 0, 1))
    # loads [7,0], [3,3], [0,8], [0,8]: produce 8 > 7 after job 2 and at the end
    assert [s.violations for s in route.steps] == [(), (), ("load",), ("load",)]
    assert "vehicle 7: load [0, 8] after job 2 exceeds capacity [10, 7]" in route.notes


def test_skills_message_names_vehicle_task_and_skill() -> None:
    problem, routes, unassigned = _case("skills", bad=True)
    report = check_solution(problem, routes, unassigned)
    assert report.routes[0].steps[1].violations == ("skills",)
    assert report.messages() == ["vehicle 7: lacks skill(s) [5] needed by job 1"]


# ---- whole solutions: tasks and shipments ------------------------------------------------
def test_missing_and_duplicate_tasks() -> None:
    problem = _problem(jobs=[JOB1, JOB2, dict(id=3, location=1)])
    report = check_solution(problem, [_plan(problem, 0, 0, 0)], unassigned=[1])
    assert report.violations == ("missing_task", "duplicate_task")
    assert report.unassigned == (1, 2)
    assert report.messages() == [
        "job 1 is routed 2 times",
        "job 3 is neither routed nor declared unassigned",
    ]


def test_shipment_delivered_before_pickup() -> None:
    problem = _problem(shipments=[SHIPMENT])
    report = check_solution(problem, [_plan(problem, 0, 0, 1, 3, 2)])
    route = report.routes[0]
    assert [s.violations for s in route.steps] == [(), (), (), ("precedence",), (), ()]
    assert report.violations == ("precedence",)
    # the delivery leaves 2 units of produce before they are on board: [0,8] -> [0,6]
    assert route.steps[3].load == (0, 6)
    assert report.messages() == ["vehicle 7: delivery 1 comes before pickup 1"]


def test_shipment_split_over_two_routes_or_half_unassigned() -> None:
    problem = _problem(shipments=[SHIPMENT], vehicles=[{}, {"id": 8}])
    report = check_solution(problem, [_plan(problem, 0, 0, 1, 2), _plan(problem, 1, 3)])
    assert report.violations == ("precedence",)
    assert report.routes[0].steps[3].violations == ("precedence",)
    assert report.routes[1].steps[1].violations == ("precedence",)
    assert report.messages() == [
        "vehicle 7: pickup 1 is routed without delivery 1",
        "vehicle 8: delivery 1 is routed without pickup 1",
    ]
    report = check_solution(problem, [_plan(problem, 0, 0, 1, 2)], unassigned=[3])
    assert report.violations == ("precedence",)
    assert not report.feasible
    report = check_solution(problem, [_plan(problem, 0, 0, 1)], unassigned=[2, 3])
    assert report.feasible


def test_solution_totals_sum_the_routes() -> None:
    problem = _problem(
        jobs=[{**JOB1, "priority": 5}, {**JOB2, "priority": 7}], vehicles=[{}, {"id": 8}]
    )
    report = check_solution(problem, [_plan(problem, 0, 0), _plan(problem, 1, 1)])
    # vehicle 7: 0 -> 1 -> 0 = 1200 s; vehicle 8: 0 -> 2 -> 0 = 1800 s (waits 6000 - 4500)
    assert (report.cost, report.duration, report.distance) == (3000, 3000, 30000)
    assert (report.waiting_time, report.setup, report.service) == (1500, 60, 420)
    assert report.priority == 12
    assert report.feasible


@pytest.mark.parametrize(
    ("routes", "unassigned"),
    [
        ([RoutePlan(3, ())], []),
        ([RoutePlan(0, (Step("pickup", 0),))], []),
        ([RoutePlan(0, (Step("job", 9),))], []),
        ([RoutePlan(0, (Step("break", 0),))], []),
        ([RoutePlan(0, (Step("job", 0), Step("start")))], []),
        ([RoutePlan(0, ()), RoutePlan(0, ())], []),
        ([], [5]),
    ],
)
def test_malformed_input_raises(routes: list[RoutePlan], unassigned: list[int]) -> None:
    with pytest.raises(InputError):
        check_solution(_problem(), routes, unassigned)


# ---- property ----------------------------------------------------------------------------
@st.composite
def _random_case(draw: st.DrawFn) -> tuple[Problem, list[RoutePlan], list[int]]:
    """A small random problem, its tasks shuffled and dealt to routes, the rest unassigned."""
    n_loc, n_dims = draw(st.integers(2, 4)), draw(st.integers(1, 2))
    cell = st.integers(0, 900)
    matrix = draw(
        st.lists(st.lists(cell, min_size=n_loc, max_size=n_loc), min_size=n_loc, max_size=n_loc)
    )
    amount = st.lists(st.integers(0, 5), min_size=n_dims, max_size=n_dims)
    location = st.integers(0, n_loc - 1)
    windows = st.none() | st.integers(0, 3000).map(lambda a: [[a, a + 2000]])
    b = ProblemBuilder(n_dims=n_dims)
    b.set_matrix("car", matrix)
    for k in range(draw(st.integers(0, 5))):
        b.add_job(
            id=k,
            location=draw(location),
            where=f"jobs[{k}]",
            delivery=draw(amount),
            pickup=draw(amount),
            service=draw(st.integers(0, 300)),
            time_windows=draw(windows),
            skills=draw(st.sampled_from([[], [1]])),
        )
    for k in range(draw(st.integers(0, 2))):
        stop = {"id": k, "location": draw(location), "time_windows": draw(windows)}
        b.add_shipment(
            where=f"shipments[{k}]",
            amount=draw(amount),
            pickup=stop,
            delivery={**stop, "location": draw(location)},
        )
    n_vehicles = draw(st.integers(1, 3))
    for k in range(n_vehicles):
        a_break = {"id": 0, "service": 60, "time_windows": draw(windows)}
        breaks: list[dict[str, Any]] = [{**a_break, "max_load": draw(st.none() | amount)}]
        b.add_vehicle(
            id=k,
            where=f"vehicles[{k}]",
            start=draw(st.none() | location),
            end=draw(st.none() | location),
            capacity=draw(st.lists(st.integers(0, 12), min_size=n_dims, max_size=n_dims)),
            skills=draw(st.sampled_from([[], [1]])),
            breaks=breaks if draw(st.booleans()) else [],
            speed_factor=draw(st.sampled_from([1.0, 2.0])),
            max_tasks=draw(st.none() | st.integers(0, 4)),
            time_window=draw(st.none() | st.just([0, 6000])),
        )
    problem = b.build()
    order = draw(st.permutations(range(len(problem.tasks))))
    owner = draw(
        st.lists(st.integers(-1, n_vehicles - 1), min_size=len(order), max_size=len(order))
    )
    routes = []
    for v in range(n_vehicles):
        steps = [
            Step(problem.tasks[t].kind, t) for t, o in zip(order, owner, strict=True) if o == v
        ]
        take_break = draw(st.booleans())
        if problem.vehicles[v].breaks and take_break:
            steps.insert(draw(st.integers(0, len(steps))), Step("break", 0))
        routes.append(RoutePlan(v, tuple(steps)))
    unrouted = [t for t, o in zip(order, owner, strict=True) if o == -1]
    declared = [t for t in unrouted if draw(st.booleans())]
    return problem, routes, declared


def _expected_loads(problem: Problem, plan: RoutePlan) -> list[tuple[int, ...]]:
    """Loads after start, each plan step and end, recomputed directly from the task amounts."""
    tasks = [problem.tasks[step.ref] for step in plan.steps if step.kind != "break"]
    if not tasks:  # an unused vehicle
        return [(0,) * problem.n_dims] * 2
    load = [sum(col) for col in zip(*(t.delivery for t in tasks if t.kind == "job"), strict=True)]
    load = load or [0] * problem.n_dims
    loads = [tuple(load)]
    for step in plan.steps:
        if step.kind != "break":
            task = problem.tasks[step.ref]
            amount = problem.shipments[task.shipment].amount if task.shipment >= 0 else ()
            for d in range(problem.n_dims):
                if task.kind == "job":
                    load[d] += task.pickup[d] - task.delivery[d]
                else:
                    load[d] += amount[d] if task.kind == "pickup" else -amount[d]
        loads.append(tuple(load))
    return [*loads, tuple(load)]


@settings(max_examples=300, deadline=None)
@given(_random_case())
def test_loads_match_a_direct_recomputation_and_feasibility_matches(case: Case) -> None:
    problem, routes, unassigned = case
    report = check_solution(problem, routes, unassigned)
    for plan, route in zip(routes, report.routes, strict=True):
        assert [s.load for s in route.steps] == _expected_loads(problem, plan)
        capacity = problem.vehicles[plan.vehicle].capacity
        for report_step in route.steps:
            overloaded = any(q > c for q, c in zip(report_step.load, capacity, strict=True))
            assert ("load" in report_step.violations) == overloaded
            assert set(report_step.violations) <= set(route.violations)
    found = _all_violations(report)
    assert found <= set(VIOLATIONS) - {"lead_time"}
    assert report.feasible == (not found)
    assert bool(report.messages()) == (not report.feasible)
