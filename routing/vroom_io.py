"""VROOM's JSON vocabulary in and out.

``parse_problem`` reads a VROOM problem document (``jobs``, ``shipments``, ``vehicles``,
``matrices`` keyed by profile, or ``[lon, lat]`` locations snapped to the road network) into
a :class:`routing.model.Problem`; every error names the field as the document spells it.
``solution_document`` writes VROOM's output (``code``, ``summary``, ``unassigned``,
``routes[].steps[]``) from a solution as recomputed by the independent checker, with the
platform's additions: ``unassigned[].reason`` / ``detail`` and ``routes[].geometry``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.check import CheckReport, StepReport
from routing.errors import InputError
from routing.model import Problem, ProblemBuilder, Step
from routing.reasons import UNREACHABLE
from routing.solution import Solution

if TYPE_CHECKING:
    from routing.network import RoadNetwork

DEFAULT_PROFILE = "car"


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(key, "must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(f"{key}[{i}]", "must be an object")
    return value


class _Locations:
    """Collects location indices, or [lon, lat] points to snap onto the road network."""

    def __init__(self, has_matrices: bool) -> None:
        self.has_matrices = has_matrices
        self.points: list[tuple[float, float]] = []
        self.labels: list[str] = []
        self.index_of: dict[tuple[float, float], int] = {}
        self.coords_by_index: dict[int, tuple[float, float]] = {}

    def required(self, spec: Mapping[str, Any], where: str) -> int:
        index = self.resolve(spec, where, required=True)
        if index is None:  # resolve raises first; this keeps the type exact
            raise InputError(where, "a location is needed")
        return index

    def resolve(self, spec: Mapping[str, Any], where: str, required: bool = True) -> int | None:
        index = spec.get("location_index")
        point = spec.get("location")
        if point is not None:
            if (
                not isinstance(point, Sequence)
                or len(point) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in point)
            ):
                raise InputError(f"{where}.location", "must be [lon, lat]")
            lonlat = (float(point[0]), float(point[1]))
        if self.has_matrices:
            if index is None:
                if required:
                    raise InputError(f"{where}.location_index", "needed with explicit matrices")
                return None
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise InputError(f"{where}.location_index", "must be an integer >= 0")
            if point is not None:
                self.coords_by_index[index] = lonlat
            return index
        if point is None:
            if required:
                raise InputError(f"{where}.location", "needed: [lon, lat] (no matrices given)")
            return None
        if lonlat not in self.index_of:
            self.index_of[lonlat] = len(self.points)
            self.points.append(lonlat)
            self.labels.append(f"{where}.location")
        return self.index_of[lonlat]


def parse_problem(doc: Any, network: RoadNetwork | None = None) -> Problem:
    """Build a Problem from a VROOM problem document (a parsed JSON object)."""
    if not isinstance(doc, dict):
        raise InputError("problem", "must be a JSON object")
    jobs, shipments, vehicles = _list(doc, "jobs"), _list(doc, "shipments"), _list(doc, "vehicles")
    if not vehicles:
        raise InputError("vehicles", "at least one vehicle is needed")
    matrices = doc.get("matrices")
    if matrices is None and "matrix" in doc:  # VROOM's older single-matrix form
        matrices = {DEFAULT_PROFILE: {"durations": doc["matrix"]}}
    if matrices is not None and not isinstance(matrices, dict):
        raise InputError("matrices", "must be an object keyed by profile")
    locs = _Locations(has_matrices=matrices is not None)
    # The first vehicle's capacity fixes the number of amount dimensions, so a job with a
    # wrong-sized amount is the one named in the error.
    capacity = vehicles[0].get("capacity")
    builder = ProblemBuilder(len(capacity) if isinstance(capacity, list) else None)
    job_task: dict[int, int] = {}
    pickup_task: dict[int, int] = {}
    delivery_task: dict[int, int] = {}

    for i, job in enumerate(jobs):
        where = f"jobs[{i}]"
        delivery = job.get("delivery", job.get("amount"))
        index = builder.add_job(
            id=job.get("id"),
            location=locs.required(job, where),
            where=where,
            delivery=delivery,
            pickup=job.get("pickup"),
            setup=job.get("setup", 0),
            service=job.get("service", 0),
            time_windows=job.get("time_windows"),
            skills=job.get("skills"),
            priority=job.get("priority", 0),
            description=str(job.get("description", "")),
        )
        job_task[builder.task_id(index)] = index
    for i, ship in enumerate(shipments):
        where = f"shipments[{i}]"
        ends = {}
        for kind in ("pickup", "delivery"):
            spec = ship.get(kind)
            if not isinstance(spec, dict):
                raise InputError(f"{where}.{kind}", "must be an object")
            ends[kind] = {**spec, "location": locs.required(spec, f"{where}.{kind}")}
        index = builder.add_shipment(
            where=where,
            amount=ship.get("amount"),
            skills=ship.get("skills"),
            priority=ship.get("priority", 0),
            pickup=ends["pickup"],
            delivery=ends["delivery"],
        )
        p_task, d_task = builder.shipment_tasks(index)
        pickup_task[builder.task_id(p_task)] = p_task
        delivery_task[builder.task_id(d_task)] = d_task

    by_kind = {"job": job_task, "pickup": pickup_task, "delivery": delivery_task}
    for i, v in enumerate(vehicles):
        where = f"vehicles[{i}]"
        costs = v.get("costs")
        if costs is not None and not isinstance(costs, dict):
            raise InputError(f"{where}.costs", "must be an object")
        builder.add_vehicle(
            id=v.get("id"),
            where=where,
            profile=v.get("profile", DEFAULT_PROFILE),
            start=locs.resolve(_end_spec(v, "start"), f"{where}.start", required=False),
            end=locs.resolve(_end_spec(v, "end"), f"{where}.end", required=False),
            capacity=v.get("capacity"),
            skills=v.get("skills"),
            time_window=v.get("time_window"),
            breaks=_list(v, "breaks") if "breaks" in v else (),
            speed_factor=v.get("speed_factor", 1.0),
            max_tasks=v.get("max_tasks"),
            max_travel_time=v.get("max_travel_time"),
            max_distance=v.get("max_distance"),
            costs=costs,
            steps=_steps(v, where, by_kind),
            description=str(v.get("description", "")),
        )

    if matrices is not None:
        for profile, m in matrices.items():
            if not isinstance(m, dict) or "durations" not in m:
                raise InputError(f"matrices.{profile}", "needs a 'durations' matrix")
            builder.set_matrix(profile, m["durations"], m.get("distances"))
        coords = [locs.coords_by_index.get(k) for k in range(builder.matrix_size())]
        builder.set_locations(coords)
    else:
        if network is None:
            raise InputError("matrices", "no matrices given and no road network to route on")
        _network_matrices(builder, network, locs)
    return builder.build()


def _end_spec(v: Mapping[str, Any], which: str) -> dict[str, Any]:
    return {"location": v.get(which), "location_index": v.get(f"{which}_index")}


def _steps(
    v: Mapping[str, Any], where: str, by_kind: Mapping[str, Mapping[int, int]]
) -> tuple[Step, ...]:
    out = []
    break_ids = [b.get("id") for b in v.get("breaks", []) or [] if isinstance(b, dict)]
    for k, s in enumerate(_list(v, "steps") if "steps" in v else []):
        w = f"{where}.steps[{k}]"
        kind = s.get("type")
        if kind in ("start", "end"):
            ref = -1
        elif kind == "break":
            if s.get("id") not in break_ids:
                raise InputError(f"{w}.id", f"no break {s.get('id')!r} on this vehicle")
            ref = break_ids.index(s.get("id"))
        elif kind in by_kind:
            if s.get("id") not in by_kind[kind]:
                raise InputError(f"{w}.id", f"no {kind} with id {s.get('id')!r}")
            ref = by_kind[kind][s["id"]]
        else:
            raise InputError(f"{w}.type", f"unknown step type {kind!r}")
        out.append(
            Step(
                kind,
                ref,
                service_at=s.get("service_at"),
                service_after=s.get("service_after"),
                service_before=s.get("service_before"),
            )
        )
    return tuple(out)


def _network_matrices(builder: ProblemBuilder, network: RoadNetwork, locs: _Locations) -> None:
    """Snap the problem's points and compute a matrix per vehicle profile."""
    from routing.network import resolve, travel_matrix

    waypoints = resolve(network, locs.points, locs.labels)
    for profile in builder.profiles():
        m = travel_matrix(network, waypoints, profile=profile)
        unreachable = m.durations_s < 0
        durations = np.where(unreachable, UNREACHABLE, m.durations_s)
        distances = np.where(unreachable, UNREACHABLE, m.distances_m)
        builder.set_matrix(profile, durations, distances, where=f"vehicles profile {profile}")
    builder.set_locations(locs.points)


