"""Why a task cannot be served: checked against each vehicle, never guessed.

``screen`` runs before optimisation and finds tasks that no vehicle could serve even on a
route of its own (missing skills, too heavy, unreachable, windows out of reach, beyond a
travel limit); the solver never sees them. ``explain`` words the tasks the solver left
out although some vehicle could serve them alone: the vehicles able to do it are busy.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.model import Problem, Task, TimeWindow, Vehicle
from routing.solution import Unassigned

# A travel-matrix entry at or above this marks "no road between the two locations".
UNREACHABLE = 10**9

# Checks in the order a dispatcher would ask them; the furthest one a vehicle gets to is
# the most informative reason.
_ORDER = ("skills", "capacity", "max_tasks", "unreachable", "time_window", "max_travel_time")


@dataclass(frozen=True)
class _Failure:
    reason: str
    detail: str


def _earliest_in(windows: tuple[TimeWindow, ...], t: int) -> int | None:
    for w in windows:
        if t <= w.end:
            return max(t, w.start)
    return None


def _solo_route(problem: Problem, v: Vehicle, stops: list[Task]) -> _Failure | None:
    """Check one vehicle serving only these stops (a job, or a pickup then its delivery)."""
    dur, dist = problem.travel(v)
    locs = [v.start] + [t.location for t in stops] + [v.end]
    legs = [(a, b) for a, b in itertools.pairwise(locs) if a is not None and b is not None]
    if any(dur[a, b] >= UNREACHABLE for a, b in legs):
        return _Failure("unreachable", "no road connects it with the vehicle's depot")
    time = v.time_window.start
    prev = v.start
    travel_s = travel_m = 0
    for t in stops:
        if prev is not None:
            time += int(dur[prev, t.location])
            travel_s += int(dur[prev, t.location])
            travel_m += int(dist[prev, t.location])
        start = _earliest_in(t.time_windows, time)
        if start is None:
            return _Failure(
                "time_window",
                f"a vehicle leaving at {v.time_window.start} s arrives at {time} s, after its "
                f"last time window closes ({t.time_windows[-1].end} s)",
            )
        setup = t.setup_s if prev != t.location else 0
        time = start + setup + t.service_s
        prev = t.location
    if v.end is not None and prev is not None:
        time += int(dur[prev, v.end])
        travel_s += int(dur[prev, v.end])
        travel_m += int(dist[prev, v.end])
    if time > v.time_window.end:
        return _Failure(
            "time_window",
            f"serving it and returning takes until {time} s, after the vehicle's shift ends "
            f"({v.time_window.end} s)",
        )
    if v.max_travel_time is not None and travel_s > v.max_travel_time:
        return _Failure(
            "max_travel_time",
            f"the round trip alone takes {travel_s} s of driving, over the limit of "
            f"{v.max_travel_time} s",
        )
    if v.max_distance is not None and travel_m > v.max_distance:
        return _Failure(
            "max_travel_time",
            f"the round trip alone is {travel_m} m, over the vehicle's limit of {v.max_distance} m",
        )
    return None


def _vehicle_failure(problem: Problem, v: Vehicle, stops: list[Task]) -> _Failure | None:
    first = stops[0]
    if not first.skills <= v.skills:
        return _Failure("skills", "")
    if first.kind == "job":
        need = np.maximum(np.asarray(first.delivery), np.asarray(first.pickup))
    else:
        need = np.asarray(problem.shipments[first.shipment].amount)
    if problem.n_dims and (need > np.asarray(v.capacity)).any():
        return _Failure("capacity", "")
    if v.max_tasks is not None and v.max_tasks < len(stops):
        return _Failure("max_tasks", "")
    return _solo_route(problem, v, stops)


def _stops(problem: Problem, task: Task) -> list[Task]:
    if task.kind == "job":
        return [task]
    s = problem.shipments[task.shipment]
    return [problem.tasks[s.pickup], problem.tasks[s.delivery]]


def screen(problem: Problem) -> dict[int, Unassigned]:
    """Tasks no vehicle can serve even alone, with the reason (both tasks of a shipment)."""
    out: dict[int, Unassigned] = {}
    for task in problem.tasks:
        if task.index in out or task.kind == "delivery":
            continue
        stops = _stops(problem, task)
        failures = [_vehicle_failure(problem, v, stops) for v in problem.vehicles]
        if any(f is None for f in failures):
            continue
        found = [f for f in failures if f is not None]
        best = max(found, key=lambda f: _ORDER.index(f.reason))
        detail = best.detail or _generic_detail(problem, best.reason, stops)
        for t in stops:
            out[t.index] = Unassigned(t.index, best.reason, detail)
    return out


def _amount_text(amount: Sequence[int] | np.ndarray) -> str:
    values = [int(x) for x in amount]
    return str(values[0]) if len(values) == 1 else str(values)


def _generic_detail(problem: Problem, reason: str, stops: list[Task]) -> str:
    first = stops[0]
    if reason == "skills":
        return f"no vehicle has the skills {sorted(first.skills)} it needs"
    if reason == "capacity":
        if first.kind == "job":
            need = np.maximum(np.asarray(first.delivery), np.asarray(first.pickup))
        else:
            need = np.asarray(problem.shipments[first.shipment].amount)
        able = [v for v in problem.vehicles if first.skills <= v.skills]
        largest = max((tuple(v.capacity) for v in able), default=())
        return (
            f"it needs {_amount_text(need)}, more than the largest able vehicle carries "
            f"({_amount_text(largest)})"
        )
    if reason == "max_tasks":
        return "every vehicle able to serve it allows fewer tasks than it needs"
    return "no vehicle can serve it"


def explain(problem: Problem, task: int, used_vehicles: set[int]) -> Unassigned:
    """Reason for a task the solver left out although some vehicle could serve it alone."""
    stops = _stops(problem, problem.tasks[task])
    able = [v for v in problem.vehicles if _vehicle_failure(problem, v, stops) is None]
    if able and all(v.index in used_vehicles for v in able):
        return Unassigned(
            task,
            "no_vehicle",
            f"the {len(able)} vehicle(s) able to serve it are fully taken by other tasks "
            "(capacity, shift time or task limits)",
        )
    return Unassigned(
        task,
        "other",
        "it could not be fitted into any route within the time allowed for planning",
    )
