"""Stopping criteria: the interface, and searches that stop when they have converged."""

from __future__ import annotations

import numpy as np
import pytest

from routing.model import Problem, ProblemBuilder
from routing.sisr import improve
from routing.solver import solve
from routing.stop import (
    STALL_MIN,
    Bounds,
    FirstOf,
    MaxIterations,
    MaxRuntime,
    NoImprovement,
    Progress,
    converged,
)


def _problem(n_jobs: int, seed: int = 1) -> Problem:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n_jobs + 1, 2))
    b = ProblemBuilder()
    b.set_matrix("car", np.rint(np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1))))
    for v in range(3):
        b.add_vehicle(id=v, where=f"v{v}", start=0, end=0, capacity=[12])
    for j in range(1, n_jobs + 1):
        b.add_job(id=j, location=j, where=f"j{j}", delivery=[int(rng.integers(1, 5))])
    return b.build()


def test_criteria_answer_for_a_progress() -> None:
    at = Progress(iterations=500, seconds=2.0, stalled=120)
    assert MaxRuntime(1.5)(at) and not MaxRuntime(3)(at)
    assert MaxIterations(500)(at) and not MaxIterations(501)(at)
    assert NoImprovement(100)(at) and not NoImprovement(121)(at)
    assert FirstOf(MaxRuntime(3), NoImprovement(100))(at)
    assert not FirstOf(MaxRuntime(3), NoImprovement(200))(at)


def test_bounds_combine_to_the_tightest() -> None:
    stop = FirstOf(MaxRuntime(5), MaxIterations(900), MaxRuntime(2), NoImprovement(40))
    assert stop.bounds() == Bounds(seconds=2, iterations=900, stalled=40)
    assert converged(1) == NoImprovement(STALL_MIN)
    with pytest.raises(ValueError):
        NoImprovement(0)
    with pytest.raises(ValueError):
        FirstOf()


def test_a_search_without_an_end_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime or an iteration bound"):
        improve(_problem(4), NoImprovement(10))


def test_the_search_stops_once_it_has_converged_counted_in_iterations() -> None:
    p = _problem(8)
    res = improve(p, FirstOf(MaxIterations(1_000_000), NoImprovement(300)), seed=2)
    assert res.stopped_by == "no_improvement"
    # a new best resets the count, so the search ran at least 300 and stopped long before
    # the iteration bound; the same seed stops at the same iteration with the same routes
    assert 300 <= res.iterations < 1_000_000
    again = improve(p, FirstOf(MaxIterations(1_000_000), NoImprovement(300)), seed=2)
    assert (again.iterations, again.routes, again.cost) == (res.iterations, res.routes, res.cost)
    longer = improve(p, FirstOf(MaxIterations(1_000_000), NoImprovement(3000)), seed=2)
    assert longer.iterations >= res.iterations + 2700 and longer.cost <= res.cost


def test_an_iteration_bound_ends_the_search_exactly() -> None:
    res = improve(_problem(8), MaxIterations(1234), seed=0)
    assert res.stopped_by == "max_iterations" and res.iterations == 1234


def test_solve_answers_a_small_problem_long_before_its_time_limit() -> None:
    s = solve(_problem(8), 30.0, seed=0)
    assert s.stats.path in ("sisr", "sisr+ortools")
    assert s.stats.stopped_by == "no_improvement"
    assert s.stats.sisr_iterations < 200_000  # converged: the 30 s were not used
    assert s.is_feasible() and not s.unassigned