# ---- output ------------------------------------------------------------------------------
def error_document(error: InputError) -> dict[str, Any]:
    return {"code": 2, "error": str(error)}


def _step_doc(problem: Problem, vehicle: int, s: StepReport) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": s.kind,
        "arrival": s.arrival,
        "duration": s.duration,
        "setup": s.setup_s,
        "service": s.service_s,
        "waiting_time": s.waiting_s,
        "distance": s.distance,
        "load": list(s.load),
        "violations": [{"cause": c} for c in s.violations],
    }
    if s.kind in ("job", "pickup", "delivery"):
        task = problem.tasks[s.ref]
        doc["id"] = task.id
        doc["job" if s.kind == "job" else s.kind] = task.id
        if task.description:
            doc["description"] = task.description
    elif s.kind == "break":
        brk = problem.vehicles[vehicle].breaks[s.ref]
        doc["id"] = brk.id
        if brk.description:
            doc["description"] = brk.description
    if s.location is not None:
        doc["location_index"] = s.location
        coord = problem.locations[s.location] if problem.locations else None
        if coord is not None:
            doc["location"] = [coord[0], coord[1]]
    return doc


def solution_document(
    problem: Problem,
    solution: Solution,
    report: CheckReport,
    *,
    geometries: Sequence[dict[str, Any] | None] | None = None,
    computing_times: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """VROOM's output document; figures come from the checker's recomputation."""
    zero = [0] * problem.n_dims
    routes = []
    for k, r in enumerate(report.routes):
        v = problem.vehicles[r.vehicle]
        doc: dict[str, Any] = {
            "vehicle": v.id,
            "cost": r.cost,
            "setup": r.setup,
            "service": r.service,
            "duration": r.duration,
            "waiting_time": r.waiting_time,
            "priority": r.priority,
            "distance": r.distance,
            "delivery": list(r.delivery) or zero,
            "pickup": list(r.pickup) or zero,
            "amount": list(r.delivery) or zero,
            "steps": [_step_doc(problem, r.vehicle, s) for s in r.steps],
            "violations": [{"cause": c} for c in r.violations],
        }
        if v.description:
            doc["description"] = v.description
        if geometries is not None and geometries[k] is not None:
            doc["geometry"] = geometries[k]
        routes.append(doc)
    unassigned = []
    for u in solution.unassigned:
        task = problem.tasks[u.task]
        item: dict[str, Any] = {
            "id": task.id,
            "type": task.kind,
            "location_index": task.location,
            "reason": u.reason,
            "detail": u.detail,
        }
        coord = problem.locations[task.location] if problem.locations else None
        if coord is not None:
            item["location"] = [coord[0], coord[1]]
        if task.description:
            item["description"] = task.description
        unassigned.append(item)

    def total(name: str) -> list[int]:
        out = np.zeros(problem.n_dims, dtype=np.int64)
        for r in report.routes:
            out += np.asarray(getattr(r, name) or zero, dtype=np.int64)
        return out.tolist()

    summary = {
        "cost": report.cost,
        "routes": len(report.routes),
        "unassigned": len(unassigned),
        "setup": report.setup,
        "service": report.service,
        "duration": report.duration,
        "waiting_time": report.waiting_time,
        "priority": report.priority,
        "distance": report.distance,
        "delivery": total("delivery"),
        "pickup": total("pickup"),
        "amount": total("delivery"),
        "violations": [{"cause": c} for c in report.violations],
        "computing_times": dict(computing_times or {}),
    }
    if solution.stats.path != "none" or solution.stats.seconds:
        # which search ran (sisr+ortools, sisr, ortools), why it stopped, what it found
        summary["search"] = solution.stats.as_dict()
    return {"code": 0, "summary": summary, "unassigned": unassigned, "routes": routes}


def _windows_doc(windows: Sequence[Any]) -> list[list[int]]:
    return [[w.start, min(w.end, 2**32 - 1)] for w in windows]


def problem_document(problem: Problem) -> dict[str, Any]:
    """A Problem as a VROOM problem document (explicit matrices and location indices)."""
    jobs, shipments = [], []
    for t in problem.tasks:
        if t.kind != "job":
            continue
        job: dict[str, Any] = {
            "id": t.id,
            "location_index": t.location,
            "setup": t.setup_s,
            "service": t.service_s,
            "delivery": list(t.delivery),
            "pickup": list(t.pickup),
            "skills": sorted(t.skills),
            "priority": t.priority,
            "time_windows": _windows_doc(t.time_windows),
        }
        jobs.append(job)
    for s in problem.shipments:
        ends = {}
        for kind, index in (("pickup", s.pickup), ("delivery", s.delivery)):
            t = problem.tasks[index]
            ends[kind] = {
                "id": t.id,
                "location_index": t.location,
                "setup": t.setup_s,
                "service": t.service_s,
                "time_windows": _windows_doc(t.time_windows),
            }
        shipments.append(
            {"amount": list(s.amount), "skills": sorted(s.skills), "priority": s.priority, **ends}
        )
    vehicles = []
    for v in problem.vehicles:
        doc: dict[str, Any] = {
            "id": v.id,
            "profile": v.profile,
            "capacity": list(v.capacity),
            "skills": sorted(v.skills),
            "time_window": _windows_doc([v.time_window])[0],
            "speed_factor": v.speed_factor,
            "costs": {"fixed": v.fixed_cost, "per_hour": v.per_hour, "per_km": v.per_km},
        }
        if v.start is not None:
            doc["start_index"] = v.start
        if v.end is not None:
            doc["end_index"] = v.end
        for key in ("max_tasks", "max_travel_time", "max_distance"):
            if getattr(v, key) is not None:
                doc[key] = getattr(v, key)
        if v.breaks:
            doc["breaks"] = [
                {"id": b.id, "service": b.service_s, "time_windows": _windows_doc(b.time_windows)}
                for b in v.breaks
            ]
        vehicles.append(doc)
    matrices = {
        profile: {
            "durations": problem.durations[profile].tolist(),
            "distances": problem.distances[profile].tolist(),
        }
        for profile in problem.durations
    }
    return {"vehicles": vehicles, "jobs": jobs, "shipments": shipments, "matrices": matrices}
