"""From a VROOM problem document to a VROOM answer: parse, solve or plan, check, report.

The HTTP API and the command line both call :func:`answer`; input errors come back as
``{"code": 2, "error": ...}`` documents only through the callers, which decide how to
show them (this function raises :class:`routing.errors.InputError`).
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

from routing.check import RouteReport
from routing.model import TASK_KINDS, Problem
from routing.solution import RoutePlan, Solution, Unassigned
from routing.vroom_io import parse_problem, solution_document

if TYPE_CHECKING:
    from routing.network import RoadNetwork


def planned_routes(problem: Problem) -> list[RoutePlan]:
    """The vehicles' fixed ``steps`` as routes (start and end steps dropped)."""
    return [
        RoutePlan(v.index, tuple(s for s in v.steps if s.kind not in ("start", "end")))
        for v in problem.vehicles
        if any(s.kind in TASK_KINDS for s in v.steps)
    ]


def plan_solution(problem: Problem) -> Solution:
    """Plan mode: the given routes as they are; tasks in no route are reported unassigned."""
    routes = planned_routes(problem)
    routed = {s.ref for r in routes for s in r.steps if s.kind in TASK_KINDS}
    left = tuple(
        Unassigned(t.index, "other", "it is in none of the planned routes")
        for t in problem.tasks
        if t.index not in routed
    )
    return Solution(routes=tuple(routes), unassigned=left, problem=problem)


def answer(
    doc: Any,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    plan: bool = False,
    network: RoadNetwork | None = None,
    geometry: bool = True,
) -> dict[str, Any]:
    """Solve (or, with ``plan``, only evaluate) a VROOM problem document."""
    t0 = time.perf_counter()
    problem = parse_problem(doc, network)
    if not plan:  # the engines load (compiled code from the cache) before the clock
        from routing.sisr import warm_up
        from routing.solver import solve  # OR-Tools loads only when optimising

        warm_up()
    t1 = time.perf_counter()
    if plan:
        solution = plan_solution(problem)
    else:
        initial = planned_routes(problem) or None
        solution = solve(problem, time_limit, seed, initial=initial)
    t2 = time.perf_counter()
    report = solution.report  # the independent checker's recomputation
    geometries = None
    if geometry and network is not None and all(c is not None for c in problem.locations):
        geometries = [_route_geometry(problem, network, r) for r in report.routes]
    t3 = time.perf_counter()
    return solution_document(
        problem,
        solution,
        report,
        geometries=geometries,
        computing_times={
            "loading": round(1000 * (t1 - t0)),
            "solving": round(1000 * (t2 - t1)),
            "routing": round(1000 * (t3 - t2)),
        },
    )


def _route_geometry(
    problem: Problem, network: RoadNetwork, route: RouteReport
) -> dict[str, Any] | None:
    """Road geometry through the route's stops (GeoJSON LineString)."""
    import numpy as np

    from routing.network import resolve, shortest_route
    from routing.network.geometry import linestring

    stops = [problem.locations[s.location] for s in route.steps if s.location is not None]
    points = [p for i, p in enumerate(stops) if p is not None and (i == 0 or p != stops[i - 1])]
    if len(points) < 2 or None in stops:
        return None
    profile = problem.vehicles[route.vehicle].profile
    waypoints = resolve(network, points)
    parts = [
        np.asarray(shortest_route(network, a, b, profile).geometry["coordinates"])
        for a, b in itertools.pairwise(waypoints)
    ]
    return linestring(np.vstack(parts))
