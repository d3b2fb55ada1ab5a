"""SISR ruin-and-recreate: every answer verified by the independent checker.

Small hand-made problems cover one feature each (capacity, simultaneous delivery and
pickup in several dimensions, shipments, multiple windows, setup, skills, max_tasks,
heterogeneous vehicles, priorities, a task that fits nowhere); a hypothesis property mixes
them all on random problems. Runs are short and bounded by ``max_iterations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.check import check_solution, evaluate_route
from routing.model import Problem, ProblemBuilder, Step
from routing.sisr import SisrResult, improve, supports, unsupported
from routing.solution import RoutePlan
from routing.stop import FirstOf, MaxIterations, MaxRuntime

ITERATIONS = 300


def _grid(points: Sequence[Sequence[int]], scale: float = 10.0) -> np.ndarray:
    xy = np.asarray(points, dtype=float)
    return np.rint(scale * np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1)))


def _solve(problem: Problem, seed: int = 0, iterations: int = ITERATIONS, **kw: Any) -> SisrResult:
    """improve(), then the checker: feasible, every task once, cost = checker cost."""
    res = improve(problem, FirstOf(MaxRuntime(60.0), MaxIterations(iterations)), seed, **kw)
    given_tasks = set(range(len(problem.tasks))) if kw.get("tasks") is None else set(kw["tasks"])
    routed = [s.ref for r in res.routes for s in r.steps if s.kind != "break"]
    assert len(routed) == len(set(routed))
    assert sorted(routed + list(res.unassigned)) == sorted(given_tasks)
    outside = [t for t in range(len(problem.tasks)) if t not in given_tasks]
    report = check_solution(problem, res.routes, [*res.unassigned, *outside])
    assert report.feasible, report.notes
    if not res.unassigned:
        assert report.cost == res.cost
    assert res.iterations == iterations
    return res


def _tasks_of(res: SisrResult, vehicle: int) -> list[int]:
    return [s.ref for r in res.routes if r.vehicle == vehicle for s in r.steps]


# ---- one feature each --------------------------------------------------------------------
def test_capacity_splits_jobs_over_vehicles() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (0, 2), (0, 3)]))
    for v in range(4):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, capacity=[10])
    for j in range(1, 7):
        b.add_job(id=j, location=j, where=f"j{j}", delivery=[4])
    res = _solve(b.build())
    assert not res.unassigned
    assert len(res.routes) == 3  # 24 units in vehicles of 10


def test_simultaneous_delivery_and_pickup_in_two_dimensions() -> None:
    # a line 0 - 1 - 2 - 3; start loaded with every delivery, pickups ride to the end.
    # dim 0: job 1 drops 6, job 3 picks 6: job 3 must come after job 1 (capacity 10 with
    # job 2's 4). dim 1: job 2 picks 5 and job 3 drops 5 (cap 5): job 3 before job 2.
    b = ProblemBuilder(n_dims=2)
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0), (3, 0)]))
    b.add_vehicle(id=1, where="v", start=0, end=0, capacity=[10, 5])
    b.add_job(id=1, location=3, where="j1", delivery=[6, 0])
    b.add_job(id=2, location=2, where="j2", delivery=[4, 0], pickup=[0, 5])
    b.add_job(id=3, location=1, where="j3", delivery=[0, 5], pickup=[6, 0])
    res = _solve(b.build())
    assert not res.unassigned
    order = _tasks_of(res, 0)
    assert order.index(0) < order.index(2) < order.index(1)


def test_shipments_pickup_before_delivery_on_one_vehicle() -> None:
    b = ProblemBuilder(n_dims=1)
    pts = [(0, 0), (5, 0), (5, 5), (0, 5), (-5, 5), (-5, 0), (-5, -5), (0, -5)]
    b.set_matrix("car", _grid(pts))
    for v in range(2):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, capacity=[3])
    for k in range(3):
        b.add_shipment(
            where=f"s{k}",
            amount=[2],
            pickup={"id": k, "location": 1 + 2 * k},
            delivery={"id": k, "location": 2 + 2 * k},
        )
    b.add_job(id=9, location=7, where="j9", pickup=[1])
    p = b.build()
    res = _solve(p)
    assert not res.unassigned
    for s in p.shipments:
        owner = [r.vehicle for r in res.routes if any(x.ref == s.pickup for x in r.steps)]
        order = _tasks_of(res, owner[0])
        assert order.index(s.pickup) < order.index(s.delivery)


def test_multiple_time_windows_and_waiting() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (10, 0), (20, 0)]))  # 100 s per leg
    b.add_vehicle(id=1, where="v", start=0, end=0, time_window=[0, 2000])
    # job 1 fits its second window only; job 2 must come first, in its only window
    b.add_job(id=1, location=2, where="j1", time_windows=[[0, 150], [900, 1000]], service=10)
    b.add_job(id=2, location=1, where="j2", time_windows=[[100, 200]], service=10)
    res = _solve(b.build())
    assert not res.unassigned
    assert _tasks_of(res, 0) == [1, 0]


def test_setup_only_after_a_move_lets_two_jobs_share_a_stop() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (10, 0), (0, 10)]))  # 100 s per leg from 0
    b.add_vehicle(id=1, where="v", start=0, end=0, time_window=[0, 10_000])
    # both at location 1, setup 300: only consecutive (one setup) do both fit by 450
    b.add_job(id=1, location=1, where="j1", setup=300, service=10, time_windows=[[0, 450]])
    b.add_job(id=2, location=1, where="j2", setup=300, service=10, time_windows=[[0, 450]])
    b.add_job(id=3, location=2, where="j3", setup=5, service=5)
    res = _solve(b.build())
    assert not res.unassigned
    order = _tasks_of(res, 0)
    assert abs(order.index(0) - order.index(1)) == 1


def test_skills_pick_the_able_vehicle() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0)]))
    b.add_vehicle(id=1, where="v1", start=0, end=0)
    b.add_vehicle(id=2, where="v2", start=0, end=0, skills=[7], costs={"per_hour": 7200})
    b.add_job(id=1, location=1, where="j1", skills=[7])
    b.add_job(id=2, location=2, where="j2")
    res = _solve(b.build())
    assert not res.unassigned
    assert 0 in _tasks_of(res, 1)


def test_max_tasks_limits_each_route() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]))
    for v in range(3):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, max_tasks=2)
    for j in range(1, 6):
        b.add_job(id=j, location=j, where=f"j{j}")
    res = _solve(b.build())
    assert not res.unassigned
    assert all(len(r.steps) <= 2 for r in res.routes)


def test_heterogeneous_vehicles_without_start_or_end() -> None:
    b = ProblemBuilder()
    pts = [(0, 0), (30, 0), (31, 0), (32, 1), (60, 5), (61, 5)]
    b.set_matrix("car", _grid(pts), 3 * _grid(pts))
    b.add_vehicle(id=1, where="v1", start=0, end=0, costs={"fixed": 5000})
    b.add_vehicle(
        id=2, where="v2", start=None, end=None, speed_factor=2.0,
        costs={"fixed": 10, "per_hour": 1800, "per_km": 500},
    )  # fmt: skip
    b.add_vehicle(id=3, where="v3", start=4, end=None, costs={"per_hour": 0, "per_km": 1000})
    for j in range(1, 6):
        b.add_job(id=j, location=j, where=f"j{j}", service=30, time_windows=[[0, 5000]])
    p = b.build()
    res = _solve(p)
    assert not res.unassigned
    assert 0 not in {r.vehicle for r in res.routes}  # its fixed cost outweighs any detour


def test_travel_time_limit_splits_a_long_tour() -> None:
    # two jobs on each side of the depot, 100 s apart: one vehicle could do all four in
    # 800 s of driving, but each may drive only 500 s, so two vehicles share them
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(2, 0), (0, 0), (1, 0), (3, 0), (4, 0)], scale=100))
    for v in range(2):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, max_travel_time=500)
    for j in range(1, 5):
        b.add_job(id=j, location=j, where=f"j{j}")
    res = _solve(b.build())
    assert not res.unassigned and len(res.routes) == 2


def test_distance_limit_leaves_the_far_job() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (9, 0)]), _grid([(0, 0), (1, 0), (9, 0)], 1000))
    b.add_vehicle(id=1, where="v", start=0, end=0, max_distance=5000)
    b.add_job(id=1, location=1, where="near")
    b.add_job(id=2, location=2, where="far")
    res = _solve(b.build())
    assert res.unassigned == (1,)


def test_a_task_that_fits_nowhere_is_unassigned_at_its_penalty() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (10, 0), (50, 0)]))
    b.add_vehicle(id=1, where="v", start=0, end=0, capacity=[5], time_window=[0, 3000])
    b.add_job(id=1, location=1, where="j1", delivery=[2])
    b.add_job(id=2, location=2, where="j2", delivery=[1], time_windows=[[0, 100]])  # too far
    b.add_job(id=3, location=1, where="j3", delivery=[9])  # too heavy
    res = _solve(b.build())
    assert res.unassigned == (1, 2)
    assert _tasks_of(res, 0) == [0]
    base = 0 + 2 * 501 + 1  # max fixed + 2 * (max arc + 1) + 1
    assert res.cost == 200 + 2 * base


def test_higher_priority_wins_the_last_place() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (9, 0)]))
    b.add_vehicle(id=1, where="v", start=0, end=0, capacity=[1])
    b.add_job(id=1, location=1, where="j1", delivery=[1])
    b.add_job(id=2, location=2, where="j2", delivery=[1], priority=5)
    res = _solve(b.build())
    assert res.unassigned == (0,)


def test_initial_routes_are_kept_or_repaired() -> None:
    b = ProblemBuilder(n_dims=1)
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0), (3, 0)]))
    b.add_vehicle(id=1, where="v1", start=0, end=0, capacity=[3])
    b.add_vehicle(id=2, where="v2", start=0, end=0, capacity=[3])
    for j, load in ((1, 2), (2, 2), (3, 1)):
        b.add_job(id=j, location=j, where=f"j{j}", delivery=[load])
    p = b.build()
    overloaded = RoutePlan(0, (Step("job", 0), Step("job", 1)))  # 4 > 3: dropped
    fine = RoutePlan(1, (Step("job", 2),))
    res = _solve(p, initial=[overloaded, fine], iterations=0)
    assert not res.unassigned and len(res.routes) == 2


def test_a_subset_of_tasks() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0), (2, 0), (3, 0)]))
    b.add_vehicle(id=1, where="v", start=0, end=0)
    for j in (1, 2, 3):
        b.add_job(id=j, location=j, where=f"j{j}")
    res = _solve(b.build(), tasks=[0, 2])
    assert sorted(_tasks_of(res, 0)) == [0, 2]


def test_same_seed_and_iterations_give_the_same_routes() -> None:
    rng = np.random.default_rng(7)
    pts = [tuple(int(x) for x in rng.integers(0, 100, 2)) for _ in range(25)]
    b = ProblemBuilder()
    b.set_matrix("car", _grid(pts))
    for v in range(5):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, capacity=[30])
    for j in range(1, 25):
        b.add_job(id=j, location=j, where=f"j{j}", delivery=[int(rng.integers(1, 10))])
    p = b.build()
    first, second = _solve(p, seed=3), _solve(p, seed=3)
    assert first.routes == second.routes and first.cost == second.cost


def test_a_break_is_taken_in_its_window_where_the_vehicle_is() -> None:
    # a job each side of the depot; the driver must rest 600 s starting in [400, 500]
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(5, 0), (0, 0), (10, 0)], scale=20))
    brk = {"id": 7, "service": 600, "time_windows": [[400, 500]]}
    b.add_vehicle(id=1, where="v", start=0, end=0, time_window=[0, 2000], breaks=[brk])
    b.add_job(id=1, location=1, where="west", service=100)
    b.add_job(id=2, location=2, where="east", service=100, time_windows=[[0, 1500]])
    p = b.build()
    assert supports(p)
    res = _solve(p)
    assert not res.unassigned
    (route,) = res.routes
    assert [s.kind for s in route.steps].count("break") == 1
    report = evaluate_route(p, route)
    (rest,) = [s for s in report.steps if s.kind == "break"]
    assert 400 <= rest.arrival + rest.waiting_s <= 500


def test_breaks_that_cannot_be_modelled_fall_back() -> None:
    b = ProblemBuilder()
    b.set_matrix("car", _grid([(0, 0), (1, 0)]))
    brk = {"id": 1, "service": 60, "time_windows": [[0, 99]], "max_load": [0]}
    b.add_vehicle(id=1, where="v", start=0, end=0, capacity=[5], breaks=[brk])
    b.add_job(id=1, location=1, where="j1", delivery=[1])
    p = b.build()
    assert not supports(p) and "max_load" in unsupported(p)
    with pytest.raises(ValueError):
        improve(p, MaxRuntime(1.0))


# ---- the property --------------------------------------------------------------------------
@st.composite
def _problems(draw: st.DrawFn, with_breaks: bool = False) -> Problem:
    n_loc = draw(st.integers(2, 9))
    pts = draw(
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=n_loc, max_size=n_loc)
    )
    dims = draw(st.integers(1, 2))
    b = ProblemBuilder(n_dims=dims)
    b.set_matrix("car", _grid(pts), 2 * _grid(pts))

    def amount(hi: int) -> list[int]:
        return [draw(st.integers(0, hi)) for _ in range(dims)]

    def windows() -> list[list[int]] | None:
        if draw(st.booleans()):
            return None
        first = draw(st.integers(0, 1500))
        out = [[first, first + draw(st.integers(0, 600))]]
        if draw(st.booleans()):
            second = out[0][1] + draw(st.integers(1, 800))
            out.append([second, second + draw(st.integers(0, 600))])
        return out

    def loc() -> int:
        return draw(st.integers(0, n_loc - 1))

    for v in range(draw(st.integers(1, 3))):
        start = draw(st.one_of(st.none(), st.integers(0, n_loc - 1)))
        breaks = []
        if start is not None and with_breaks:
            for k in range(draw(st.integers(0, 2))):
                first = draw(st.integers(0, 2500))
                window = [first, first + draw(st.integers(0, 1200))]
                service = draw(st.integers(0, 300))
                breaks.append({"id": k, "service": service, "time_windows": [window]})
        b.add_vehicle(
            id=v,
            where=f"v{v}",
            start=start,
            breaks=breaks,
            end=draw(st.one_of(st.none(), st.integers(0, n_loc - 1))),
            capacity=[draw(st.integers(3, 15)) for _ in range(dims)],
            skills=draw(st.sampled_from([[], [1], [1, 2]])),
            time_window=[0, draw(st.integers(1500, 5000))],
            speed_factor=draw(st.sampled_from([0.5, 1.0, 1.5])),
            max_tasks=draw(st.one_of(st.none(), st.integers(1, 6))),
            max_travel_time=draw(st.one_of(st.none(), st.integers(0, 1200))),
            max_distance=draw(st.one_of(st.none(), st.integers(0, 2400))),
            costs={
                "fixed": draw(st.integers(0, 500)),
                "per_hour": draw(st.sampled_from([0, 3600, 5000])),
                "per_km": draw(st.sampled_from([0, 1000])),
            },
        )
    for j in range(draw(st.integers(1, 8))):
        b.add_job(
            id=j,
            location=loc(),
            where=f"j{j}",
            delivery=amount(6),
            pickup=amount(6),
            setup=draw(st.integers(0, 60)),
            service=draw(st.integers(0, 120)),
            time_windows=windows(),
            skills=draw(st.sampled_from([[], [], [1], [2]])),
            priority=draw(st.sampled_from([0, 0, 3])),
        )
    for k in range(draw(st.integers(0, 3))):
        b.add_shipment(
            where=f"s{k}",
            amount=amount(6),
            skills=draw(st.sampled_from([[], [1]])),
            pickup={"id": k, "location": loc(), "setup": draw(st.integers(0, 30)),
                    "service": draw(st.integers(0, 60)), "time_windows": windows()},
            delivery={"id": k, "location": loc(), "time_windows": windows()},
        )  # fmt: skip
    return b.build()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems(), st.integers(0, 3))
def test_random_problems_every_task_once_and_no_violation(problem: Problem, seed: int) -> None:
    _solve(problem, seed=seed, iterations=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems(), st.integers(0, 3))
def test_travel_and_distance_limits_hold_on_random_problems(problem: Problem, seed: int) -> None:
    """Every vehicle of these problems may have a max_travel_time and a max_distance; the
    checker (in _solve) finds no violation, and the bound is really tight somewhere."""
    res = _solve(problem, seed=seed, iterations=60)
    for r in res.routes:
        v = problem.vehicles[r.vehicle]
        report = evaluate_route(problem, r)
        if v.max_travel_time is not None:
            assert report.duration <= v.max_travel_time
        if v.max_distance is not None:
            assert report.distance <= v.max_distance


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems(with_breaks=True), st.integers(0, 3))
def test_breaks_hold_on_random_problems(problem: Problem, seed: int) -> None:
    """Vehicles with a start may have 0-2 breaks (one window each) beside every other
    feature; the checker (in _solve) finds no violation, missing breaks included, and
    every used vehicle takes each of its breaks once."""
    res = _solve(problem, seed=seed, iterations=60)
    for r in res.routes:
        taken = sorted(s.ref for s in r.steps if s.kind == "break")
        assert taken == list(range(len(problem.vehicles[r.vehicle].breaks)))
